"""The quality gate: Great Expectations 1.x suites (``expectations/<table>.json``) on a candidate.

GX cannot reliably query DuckDB through SQLAlchemy (GX #10738), so each published table is read
into a DataFrame through a read-only connection and validated there. Row-level checks on huge
tables stay in dbt tests. Every table must have a suite and every suite a table.
"""

from __future__ import annotations

import json
import logging
import math
import re
import shutil
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from upstream.common import sha256_of
from upstream.contracts import seed_values
from upstream.publish import Candidate
from upstream.publish.feeds import relations
from upstream.settings import Settings
from upstream.transform import build_warnings
from upstream.warehouse import connection

log = logging.getLogger(__name__)


class GateFailed(RuntimeError):
    """At least one expectation failed; the message names table, expectation and value."""


@dataclass
class GateResult:
    success: bool
    sha256: str
    evaluated: int = 0
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    data_docs: str | None = None
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def load_suites(directory: Path) -> dict[str, dict]:
    """Suite documents by table name (the file stem); the suite's ``name`` must match."""
    suites = {}
    for path in sorted(directory.glob("*.json")):
        doc = json.loads(path.read_text())
        if doc.get("name") != path.stem:
            raise ValueError(f"suite {path} is named {doc.get('name')!r}, expected {path.stem!r}")
        suites[path.stem] = doc
    if not suites:
        raise FileNotFoundError(f"no expectation suites in {directory}")
    return suites


def checked_columns(suite: dict) -> set[str]:
    """The columns a suite's expectations read values of (a column list only needs names)."""
    used: set[str] = set()
    for expectation in suite["expectations"]:
        kwargs = expectation["kwargs"]
        if expectation["type"] == "expect_table_columns_to_match_ordered_list":
            continue
        used |= {kwargs["column"]} if "column" in kwargs else set()
        used |= set(kwargs.get("column_list", []))
        used |= set(re.findall(r"\b(\w+)\s*==", kwargs.get("row_condition") or ""))
    return used


def _frame(con: Any, table: str, suite: dict) -> Any:
    """The table as GX sees it: every row and every column name, in order, but only the values
    the suite checks; the others come as nulls, so nested columns (maps, structs, lists) are
    never turned into Python objects for nothing."""
    used = checked_columns(suite)
    columns = [r[0] for r in con.execute(
        "select column_name from duckdb_columns() where table_name = ? order by column_index",
        [table]).fetchall()]
    select = ", ".join(f'"{c}"' if c in used else f'null::boolean as "{c}"' for c in columns)
    return con.execute(f'select {select} from "{table}"').df()


def _kwargs(cfg: Any) -> dict[str, Any]:
    """An expectation's arguments as a reader wants them: no batch id, a row condition as its
    filter text."""
    kwargs = {k: v for k, v in cfg.kwargs.items() if k not in ("batch_id", "condition_parser")}
    condition = kwargs.get("row_condition")
    if isinstance(condition, dict) and "pass_through_filter" in condition:
        kwargs["row_condition"] = condition["pass_through_filter"]
    return kwargs


def _describe(table: str, outcome: Any) -> str:
    cfg = outcome.expectation_config
    kwargs = _kwargs(cfg)
    res = outcome.result or {}
    if "observed_value" in res:
        observed = f"observed {res['observed_value']!r}"
    elif "unexpected_count" in res:
        observed = (f"observed {res['unexpected_count']} unexpected value(s) "
                    f"({res.get('unexpected_percent', 0):.2f}%), e.g. "
                    f"{res.get('partial_unexpected_list', [])[:5]}")
    elif outcome.exception_info and outcome.exception_info.get("raised_exception"):
        observed = f"raised {outcome.exception_info.get('exception_message')}"
    else:
        observed = "observed nothing"
    notes = (cfg.meta or {}).get("notes")
    return f"{table}: {cfg.type} {kwargs} failed: {observed}" + (f" ({notes})" if notes else "")


def _outcome_json(outcome: Any) -> dict[str, Any]:
    cfg = outcome.expectation_config
    return {"expectation": cfg.type, "kwargs": _kwargs(cfg),
            "success": bool(outcome.success),
            "severity": str(getattr(cfg.severity, "value", "critical")),
            "result": json.loads(json.dumps(outcome.result or {}, default=str))}


def _explain(failure: str) -> str:
    """A failure with the cause an operator needs when the number alone misleads."""
    if failure.startswith("publication: ") and "'data_lag_days'" in failure and "[-" in failure:
        return (failure + " — negative: newer data than this run's interval is already loaded "
                "(a run for an earlier day after later days); run mode=range up to the newest "
                "day or a full refresh instead")
    return failure


def _parameters(settings: Settings, candidate: Candidate, known_sizes: list[str]) -> dict[str, Any]:
    """Suite parameters (``{"$PARAMETER": name}``) shared by every table of one candidate."""
    import pandas as pd

    seeds = settings.dbt_project_dir / "seeds"
    return {
        "min_group_size": settings.min_group_size,
        "max_data_age_days": settings.max_data_age_days,
        # DuckDB dates arrive in pandas as timestamps
        "window_end": [pd.Timestamp(candidate.interval_end - timedelta(days=1))],
        "window_end_value": pd.Timestamp(candidate.interval_end - timedelta(days=1)),
        # vocabularies are data: the sizes the candidate's own size scale lists, the reasons
        # of the seed
        "known_sizes": known_sizes,
        "return_reasons": seed_values(seeds, "return_reasons", "reason_code"),
    }


def _min_rows(settings: Settings, table: str, previous: dict | None) -> int:
    """A feed may not shrink by more than max_shrink against the last good publication."""
    prev_rows = (previous or {}).get("row_counts", {}).get(table)
    return 0 if prev_rows is None else int(prev_rows * (1 - settings.max_shrink))


VOCABULARY_SQL = """
    select kind, coalesce(category || ': ', '') || value as finding, occurrences, action
    from {vocabulary_report} order by kind, finding
"""


def _vocabulary_frame(settings: Settings) -> Any:
    """What the build did not recognise (dbt model reports.vocabulary_report, in the warehouse
    the candidate was built from): each kind is a warning-severity expectation."""
    import duckdb

    warehouse, dbt_manifest = settings.warehouse_path, settings.dbt_manifest
    with connection(warehouse, read_only=True) as con:
        try:
            return con.execute(VOCABULARY_SQL.format(**relations(
                dbt_manifest, ["vocabulary_report"], database=None, settings=settings))).df()
        except duckdb.CatalogException as exc:
            raise GateFailed(f"{warehouse} has no reports.vocabulary_report ({exc}); run dbt "
                             "build (the transform task) before the gate") from exc


def _derived_frames(con, previous_db: Path | None) -> dict[str, Any]:
    """Check tables computed from the candidate (and the last good publication), not published.

    ``design_demand__shift``: per category, how far its change in units against the last good
    publication lies from the median change across categories (robust z-score).
    """
    import pandas as pd

    now = con.execute("select category, sum(units) as units from design_demand group by all").df()
    if previous_db is None or not previous_db.exists():
        return {"design_demand__shift": pd.DataFrame({"category": [], "z_score": []})}
    with connection(previous_db, read_only=True) as prev_con:
        before = prev_con.execute(
            "select category, sum(units) as units_before from design_demand group by all").df()
    shift = now.merge(before, on="category", how="outer").fillna(0)
    change = (shift["units"] - shift["units_before"]) / shift["units_before"].clip(lower=1)
    # robust z-score (median and MAD): with a handful of categories a plain z-score can never
    # exceed sqrt(n - 1), so one runaway category would hide in the standard deviation
    deviation = change - change.median()
    mad = deviation.abs().median()
    if mad:
        shift["z_score"] = 0.6745 * deviation / mad
    else:
        shift["z_score"] = deviation.apply(lambda d: 0.0 if abs(d) < 1e-9 else math.copysign(
            math.inf, d))
    return {"design_demand__shift": shift[["category", "z_score"]]}


def validate(settings: Settings, candidate: Candidate) -> GateResult:
    """Validate every table of the candidate against its suite; never raises on failures.

    Failed expectations with ``severity: warning`` become warnings (published, reported); all
    others block publication.
    """
    # before the import: GX logs a line per public function it registers (hundreds)
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from upstream.publish import current_manifest, version_name

    suites = load_suites(settings.expectations_dir)
    previous = current_manifest(settings)
    previous_db = (settings.versions_dir / version_name(previous["version"]) / "design.duckdb"
                   if previous else None)
    result = GateResult(success=True, sha256=sha256_of(candidate.path))
    with connection(candidate.path, read_only=True, limits=settings.duckdb_limits) as con:
        tables = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'main' "
            "order by 1").fetchall()]
        frames = {t: _frame(con, t, suites[t]) for t in tables if t in suites}
        known_sizes = sorted(r[0] for r in con.execute(
            "select distinct size from size_scale").fetchall()) if "size_scale" in tables else []
        frames.update(_derived_frames(con, previous_db))
    frames["vocabulary_report"] = _vocabulary_frame(settings)
    parameters = _parameters(settings, candidate, known_sizes)
    for t in sorted(set(tables) - set(suites)):
        result.failures.append(f"{t}: published table has no suite in {settings.expectations_dir}")
    for t in sorted(set(suites) - set(frames)):
        result.failures.append(f"{t}: suite exists but the candidate has no such table")
    # A file-backed GX project per candidate, so every run gets its own Data Docs site.
    project = settings.data_dir / "gate" / candidate.path.stem
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    context = gx.get_context(mode="file", project_root_dir=str(project))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("candidate")
    for table, frame in frames.items():
        if table not in suites:
            continue
        suite = context.suites.add(ExpectationSuite(**suites[table]))
        batch_def = source.add_dataframe_asset(table).add_batch_definition_whole_dataframe(table)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=table, data=batch_def, suite=suite))
        # no action: the Data Docs are built once, after the last table (below)
        checkpoint = context.checkpoints.add(gx.Checkpoint(
            name=f"gate_{table}", validation_definitions=[definition], actions=[],
            result_format="SUMMARY"))
        run = checkpoint.run(batch_parameters={"dataframe": frame},
                             expectation_parameters={**parameters,
                                                     "min_rows": _min_rows(settings, table,
                                                                           previous)})
        outcome = next(iter(run.run_results.values()))
        result.evaluated += len(outcome.results)
        result.tables[table] = [_outcome_json(o) for o in outcome.results]
        for o in outcome.results:
            if o.success:
                continue
            severity = str(getattr(o.expectation_config.severity, "value", "critical"))
            target = result.failures if severity == "critical" else result.warnings
            target.append(_describe(table, o))
    # The Data Docs site of every table's validation, built once: an UpdateDataDocsAction per
    # checkpoint rebuilt the index and compiled the templates again after each of the 12
    # tables (SF 10: validate 5.9-6.0 s against 3.8-4.4 s once, the same pages)
    context.build_data_docs()
    # dbt's own warnings (tests with severity warn) of the build behind this candidate
    result.warnings += build_warnings(settings)
    result.failures = [_explain(f) for f in result.failures]
    result.success = not result.failures
    docs = project / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    if docs.exists():
        from upstream.data_docs import make_offline

        make_offline(docs.parent)  # CDN assets -> local copies: renders with no network
        result.data_docs = str(docs)
    return result


def run_gate(settings: Settings, candidate: Candidate, *, record: bool = True) -> GateResult:
    """Validate, record the verdict beside the candidate (and in audit.gate_results), and
    raise :class:`GateFailed` when an error-severity expectation failed."""
    result = validate(settings, candidate)
    if record:
        record_results(settings, candidate, result)
    candidate.gate_record.write_text(json.dumps(
        {"success": result.success, "sha256": result.sha256, "evaluated": result.evaluated,
         "failures": result.failures, "warnings": result.warnings,
         "data_docs": result.data_docs, "tables": result.tables},
        indent=2, default=str))
    for warning in result.warnings:
        log.warning("gate warning (published anyway): %s", warning)
    if not result.success:
        shown = result.failures[:10]
        more = len(result.failures) - len(shown)
        raise GateFailed(
            f"gate failed for candidate v{candidate.version} ({candidate.path.name}); nothing "
            f"published. {len(result.failures)} failure(s):\n  " + "\n  ".join(shown)
            + (f"\n  ... and {more} more in {candidate.gate_record}" if more else "")
            + f"\nData Docs: {result.data_docs}")
    log.info("gate passed: %d expectations on %s, %d warning(s); Data Docs: %s",
             result.evaluated, sorted(result.tables), len(result.warnings), result.data_docs)
    return result


RESULTS_DDL = """
create schema if not exists audit;
create table if not exists audit.gate_results (
    run_id varchar not null,
    version integer not null,
    checked_at timestamptz not null,
    table_name varchar not null,
    expectation varchar not null,
    kwargs json,
    severity varchar not null,
    success boolean not null,
    result json
)
"""


def record_results(settings: Settings, candidate: Candidate, result: GateResult) -> int:
    """Store every evaluated expectation of this run in the warehouse (audit.gate_results)."""
    rows = [(candidate.run_id, candidate.version, table, o["expectation"],
             json.dumps(o["kwargs"], default=str), o["severity"], o["success"],
             json.dumps(o["result"], default=str))
            for table, outcomes in result.tables.items() for o in outcomes]
    with connection(settings.warehouse_path) as con:
        con.execute(RESULTS_DDL)
        con.execute("delete from audit.gate_results where run_id = ? and version = ?",
                    [candidate.run_id, candidate.version])
        if rows:
            con.executemany("insert into audit.gate_results values (?, ?, now(), ?, ?, ?, ?, ?, ?)",
                            rows)
    return len(rows)

"""The quality gate: Great Expectations 1.x suites (``expectations/<table>.json``) on a candidate.

GX cannot reliably query DuckDB through SQLAlchemy (GX #10738), so each published table is read
into a DataFrame through a read-only connection and validated there. Row-level checks on huge
tables stay in dbt tests. Every table must have a suite and every suite a table.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from upstream.ingest import sha256_of
from upstream.publish import Candidate
from upstream.settings import Settings
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


def _describe(table: str, outcome: Any) -> str:
    cfg = outcome.expectation_config
    kwargs = {k: v for k, v in cfg.kwargs.items() if k != "batch_id"}
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
    return f"{table}: {cfg.type} {kwargs} failed: {observed}"


def _outcome_json(outcome: Any) -> dict[str, Any]:
    cfg = outcome.expectation_config
    return {"expectation": cfg.type, "kwargs": {k: v for k, v in cfg.kwargs.items()
                                                 if k != "batch_id"},
            "success": bool(outcome.success),
            "result": json.loads(json.dumps(outcome.result or {}, default=str))}


def validate(settings: Settings, candidate: Candidate) -> GateResult:
    """Validate every table of the candidate against its suite; never raises on failures."""
    import great_expectations as gx
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.data_context.types.base import ProgressBarsConfig

    suites = load_suites(settings.expectations_dir)
    parameters = {"min_group_size": settings.min_group_size}
    result = GateResult(success=True, sha256=sha256_of(candidate.path))
    with connection(candidate.path, read_only=True) as con:
        tables = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'main' "
            "order by 1").fetchall()]
        frames = {t: con.table(t).df() for t in tables if t in suites}
    for t in sorted(set(tables) - set(suites)):
        result.failures.append(f"{t}: published table has no suite in {settings.expectations_dir}")
    for t in sorted(set(suites) - set(tables)):
        result.failures.append(f"{t}: suite exists but the candidate has no such table")
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("candidate")
    for table, frame in frames.items():
        suite = ExpectationSuite(**suites[table])
        batch_def = source.add_dataframe_asset(table).add_batch_definition_whole_dataframe(table)
        batch = batch_def.get_batch(batch_parameters={"dataframe": frame})
        outcome = batch.validate(suite, expectation_parameters=parameters)
        result.evaluated += len(outcome.results)
        result.tables[table] = [_outcome_json(o) for o in outcome.results]
        result.failures += [_describe(table, o) for o in outcome.results if not o.success]
    result.success = not result.failures
    return result


def run_gate(settings: Settings, candidate: Candidate) -> GateResult:
    """Validate, record the verdict beside the candidate, and raise :class:`GateFailed`."""
    result = validate(settings, candidate)
    candidate.gate_record.write_text(json.dumps(
        {"success": result.success, "sha256": result.sha256, "evaluated": result.evaluated,
         "failures": result.failures, "tables": result.tables}, indent=2, default=str))
    if not result.success:
        raise GateFailed(
            f"gate failed for candidate v{candidate.version} ({candidate.path.name}); nothing "
            f"published. {len(result.failures)} failure(s):\n  " + "\n  ".join(result.failures))
    log.info("gate passed: %d expectations on %s", result.evaluated, sorted(result.tables))
    return result

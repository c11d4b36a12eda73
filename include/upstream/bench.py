"""`upstream bench` (`make bench`): the daily DAG through real Airflow at a scale factor, with
the floors it is measured against.

1. generates ``days + 1`` days at ``sf`` (in its own process: time and peak RSS);
2. measures the floors over the first ``days`` days: DuckDB's plain read of the same files
   into memory, and into a DuckDB file (what any loader pays at least to persist them);
3. runs ``upstream_daily`` through ``airflow dags test`` as a full refresh over those days,
   then the following day in daily mode, and keeps every task's wall time and the peak RSS of
   the largest process (Airflow, and dbt under it). It hashes every row of the tables the
   transform builds after each run: how many rows the day rewrote, which any incremental
   build of them would write too;
4. prints the figures and ratios and writes them to ``.bench/results.json`` (and
   ``.bench/results-sf<sf>.json``; with another scale's file beside it, also the growth).

Targets are reported, never asserted: a benchmark, not a test.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import duckdb

from upstream.common import quote_ident
from upstream.contracts import Contract, sources
from upstream.ingest import landing_files
from upstream.runner import dags_test, reap
from upstream.settings import Settings
from upstream.warehouse import connect, sql_literal

log = logging.getLogger(__name__)
START = date(2026, 11, 1)
# The issue's targets at SF 10 on a 2-core machine (reported beside the figures).
TARGETS = {"full_s": 180, "full_over_floor_mem": 3.0, "day_over_full": 0.10, "peak_rss_mb": 8192,
           "ingest_over_floor_file": 2.0}


def _plain_read_sql(contract: Contract, paths: list[Path]) -> str:
    files = "[" + ", ".join(sql_literal(str(p)) for p in paths) + "]"
    columns = "{" + ", ".join(f"{sql_literal(c.name)}: {sql_literal(c.type)}"
                              for c in contract.columns) + "}"
    if contract.format == "ndjson":
        return (f"select * from read_json({files}, format='newline_delimited', columns={columns}, "
                "ignore_errors=true)")
    opts = contract.csv_options
    return (f"select * from read_csv({files}, header=true, delim={sql_literal(str(opts['delim']))}, "
            f"encoding={sql_literal(str(opts['encoding']))}, ignore_errors=true, union_by_name=true)")


def floor_seconds(settings: Settings, source: str, days: list[date],
                  database: Path | None = None) -> tuple[float, int]:
    """Seconds for DuckDB to read every file of the source into typed tables; rows read.

    In memory by default; with ``database``, into tables of that DuckDB file, committed: what
    any loader pays at least to persist the same rows.
    """
    by_contract: dict[str, tuple[Contract, list[Path]]] = {}
    for day in days:
        for contract, path in landing_files(settings, source, day):
            by_contract.setdefault(contract.name, (contract, []))[1].append(path)
    con = duckdb.connect(str(database) if database else ":memory:")
    con.execute("set enable_progress_bar = false")
    kind = "table" if database else "temp table"
    try:
        started, rows = time.perf_counter(), 0
        for contract, paths in by_contract.values():
            con.execute(f"create or replace {kind} t as {_plain_read_sql(contract, paths)}")
            rows += con.execute("select count(*) from t").fetchone()[0]
        if database:
            con.execute("checkpoint")
        return time.perf_counter() - started, rows
    finally:
        con.close()
        if database:
            for p in (database, database.with_name(database.name + ".wal")):
                p.unlink(missing_ok=True)


def _source_floors(settings: Settings, days: list[date],
                   database: Path) -> dict[str, tuple[float, float, int]]:
    """Per source: (in-memory floor s, persisted floor s, rows)."""
    floors = {}
    for source in sources():
        mem, rows = floor_seconds(settings, source, days)
        persisted, _ = floor_seconds(settings, source, days, database)
        floors[source] = (mem, persisted, rows)
    return floors


def _floors(settings: Settings, days: list[date],
            database: Path) -> dict[str, tuple[float, float, int]]:
    """The floors, measured in a fresh (spawned) process so that this one stays small: Linux
    keeps a process's peak RSS across fork and exec, so Airflow started from a bench that had
    read SF 10 into memory reported that bench's 8.2 GiB as its own peak."""
    return _spawned(_source_floors, settings, days, database)


def _spawned(fn, *args):
    """``fn(*args)`` in a fresh (spawned) process, for the reason _floors gives."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def row_hashes(settings: Settings, tables: list[str], into: Path, label: str) -> None:
    """Hash every row of each warehouse ``tables`` ("schema.table") into table "<label>:<table>"
    of the DuckDB file ``into``: the rows as one run left them, for :func:`day_changes`."""
    con = connect(into, limits=settings.duckdb_limits)
    try:
        con.execute(f"attach {sql_literal(str(settings.warehouse_path))} as warehouse "
                    "(read_only)")
        for table in tables:
            con.execute(f"create or replace table {quote_ident(label + ':' + table)} as "
                        f"select hash(row_of) as h from warehouse.{table} as row_of")
    finally:
        con.close()


def day_changes(hashes: Path, tables: list[str]) -> dict[str, dict[str, float | int]]:
    """Per table, how much of it a day rewrote (from :func:`row_hashes` "before" and "after"):
    rows after the day; ``written``, its rows the table did not hold before (new, or changed
    in any column), which any incremental build of it would have to write as well; ``gone``,
    rows it held before and no longer does; ``share``, written / rows."""
    changes = {}
    with duckdb.connect(str(hashes), read_only=True) as con:
        for table in tables:
            before, after = (quote_ident(f"{label}:{table}") for label in ("before", "after"))
            rows, written, gone = con.execute(
                f"select (select count(*) from {after}), "
                f"(select count(*) from (select h from {after} except all "
                f"select h from {before})), "
                f"(select count(*) from (select h from {before} except all "
                f"select h from {after}))").fetchone()
            changes[table] = {"rows": rows, "written": written, "gone": gone,
                              "share": round(written / rows, 3) if rows else None}
    return changes


def _rebuilt_tables(settings: Settings, models: dict[str, float]) -> list[str]:
    """The models of a run (``models``, "schema.name") that are tables of the warehouse,
    except the append-only web events (a day only adds rows to them, by construction) and the
    staging views."""
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        tables = {f"{s}.{t}" for s, t in con.execute(
            "select schema_name, table_name from duckdb_tables()").fetchall()}
    return sorted(m for m in models if m in tables and m != "intermediate.int_web__events")


def _measured(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(seconds, peak RSS MiB) of a command run to completion; its output goes to the log."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    output = proc.stdout.read()
    peak_rss_mib = reap(proc)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{output[-2000:]}")
    return time.perf_counter() - started, peak_rss_mib


def _environment(bench: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "UPSTREAM_LANDING_DIR"}
    env.update(UPSTREAM_PROJECT_DIR=str(bench.project_dir), UPSTREAM_DATA_DIR=str(bench.data_dir),
               UPSTREAM_PUBLISHED_DIR=str(bench.published_dir))
    return env


MODEL_LINE = re.compile(r"OK created sql \S+ model (\S+) \.*\s*\[OK in ([0-9.]+)s\]")


def _dbt_models(text: str) -> dict[str, float]:
    """Each model's seconds as dbt logged them in ``text`` (one DAG run), slowest first."""
    found = {name: float(s) for name, s in MODEL_LINE.findall(text)}
    return dict(sorted(found.items(), key=lambda kv: -kv[1]))


# dbt's debug log: "On model.<project>.<name>: <sql>" on a thread, then that thread's
# "SQL status: OK in <s> seconds"; a record starts with a time and a [level]
LOG_RECORD = re.compile(r"^(?:\x1b\[\d+m)?\d\d:\d\d:\d\d\.\d+ \[\w+ *\] \[([^\]]+)\]: ", re.M)
STATEMENT_START = re.compile(r"On model\.[^.\s]+\.(\S+): (.*)", re.S)
STATEMENT_END = re.compile(r"SQL status: \S+ in ([0-9.]+) seconds")
DBT_COMMENT = re.compile(r"/\* \{.*?\} \*/")


def dbt_statements(text: str, top: int = 12) -> list[dict]:
    """The slowest SQL statements of dbt's debug log ``text`` (one run): each model's select,
    delete, insert and hooks apart, which the per-model seconds add together. Each: model,
    seconds, and the statement's first 100 characters (without dbt's query comment and
    whole-line SQL comments). dbt's tests are not models and are left out."""
    found, open_on = [], {}
    starts = list(LOG_RECORD.finditer(text))
    for i, record in enumerate(starts):
        body = text[record.end():starts[i + 1].start() if i + 1 < len(starts) else len(text)]
        if m := STATEMENT_START.match(body):
            open_on[record.group(1)] = (m.group(1), m.group(2))
        elif (m := STATEMENT_END.match(body)) and record.group(1) in open_on:
            model, sql = open_on.pop(record.group(1))
            sql = " ".join(line for line in DBT_COMMENT.sub("", sql).splitlines()
                           if not line.strip().startswith("--"))
            found.append({"model": model, "seconds": float(m.group(1)),
                          "sql": " ".join(sql.split())[:100]})
    return sorted(found, key=lambda f: -f["seconds"])[:top]


def _dbt_log_since(log_file: Path, offset: int) -> str:
    if not log_file.exists():
        return ""
    with log_file.open(encoding="utf-8", errors="replace") as fh:
        fh.seek(offset)
        return fh.read()


def _applied(bench: Settings) -> dict[str, dict]:
    """What each incremental state applied on its last run (its __applied), by figure:
    day_rederived_persons (None: everybody) and day_delta_lines (counted order lines applied as
    deltas), each state -> count; for the models kept by person (macros/changed_persons.sql)
    day_changed_persons: model -> [persons whose inputs changed, persons]."""
    with duckdb.connect(str(bench.warehouse_path), read_only=True) as con:
        states = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = "
            "'intermediate' and table_name like '%\\_\\_applied' escape '\\'").fetchall()]
        rows = {t.removesuffix("__applied"): con.execute(
            f"select rederived_persons, delta_lines from intermediate.{t}").fetchone()
            for t in states}
        changed = {t.removesuffix("__applied"): list(con.execute(
            f"select changed_persons, persons from intermediate.{t}").fetchone())
            for (t,) in con.execute(
                "select table_name from information_schema.columns where table_schema = "
                "'intermediate' and column_name = 'changed_persons'").fetchall()}
    return {"day_rederived_persons": {m: r[0] for m, r in rows.items()},
            "day_delta_lines": {m: r[1] for m, r in rows.items()},
            "day_changed_persons": changed}


def _dag(airflow: str, bench: Settings, run_date: date, mode: str, name: str, env: dict) -> dict:
    dbt_log = bench.dbt_log_dir / "dbt.log"
    offset = dbt_log.stat().st_size if dbt_log.exists() else 0
    run = dags_test(airflow, "upstream_daily", run_date.isoformat(), {"mode": mode},
                    bench.data_dir / "logs" / f"{name}.log", out=None, env=env)
    text = _dbt_log_since(dbt_log, offset)
    if run.returncode != 0 or not run.published:
        error = run.failures[-1].get("error") if run.failures else "no task reported"
        raise RuntimeError(f"bench {name} run failed: {error} (log: "
                           f"{bench.data_dir / 'logs' / (name + '.log')})")
    return {"seconds": round(run.seconds, 1), "peak_rss_mib": round(run.peak_rss_mib),
            "tasks": {e["task"]: e["seconds"] for e in run.events},
            "erasure_s": {e["task"]: e["erasure_s"] for e in run.events if "erasure_s" in e},
            "ledger_check_s": {e["task"]: e["ledger_check_s"] for e in run.events
                               if "ledger_check_s" in e},
            "task_rss_mib": {e["task"]: e.get("peak_rss_mib") for e in run.events},
            "models": _dbt_models(text), "statements": dbt_statements(text)}


def scratch(settings: Settings, root: Path,
            airflow: str | None = None) -> tuple[Settings, dict[str, str], str, str]:
    """A project of its own under ``root`` (emptied first): its settings, the environment its
    commands run with, and the airflow and upstream executables beside this Python."""
    shutil.rmtree(root, ignore_errors=True)
    own = replace(settings, data_dir=root, published_dir=root / "published", landing_root=None)
    return (own, _environment(own), airflow or str(Path(sys.executable).with_name("airflow")),
            str(Path(sys.executable).with_name("upstream")))


def run(settings: Settings, *, sf: float, days: int = 7, seed: int = 42,
        airflow: str | None = None) -> dict:
    """Measure SF ``sf``: ``days`` days as a full refresh, then the next day (see the module)."""
    root = settings.data_dir / "bench" / f"sf{sf:g}"
    bench, env, airflow, upstream = scratch(settings, root, airflow)
    full_days = [START + timedelta(days=i) for i in range(days)]

    generate_s, generate_rss = _measured(
        [upstream, "generate", "--seed", str(seed), "--sf", str(sf), "--days", str(days + 1),
         "--start", START.isoformat(), "--out", str(bench.landing_dir), "--quiet"], env)
    figures: dict = {"sf": sf, "days": days, "generate_s": round(generate_s, 1),
                     "generate_rss_mb": round(generate_rss), "sources": {}}
    floor_mem = floor_file = 0.0
    for source, (mem, persisted, rows) in _floors(bench, full_days, root / "floor.duckdb").items():
        figures["sources"][source] = {"rows": rows, "floor_mem_s": round(mem, 2),
                                      "floor_file_s": round(persisted, 2)}
        floor_mem, floor_file = floor_mem + mem, floor_file + persisted
    full = _dag(airflow, bench, full_days[-1] + timedelta(days=1), "full_refresh", "full", env)
    # what the day rewrites of each table the transform rebuilds or brings forward: the share
    # no incremental strategy could skip (hashed between the runs, outside their timings)
    tables, hashes = _rebuilt_tables(bench, full["models"]), root / "day_rows.duckdb"
    _spawned(row_hashes, bench, tables, hashes, "before")
    day = _dag(airflow, bench, full_days[-1] + timedelta(days=2), "daily", "day", env)
    _spawned(row_hashes, bench, tables, hashes, "after")
    day_rows = day_changes(hashes, tables)
    hashes.unlink()
    ingest_s = sum(s for t, s in full["tasks"].items() if t.startswith("ingest_"))
    erasure_s = sum(full["erasure_s"].values())
    ledger_s = sum(full["ledger_check_s"].values())
    for source, f in figures["sources"].items():
        f["ingest_s"] = full["tasks"].get(f"ingest_{source}")
        f["erasure_s"] = full["erasure_s"].get(f"ingest_{source}", 0.0)
        f["ledger_check_s"] = full["ledger_check_s"].get(f"ingest_{source}", 0.0)
        f["ingest_over_floor_file"] = _ratio(f["ingest_s"], f["floor_file_s"])
        # loading alone: the ingest without acting on erasures (CRM deletes purge every table)
        loading = f["ingest_s"] - f["erasure_s"] if f["ingest_s"] is not None else None
        f["load_over_floor_file"] = _ratio(loading, f["floor_file_s"])
        # and without checking its rows against the erasure ledger, which the floor does not do
        f["load_unchecked_over_floor_file"] = _ratio(
            loading - f["ledger_check_s"] if loading is not None else None, f["floor_file_s"])
    figures.update(
        full_s=full["seconds"], day_s=day["seconds"], floor_mem_s=round(floor_mem, 2),
        floor_file_s=round(floor_file, 2), ingest_s=round(ingest_s, 1),
        erasure_s=round(erasure_s, 1), day_erasure_s=round(sum(day["erasure_s"].values()), 1),
        ledger_check_s=round(ledger_s, 1),
        peak_rss_mb=max(full["peak_rss_mib"], day["peak_rss_mib"]),
        tasks=full["tasks"], day_tasks=day["tasks"], task_rss_mb=full["task_rss_mib"],
        day_task_rss_mb=day["task_rss_mib"], models=full["models"], day_models=day["models"],
        day_statements=day["statements"],
        day_rows=dict(sorted(day_rows.items(), key=lambda kv: -(kv[1]["share"] or 0))),
        **_applied(bench),
        ratios={"full_over_floor_mem": _ratio(full["seconds"], floor_mem),
                "full_over_floor_file": _ratio(full["seconds"], floor_file),
                "day_over_full": _ratio(day["seconds"], full["seconds"]),
                "ingest_over_floor_file": _ratio(ingest_s, floor_file),
                "load_over_floor_file": _ratio(ingest_s - erasure_s, floor_file),
                "load_unchecked_over_floor_file": _ratio(ingest_s - erasure_s - ledger_s,
                                                         floor_file)},
        warehouse_mb=round(bench.warehouse_path.stat().st_size / 2**20))
    return figures


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def save(figures: dict, folder: Path) -> dict | None:
    """Write ``results.json`` and ``results-sf<sf>.json``; return another scale's figures."""
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(figures, indent=2) + "\n"
    (folder / "results.json").write_text(text)
    (folder / f"results-sf{figures['sf']:g}.json").write_text(text)
    others = sorted(p for p in folder.glob("results-sf*.json")
                    if p.name != f"results-sf{figures['sf']:g}.json")
    return json.loads(others[0].read_text()) if others else None


def render(figures: dict, other: dict | None = None) -> str:
    ratios = figures["ratios"]
    lines = [
        f"SF {figures['sf']:g}: {figures['days']} days as a full refresh, then day "
        f"{figures['days'] + 1} in daily mode, through airflow dags test upstream_daily",
        f"generation of {figures['days'] + 1} days: {figures['generate_s']} s, peak RSS "
        f"{figures['generate_rss_mb']} MiB",
        f"{'task':<17} {'full s':>7} {'RSS MiB':>8} {'day s':>7} {'RSS MiB':>8}"]
    for task, seconds in figures["tasks"].items():
        lines.append(f"{task:<17} {seconds:>7} {figures['task_rss_mb'].get(task)!s:>8} "
                     f"{figures['day_tasks'].get(task)!s:>7} "
                     f"{figures['day_task_rss_mb'].get(task)!s:>8}")
    lines += [
        f"{'whole run':<17} {figures['full_s']:>7} {'':>8} {figures['day_s']:>7}   (wall, "
        "Airflow start-up included)",
        f"peak RSS of the largest process: {figures['peak_rss_mb']} MiB (target <= "
        f"{TARGETS['peak_rss_mb']})",
        f"floors over the same files: in memory {figures['floor_mem_s']} s, into a DuckDB file "
        f"{figures['floor_file_s']} s",
        f"full / in-memory floor {ratios['full_over_floor_mem']} (target <= "
        f"{TARGETS['full_over_floor_mem']}), full / persisted floor "
        f"{ratios['full_over_floor_file']}, day / full {ratios['day_over_full']} (target <= "
        f"{TARGETS['day_over_full']})",
        f"ingest {figures['ingest_s']} s = {ratios['ingest_over_floor_file']} x the persisted "
        f"floor (target <= {TARGETS['ingest_over_floor_file']}); per source: " + ", ".join(
            f"{s} {f['ingest_s']} s / {f['floor_file_s']} s = {f['ingest_over_floor_file']}"
            for s, f in figures["sources"].items()),
        f"of the ingest, acting on erasures (CRM deletes): {figures['erasure_s']} s (day "
        f"{figures['day_erasure_s']} s); loading alone {ratios['load_over_floor_file']} x the "
        "persisted floor; per source: " + ", ".join(
            f"{s} {f['load_over_floor_file']}" for s, f in figures["sources"].items()),
        f"of the loading, checking rows against the erasure ledger (each distinct identifier "
        f"hashed with its key; the floor does not): {figures['ledger_check_s']} s; loading "
        f"without it {ratios['load_unchecked_over_floor_file']} x the persisted floor; per "
        "source: " + ", ".join(f"{s} {f['load_unchecked_over_floor_file']}"
                               for s, f in figures["sources"].items()),
    ]
    if figures.get("day_models"):
        slowest = list(figures["day_models"].items())[:8]
        lines.append("slowest dbt models on the day (full refresh): " + ", ".join(
            f"{m} {s} s ({figures['models'].get(m)} s)" for m, s in slowest))
        lines.append(f"dbt models in all: full {round(sum(figures['models'].values()), 1)} s, "
                     f"day {round(sum(figures['day_models'].values()), 1)} s; persons the "
                     "incremental states re-derived on the day: " + ", ".join(
                         f"{m} {n}" for m, n in figures["day_rederived_persons"].items())
                     + "; order lines applied as deltas: " + ", ".join(
                         f"{m} {n}" for m, n in figures.get("day_delta_lines", {}).items()))
        if figures.get("day_changed_persons"):
            lines.append("persons whose inputs changed on the day (models kept by person; "
                         "above the model's rebuild_above_share it recomputes everybody): "
                         + ", ".join(
                             f"{m} {c:,} of {n:,} ({c / max(n, 1):.0%})"
                             for m, (c, n) in figures["day_changed_persons"].items()))
    if figures.get("day_statements"):
        lines.append("slowest dbt statements on the day: " + "; ".join(
            f"{st['model']} {st['seconds']:.1f} s {' '.join(st['sql'].split()[:2])}"
            for st in figures["day_statements"][:6]))
    if figures.get("day_rows"):
        lines.append("rows the day wrote that the full refresh did not hold (new or changed, "
                     "what an incremental build writes too): " + ", ".join(
                         f"{m} {c['written']} of {c['rows']} ({c['share']:.0%})"
                         for m, c in figures["day_rows"].items() if c["rows"]))
    if other:
        factor = figures["sf"] / other["sf"]
        grow = ", ".join(
            f"{key} {_ratio(figures[key], other[key])}x" for key in
            ("generate_s", "floor_mem_s", "floor_file_s", "ingest_s", "full_s", "day_s",
             "peak_rss_mb") if other.get(key))
        lines.append(f"growth from SF {other['sf']:g} to SF {figures['sf']:g} "
                     f"(data {factor:g}x): {grow}")
    return "\n".join(lines)

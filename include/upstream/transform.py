"""Run the dbt project against the warehouse, in a subprocess.

A subprocess, not ``dbtRunner`` in the caller: dbt-duckdb keeps the DuckDB file locked in the
calling process after ``invoke`` returns, which would block the next task in the same process.
The subprocess (:mod:`upstream.dbt_commands`) runs one command, or several in a row.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from upstream import spark
from upstream.dbt_commands import STEP
from upstream.settings import WRITER_POOL, Settings
from upstream.warehouse import WarehouseLocked, connection

log = logging.getLogger(__name__)


class TransformFailed(RuntimeError):
    """dbt reported an error; the message carries dbt's summary lines."""


def run_dbt(settings: Settings, args: list[str], *, as_of: date,
            then: list[str] | None = None) -> str:
    """Run ``dbt <args>`` for the run whose data ends before ``as_of``; return its output.

    ``then``: a dbt command to run after ``args`` succeeds, in the same process (it does not
    pay dbt's start again). A build that succeeded is recorded even when ``then`` fails.
    """
    env = {
        **os.environ,
        **settings.dbt_env,
        "UPSTREAM_AS_OF_DATE": as_of.isoformat(),
        "DBT_TARGET_PATH": str(settings.dbt_target_dir),
        "DBT_LOG_PATH": str(settings.dbt_log_dir),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_USE_COLORS": "false",
    }
    # DuckDB creates only the last folder of its spill path: a cleaned data/tmp would fail dbt
    Path(settings.duckdb_limits["temp_directory"]).mkdir(parents=True, exist_ok=True)
    cwd = None
    if settings.engine == "spark":
        # Spark reads raw from the Parquet layer that ingest keeps (upstream.raw_parquet) and
        # writes its own warehouse: this process opens no DuckDB file, so the transform needs
        # no writer slot. Derby's metastore and log live in the Spark folder.
        cwd = settings.spark_dir
        cwd.mkdir(parents=True, exist_ok=True)
        env["UPSTREAM_SPARK_EXPORT"] = ",".join(spark.exported_models(settings))
        env["UPSTREAM_SPARK_EXPORT_DIR"] = str(settings.spark_export or spark.new_export(settings))
    commands = [command for command in (args, then) if command]
    invocations = [[*command, "--project-dir", str(settings.dbt_project_dir)]
                   for command in commands]
    cmd = [sys.executable, "-m", "upstream.dbt_commands", json.dumps(invocations)]
    log.info("running %s (as of %s, engine %s)", ", then ".join(
        "dbt " + " ".join(invocation) for invocation in invocations), as_of, settings.engine)
    # streamed: every dbt line reaches the task log when dbt prints it (real timestamps)
    lines: list[str] = []
    with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, bufsize=1, cwd=cwd) as proc:
        for line in proc.stdout:
            line = line.rstrip("\n")
            lines.append(line)
            log.info("dbt | %s", line)
    output = "\n".join(lines)
    # how many commands succeeded: all, or those before the failing one (upstream.dbt_commands'
    # exit status); none when the process did not get that far (killed: a negative status)
    succeeded = (len(commands) if proc.returncode == 0
                 else min(max(proc.returncode, 0) // STEP, len(commands) - 1))
    if succeeded and args[0] in ("build", "run"):
        _record_success(settings, args, as_of)
        _keep_warnings(settings)
    if proc.returncode != 0:
        failed = commands[succeeded]
        status = proc.returncode % STEP if proc.returncode > 0 else proc.returncode  # <0: signal
        failures = [ln for ln in lines if any(w in ln for w in ("ERROR", "FAIL", "Error", "Done."))]
        models = sorted(set(FAILED_NODE.findall(output)))
        hint = ""
        if "Could not set lock on file" in output:
            hint = (f"\nAnother process holds {settings.warehouse_path}: warehouse writers must run "
                    f"in the '{WRITER_POOL}' pool; find the holder with `fuser` and stop it.")
        elif models:
            hint = _suspect_deliveries(settings)
        raise TransformFailed(
            f"dbt {' '.join(failed)} failed (exit {status}) on "
            f"{settings.warehouse_path}"
            + (f" in {', '.join(models)}" if models else "") + ":\n"
            + "\n".join(failures[-20:] or lines[-20:]) + hint
        )
    return output


# "Database Error in model design_demand (models/marts/design_demand.sql)", and tests alike
FAILED_NODE = re.compile(r"(?:Error|Failure) in (?:model|test|seed|snapshot|unit_test) (\S+)")
SPARK_RUNS = "dbt_runs.jsonl"  # the spark engine's audit.dbt_runs, one JSON line per build
RUNS_DDL = """
create schema if not exists audit;
create table if not exists audit.dbt_runs (
    finished_at timestamptz not null, as_of date not null, args varchar not null)
"""


def _record_success(settings: Settings, args: list[str], as_of: date) -> None:
    """Remember when dbt last succeeded: a later failure lists the deliveries since then. On
    Spark in a file beside its warehouse (the transform opens no DuckDB file there)."""
    if settings.engine == "spark":
        with (settings.spark_dir / SPARK_RUNS).open("a") as fh:
            fh.write(json.dumps({"finished_at": datetime.now(UTC).isoformat(),
                                 "as_of": as_of.isoformat(), "args": " ".join(args)}) + "\n")
        return
    with connection(settings.warehouse_path) as con:
        con.execute(RUNS_DDL)
        con.execute("insert into audit.dbt_runs values (now(), ?, ?)", [as_of, " ".join(args)])


def _spark_last_run(settings: Settings) -> dict | None:
    runs = settings.spark_dir / SPARK_RUNS
    lines = runs.read_text().splitlines() if runs.exists() else []
    return json.loads(lines[-1]) if lines else None


def last_as_of(settings: Settings) -> date | None:
    """The as-of date of the last successful dbt build (None before the first)."""
    if settings.engine == "spark":
        last = _spark_last_run(settings)
        return date.fromisoformat(last["as_of"]) if last else None
    if not settings.warehouse_path.exists():
        return None
    with connection(settings.warehouse_path, read_only=True) as con:
        try:
            row = con.execute("select as_of from audit.dbt_runs "
                              "order by finished_at desc limit 1").fetchone()
        except duckdb.CatalogException:
            return None
    return row[0] if row else None


def _keep_warnings(settings: Settings) -> list[str]:
    """dbt's warn results of the last build (tests with severity warn), kept beside its target
    as ``build_warnings.json``: the gate reports them with its own warnings, so they reach the
    manifest and the report (later dbt commands overwrite run_results.json)."""
    results = settings.dbt_target_dir / "run_results.json"
    warnings = []
    if results.exists():
        for r in json.loads(results.read_text()).get("results", []):
            if r.get("status") == "warn":
                name = r["unique_id"].split(".")[2]
                warnings.append(f"dbt: {name}: {r.get('message') or 'warning'}")
    (settings.dbt_target_dir / "build_warnings.json").write_text(json.dumps(warnings, indent=2))
    return warnings


def build_warnings(settings: Settings) -> list[str]:
    """The warnings :func:`_keep_warnings` kept for the last successful build."""
    path = settings.dbt_target_dir / "build_warnings.json"
    return json.loads(path.read_text()) if path.exists() else []


def _suspect_deliveries(settings: Settings, limit: int = 10) -> str:
    """The landing files loaded since dbt last succeeded: a failure caused by data (a value a
    model cannot cast, say) came in with one of them."""
    try:
        with connection(settings.warehouse_path, read_only=True) as con:
            if settings.engine == "spark":  # its runs are not in the warehouse
                last = _spark_last_run(settings)
                since = datetime.fromisoformat(last["finished_at"]) if last else None
            else:
                try:
                    since = con.execute("select max(finished_at) from audit.dbt_runs"
                                        ).fetchone()[0]
                except duckdb.CatalogException:
                    since = None
            files = [r[0] for r in con.execute(
                "select path from raw._load_manifest where status = 'loaded' and "
                "finished_at > coalesce(?, '-infinity'::timestamptz) "
                "order by finished_at desc", [since]).fetchall()]
    except (duckdb.Error, WarehouseLocked):  # no ledger yet, or an ingest writes: no hint
        return ""
    if not files:
        return ""
    when = "since dbt last succeeded" if since else "so far (dbt never succeeded here)"
    more = f" and {len(files) - limit} more" if len(files) > limit else ""
    return (f"\nIf data caused this, it came with a delivery loaded {when}: {files[:limit]}{more}"
            ". Next: find the row (raw.<table> where _source_file = ...), have the source "
            "re-deliver the file corrected under the same name, then clear the run.")

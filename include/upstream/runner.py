"""`upstream run-dag`: a DAG through real Airflow (`airflow dags test`) with progress you can
watch. The whole log goes to a file; the terminal gets one line per task as it finishes (wall
time and key figures, from the tasks' ``PROGRESS`` log lines), then a summary of what was
published, or the failing task's own message (from its ``ALERT`` line), never a traceback tail.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

MARKERS = {"PROGRESS": re.compile(r"\bPROGRESS (?=\{)"), "ALERT": re.compile(r"\bALERT (?=\{)")}


def _payload(line: str, marker: str) -> dict | None:
    found = MARKERS[marker].search(line)
    if not found:
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(line, found.end())
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _figures(event: dict[str, Any]) -> str:
    task = event["task"]
    if task == "ingest_intraday":
        return (f"{event['batches']} micro-batch(es) loaded, {event['refused']} refused, "
                f"{event['waiting']} waiting")
    if task.startswith("ingest_"):
        text = (f"{event['loaded']:,} loaded, {event['quarantined']:,} quarantined "
                f"({event['files']} files, {event['days']} day{'s' * (event['days'] != 1)})")
        return text + (f", {event['erased_crm_ids']} erased" if event.get("erased_crm_ids") else "")
    if task == "transform":
        return f"dbt {event['dbt']}" + (" (full refresh)" if event.get("full_refresh") else "")
    if task == "build_candidate":
        return f"v{event['version']}: {event['feeds']} feeds, {event['rows']:,} rows"
    if task == "gate":
        return f"{event['expectations']} expectations passed, {event['warnings']} warning(s)"
    if task == "publish":
        covered = event["covered"]
        return f"version {event['version']}, data {covered['from']} – {covered['to']}"
    return ", ".join(f"{k}={v}" for k, v in event.items() if k not in ("task", "seconds"))


@dataclass
class DagRun:
    """What one ``airflow dags test`` did: its exit code and wall time, every task's PROGRESS
    event in order, the failing task's ALERT, and the peak RSS of its largest process (Airflow
    and, under it, dbt; from the kernel's accounting of the process tree)."""

    returncode: int
    seconds: float
    events: list[dict] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    peak_rss_mib: float = 0.0

    @property
    def published(self) -> dict | None:
        return next((e for e in reversed(self.events) if e["task"] == "publish"), None)


def reap(proc: subprocess.Popen) -> float:
    """Wait for ``proc``, set its return code, and return the peak RSS (MiB) of the largest
    process of its tree (the kernel's accounting of its waited-for descendants included)."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss / 1024  # KiB on Linux


def dags_test(airflow: str, dag_id: str, run_date: str, conf: dict, log_path: Path,
              out: TextIO | None = sys.stdout, env: dict[str, str] | None = None) -> DagRun:
    """Run ``airflow dags test dag_id run_date -c conf``, the log to ``log_path`` and one line
    per finished task to ``out`` (None: quiet)."""
    started = time.time()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [airflow, "dags", "test", dag_id, run_date, "-c", json.dumps(conf)]
    if out:
        print(f"run: {dag_id} for {run_date} {json.dumps(conf)} (full log: {log_path})",
              file=out, flush=True)
    run = DagRun(returncode=1, seconds=0.0)
    with log_path.open("w") as log, subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
            env=env) as proc:
        for line in proc.stdout:
            log.write(line)
            event = _payload(line, "PROGRESS")
            if event:
                run.events.append(event)
                if out:
                    print(f"  {event['task']:<16} {event['seconds']:>6.1f} s  {_figures(event)}",
                          file=out, flush=True)
            alert = _payload(line, "ALERT")
            if alert:
                run.failures.append(alert)
        run.peak_rss_mib = reap(proc)
    run.returncode = proc.returncode
    run.seconds = time.time() - started
    return run


def run_dag(airflow: str, dag_id: str, run_date: str, conf: dict, log_path: Path,
            out: TextIO = sys.stdout) -> int:
    """Run the DAG with progress on ``out`` and a closing summary; return its exit code."""
    run = dags_test(airflow, dag_id, run_date, conf, log_path, out)
    published = run.published
    if run.returncode == 0 and published:
        print(f"done in {run.seconds:.0f} s: published version {published['version']}\n"
              f"  design database  {published['database']}\n"
              f"  designers' report {published['report']}\n"
              "  next: .venv/bin/upstream report --serve · .venv/bin/upstream query \"select * "
              "from design_demand where trend = 'rising'\" · .venv/bin/upstream publish list",
              file=out, flush=True)
        return 0
    print(f"FAILED after {run.seconds:.0f} s (full log: {log_path})", file=out, flush=True)
    for alert in run.failures[-1:]:
        print(f"  {alert.get('task_id')} failed: {alert.get('error')}", file=out, flush=True)
    if not run.failures:
        print("  airflow dags test failed before any task reported; see the log", file=out,
              flush=True)
    return run.returncode or 1

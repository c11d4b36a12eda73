"""`upstream run-dag`: a DAG through real Airflow (`airflow dags test`) with progress you can
watch. The whole log goes to a file; the terminal gets one line per task as it finishes (wall
time and key figures, from the tasks' ``PROGRESS`` log lines), then a summary of what was
published, or the failing task's own message (from its ``ALERT`` line), never a traceback tail.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
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


def run_dag(airflow: str, dag_id: str, run_date: str, conf: dict, log_path: Path,
            out: TextIO = sys.stdout) -> int:
    """Run ``airflow dags test dag_id run_date -c conf``; return its exit code."""
    started = time.time()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [airflow, "dags", "test", dag_id, run_date, "-c", json.dumps(conf)]
    print(f"run: {dag_id} for {run_date} {json.dumps(conf)} (full log: {log_path})", file=out,
          flush=True)
    published: dict | None = None
    failures: list[dict] = []
    with log_path.open("w") as log, subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1) as proc:
        for line in proc.stdout:
            log.write(line)
            event = _payload(line, "PROGRESS")
            if event:
                print(f"  {event['task']:<16} {event['seconds']:>6.1f} s  {_figures(event)}",
                      file=out, flush=True)
                published = event if event["task"] == "publish" else published
            alert = _payload(line, "ALERT")
            if alert:
                failures.append(alert)
    seconds = time.time() - started
    if proc.returncode == 0 and published:
        print(f"done in {seconds:.0f} s: published version {published['version']}\n"
              f"  design database  {published['database']}\n"
              f"  designers' report {published['report']}\n"
              "  next: .venv/bin/upstream report --serve · .venv/bin/upstream query \"select * "
              "from design_demand where trend = 'rising'\" · .venv/bin/upstream publish list",
              file=out, flush=True)
        return 0
    print(f"FAILED after {seconds:.0f} s (full log: {log_path})", file=out, flush=True)
    for alert in failures[-1:]:
        print(f"  {alert.get('task_id')} failed: {alert.get('error')}", file=out, flush=True)
    if not failures:
        print("  airflow dags test failed before any task reported; see the log", file=out,
              flush=True)
    return proc.returncode or 1

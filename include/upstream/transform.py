"""Run the dbt project against the warehouse, in a subprocess.

A subprocess, not ``dbtRunner``: dbt-duckdb keeps the DuckDB file locked in the calling
process after ``invoke`` returns, which would block the next task in the same process.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from upstream.settings import Settings

log = logging.getLogger(__name__)


class TransformFailed(RuntimeError):
    """dbt reported an error; the message carries dbt's summary lines."""


def dbt_executable() -> str:
    return str(Path(sys.executable).with_name("dbt"))


def run_dbt(settings: Settings, args: list[str], *, as_of: date) -> str:
    """Run ``dbt <args>`` for the run whose data ends before ``as_of``; return its output."""
    env = {
        **os.environ,
        **settings.dbt_env,
        "UPSTREAM_AS_OF_DATE": as_of.isoformat(),
        "DBT_TARGET_PATH": str(settings.data_dir / "dbt" / "target"),
        "DBT_LOG_PATH": str(settings.data_dir / "dbt" / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_USE_COLORS": "false",
    }
    cmd = [dbt_executable(), *args, "--project-dir", str(settings.dbt_project_dir)]
    log.info("running %s (as of %s)", " ".join(cmd), as_of)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    for line in proc.stdout.splitlines():
        log.info("dbt | %s", line)
    if proc.returncode != 0:
        lines = (proc.stdout + proc.stderr).splitlines()
        failures = [ln for ln in lines if any(w in ln for w in ("ERROR", "FAIL", "Error", "Done."))]
        hint = ""
        if "Could not set lock on file" in proc.stdout + proc.stderr:
            hint = (f"\nAnother process holds {settings.warehouse_path}: warehouse writers must run "
                    "in the 'duckdb_writer' pool; find the holder with `fuser` and stop it.")
        raise TransformFailed(
            f"dbt {' '.join(args)} failed (exit {proc.returncode}) on {settings.warehouse_path}:\n"
            + "\n".join(failures[-20:] or lines[-20:]) + hint
        )
    return proc.stdout

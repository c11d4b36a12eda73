"""What the integration tests share: a project area of their own with an initialised Airflow
home, in which `airflow dags test` runs the real DAGs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def airflow_project(root: Path, **settings: str) -> dict[str, str]:
    """The environment of a project under ``root`` (data, publications, Airflow home) with
    the ``UPSTREAM_*`` ``settings`` given; its Airflow metadata database is migrated and the
    writer pool created (scripts/airflow-init.sh)."""
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(root / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "UPSTREAM_PROJECT_DIR": str(ROOT),
        "UPSTREAM_DATA_DIR": str(root / "data"),
        "UPSTREAM_PUBLISHED_DIR": str(root / "published"),
        **settings,
    }
    subprocess.run(["bash", str(ROOT / "scripts" / "airflow-init.sh")], env={
        **env, "AIRFLOW": AIRFLOW}, check=True, cwd=ROOT)
    return env

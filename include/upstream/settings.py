"""The one place that reads the environment.

Everything else receives a :class:`Settings`. Defaults work out of the box inside the
project folder: data under ``data/``, the designers' database under ``published/``. Each
``UPSTREAM_*`` setting comes from the environment, else from a ``.env`` file in the project
folder (git-ignored; ``.env.example`` lists every setting), else its default: the environment
wins over the file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path


def _project_dir() -> Path:
    """The project root: ``UPSTREAM_PROJECT_DIR``, else the folder holding ``dbt_project/``."""
    explicit = os.environ.get("UPSTREAM_PROJECT_DIR")
    if explicit:
        return Path(explicit).resolve()
    for candidate in (Path.cwd(), *Path.cwd().parents):
        if (candidate / "dbt_project" / "dbt_project.yml").is_file():
            return candidate
    # Editable install: include/upstream/settings.py -> project root.
    return Path(__file__).resolve().parents[2]


def _environment(project: Path) -> dict[str, str]:
    """The environment over the project's ``.env`` file (the environment wins)."""
    from dotenv import dotenv_values

    dotenv = project / ".env"
    from_file = {k: v for k, v in dotenv_values(dotenv).items() if v is not None} \
        if dotenv.is_file() else {}
    return {**from_file, **os.environ}


def _float(name: str, default: float, env: Mapping[str, str] = os.environ) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"setting {name}={raw!r} is not a number") from exc


def _date(name: str, default: date, env: Mapping[str, str] = os.environ) -> date:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise ValueError(f"setting {name}={raw!r} is not a date (YYYY-MM-DD)") from exc


def _int(name: str, default: int, env: Mapping[str, str] = os.environ) -> int:
    value = _float(name, default, env)
    if value != int(value):
        raise ValueError(f"setting {name}={value!r} is not an integer")
    return int(value)


@dataclass(frozen=True)
class Settings:
    project_dir: Path
    data_dir: Path
    published_dir: Path
    max_reject_rate: float
    reject_floor: int
    min_group_size: int
    pseudonym_secret: str | None
    demand_window_days: int
    keep_versions: int = 5
    ingest_workers: int = 2
    max_shrink: float = 0.5
    max_data_age_days: int = 2
    alert_webhook: str | None = None
    alert_email: str | None = None
    # the first day Upstream loads: runs and backfills for earlier days are refused
    history_start: date = date(2000, 1, 1)
    # where sources deliver: UPSTREAM_LANDING_DIR, else <data_dir>/landing
    landing_root: Path | None = None
    # key of the erasure ledger's hashes: UPSTREAM_ERASURE_SECRET, else a local random key
    erasure_secret: str | None = None

    @property
    def landing_dir(self) -> Path:
        return self.landing_root or self.data_dir / "landing"

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse" / "upstream.duckdb"

    @property
    def dbt_project_dir(self) -> Path:
        return self.project_dir / "dbt_project"

    @property
    def expectations_dir(self) -> Path:
        return self.project_dir / "expectations"

    @property
    def published_db(self) -> Path:
        """What designers open: a symlink to ``current/design.duckdb``."""
        return self.published_dir / "design.duckdb"

    @property
    def published_manifest(self) -> Path:
        return self.published_dir / "manifest.json"

    @property
    def versions_dir(self) -> Path:
        return self.published_dir / "versions"

    @property
    def dbt_target_dir(self) -> Path:
        return self.data_dir / "dbt" / "target"

    @property
    def dbt_manifest(self) -> Path:
        """dbt's manifest of the last build: descriptions and lineage of what is published."""
        return self.dbt_target_dir / "manifest.json"

    @property
    def erasure_ledger(self) -> Path:
        """Keyed hashes of every erased identifier (upstream.erasure), outside the warehouse."""
        return self.data_dir / "privacy" / "erasure_ledger.jsonl"

    @property
    def current_link(self) -> Path:
        return self.published_dir / "current"

    @property
    def dbt_env(self) -> dict[str, str]:
        """Environment for a dbt subprocess: profiles and warehouse from these settings."""
        return {
            "UPSTREAM_WAREHOUSE": str(self.warehouse_path),
            "DBT_PROFILES_DIR": str(self.dbt_project_dir),
            "UPSTREAM_DEMAND_WINDOW_DAYS": str(self.demand_window_days),
            "UPSTREAM_MIN_GROUP_SIZE": str(self.min_group_size),
        }


def get_settings() -> Settings:
    project = _project_dir()
    env = _environment(project)
    data_dir = Path(env.get("UPSTREAM_DATA_DIR") or project / "data").resolve()
    published = Path(env.get("UPSTREAM_PUBLISHED_DIR") or project / "published").resolve()
    reject_rate = _float("UPSTREAM_MAX_REJECT_RATE", 0.05, env)
    if not 0.0 <= reject_rate <= 1.0:
        raise ValueError(f"setting UPSTREAM_MAX_REJECT_RATE={reject_rate} must be within 0..1")
    return Settings(
        project_dir=project,
        data_dir=data_dir,
        published_dir=published,
        max_reject_rate=reject_rate,
        reject_floor=_int("UPSTREAM_REJECT_FLOOR", 10, env),
        min_group_size=_int("UPSTREAM_MIN_GROUP_SIZE", 5, env),
        pseudonym_secret=env.get("UPSTREAM_PSEUDONYM_SECRET") or None,
        demand_window_days=_int("UPSTREAM_DEMAND_WINDOW_DAYS", 28, env),
        keep_versions=max(1, _int("UPSTREAM_KEEP_VERSIONS", 5, env)),
        ingest_workers=max(1, _int("UPSTREAM_INGEST_WORKERS", 2, env)),
        max_shrink=_float("UPSTREAM_MAX_SHRINK", 0.5, env),
        max_data_age_days=_int("UPSTREAM_MAX_DATA_AGE_DAYS", 2, env),
        alert_webhook=env.get("UPSTREAM_ALERT_WEBHOOK") or None,
        alert_email=env.get("UPSTREAM_ALERT_EMAIL") or None,
        history_start=_date("UPSTREAM_HISTORY_START", date(2000, 1, 1), env),
        landing_root=(Path(env["UPSTREAM_LANDING_DIR"]).resolve()
                      if env.get("UPSTREAM_LANDING_DIR") else None),
        erasure_secret=env.get("UPSTREAM_ERASURE_SECRET") or None,
    )

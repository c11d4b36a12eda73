"""The one place that reads the environment, and the one home of every default.

Everything else receives a :class:`Settings`. Defaults work out of the box inside the
project folder: data under ``data/``, the designers' database under ``published/``. Each
``UPSTREAM_*`` setting comes from the environment, else from a ``.env`` file in the project
folder (git-ignored; ``.env.example`` lists every setting), else its default: the environment
wins over the file.

:data:`SETTINGS` is the table of settings: variable, default, meaning. ``docs/configuration.md``
and ``.env.example`` are checked against it by a test, and dbt receives its values through
:attr:`Settings.dbt_env` (``dbt_project.yml`` has no defaults of its own).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

# The Airflow pool that serialises warehouse writers (DuckDB: one writer process per file).
# deploy/pools.sh creates it from this constant; every writing task names it through here.
WRITER_POOL = "duckdb_writer"
# With UPSTREAM_ENGINE=spark the transform does not touch the DuckDB file, so it leaves the
# writer pool for this one: one Spark application at a time on the embedded (Derby) metastore,
# which one process opens at a time; with a metastore service it can have more slots.
SPARK_POOL = "spark_engine"
# The raw Parquet layer's catalogue of current loads (upstream.raw_parquet), in its folder; no
# leading underscore: Spark skips such files even when named explicitly
RAW_CATALOGUE = "catalogue.jsonl"


@dataclass(frozen=True)
class Setting:
    """One ``UPSTREAM_*`` variable: its default as text ("" = unset) and what it means."""

    env: str
    default: str
    meaning: str
    secret: bool = False  # a local random key when unset; must come from the environment in production


SETTINGS: tuple[Setting, ...] = (
    Setting("UPSTREAM_PROJECT_DIR", "", "code: dbt project, expectations (default: the folder "
            "holding `dbt_project/`)"),
    Setting("UPSTREAM_DATA_DIR", "", "landing files, warehouse, dbt target (default: "
            "`<project>/data`)"),
    Setting("UPSTREAM_PUBLISHED_DIR", "", "the designers' database and manifest (default: "
            "`<project>/published`)"),
    Setting("UPSTREAM_LANDING_DIR", "", "where sources deliver `<source>/<YYYY-MM-DD>/` folders "
            "(default: `<data>/landing`)"),
    Setting("UPSTREAM_PSEUDONYM_SECRET", "", "key for pseudonymous customer keys (default: a "
            "local random key)", secret=True),
    Setting("UPSTREAM_ERASURE_SECRET", "", "key of the erasure ledger's hashes (default: a local "
            "random key)", secret=True),
    Setting("UPSTREAM_MAX_REJECT_RATE", "0.05", "share of quarantined rows above which a file is "
            "refused"),
    Setting("UPSTREAM_REJECT_FLOOR", "10", "quarantined rows a file may always have (tiny "
            "deltas)"),
    Setting("UPSTREAM_MIN_GROUP_SIZE", "5", "k for small-group suppression in aggregates"),
    Setting("UPSTREAM_DEMAND_WINDOW_DAYS", "28", "window of `design_demand`"),
    Setting("UPSTREAM_KEEP_VERSIONS", "5", "published versions kept"),
    Setting("UPSTREAM_MEMORY_LIMIT", "", "DuckDB memory limit of every warehouse connection "
            "(ingest, dbt, gate, publish, erasure; the Spark driver's memory with "
            "`UPSTREAM_ENGINE=spark`), e.g. `6GB`; beyond it DuckDB spills to `<data>/tmp/duckdb` "
            "(default: a quarter of the machine's RAM, at least 1 GB)"),
    Setting("UPSTREAM_INGEST_WORKERS", "2", "files loaded in parallel (each in its own "
            "transaction)"),
    Setting("UPSTREAM_INGEST_ALONE_MB", "64", "an NDJSON file at least this large (MB on "
            "disk) loads alone, before the others: its parse already runs on every core"),
    Setting("UPSTREAM_MAX_SHRINK", "0.5", "largest share a feed may shrink against the last "
            "good publication"),
    Setting("UPSTREAM_MAX_DATA_AGE_DAYS", "2", "freshness: newest source data vs the interval "
            "end"),
    Setting("UPSTREAM_ALERT_WEBHOOK", "", "URL that receives failure alerts as JSON"),
    Setting("UPSTREAM_ALERT_EMAIL", "", "comma-separated addresses for failure mails (Airflow "
            "SMTP)"),
    Setting("UPSTREAM_INTRADAY_MAX_BATCHES", "50", "intraday micro-batches one `upstream_intraday` "
            "run takes at most (oldest first); the rest wait for the next run"),
    Setting("UPSTREAM_INTRADAY_POLL_SECONDS", "2", "how often the triggerer looks for ready "
            "intraday micro-batches (`_READY` markers)"),
    Setting("UPSTREAM_ENGINE", "duckdb", "what runs the dbt models: `duckdb` (the warehouse file) "
            "or `spark` (dbt-spark, `method: session`, on the raw Parquet layer; "
            "`UPSTREAM_SPARK_MASTER`)"),
    Setting("UPSTREAM_RAW_PARQUET", "", "also keep the raw layer as Parquet under `<data>/raw`, one "
            "file per current load (default: on when `UPSTREAM_ENGINE=spark`, else off)"),
    Setting("UPSTREAM_SPARK_MASTER", "local[2]", "Spark master of the `spark` engine: `local[N]` "
            "on this machine, `spark://host:7077` for a standalone cluster"),
    Setting("UPSTREAM_HISTORY_START", "2000-01-01", "first day Upstream loads; runs and ranges "
            "before it are refused with a message"),
)
DEFAULTS: dict[str, str] = {s.env: s.default for s in SETTINGS}


def machine_memory_limit() -> str:
    """A quarter of this machine's RAM (at least 1 GB), not DuckDB's own 80 %: one writer runs at
    a time (the pool), but Airflow, dbt's Python and the designers' readers share the machine.
    Measured at SF 10 on 24 GiB (6 GB): dbt build 6.1 GiB peak RSS, web ingest 6.2 GiB and 23 %
    slower than with 80 % (it spills), which took 18.9 GiB."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{max(1024, total // 4 // 2**20)}MB"


UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
         "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def java_memory(limit: str) -> str:
    """A DuckDB memory limit ('6GB', '6144MB', '6GiB') as a JVM size in megabytes ('5722m')."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", limit)
    if not match or match.group(2).upper() not in UNITS:
        raise ValueError(f"memory limit {limit!r} is not a size like 6GB, 6144MB or 6GiB")
    return f"{max(1, int(float(match.group(1)) * UNITS[match.group(2).upper()] // 2**20))}m"


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


def environment(project: Path) -> dict[str, str]:
    """The environment over the project's ``.env`` file (the environment wins)."""
    from dotenv import dotenv_values

    dotenv = project / ".env"
    from_file = {k: v for k, v in dotenv_values(dotenv).items() if v is not None} \
        if dotenv.is_file() else {}
    return {**from_file, **os.environ}


def _text(name: str, env: Mapping[str, str]) -> str | None:
    """The variable's value, else its default from :data:`SETTINGS`; None when both are empty."""
    return env.get(name) or DEFAULTS[name] or None


def _float(name: str, env: Mapping[str, str]) -> float:
    raw = _text(name, env)
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"setting {name}={raw!r} is not a number") from exc


def _date(name: str, env: Mapping[str, str]) -> date:
    raw = _text(name, env)
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise ValueError(f"setting {name}={raw!r} is not a date (YYYY-MM-DD)") from exc


def _bool(name: str, env: Mapping[str, str]) -> bool | None:
    raw = _text(name, env)
    if raw is None:
        return None
    word = raw.strip().lower()
    if word in {"1", "true", "yes", "on"}:
        return True
    if word in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"setting {name}={raw!r} is not a yes/no value (true/false, 1/0, on/off)")


ENGINES = ("duckdb", "spark")


def _engine(env: Mapping[str, str]) -> str:
    engine = (_text("UPSTREAM_ENGINE", env) or "").strip().lower()
    if engine not in ENGINES:
        raise ValueError(f"setting UPSTREAM_ENGINE={engine!r} must be one of {', '.join(ENGINES)}")
    return engine


def _int(name: str, env: Mapping[str, str]) -> int:
    value = _float(name, env)
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
    keep_versions: int = int(DEFAULTS["UPSTREAM_KEEP_VERSIONS"])
    ingest_workers: int = int(DEFAULTS["UPSTREAM_INGEST_WORKERS"])
    ingest_alone_mb: float = float(DEFAULTS["UPSTREAM_INGEST_ALONE_MB"])
    max_shrink: float = float(DEFAULTS["UPSTREAM_MAX_SHRINK"])
    max_data_age_days: int = int(DEFAULTS["UPSTREAM_MAX_DATA_AGE_DAYS"])
    alert_webhook: str | None = None
    alert_email: str | None = None
    # the first day Upstream loads: runs and backfills for earlier days are refused
    history_start: date = date.fromisoformat(DEFAULTS["UPSTREAM_HISTORY_START"])
    # where sources deliver: UPSTREAM_LANDING_DIR, else <data_dir>/landing
    landing_root: Path | None = None
    # key of the erasure ledger's hashes: UPSTREAM_ERASURE_SECRET, else a local random key
    erasure_secret: str | None = None
    # DuckDB memory_limit of warehouse connections: UPSTREAM_MEMORY_LIMIT, else machine_memory_limit()
    memory_limit: str | None = None
    intraday_max_batches: int = int(DEFAULTS["UPSTREAM_INTRADAY_MAX_BATCHES"])
    intraday_poll_seconds: float = float(DEFAULTS["UPSTREAM_INTRADAY_POLL_SECONDS"])
    engine: str = DEFAULTS["UPSTREAM_ENGINE"]
    # UPSTREAM_RAW_PARQUET: None = follow the engine (on for spark)
    raw_parquet_setting: bool | None = None
    spark_master: str = DEFAULTS["UPSTREAM_SPARK_MASTER"]
    # the folder one Spark build exported to (upstream.spark.new_export); None: the newest
    spark_export: Path | None = None

    @property
    def transform_pool(self) -> str:
        """The Airflow pool of the transform task: the warehouse writer's on DuckDB."""
        return SPARK_POOL if self.engine == "spark" else WRITER_POOL

    @property
    def raw_parquet(self) -> bool:
        """Whether ingest and erasure keep the raw Parquet layer (upstream.raw_parquet): asked
        for, or needed by the spark engine."""
        return bool(self.raw_parquet_setting) or self.engine == "spark"

    @property
    def raw_parquet_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def spark_exports(self) -> Path:
        """One folder per Spark build, of what it exported for the publication (upstream.spark)."""
        return self.spark_dir / "exports"

    @property
    def spark_dir(self) -> Path:
        """The spark engine's warehouse (managed tables) and embedded metastore."""
        return self.data_dir / "spark"

    @property
    def spark_warehouse(self) -> Path:
        """Where the spark engine's tables are: ``<schema>.db/<table>/`` (upstream.spark)."""
        return self.spark_dir / "warehouse"

    @property
    def duckdb_limits(self) -> dict[str, str]:
        """``memory_limit`` and ``temp_directory`` (where DuckDB spills beyond the limit) for
        every warehouse connection and dbt."""
        return {"memory_limit": self.memory_limit or machine_memory_limit(),
                "temp_directory": str(self.data_dir / "tmp" / "duckdb")}

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
    def dbt_log_dir(self) -> Path:
        """Where dbt writes dbt.log (the benchmark reads from it each model's time and each
        statement's, per thread)."""
        return self.data_dir / "dbt" / "logs"

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
            "UPSTREAM_MEMORY_LIMIT": self.duckdb_limits["memory_limit"],
            "UPSTREAM_TEMP_DIRECTORY": self.duckdb_limits["temp_directory"],
            "UPSTREAM_ENGINE": self.engine,
            "UPSTREAM_RAW_PARQUET_DIR": str(self.raw_parquet_dir),
            "UPSTREAM_RAW_CATALOGUE": str(self.raw_parquet_dir / RAW_CATALOGUE),
            "UPSTREAM_SPARK_MASTER": self.spark_master,
            "UPSTREAM_SPARK_WAREHOUSE": str(self.spark_warehouse),
            "UPSTREAM_SPARK_METASTORE": str(self.spark_dir / "metastore_db"),
            # local mode: the driver is the executor, held to the warehouse's memory limit
            "UPSTREAM_SPARK_DRIVER_MEMORY": java_memory(self.duckdb_limits["memory_limit"]),
        }


def get_settings() -> Settings:
    project = _project_dir()
    env = environment(project)
    data_dir = Path(env.get("UPSTREAM_DATA_DIR") or project / "data").resolve()
    published = Path(env.get("UPSTREAM_PUBLISHED_DIR") or project / "published").resolve()
    reject_rate = _float("UPSTREAM_MAX_REJECT_RATE", env)
    if not 0.0 <= reject_rate <= 1.0:
        raise ValueError(f"setting UPSTREAM_MAX_REJECT_RATE={reject_rate} must be within 0..1")
    return Settings(
        project_dir=project,
        data_dir=data_dir,
        published_dir=published,
        max_reject_rate=reject_rate,
        reject_floor=_int("UPSTREAM_REJECT_FLOOR", env),
        min_group_size=_int("UPSTREAM_MIN_GROUP_SIZE", env),
        pseudonym_secret=_text("UPSTREAM_PSEUDONYM_SECRET", env),
        demand_window_days=_int("UPSTREAM_DEMAND_WINDOW_DAYS", env),
        keep_versions=max(1, _int("UPSTREAM_KEEP_VERSIONS", env)),
        ingest_workers=max(1, _int("UPSTREAM_INGEST_WORKERS", env)),
        ingest_alone_mb=_float("UPSTREAM_INGEST_ALONE_MB", env),
        max_shrink=_float("UPSTREAM_MAX_SHRINK", env),
        max_data_age_days=_int("UPSTREAM_MAX_DATA_AGE_DAYS", env),
        alert_webhook=_text("UPSTREAM_ALERT_WEBHOOK", env),
        alert_email=_text("UPSTREAM_ALERT_EMAIL", env),
        history_start=_date("UPSTREAM_HISTORY_START", env),
        landing_root=(Path(env["UPSTREAM_LANDING_DIR"]).resolve()
                      if env.get("UPSTREAM_LANDING_DIR") else None),
        erasure_secret=_text("UPSTREAM_ERASURE_SECRET", env),
        memory_limit=_text("UPSTREAM_MEMORY_LIMIT", env),
        intraday_max_batches=max(1, _int("UPSTREAM_INTRADAY_MAX_BATCHES", env)),
        intraday_poll_seconds=max(0.1, _float("UPSTREAM_INTRADAY_POLL_SECONDS", env)),
        engine=_engine(env),
        raw_parquet_setting=_bool("UPSTREAM_RAW_PARQUET", env),
        spark_master=_text("UPSTREAM_SPARK_MASTER", env) or DEFAULTS["UPSTREAM_SPARK_MASTER"],
    )


def markdown_table() -> str:
    """The settings as the Markdown table of ``docs/configuration.md`` (a test keeps them equal)."""
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for s in SETTINGS:
        default = f"`{s.default}`" if s.default else "see meaning" if "(default:" in s.meaning \
            else "unset"
        rows.append(f"| `{s.env}` | {default} | {s.meaning} |")
    return "\n".join(rows) + "\n"

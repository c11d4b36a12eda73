"""Intraday micro-batches: found, loaded exactly once, and recorded.

A sender drops ``<landing>/<source>/intraday/<name>/`` with any of the source's files and writes
``_READY`` into it last (:mod:`upstream.triggers`). ``<name>`` starts with the batch's UTC time,
``YYYYMMDDTHHMMSSZ`` (fractions and a ``-suffix`` allowed, e.g. ``20261128T104200Z-pos3``): its
day is the day its rows' checks use, and batches are taken oldest name first.

``raw._intraday_batches`` is the ledger: one row per batch and outcome, with when its marker was
written, when it was claimed (by the triggerer or by a run), which run loaded it and its rows
from the load manifest. Files load through the ingest path of the daily files (manifest,
checksums, quarantine, erasure), so a batch loaded twice, or re-run after a crash half-way,
changes nothing. A batch whose files are refused is recorded as ``refused`` with the reason and
is not retried until its sender writes ``_READY`` again (after fixing the files); the other
batches go on. Every run takes at most ``UPSTREAM_INTRADAY_MAX_BATCHES`` batches, oldest first:
batches that arrive while a run works wait, and the next run takes all of them together.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from upstream import raw_parquet
from upstream.ingest import LandingError, ingest_source
from upstream.settings import Settings
from upstream.triggers import INTRADAY_SOURCES as SOURCES
from upstream.triggers import QUEUED, READY, claim_ready
from upstream.warehouse import connection

log = logging.getLogger(__name__)

NAME = re.compile(r"^(?P<at>\d{8}T\d{6})(?:\.\d{1,6})?Z(?:-[A-Za-z0-9_.-]+)?$")
LEDGER_DDL = """
create schema if not exists raw;
create table if not exists raw._intraday_batches (
    batch varchar not null,            -- <source>/intraday/<name>, relative to the landing root
    source varchar not null,
    batch_day date,
    marker_at timestamptz not null,    -- the sender wrote _READY
    claimed_at timestamptz,            -- the triggerer (or a run) renamed it to _QUEUED
    claimed_by varchar,                -- trigger | run
    run_id varchar not null,           -- the Airflow run that loaded (or refused) it
    status varchar not null,           -- loaded | refused
    reason varchar,
    files integer, rows_read bigint, rows_loaded bigint, rows_quarantined bigint,
    loaded_at timestamptz not null,
    seq bigint not null                -- order of loading; a version records the last it holds
);
"""


@dataclass(frozen=True)
class Batch:
    source: str
    name: str
    folder: Path
    marker_at: datetime  # the sender wrote _READY (its modification time)
    claimed_at: datetime | None = None  # renamed to _QUEUED (its change time); None: not yet

    @property
    def key(self) -> str:
        return f"{self.source}/intraday/{self.name}"

    @classmethod
    def found(cls, source: str, folder: Path) -> Batch | None:
        """The batch in ``folder`` if its marker is there (claimed or not), read once: the
        triggerer may rename it at any moment (hence _QUEUED looked at again after _READY)."""
        for marker, claimed in ((QUEUED, True), (READY, False), (QUEUED, True)):
            try:
                stat = (folder / marker).stat()
            except (FileNotFoundError, NotADirectoryError):
                continue
            return cls(source, folder.name, folder, datetime.fromtimestamp(stat.st_mtime, UTC),
                       datetime.fromtimestamp(stat.st_ctime, UTC) if claimed else None)
        return None

    @property
    def day(self) -> date | None:
        match = NAME.match(self.name)
        if not match:
            return None
        try:
            return datetime.strptime(match["at"], "%Y%m%dT%H%M%S").date()
        except ValueError:
            return None

    def problem(self, settings: Settings, now: datetime) -> str | None:
        """Why this batch cannot load, or None."""
        day = self.day
        if day is None:
            return (f"{self.folder}: a micro-batch folder is named by its UTC time, "
                    "YYYYMMDDTHHMMSSZ[-suffix] (e.g. 20261128T104200Z-pos3). Next: deliver it "
                    "again under such a name.")
        if day < settings.history_start:
            return (f"{self.folder}: its day {day} is before the history start "
                    f"{settings.history_start} (UPSTREAM_HISTORY_START)")
        if day > (now + timedelta(days=1)).date():
            return (f"{self.folder}: its name says {day}, more than a day ahead of now "
                    f"({now:%Y-%m-%d %H:%M} UTC); is the sender's clock right? Next: deliver it "
                    "again under its real time.")
        return None


def waiting_batches(settings: Settings, con: duckdb.DuckDBPyConnection) -> list[Batch]:
    """Batches with a marker that the ledger has not loaded, nor refused since the marker was
    written; oldest name first."""
    loaded = {b for (b,) in con.execute(
        "select distinct batch from raw._intraday_batches where status = 'loaded'").fetchall()}
    refused = dict(con.execute("select batch, max(marker_at) from raw._intraday_batches "
                               "where status = 'refused' group by batch").fetchall())
    found = []
    for source in SOURCES:
        root = settings.landing_dir / source / "intraday"
        for folder in root.iterdir() if root.is_dir() else ():
            batch = Batch.found(source, folder)
            if batch is None or batch.key in loaded:
                continue
            if batch.key in refused and batch.marker_at <= refused[batch.key]:
                continue
            found.append(batch)
    return sorted(found, key=lambda b: (b.name, b.source))


def ingest_batches(settings: Settings, run_id: str) -> dict:
    """Load the waiting micro-batches (at most ``intraday_max_batches``, oldest first), each
    through :func:`upstream.ingest.ingest_source`, and record each in the ledger. Returns the
    batches loaded, those refused (with the reason) and how many still wait."""
    by_run = {b["batch"] for b in claim_ready(settings.landing_dir, list(SOURCES))}
    with connection(settings.warehouse_path, limits=settings.duckdb_limits) as con:
        con.execute(LEDGER_DDL)
        waiting = waiting_batches(settings, con)
    batches = waiting[:settings.intraday_max_batches]
    loaded, refused = [], {}
    now = datetime.now(UTC)
    for batch in batches:
        reason = batch.problem(settings, now)
        if reason is None:
            try:
                ingest_source(settings, batch.source, [batch.day], batch=batch.folder)
            except LandingError as exc:
                reason = str(exc)
        with connection(settings.warehouse_path, limits=settings.duckdb_limits) as con:
            _record(con, batch, run_id, reason, by_run)
        if reason:
            refused[batch.key] = reason
            log.error("micro-batch %s refused: %s", batch.key, reason)
        else:
            loaded.append(batch.key)
    if settings.raw_parquet and batches:  # the ledger's Parquet copy too (newest_day on Spark)
        with connection(settings.warehouse_path, limits=settings.duckdb_limits) as con:
            raw_parquet.sync(con, settings.raw_parquet_dir)
    days = [b.day for b in batches if b.key in loaded]
    return {"batches": loaded, "refused": refused, "waiting": len(waiting) - len(batches),
            "newest_day": max(days).isoformat() if days else None}


def _record(con: duckdb.DuckDBPyConnection, batch: Batch, run_id: str, reason: str | None,
            by_run: set[str]) -> None:
    """The batch's ledger row; its files and rows come from the load manifest, so a batch
    re-run after a crash (files already loaded, skipped now) still counts what it brought."""
    con.execute("begin")
    con.execute(
        "insert into raw._intraday_batches "
        "select ?, ?, ?, ?, ?, ?, ?, ?, ?, files, rows_read, rows_loaded, rows_quarantined, "
        "now(), (select coalesce(max(seq), 0) + 1 from raw._intraday_batches) "
        "from (select count(*)::integer as files, coalesce(sum(rows_read), 0) as rows_read, "
        "coalesce(sum(rows_loaded), 0) as rows_loaded, "
        "coalesce(sum(rows_quarantined), 0) as rows_quarantined "
        "from raw._load_manifest where starts_with(path, ?) and status = 'loaded')",
        [batch.key, batch.source, batch.day, batch.marker_at, batch.claimed_at,
         None if batch.claimed_at is None else "run" if batch.key in by_run else "trigger",
         run_id, "refused" if reason else "loaded", reason, batch.key + "/"])
    con.execute("commit")


def newest_day(settings: Settings) -> date | None:
    """The newest day of a loaded micro-batch (None before the first): publications never go
    back behind it (:func:`upstream.pipeline.not_behind_intraday`). On Spark from the ledger's
    Parquet copy: a Spark transform opens no DuckDB file (it holds no writer slot)."""
    newest = "select max(batch_day) from {} where status = 'loaded'"
    if settings.engine == "spark":
        ledger = raw_parquet.ledger_file(settings.raw_parquet_dir, "_intraday_batches")
        if not ledger.exists():
            return None
        with duckdb.connect() as con:
            return con.execute(newest.format("read_parquet(?)"), [str(ledger)]).fetchone()[0]
    if not settings.warehouse_path.exists():
        return None
    with connection(settings.warehouse_path, read_only=True) as con:
        try:
            return con.execute(newest.format("raw._intraday_batches")).fetchone()[0]
        except duckdb.CatalogException:
            return None

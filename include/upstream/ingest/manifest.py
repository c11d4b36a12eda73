"""The load manifest: which file version is loaded, with its checksum, rows and load id.

``raw._load_manifest`` keys every load (one row per file version and attempt),
``raw._quarantine`` keeps the rows that did not load with their line and reason, and
``raw._ingest_runs`` one row per ingest call.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

import duckdb

from upstream.contracts import Contract

log = logging.getLogger(__name__)


MANIFEST_DDL = """
create schema if not exists raw;
create table if not exists raw._load_manifest (
    load_id varchar primary key,
    table_name varchar not null,
    source varchar not null,
    path varchar not null,
    size_bytes bigint not null,
    sha256 varchar not null,
    schema_fingerprint varchar,
    version integer not null,
    status varchar not null,          -- loaded | superseded | duplicate | refused
    reason varchar,
    rows_read bigint,
    rows_loaded bigint,
    rows_quarantined bigint,
    extra_columns varchar[],
    interval_start date,
    started_at timestamptz not null,
    finished_at timestamptz not null
);
-- rows of this file purged since, by erasures: rows in raw = rows_loaded - rows_erased
alter table raw._load_manifest add column if not exists rows_erased bigint default 0;
create table if not exists raw._ingest_runs (
    run_load_id varchar primary key,
    source varchar not null,
    first_day date not null,
    last_day date not null,
    files json not null,              -- count by status
    rows_read bigint not null,
    rows_loaded bigint not null,
    rows_quarantined bigint not null,
    rejects_by_reason json,
    extra_columns varchar[],
    started_at timestamptz not null,
    finished_at timestamptz not null
);
create table if not exists raw._quarantine (
    load_id varchar not null,
    table_name varchar not null,
    source_file varchar not null,
    line_no bigint,
    record_no bigint,
    raw_text varchar,
    reason varchar not null
);
"""


@dataclass
class FileResult:
    table: str
    path: str
    status: str  # loaded | skipped | duplicate | refused
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0  # erased rows included (reason 'erased', no text kept)
    rows_erased: int = 0
    erased_identifiers: set[str] = field(default_factory=set)  # typed ids on erased rows
    version: int = 0
    extra_columns: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # of seconds: finding the rows of erased persons (every distinct identifier of the file
    # hashed with the ledger's key); 0 without a ledger
    ledger_check_s: float = 0.0
    note: str = ""


def previous(con: duckdb.DuckDBPyConnection, rel: str) -> tuple[int, str | None]:
    """(highest version loaded so far, sha256 of the version currently loaded) for a path."""
    row = con.execute(
        "select coalesce(max(version), 0), "
        "any_value(sha256) filter (where status in ('loaded', 'duplicate')) "
        "from raw._load_manifest where path = ? and status <> 'refused'",
        [rel],
    ).fetchone()
    return int(row[0]), row[1]


def write_manifest(con, result: FileResult, contract: Contract, *, load_id: str, rel: str,
                    size: int, sha: str, fingerprint: str | None, day: date, started: float,
                    reason: str | None) -> None:
    con.execute(
        "insert into raw._load_manifest (load_id, table_name, source, path, size_bytes, sha256, "
        "schema_fingerprint, version, status, reason, rows_read, rows_loaded, rows_quarantined, "
        "extra_columns, interval_start, started_at, finished_at) "
        "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, to_timestamp(?), current_timestamp)",
        [load_id, contract.table, contract.source, rel, size, sha, fingerprint, result.version,
         result.status, reason, result.rows_read, result.rows_loaded, result.rows_quarantined,
         result.extra_columns, day, started],
    )

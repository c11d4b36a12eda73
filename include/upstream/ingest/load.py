"""One landing file into its raw table, all or nothing (see :mod:`upstream.ingest`)."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import date
from pathlib import Path

import duckdb

from upstream.common import percent, quote_ident, safe_excerpt, sha256_of
from upstream.contracts import Contract
from upstream.erasure import create_ledger_tables, erased_rows_sql, identifier_sql
from upstream.ingest import manifest
from upstream.ingest.landing import REDELIVER, LandingError
from upstream.ingest.manifest import FileResult, previous
from upstream.ingest.readers import RAW_TEXT_LIMIT
from upstream.ingest.readers.csv import stage_csv
from upstream.ingest.readers.ndjson import stage_ndjson
from upstream.warehouse import sql_literal

log = logging.getLogger(__name__)


def ensure_raw_table(con: duckdb.DuckDBPyConnection, contract: Contract) -> None:
    """Create the raw table, adding columns a newer contract introduced."""
    cols = ", ".join(f"{quote_ident(c.name)} {c.type}" for c in contract.columns)
    con.execute(
        f"create table if not exists raw.{contract.table} ({cols}, _extra json, "
        "_load_id varchar not null, _source_file varchar not null, _record_no bigint, "
        "_loaded_at timestamptz default current_timestamp)"
    )
    for c in contract.columns:
        con.execute(f"alter table raw.{contract.table} add column if not exists "
                    f"{quote_ident(c.name)} {c.type}")


def load_file(con: duckdb.DuckDBPyConnection, contract: Contract, path: Path, *, rel: str,
              day: date, max_reject_rate: float, reject_floor: int = 0,
              sha: str | None = None, ledger: tuple[str, list[str]] | None = None) -> FileResult:
    """Load one landing file in one transaction (see the module docstring).

    The file is refused when more than ``max_reject_rate`` of its rows *and* more than
    ``reject_floor`` rows are quarantined (the floor keeps tiny delta files from being refused
    for one bad row). ``sha`` is the file's sha256 when the caller has already computed it.
    ``ledger`` is (erasure key, hashes) of the erasure ledger: rows of an erased person are
    quarantined as ``erased`` without their text, never loaded (upstream.erasure).
    """
    started = time.time()
    size = path.stat().st_size
    if size == 0:
        raise LandingError(f"{path} is empty (0 bytes); expected a {contract.format} file for "
                           f"{contract.table}. {REDELIVER}")
    sha = sha or sha256_of(path)
    last_version, loaded_sha = previous(con, rel)
    if loaded_sha == sha:
        return FileResult(contract.table, rel, "skipped", version=last_version,
                          note="same content already loaded")
    load_id = str(uuid.uuid4())
    twin = con.execute(
        "select path from raw._load_manifest where sha256 = ? and table_name = ? and "
        "status = 'loaded' and rows_read > 0 and path <> ? order by finished_at limit 1",
        [sha, contract.table, rel]).fetchone()
    if twin:
        result = FileResult(contract.table, rel, "duplicate", version=last_version + 1,
                            note=f"same content as {twin[0]}: not loaded again")
        con.begin()
        manifest.write_manifest(con, result, contract, load_id=load_id, rel=rel, size=size, sha=sha,
                        fingerprint=None, day=day, started=started, reason=result.note)
        con.commit()
        return result
    result = FileResult(contract.table, rel, "loaded", version=last_version + 1)
    con.begin()
    # timestamps without an offset are in the contract's zone (default UTC), whatever the host
    con.execute(f"set TimeZone = {sql_literal(contract.timezone)}")
    try:
        stage = stage_csv if contract.format == "csv" else stage_ndjson
        try:
            extra, fingerprint = stage(con, contract, path, day)
        except duckdb.Error as exc:
            raise LandingError(f"{path} cannot be parsed as {contract.format}: "
                               f"{safe_excerpt(exc)}. {REDELIVER}") from exc
        result.extra_columns = extra
        erased = erased_rows_sql(contract.erasure) if ledger and ledger[1] else None
        if erased:
            create_ledger_tables(con, *ledger)
        _quarantine_and_load(con, contract, result, load_id=load_id, rel=rel,
                             replaces=last_version > 0, erased=erased)
        result.seconds = round(time.time() - started, 3)
        if result.rows_read == 0 and not contract.allow_empty:
            raise LandingError(f"{path} holds no rows (header only or blank); contract "
                               f"{contract.name} does not allow empty deliveries. {REDELIVER}")
        # an erased person's rows are not defects of the file
        defects = result.rows_quarantined - result.rows_erased
        rate = defects / result.rows_read if result.rows_read else 0.0
        if rate > max_reject_rate and defects > reject_floor:
            top = con.execute(
                "select reason, count(*) n from raw._quarantine where load_id = ? "
                "group by reason order by n desc, reason limit 5", [load_id]).fetchall()
            hints = [f"{k.reason}: {k.hint}" for k in contract.checks
                     if k.hint and k.reason in {r for r, _ in top}]
            raise _Refused(f"{path}: {defects} of {result.rows_read} rows "
                           f"({percent(rate)}) rejected, above the limit of "
                           f"{percent(max_reject_rate)} "
                           f"(UPSTREAM_MAX_REJECT_RATE) and more than {reject_floor} rows "
                           "(UPSTREAM_REJECT_FLOOR); file refused, nothing loaded. Reasons: "
                           + ", ".join(f"{r} x{n}" for r, n in top)
                           + "".join(f". To fix {h}" for h in hints)
                           + f". Every rejected row with its reason: `upstream check-landing "
                           f"{path.parents[2]} --day {day}`. {REDELIVER}")
        note = None
        if loaded_sha is not None:
            note = f"new content for a known path: replaces version {last_version}"
            result.note = note
        manifest.write_manifest(con, result, contract, load_id=load_id, rel=rel, size=size, sha=sha,
                        fingerprint=fingerprint, day=day, started=started, reason=note)
        con.commit()
    except _Refused as exc:
        con.rollback()
        result.status, result.rows_loaded = "refused", 0
        result.version = last_version
        con.begin()
        manifest.write_manifest(con, result, contract, load_id=load_id, rel=rel, size=size, sha=sha,
                        fingerprint=None, day=day, started=started, reason=str(exc))
        con.commit()
        raise LandingError(str(exc)) from None
    except BaseException:
        con.rollback()
        raise
    finally:
        con.execute("set TimeZone = 'UTC'")
        _drop_temporary(con)
    return result


class _Refused(Exception):
    pass


def _drop_temporary(con: duckdb.DuckDBPyConnection) -> None:
    """Drop this connection's staging views and tables (each cursor has its own)."""
    views = con.execute("select view_name from duckdb_views() where temporary and not internal"
                        ).fetchall()
    for (name,) in views:
        con.execute(f"drop view if exists temp.{quote_ident(name)}")
    tables = con.execute("select table_name from duckdb_tables() where temporary").fetchall()
    for (name,) in tables:
        con.execute(f"drop table if exists temp.{quote_ident(name)}")


def _quarantine_and_load(con, contract: Contract, result: FileResult, *, load_id: str,
                         rel: str, replaces: bool, erased: str | None = None) -> None:
    """Write the staged file's good rows to raw and its bad rows to quarantine, and check
    read = loaded + quarantined against the rows actually inserted. Rows matching ``erased``
    (an erased person's) are quarantined without any of their text."""
    row_json = ", ".join(f"{sql_literal(c)}, {quote_ident(c)}" for c in contract.names)
    keep = "true"
    if erased:
        checking = time.perf_counter()
        con.execute(f"create or replace temp table _erased as select _record_no from _parsed "
                    f"where {erased}")
        result.ledger_check_s = time.perf_counter() - checking
        keep = "_record_no not in (select _record_no from _erased)"
    if replaces:  # a new version of a known path replaces the old version's rows
        con.execute(f"delete from raw.{contract.table} where _source_file = ?", [rel])
        con.execute("delete from raw._quarantine where source_file = ?", [rel])
        con.execute("update raw._load_manifest set status = 'superseded' "
                    "where path = ? and status in ('loaded', 'duplicate')", [rel])
    rejected = con.execute(
        "insert into raw._quarantine select ?, ?, ?, line_no, null, raw_text, reason "
        "from _rejected", [load_id, contract.table, rel]).fetchone()[0]
    bad = con.execute(
        "insert into raw._quarantine select ?, ?, ?, _line_no, _record_no, "
        f"left(json_object({row_json})::varchar, {RAW_TEXT_LIMIT}), _reason "
        f"from _parsed where _reason is not null and {keep}",
        [load_id, contract.table, rel]).fetchone()[0]
    if erased:
        result.rows_erased = con.execute(
            "insert into raw._quarantine select ?, ?, ?, _line_no, _record_no, null, 'erased' "
            "from _parsed where _record_no in (select _record_no from _erased)",
            [load_id, contract.table, rel]).fetchone()[0]
        bad += result.rows_erased
        for column, kind in contract.erasure if result.rows_erased else ():
            result.erased_identifiers |= {r[0] for r in con.execute(
                f"select distinct {identifier_sql(kind, quote_ident(column))} from _parsed "
                f"where _record_no in (select _record_no from _erased) and {quote_ident(column)} "
                "is not null").fetchall()}
    cols = ", ".join(quote_ident(c) for c in contract.names)
    loaded = con.execute(
        f"insert into raw.{contract.table} ({cols}, _extra, _load_id, _source_file, _record_no) "
        f"select {cols}, _extra, ?, ?, _record_no from _parsed where _reason is null and {keep}",
        [load_id, rel]).fetchone()[0]
    parsed = con.execute("select count(*) from _parsed").fetchone()[0]
    result.rows_read = parsed + con.execute("select count(*) from _rejected").fetchone()[0]
    result.rows_quarantined = bad + rejected
    result.rows_loaded = loaded
    if result.rows_read != result.rows_loaded + result.rows_quarantined:
        raise RuntimeError(f"accounting broken for {rel}: read {result.rows_read}, loaded "
                           f"{loaded}, quarantined {result.rows_quarantined}")

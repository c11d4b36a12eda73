"""Load landing files into DuckDB raw tables: all-or-nothing, keyed by a load manifest.

For every file: rows read = rows loaded + rows quarantined, checked before commit. The file's
rows, its quarantine rows and its manifest row are written in one transaction. The same file
(same path, same sha256) again is skipped; the same path with new content replaces the older
version's rows and is flagged in the manifest.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import logging
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from upstream.contracts import Contract, ContractError, contracts_for, with_vocabularies
from upstream.erasure import (
    create_ledger_tables,
    erase,
    erased_rows_sql,
    forget_derived,
    identifier_sql,
    ledger_hashes,
)
from upstream.privacy import erasure_secret
from upstream.settings import Settings
from upstream.warehouse import connection, sql_literal

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


class LandingError(RuntimeError):
    """A landing folder or file cannot be loaded; the message names it."""


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
    note: str = ""


@dataclass
class IngestReport:
    source: str
    days: list[str]
    files: list[FileResult] = field(default_factory=list)
    erased: int = 0  # CRM ids erased because a CRM delete row arrived (upstream.erasure)

    def summary(self) -> dict:
        """Totals for XCom and logs (per-file detail stays in the manifest and the task log)."""
        totals = {
            k: sum(getattr(f, k) for f in self.files)
            for k in ("rows_read", "rows_loaded", "rows_quarantined", "rows_erased")
        }
        statuses = Counter(f.status for f in self.files)
        drift = sorted({f"{f.table}.{c}" for f in self.files for c in f.extra_columns})
        return {"source": self.source, "first_day": self.days[0], "last_day": self.days[-1],
                **totals, "files": dict(statuses), "extra_columns": drift,
                "erased_crm_ids": self.erased}


def percent(share: float) -> str:
    """A share as a percentage with the digits it needs: 0.05 -> '5%', 0.0001 -> '0.01%'."""
    return f"{share * 100:.3g}%"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _first_line(path: Path, encoding: str) -> str:
    """The header line only: a bad byte further down is the CSV reader's (and quarantine's) job."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        raw = fh.readline()
    try:
        return raw.decode(encoding).lstrip("\ufeff")
    except UnicodeDecodeError as exc:
        raise LandingError(f"{path}: header line is not {encoding} ({exc.reason} at byte "
                           f"{exc.start}). {REDELIVER}") from exc


def exact_path(path: Path) -> str:
    """``path`` as an SQL literal that DuckDB's readers take literally, never as a glob: a file
    named ``orders_*.csv`` is that one file (each ``*``, ``?`` and ``[`` becomes a one-character
    class)."""
    return sql_literal("".join(f"[{ch}]" if ch in "*?[" else ch for ch in str(path)))


def safe_excerpt(text: str, limit: int = 200) -> str:
    """A short, escaped sample of untrusted text for a message: never a whole line of a file
    (DuckDB's reader errors quote the offending line, which can hold anything)."""
    kept = "\n".join(ln for ln in str(text).splitlines() if not ln.lstrip().startswith(
        ("Original Line", "Line:", "  ")) and ln.strip())
    sample = kept[:limit].encode("unicode_escape").decode("ascii")
    return sample + ("…" if len(kept) > limit else "")


# What to do after a refusal: every LandingError message ends with one of these.
REDELIVER = ("Next: ask the source to re-deliver a corrected file under the same name (it "
             "replaces this version), then clear the failed task; files already loaded are "
             "skipped.")
DELIVER_MISSING = ("Next: deliver the missing file (header-only if nothing happened that day), "
                   "then clear the failed task.")
RENAME = ("Next: rename the file to match a contract's pattern, move it out of the landing "
          "folder, or add a contract in include/upstream/contracts/; then clear the failed task.")
REPLACE_LINK = ("Next: replace it with the regular file itself (copy, not link), then clear the "
                "failed task.")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def ensure_raw_table(con: duckdb.DuckDBPyConnection, contract: Contract) -> None:
    """Create the raw table, adding columns a newer contract introduced."""
    cols = ", ".join(f"{_ident(c.name)} {c.type}" for c in contract.columns)
    con.execute(
        f"create table if not exists raw.{contract.table} ({cols}, _extra json, "
        "_load_id varchar not null, _source_file varchar not null, _record_no bigint, "
        "_loaded_at timestamptz default current_timestamp)"
    )
    for c in contract.columns:
        con.execute(f"alter table raw.{contract.table} add column if not exists "
                    f"{_ident(c.name)} {c.type}")


def _reason_expr(contract: Contract, extra_casts: list[str], day: date) -> str:
    """SQL giving the first reason a parsed row is quarantined, or NULL when it is valid.

    ``{day}`` in a check stands for the file's day (checks never depend on the wall clock, so
    a backfill judges old files as a daily run did).
    """
    whens = list(extra_casts)  # an uncastable value says so, not "missing"
    whens += [f"when {_ident(c.name)} is null then 'missing_required:{c.name}'"
              for c in contract.columns if c.required]
    day_sql = f"date '{day.isoformat()}'"
    whens += [f"when not coalesce(({k.valid_when.replace('{day}', day_sql)}), false) "
              f"then '{k.reason}'" for k in contract.checks]
    return "case " + " ".join(whens) + " end" if whens else "null::varchar"


Staged = tuple[list[str], str]  # extra columns, schema fingerprint


def _stage_csv(con: duckdb.DuckDBPyConnection, contract: Contract, path: Path,
               day: date) -> Staged:
    """Parse a CSV into temp table _parsed with each row's quarantine reason (+ _rejected for
    lines the reader refused); return extra columns and the schema fingerprint."""
    opts = contract.csv_options
    encoding = str(opts.get("encoding", "utf-8"))
    delim = str(opts.get("delim", ","))
    header = next(csv.reader(io.StringIO(_first_line(path, encoding)), delimiter=delim), None)
    if not header:
        raise LandingError(f"{path} is empty: no header line. {REDELIVER}")
    header = [h.strip() for h in header]
    types = {c.name: c.type for c in contract.columns}
    missing = [c.name for c in contract.columns if c.required and c.name not in header]
    if missing:  # names from the contract only: the header itself is never echoed
        raise ContractError(f"{path} lacks required column(s) {missing} of contract "
                            f"{contract.name} (its header has {len(header)} column(s)). "
                            f"{REDELIVER}")
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        raise ContractError(f"{path} has duplicate column names in its header: "
                            f"{[safe_excerpt(h, 40) for h in duplicated]}. {REDELIVER}")
    extra = [h for h in header if h not in types]
    columns = "{" + ", ".join(f"{sql_literal(h)}: {sql_literal(types.get(h, 'VARCHAR'))}"
                              for h in header) + "}"
    select = [f"{_ident(c.name)}" if c.name in header else f"null::{c.type} as {_ident(c.name)}"
              for c in contract.columns]
    extra_json = ("json_object(" + ", ".join(f"{sql_literal(e)}, {_ident(e)}" for e in extra) + ")"
                  if extra else "null::json")
    reason = _reason_expr(contract, [], day)
    con.execute(
        f"""create or replace temp table _parsed as
        select *, {reason} as _reason from (
        select row_number() over () as _record_no, null::bigint as _line_no,
               {', '.join(select)}, {extra_json} as _extra
        from read_csv({exact_path(path)}, columns={columns}, header=true,
             delim={sql_literal(delim)}, quote={sql_literal(str(opts.get('quote', '"')))},
             escape={sql_literal(str(opts.get('escape', '"')))}, encoding={sql_literal(encoding)},
             auto_detect=false, strict_mode=true, max_line_size={contract.max_line_bytes},
             store_rejects=true, rejects_table='_rejects', rejects_scan='_rejects_scan'))"""
    )
    con.execute(
        f"""create or replace temp table _rejected as
        select line as line_no, left(any_value(csv_line), {RAW_TEXT_LIMIT}) as raw_text,
               string_agg(distinct error_type || coalesce(':' || column_name, ''), '; '
                          order by error_type || coalesce(':' || column_name, ''))
                   as reason
        from _rejects group by line"""
    )
    return extra, hashlib.sha256(",".join(header).encode()).hexdigest()[:16]


RAW_TEXT_LIMIT = 2000  # characters of a quarantined line kept in raw._quarantine.raw_text
# DuckDB's reader errors that quarantine a whole NDJSON line, by the reason we record
LINE_ERRORS = {"LINE SIZE OVER MAXIMUM": "line_too_long", "INVALID ENCODING": "invalid_utf8"}


def _stage_ndjson(con: duckdb.DuckDBPyConnection, contract: Contract, path: Path,
                  day: date) -> Staged:
    """Read NDJSON lines as text; invalid JSON and uncastable values are quarantined.

    Each line is parsed once, by ``json_transform`` into a struct of strings (``try`` turns a
    broken document into NULL; a line not starting with ``{`` is not an object), cast, and
    judged (the quarantine reason) in the same statement, so the inserts only filter.
    """
    schema = json.dumps({c.name: "VARCHAR" for c in contract.columns})
    # Two statements on purpose: numbering lines needs one ordered pass over the (gzip) stream,
    # parsing can then run on every core. A line the reader refuses (longer than the contract's
    # max_line_bytes, not UTF-8) is kept aside with its line number (store_rejects), so the
    # numbers of the lines after it are shifted back into place (ASOF on the rejects).
    con.execute(
        f"""create or replace temp table _numbered as
        select row_number() over () as _read_no, line
        from read_csv({exact_path(path)}, columns={{'line': 'VARCHAR'}}, header=false,
             delim=chr(31), quote='', escape='', auto_detect=false, strict_mode=false,
             max_line_size={contract.max_line_bytes}, store_rejects=true,
             rejects_table='_rejects', rejects_scan='_rejects_scan')"""
    )
    con.execute(
        """create or replace temp table _line_rejects as
        select line as line_no, line - row_number() over (order by line) as lines_read_before,
               row_number() over (order by line) as rejected_so_far, csv_line, error_type
        from (select line, any_value(csv_line) as csv_line, any_value(error_type) as error_type
              from _rejects group by line)"""
    )
    con.execute(
        """create or replace temp table _text as
        select _numbered._read_no + coalesce(r.rejected_so_far, 0) as _line_no, _numbered.line
        from _numbered asof left join _line_rejects as r
             on _numbered._read_no > r.lines_read_before"""
    )
    con.execute("drop table temp._numbered")
    cols, casts = [], []
    for c in contract.columns:
        field = f"s.{_ident(c.name)}"
        if c.type.upper() == "VARCHAR":
            cols.append(f"{field} as {_ident(c.name)}")
            continue
        cols.append(f"try_cast({field} as {c.type}) as {_ident(c.name)}")
        casts.append(f"when {field} is not null and try_cast({field} as {c.type}) is null "
                     f"then 'bad_type:{c.name}'")
    cast_reason = f"case {' '.join(casts)} end" if casts else "null::varchar"
    reason = _reason_expr(contract, ["when _cast_reason is not null then _cast_reason"], day)
    con.execute(
        f"""create or replace temp table _lines as
        select *, case when _is_object then {reason} end as _reason from (
            select _line_no, line, s is not null as _is_object, {', '.join(cols)},
                   {cast_reason} as _cast_reason
            from (select _line_no, line,
                         case when starts_with(ltrim(line), '{{')
                              then try(json_transform(line, {sql_literal(schema)})) end as s
                  from _text))"""
    )
    con.execute("drop table temp._text")
    keys = [r[0] for r in con.execute(
        "select distinct unnest(json_keys(line)) from _lines where _is_object order by 1"
    ).fetchall()]
    names = set(contract.names)
    extra = [k for k in keys if k not in names]
    extra_json = ("json_object(" + ", ".join(
        f"{sql_literal(e)}, json_extract(line, {sql_literal('$.' + json.dumps(e))})" for e in extra
    ) + ")") if extra else "null::json"
    con.execute(
        f"""create or replace temp view _parsed as
        select _line_no as _record_no, _line_no, {', '.join(_ident(n) for n in contract.names)},
               {extra_json} as _extra, _reason
        from _lines where _is_object"""
    )
    reasons = " ".join(f"when {sql_literal(k)} then {sql_literal(v)}" for k, v in
                       LINE_ERRORS.items())
    con.execute(
        f"""create or replace temp table _rejected as
        select _line_no as line_no, left(line, {RAW_TEXT_LIMIT}) as raw_text,
               case when line is null or trim(line) = '' then 'empty_line'
                    when json_valid(line) then 'json_not_an_object' else 'invalid_json' end
                   as reason
        from _lines where not _is_object
        union all
        select line_no, left(csv_line, {RAW_TEXT_LIMIT}),
               case error_type {reasons} else lower(replace(error_type, ' ', '_')) end
        from _line_rejects"""
    )
    con.execute("drop table temp._line_rejects")
    return extra, hashlib.sha256(",".join(keys).encode()).hexdigest()[:16]


def _previous(con: duckdb.DuckDBPyConnection, rel: str) -> tuple[int, str | None]:
    """(highest version loaded so far, sha256 of the version currently loaded) for a path."""
    row = con.execute(
        "select coalesce(max(version), 0), "
        "any_value(sha256) filter (where status in ('loaded', 'duplicate')) "
        "from raw._load_manifest where path = ? and status <> 'refused'",
        [rel],
    ).fetchone()
    return int(row[0]), row[1]


def _write_manifest(con, result: FileResult, contract: Contract, *, load_id: str, rel: str,
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
    last_version, loaded_sha = _previous(con, rel)
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
        _write_manifest(con, result, contract, load_id=load_id, rel=rel, size=size, sha=sha,
                        fingerprint=None, day=day, started=started, reason=result.note)
        con.commit()
        return result
    result = FileResult(contract.table, rel, "loaded", version=last_version + 1)
    con.begin()
    # timestamps without an offset are in the contract's zone (default UTC), whatever the host
    con.execute(f"set TimeZone = {sql_literal(contract.timezone)}")
    try:
        stage = _stage_csv if contract.format == "csv" else _stage_ndjson
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
        _write_manifest(con, result, contract, load_id=load_id, rel=rel, size=size, sha=sha,
                        fingerprint=fingerprint, day=day, started=started, reason=note)
        con.commit()
    except _Refused as exc:
        con.rollback()
        result.status, result.rows_loaded = "refused", 0
        result.version = last_version
        con.begin()
        _write_manifest(con, result, contract, load_id=load_id, rel=rel, size=size, sha=sha,
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
        con.execute(f"drop view if exists temp.{_ident(name)}")
    tables = con.execute("select table_name from duckdb_tables() where temporary").fetchall()
    for (name,) in tables:
        con.execute(f"drop table if exists temp.{_ident(name)}")


def _quarantine_and_load(con, contract: Contract, result: FileResult, *, load_id: str,
                         rel: str, replaces: bool, erased: str | None = None) -> None:
    """Write the staged file's good rows to raw and its bad rows to quarantine, and check
    read = loaded + quarantined against the rows actually inserted. Rows matching ``erased``
    (an erased person's) are quarantined without any of their text."""
    row_json = ", ".join(f"{sql_literal(c)}, {_ident(c)}" for c in contract.names)
    keep = "true"
    if erased:
        con.execute(f"create or replace temp table _erased as select _record_no from _parsed "
                    f"where {erased}")
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
                f"select distinct {identifier_sql(kind, _ident(column))} from _parsed "
                f"where _record_no in (select _record_no from _erased) and {_ident(column)} "
                "is not null").fetchall()}
    cols = ", ".join(_ident(c) for c in contract.names)
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


@dataclass(frozen=True)
class DayDelivery:
    """One source's landing folder for one day: files matched to contracts, and what is wrong."""

    folder: Path
    files: list[tuple[Contract, Path]]
    problems: list[str]  # each names the folder or file and ends with what to do next


def _is_ignored(path: Path) -> bool:
    """Hidden files and ``*.tmp`` are a sender's work in progress, not a delivery."""
    return path.name.startswith(".") or path.name.endswith(".tmp")


def _entry_problem(path: Path, root: Path) -> str | None:
    """Why a folder entry cannot be a landing file: only regular files inside the landing root
    are read (a symbolic link could expose any file of the machine, e.g. a secret)."""
    if path.is_symlink():
        return (f"{path} is a symbolic link; landing files must be regular files inside "
                f"{root} and links are never followed. {REPLACE_LINK}")
    if not path.is_file():
        kind = "a folder" if path.is_dir() else "not a regular file"
        return f"{path} is {kind}; a day folder holds files only. {RENAME}"
    if not path.resolve().is_relative_to(root):
        return f"{path} lies outside the landing root {root}. {REPLACE_LINK}"
    return None


def claim_files(settings: Settings, source: str, day: date) -> DayDelivery:
    """Match every file of ``source`` for ``day`` to exactly one contract, collecting problems:
    a missing folder, a folder that is not one (a file, a link out of the landing root), an
    entry that is not a regular file, a file no contract or two contracts claim, a required
    contract without a file. Contracts come with their seed vocabularies resolved."""
    root = settings.landing_dir.resolve()
    folder = settings.landing_dir / source / day.isoformat()
    if folder.is_symlink() or (folder.exists() and not folder.resolve().is_relative_to(root)):
        return DayDelivery(folder, [], [f"{folder} is a link or lies outside the landing root "
                                        f"{root}; day folders must be real folders inside it. "
                                        f"{REPLACE_LINK}"])
    if folder.exists() and not folder.is_dir():
        return DayDelivery(folder, [], [f"{folder} is a file, not a folder; source {source!r} "
                                        f"delivers a folder per day. {DELIVER_MISSING}"])
    if not folder.is_dir():
        return DayDelivery(folder, [], [f"no landing folder for source {source!r} on {day}: "
                                        f"{folder} does not exist. {DELIVER_MISSING}"])
    seeds = settings.dbt_project_dir / "seeds"
    contracts = [with_vocabularies(c, seeds) for c in contracts_for(source)]
    found: list[tuple[Contract, Path]] = []
    problems: list[str] = []
    for path in sorted(p for p in folder.iterdir() if not _is_ignored(p)):
        problem = _entry_problem(path, root)
        if problem:
            problems.append(problem)
            continue
        claims = [c for c in contracts if c.matches(path.name)]
        if len(claims) == 1:
            found.append((claims[0], path))
        else:
            patterns = [c.pattern for c in contracts]
            problems.append(f"{path}: {'no' if not claims else 'more than one'} contract of "
                            f"source {source!r} matches this file (patterns {patterns}). {RENAME}")
    for contract in contracts:
        if not contract.optional and not any(c is contract for c, _ in found):
            problems.append(f"{folder}: no file matching {contract.pattern!r}; source "
                            f"{source!r} must deliver one for {day} (contract {contract.name}). "
                            f"{DELIVER_MISSING}")
    return DayDelivery(folder, found, problems)


def landing_files(settings: Settings, source: str, day: date) -> list[tuple[Contract, Path]]:
    """Every file of ``source`` for ``day``, each matched to exactly one contract; the first
    problem (see :func:`claim_files`) is raised as :class:`LandingError`."""
    delivery = claim_files(settings, source, day)
    if delivery.problems:
        raise LandingError(delivery.problems[0])
    return delivery.files


def ingest_source(settings: Settings, source: str, days: list[date]) -> IngestReport:
    """Load every file of ``source`` for ``days`` (one day for a daily run, more to backfill).

    Files load in ``settings.ingest_workers`` threads, each on its own cursor of the one
    warehouse connection (DuckDB: one writer process, concurrent transactions inside it); a
    gzip stream decompresses on one core, so parallel files are what uses the others. Files
    with identical content load in a later wave, after their first copy, so a re-sent file is
    always recognised as a duplicate. The first error stops the scheduling of further files (a
    worker may already have started one more) and is raised once the running ones have
    finished; finished files stay committed.
    """
    started = time.time()
    report = IngestReport(source, [d.isoformat() for d in days])
    # (day, contract, path, sha256): each file is hashed once, here, and load_file reuses it
    plan = [(day, c, p, sha256_of(p) if p.stat().st_size else None)
            for day in days for c, p in landing_files(settings, source, day)]
    first_of_content: dict[str, int] = {}
    waves: list[list[int]] = [[], []]
    for i, (_, _, _, sha) in enumerate(plan):
        first = first_of_content.setdefault(sha, i) if sha else i  # 0-byte files fail alone
        waves[0 if first == i else 1].append(i)
    results: dict[int, FileResult] = {}
    hashes = ledger_hashes(settings)
    ledger = (erasure_secret(settings), sorted(hashes)) if hashes else None
    with connection(settings.warehouse_path) as con:
        con.execute(MANIFEST_DDL)
        tables = {c.table: c for c in contracts_for(source)}
        for contract in tables.values():
            ensure_raw_table(con, contract)
        failure: BaseException | None = None
        try:
            for wave in waves:
                _load_wave(con, settings, plan, wave, results, ledger)
        except BaseException as exc:  # noqa: BLE001 - re-raised below, after acting on erasures
            failure = exc
        report.files = [results[i] for i in sorted(results)]
        # orders and lines that arrived for an erased person are recorded and swept
        forget_derived(settings, con, {i for f in report.files for i in f.erased_identifiers})
        if "crm_customers" in tables:  # every CRM deletion committed so far is acted on now
            report.erased = _erase_crm_deletions(settings, con)
        if failure is not None:
            raise failure
        _record_run(con, report, started)
    return report


def _erase_crm_deletions(settings: Settings, con: duckdb.DuckDBPyConnection) -> int:
    """A CRM delete row is an erasure (upstream.erasure): ledger, purge, publications. The purge
    removes the delete row too, so a delete still in raw is one not yet acted on."""
    ids = [r[0] for r in con.execute("select distinct crm_id from raw.crm_customers "
                                     "where op = 'delete' order by 1").fetchall()]
    if ids:
        erase(settings, ids, via="crm_delete", con=con)
    return len(ids)


def _load_one(con: duckdb.DuckDBPyConnection, settings: Settings, day: date, contract: Contract,
              path: Path, sha: str | None,
              ledger: tuple[str, list[str]] | None = None) -> FileResult:
    rel = path.relative_to(settings.landing_dir).as_posix()
    cursor = con.cursor()
    try:
        result = load_file(cursor, contract, path, rel=rel, day=day,
                           max_reject_rate=settings.max_reject_rate,
                           reject_floor=settings.reject_floor, sha=sha, ledger=ledger)
    finally:
        cursor.close()
    log.info("%-16s %-40s %-8s read=%d loaded=%d quarantined=%d extra=%s %.2fs %s",
             result.table, rel, result.status, result.rows_read, result.rows_loaded,
             result.rows_quarantined, result.extra_columns, result.seconds, result.note)
    return result


def _load_wave(con, settings: Settings, plan: list, wave: list[int],
               results: dict[int, FileResult], ledger: tuple[str, list[str]] | None) -> None:
    if settings.ingest_workers == 1:  # strictly one after the other, stop at the first error
        for i in wave:
            results[i] = _load_one(con, settings, *plan[i], ledger)
        return
    errors: dict[int, BaseException] = {}
    with ThreadPoolExecutor(max_workers=settings.ingest_workers) as pool:
        futures = {pool.submit(_load_one, con, settings, *plan[i], ledger): i for i in wave}
        for future in as_completed(futures):
            i = futures[future]
            try:
                results[i] = future.result()
            except BaseException as exc:  # noqa: BLE001 - re-raised below, in plan order
                errors[i] = exc
                for pending in futures:
                    pending.cancel()
    if errors:
        raise errors[min(errors)]


def _record_run(con: duckdb.DuckDBPyConnection, report: IngestReport, started: float) -> None:
    """One row per ingest call in raw._ingest_runs: what came in, what was rejected and why."""
    summary = report.summary()
    loaded = [f.path for f in report.files if f.status == "loaded"]
    reasons = con.execute(
        "select coalesce(json_group_object(reason, n), '{}') from (select reason, count(*) n "
        "from raw._quarantine where source_file in (select unnest(?::varchar[])) group by reason)",
        [loaded]).fetchone()[0]
    con.execute(
        "insert into raw._ingest_runs values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, to_timestamp(?), "
        "current_timestamp)",
        [str(uuid.uuid4()), report.source, summary["first_day"], summary["last_day"],
         json.dumps(summary["files"]), summary["rows_read"], summary["rows_loaded"],
         summary["rows_quarantined"], reasons, summary["extra_columns"], started])
    log.info("ingest report %s: files %s, rejects by reason %s, extra columns %s",
             report.source, summary["files"], reasons, summary["extra_columns"])


def ingestion_report(settings: Settings) -> list[dict]:
    """Per source: files loaded/refused and rows read/loaded/quarantined (current versions)."""
    with connection(settings.warehouse_path, read_only=True) as con:
        cur = con.execute(
            """select source,
                   count(*) filter (where status = 'loaded') as files,
                   count(*) filter (where status = 'duplicate') as duplicates,
                   count(*) filter (where status = 'refused') as refused,
                   coalesce(sum(rows_read) filter (where status = 'loaded'), 0) as rows_read,
                   coalesce(sum(rows_loaded) filter (where status = 'loaded'), 0) as rows_loaded,
                   coalesce(sum(rows_quarantined) filter (where status = 'loaded'), 0)
                       as rows_quarantined
            from raw._load_manifest group by source order by source""")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

"""The right to erasure: a person asked to be forgotten is forgotten everywhere, once and for good.

An erasure comes from the CRM (a delta row with ``op = delete``, acted on when the file loads)
or from outside it (``upstream privacy erase <crm id> --ticket T``). For each erased CRM id:

1. **Ledger.** Every identifier of the person (the CRM id, the emails of their CRM records
   that no living record holds, their orders and order lines, the browsers seen with their CRM
   id that never logged in as anybody else) is recorded once, as a keyed hash
   (``sha256(erasure key | 'crm:C07')``), in ``data/privacy/erasure_ledger.jsonl``. The
   ledger holds no identifier itself, so it is not personal data; its key is
   ``UPSTREAM_ERASURE_SECRET`` (not the pseudonym key, so a pseudonym rotation never re-admits
   anyone).
2. **Purge.** Their rows leave the warehouse: raw tables (each file's manifest row counts them
   in ``rows_erased``, so ``rows in raw = rows_loaded - rows_erased`` stays checkable), the text
   of quarantined lines that mention them (the rows stay, so counts still add up), the SCD2
   snapshot, and the derived tables (rebuilt by the next run without them). The same
   transaction marks their hashes in ``raw._erasure_applied``: a purge that committed.
3. **Publications.** Every kept published version that still holds them (per-customer feeds
   under their pseudonymous key) is rewritten without them, re-checksummed and recorded in
   ``history.jsonl``; unpublished candidates holding them are removed. ``rollback`` can
   therefore never serve them again. Aggregates (k-suppressed counts) are anonymous and stay.
4. **Never again.** Ingest checks every contract's identifier columns (``erasure:`` in the
   contract) against the ledger: a replayed export or a backfill drops their rows, counted in
   the quarantine as ``erased`` with no raw text, so read = loaded + quarantined still holds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from upstream import raw_parquet
from upstream.privacy import erasure_secret, pseudonym, pseudonym_secret
from upstream.settings import Settings
from upstream.warehouse import connect

log = logging.getLogger(__name__)

# raw table -> (identifier kind, column) pairs whose erased values remove a row
RAW_TARGETS: dict[str, list[tuple[str, str]]] = {
    "crm_customers": [("crm", "crm_id")],
    "erp_orders": [("order", "order_id")],
    "erp_order_lines": [("order", "order_id")],
    "erp_returns": [("order_line", "order_line_id")],
    "erp_invoices": [("order", "order_id")],
    "erp_delivery_notes": [("order", "order_id")],
    "web_events": [("crm", "customer_id"), ("anon", "anonymous_id")],
}
# what separates the tokens of a quarantined line that can be identifiers (ids, emails, order
# and line numbers): quotes, delimiters, spaces, colons, brackets
NOT_TOKEN = r"[^A-Za-z0-9@._+-]+"
# per-customer published feeds, keyed by customer_key (config.meta.publish.pseudonymise in the marts' yml)
PUBLISHED_KEYED = ("customer_needs", "design_customer_briefs")


@dataclass
class ErasureReport:
    request: str
    via: str
    crm_ids: int
    new_hashes: int
    rows_purged: dict[str, int] = field(default_factory=dict)
    versions_rewritten: list[int] = field(default_factory=list)
    candidates_removed: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"request": self.request, "via": self.via, "crm_ids": self.crm_ids,
                "new_ledger_hashes": self.new_hashes, "rows_purged": self.rows_purged,
                "versions_rewritten": self.versions_rewritten,
                "candidates_removed": self.candidates_removed}


def identifier_hash(key: str, identifier: str) -> str:
    """The ledger's keyed hash of a typed identifier such as ``crm:C07`` (in SQL: see
    :func:`erased_rows_sql`)."""
    return hashlib.sha256(f"{key}|{identifier}".encode()).hexdigest()


# how a raw value becomes a typed identifier: emails are compared trimmed and in lower case
IDENTIFIER_SQL = {"email": "'email:' || lower(trim({column}))"}


def identifier_sql(kind: str, column: str) -> str:
    return IDENTIFIER_SQL.get(kind, f"'{kind}:' || {{column}}").format(column=column)


def ledger_hashes(settings: Settings) -> set[str]:
    path = settings.erasure_ledger
    if not path.exists():
        return set()
    hashes: set[str] = set()
    for line in path.read_text().splitlines():
        if line.strip():
            hashes.update(json.loads(line)["hashes"])
    return hashes


def _hashes(settings: Settings, identifiers: set[str]) -> dict[str, str]:
    """Each typed identifier's keyed ledger hash."""
    key = erasure_secret(settings)
    return {i: identifier_hash(key, i) for i in identifiers}


def _record(settings: Settings, hashes: set[str], *, via: str, ticket: str | None,
            request: str) -> int:
    """Append the hashes (:func:`_hashes`) not yet in the ledger (each is recorded once)."""
    known = ledger_hashes(settings)
    new = sorted(hashes - known)
    if not new:
        return 0
    path = settings.erasure_ledger
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {"request": request, "at": datetime.now(UTC).isoformat(), "via": via,
             "ticket": ticket, "hashes": new}
    with path.open("a") as fh:
        fh.write(json.dumps(entry) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return len(new)


def _values(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[str]:
    return [r[0] for r in con.execute(sql, params).fetchall() if r[0] is not None]


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return con.execute("select count(*) from information_schema.tables where table_schema = ? "
                       "and table_name = ?", [schema, table]).fetchone()[0] > 0


def person_identifiers(con: duckdb.DuckDBPyConnection, crm_ids: list[str]) -> dict[str, list[str]]:
    """Every identifier of the erased CRM ids that the warehouse still knows, by kind."""
    ids = sorted(set(crm_ids))
    found: dict[str, list[str]] = {"crm": ids, "email": [], "order": [], "order_line": [],
                                   "anon": []}
    if _table_exists(con, "raw", "crm_customers"):
        found["email"] = _values(con, """
            select distinct lower(trim(email)) from raw.crm_customers
            where crm_id in (select unnest(?::varchar[])) and nullif(trim(email), '') is not null
            except
            select lower(trim(email)) from raw.crm_customers
            where crm_id not in (select unnest(?::varchar[])) and email is not null""",
                                 [ids, ids])
    if _table_exists(con, "raw", "erp_orders"):
        found["order"] = _values(con, """
            select distinct order_id from raw.erp_orders
            where crm_id in (select unnest(?::varchar[]))
               or lower(trim(guest_email)) in (select unnest(?::varchar[]))""",
                                 [ids, found["email"]])
    if _table_exists(con, "raw", "erp_order_lines"):
        found["order_line"] = _values(con, "select distinct order_line_id from raw.erp_order_lines "
                                           "where order_id in (select unnest(?::varchar[]))",
                                      [found["order"]])
    if _table_exists(con, "raw", "web_events"):
        found["anon"] = _browsers_of(con, ids)
    return found


def _browsers_of(con: duckdb.DuckDBPyConnection, erased: list[str]) -> list[str]:
    """The own browsers (see :func:`_own_browsers`) of the erased CRM ids: the anonymous ids
    seen with one of them that never logged in as anybody else. One pass over the events that
    carry a CRM id finds the candidates and the other persons' logins together."""
    return _values(con, """
        select anonymous_id
        from (
            select
                anonymous_id,
                customer_id in (select unnest(?::varchar[])) as by_erased,
                event_type = 'login' as is_login
            from raw.web_events
            where customer_id is not null and anonymous_id is not null
        ) as seen
        where by_erased or is_login
        group by anonymous_id
        having bool_or(by_erased) and not bool_or(is_login and not by_erased)
        order by 1""", [erased])


def _own_browsers(con: duckdb.DuckDBPyConnection, candidates: list[str],
                  erased: list[str]) -> list[str]:
    """The browsers among ``candidates`` (anonymous ids seen with an erased person's CRM id)
    that never logged in as anybody else: the person's own, erased with them. A shared browser
    (a family computer) keeps its events; only the erased person's own rows leave it."""
    if not candidates or not _table_exists(con, "raw", "web_events"):
        return sorted(set(candidates))
    return _values(con, """
        select unnest(?::varchar[]) as anonymous_id
        except
        select anonymous_id from raw.web_events
        where event_type = 'login' and customer_id is not null
          and customer_id not in (select unnest(?::varchar[]))
        order by 1""", [sorted(set(candidates)), erased])


def _matching(conditions: list[tuple[str, list]]) -> tuple[str, list] | None:
    """One ``where`` (and its parameters) for the conditions, each SQL whose ``?`` are lists of
    identifiers, that can match a row; None when none can. A condition whose lists are all
    empty matches nothing (``x in ()``) yet its statement would scan the whole table (57 M raw
    web events at SF 10), so it is left out."""
    live = [(sql, params) for sql, params in conditions if any(params)]
    if not live:
        return None
    return " or ".join(f"({sql})" for sql, _ in live), [p for _, params in live for p in params]


def _purge_raw(con: duckdb.DuckDBPyConnection, found: dict[str, list[str]],
               purged: dict[str, int]) -> None:
    for table, targets in RAW_TARGETS.items():
        if not _table_exists(con, "raw", table):
            continue
        matching = _matching([(f"{column} in (select unnest(?::varchar[]))", [found[kind]])
                              for kind, column in targets])
        if matching is None:
            purged[f"raw.{table}"] = 0
            continue
        where, params = matching
        # the rows found once (row id and file), then deleted by row id: a delete that
        # returned each row's file fetched whole rows and took twice as long (SF 1 raw web
        # events: 0.35 s against 0.17 s); the row ids hold inside this transaction
        con.execute(f"create or replace temp table erased_rows as select rowid as row_id, "
                    f"_source_file from raw.{table} where {where}", params)
        con.execute(f"delete from raw.{table} where rowid in (select row_id from erased_rows)")
        gone = dict(con.execute(
            "select _source_file, count(*) from erased_rows group by _source_file").fetchall())
        con.execute("drop table erased_rows")
        for source_file, n in sorted(gone.items()):
            con.execute("update raw._load_manifest set rows_erased = coalesce(rows_erased, 0) + ? "
                        "where path = ? and status = 'loaded'", [n, source_file])
        purged[f"raw.{table}"] = sum(gone.values())
    values = sorted({v for kind in found.values() for v in kind})
    if values and _table_exists(con, "raw", "_quarantine"):
        # the quarantine keeps its rows (so every file's counts still add up), not their text
        # an identifier is a whole token of the line (ids, emails, order and line numbers):
        # the tokens of each line are matched against them in one hash join
        purged["raw._quarantine (text)"] = con.execute(
            "update raw._quarantine set raw_text = null where rowid in ("
            "select q.rowid from raw._quarantine as q, "
            f"unnest(string_split_regex(q.raw_text, '{NOT_TOKEN}')) as t(token) "
            "where t.token in (select unnest(?::varchar[])))", [values]).fetchone()[0]


def _purge_derived(con: duckdb.DuckDBPyConnection, found: dict[str, list[str]],
                   purged: dict[str, int]) -> None:
    """Snapshot and derived tables: the snapshot and the incremental models keep history (so
    they must forget), the rest is rebuilt by the next dbt run, but must not hold the person
    until then."""
    ids, anons = found["crm"], found["anon"]
    identifiers = [f"{kind}:{v}" for kind, values in found.items() for v in values]
    # the persons the identifiers belonged to: an incremental state (a <model>__map beside it)
    # forgets them whole and re-derives whoever remains of them on its next run
    # (also a browser or guest order that was its own person: 'anon:…', 'guest_order:…')
    persons = sorted(set(identifiers) | {f"guest_order:{o}" for o in found["order"]} | set(
        _values(con, "select distinct person_id from intermediate.int_identity__map "
                     "where identifier in (select unnest(?::varchar[]))", [identifiers])
        if _table_exists(con, "intermediate", "int_identity__map") else []))
    # the erased CRM ids' own events, wherever the attribution put them (a merged person keeps
    # their other records, so their person_id is not an erased id)
    events = (_values(con, "select event_id from intermediate.int_web__events "
                           "where customer_id in (select unnest(?::varchar[]))", [ids])
              if ids and _table_exists(con, "intermediate", "int_web__events") else [])
    targets = [("snapshots", "snp_crm__customers", "customer_id in (select unnest(?::varchar[]))",
                [ids]),
               ("intermediate", "int_web__events",
                "customer_id in (select unnest(?::varchar[])) or "
                "anonymous_id in (select unnest(?::varchar[]))", [ids, anons]),
               ("intermediate", "int_identity__map",
                "identifier in (select unnest(?::varchar[]))", [identifiers]),
               # incremental: what a run does not re-attribute stays, so it must forget here
               ("intermediate", "int_web__events_attributed",
                "anonymous_id in (select unnest(?::varchar[])) or "
                "event_id in (select unnest(?::varchar[]))", [anons, events]),
               # rebuilt each run, but it holds their search queries until then
               ("intermediate", "int_web__unmet_events",
                "event_id in (select unnest(?::varchar[])) or "
                "person_id in (select unnest(?::varchar[]))", [events, [f"anon:{a}" for a in anons]]),
               ("intermediate", "int_web__events_attributed__map",
                "identifier in (select unnest(?::varchar[]))", [identifiers]),
               ("intermediate", "int_order_lines__enriched",
                "order_id in (select unnest(?::varchar[]))", [found["order"]])]
    # incremental states by person (macros/incremental_state.sql): a table with a <table>__map
    for (state,) in con.execute(
            "select left(table_name, -5) from information_schema.tables "
            "where table_schema = 'intermediate' and table_name like '%\\_\\_map' escape '\\' "
            "and table_name <> 'int_web__events_attributed__map'").fetchall():
        targets += [("intermediate", state, "person_id in (select unnest(?::varchar[]))",
                     [persons]),
                    ("intermediate", f"{state}__map",
                     "person_id in (select unnest(?::varchar[]))", [persons]),
                    ("intermediate", f"{state}__lines",
                     "order_line_id in (select unnest(?::varchar[]))", [found["order_line"]])]
    # models kept by person (macros/changed_persons.sql): a table with a <table>__inputs
    for (kept,) in con.execute(
            "select left(table_name, -8) from information_schema.tables "
            "where table_schema = 'intermediate' and table_name like '%\\_\\_inputs' escape '\\'"
            ).fetchall():
        targets += [("intermediate", table, "person_id in (select unnest(?::varchar[]))",
                     [persons]) for table in (kept, f"{kept}__inputs")]
    for schema, table, column in con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where table_schema in ('intermediate', 'marts', 'reports') "
            "and column_name in ('person_id', 'customer_id')").fetchall():
        targets.append((schema, table, f"{column} in (select unnest(?::varchar[]))", [ids]))
    base = {(s, t) for s, t in con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_type = 'BASE TABLE'").fetchall()}
    per_table: dict[tuple[str, str], list[tuple[str, list]]] = {}
    for schema, table, where, params in targets:
        per_table.setdefault((schema, table), []).append((where, params))
    for (schema, table), conditions in per_table.items():
        if (schema, table) not in base:
            continue
        # one scan per table, whatever makes its rows the person's; none when nothing can match
        # (the delete costs that scan: SF 10 attributed events, 57 M rows, 3.0 s, as a count(*)
        # with the same where 2.9 s; by row id or one delete per condition: no faster)
        matching = _matching(conditions)
        n = 0 if matching is None else con.execute(
            f"delete from {schema}.{table} where {matching[0]}", matching[1]).fetchone()[0]
        purged[f"{schema}.{table}"] = purged.get(f"{schema}.{table}", 0) + n


def _purge_publications(settings: Settings, person_ids: list[str], request: str,
                        report: ErasureReport) -> None:
    """Rewrite every kept version (and drop every candidate) that holds the person."""
    from upstream.publish import (
        append_history,
        feed_names,
        publication_lock,
        published_versions,
        version_name,
    )

    secret = pseudonym_secret(settings)
    keys = [pseudonym(secret, p) for p in person_ids]
    if not keys:
        return
    with publication_lock(settings, what=f"erasure {request}"):
        candidates = settings.published_dir / ".candidates"
        for db in sorted(candidates.glob("*.duckdb")) if candidates.exists() else []:
            if _holds(db, keys):
                for stale in (db, db.with_name(db.name + ".wal"),
                              db.with_name(db.name + ".gate.json")):
                    stale.unlink(missing_ok=True)
                report.candidates_removed.append(db.name)
        for version in published_versions(settings):
            folder = settings.versions_dir / version_name(version)
            if not _holds(folder / "design.duckdb", keys):
                continue
            removed = _rewrite_version(folder, keys, set(feed_names(settings.dbt_project_dir)))
            report.versions_rewritten.append(version)
            append_history(settings, {"event": "erasure", "version": version,
                                       "request": request, "rows_removed": removed,
                                       "at": datetime.now(UTC).isoformat()})


def _holds(db: Path, keys: list[str]) -> bool:
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = {r[0] for r in con.execute("show tables").fetchall()}
        return any(con.execute(f"select count(*) from {t} where customer_key in "
                               "(select unnest(?::varchar[]))", [keys]).fetchone()[0]
                   for t in PUBLISHED_KEYED if t in tables)
    finally:
        con.close()


def _rewrite_version(folder: Path, keys: list[str], feeds: set[str]) -> int:
    """A version without the keys: a rewritten copy of its database renamed over it (a reader
    holding the old file keeps its view until it reconnects), its feeds, counts and checksums."""
    from upstream.common import sha256_of
    from upstream.publish.feeds import write_feed_parquet

    manifest = json.loads((folder / "manifest.json").read_text())
    work = folder / ".erasing-design.duckdb"
    shutil.copyfile(folder / "design.duckdb", work)
    removed = 0
    con = duckdb.connect(str(work))
    try:
        tables = [t for t in PUBLISHED_KEYED
                  if con.execute("select count(*) from information_schema.tables "
                                 "where table_name = ?", [t]).fetchone()[0]]
        for table in tables:
            removed += con.execute(f"delete from {table} where customer_key in "
                                   "(select unnest(?::varchar[]))", [keys]).fetchone()[0]
            manifest["row_counts"][table] = con.execute(
                f"select count(*) from {table}").fetchone()[0]
        con.execute("checkpoint")
        for table in tables:
            if table in feeds and (folder / "feeds" / f"{table}.parquet").exists():
                write_feed_parquet(con, table, folder / "feeds" / f".erasing-{table}.parquet")
    finally:
        con.close()
    for table in tables:
        tmp = folder / "feeds" / f".erasing-{table}.parquet"
        if tmp.exists():
            os.replace(tmp, folder / "feeds" / f"{table}.parquet")
            manifest["checksums"][f"feeds/{table}.parquet"] = sha256_of(
                folder / "feeds" / f"{table}.parquet")
    os.replace(work, folder / "design.duckdb")
    manifest["checksums"]["design.duckdb"] = sha256_of(folder / "design.duckdb")
    manifest.setdefault("erasures", []).append({"at": datetime.now(UTC).isoformat(),
                                                "rows_removed": removed})
    tmp_manifest = folder / ".manifest.json.tmp"
    tmp_manifest.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp_manifest, folder / "manifest.json")
    return removed


# the keyed hashes whose purge committed, written in the purge's own transaction: the ledger
# (a file) is written first, so a hash in it alone may belong to a purge that crashed
APPLIED_DDL = ("create table if not exists raw._erasure_applied (hash varchar not null, "
               "request varchar not null, applied_at timestamptz not null)")


def _applied(con: duckdb.DuckDBPyConnection, hashes: list[str]) -> set[str]:
    """Those of ``hashes`` whose purge has committed in this warehouse."""
    if not hashes or not _table_exists(con, "raw", "_erasure_applied"):
        return set()
    return set(_values(con, "select distinct hash from raw._erasure_applied "
                            "where hash in (select unnest(?::varchar[]))", [hashes]))


def _forget(settings: Settings, con: duckdb.DuckDBPyConnection, found: dict[str, list[str]],
            report: ErasureReport, *, ticket: str | None) -> None:
    """Record ``found`` in the ledger, then purge it from the warehouse in one transaction,
    which also marks its hashes applied (``raw._erasure_applied``)."""
    hashes = sorted(set(_hashes(settings, {f"{kind}:{v}" for kind, values in found.items()
                                           for v in values}).values()))
    # the ledger first: a crash after it leaves rows that the next erase or ingest purges
    report.new_hashes += _record(settings, set(hashes), via=report.via, ticket=ticket,
                                 request=report.request)
    con.begin()
    try:
        _purge_raw(con, found, report.rows_purged)
        _purge_derived(con, found, report.rows_purged)
        con.execute(APPLIED_DDL)
        con.execute("insert into raw._erasure_applied select hash, ?, current_timestamp "
                    "from (select unnest(?::varchar[]) as hash) where hash not in "
                    "(select hash from raw._erasure_applied)", [report.request, hashes])
        con.commit()
    except BaseException:
        con.rollback()
        raise


def erase(settings: Settings, crm_ids: list[str], *, via: str, ticket: str | None = None,
          con: duckdb.DuckDBPyConnection | None = None) -> ErasureReport:
    """Erase the people behind ``crm_ids`` (see the module docstring); ``con`` is an open
    read-write warehouse connection when the caller already holds one (ingest)."""
    ids = sorted({c.strip() for c in crm_ids if c and c.strip()})
    if not ids:
        raise ValueError("nothing to erase: give at least one CRM id")
    report = ErasureReport(str(uuid.uuid4()), via, len(ids), 0)
    if con is None and not settings.warehouse_path.exists():
        report.new_hashes = _record(settings, set(_hashes(settings, {f"crm:{i}" for i in ids})
                                                  .values()), via=via, ticket=ticket,
                                    request=report.request)
    else:
        own = con is None
        con = con or connect(settings.warehouse_path, limits=settings.duckdb_limits)
        try:
            _forget(settings, con, person_identifiers(con, ids), report, ticket=ticket)
            if own and settings.raw_parquet:  # an ingest syncs after its own erasures
                raw_parquet.sync(con, settings.raw_parquet_dir)
        finally:
            if own:
                con.close()
    _purge_publications(settings, ids, report.request, report)
    log.warning("erasure %s (%s): %d CRM id(s), %d new ledger hash(es), rows purged %s, "
                "versions rewritten %s", report.request, via, len(ids), report.new_hashes,
                {k: v for k, v in report.rows_purged.items() if v}, report.versions_rewritten)
    return report


# identifier kinds that an erased row passes on: the lines, returns, invoices and delivery
# notes of an erased order are erased too, even when they arrive in another file or later; so
# are the events of the person's own browser without a login (whichever source loads first)
DERIVED_KINDS = ("order", "order_line", "anon")


def forget_derived(settings: Settings, con: duckdb.DuckDBPyConnection,
                   identifiers: set[str]) -> ErasureReport | None:
    """After an ingest that dropped an erased person's rows: record the orders, order lines and
    own browsers (:func:`_own_browsers`) those rows named, and purge what of them other files
    already loaded, so the result is the same whether the CRM delete or the data came first.
    Identifiers whose purge committed (``raw._erasure_applied``) are skipped."""
    found: dict[str, list[str]] = {"crm": [], "email": [], "order": [], "order_line": [],
                                   "anon": []}
    derived = _hashes(settings, {i for i in identifiers if i.partition(":")[0] in DERIVED_KINDS})
    # an identifier whose purge committed has nothing left to purge: what arrives for it since
    # is dropped at ingest (the day's web file carries the browsers the same day's CRM deletes
    # just erased; purging them again rescanned 57 M raw events and the derived events at SF 10)
    done = _applied(con, sorted(derived.values()))
    for identifier, hashed in derived.items():
        if hashed not in done:
            kind, _, value = identifier.partition(":")
            found[kind].append(value)
    if not any(found.values()):
        return None
    if _table_exists(con, "raw", "erp_order_lines"):
        found["order_line"] += _values(
            con, "select distinct order_line_id from raw.erp_order_lines "
                 "where order_id in (select unnest(?::varchar[]))", [found["order"]])
    # the erased rows were never loaded, so any login left in raw is somebody else's
    found["anon"] = _own_browsers(con, found["anon"], [])
    found = {kind: sorted(set(values)) for kind, values in found.items()}
    if not any(found.values()):
        return None
    report = ErasureReport(str(uuid.uuid4()), "ingest", 0, 0)
    _forget(settings, con, found, report, ticket=None)
    return report


def create_ledger_tables(con: duckdb.DuckDBPyConnection, key: str, hashes: list[str]) -> None:
    """Temp tables ``_ledger_key`` and ``_ledger`` that :func:`erased_rows_sql` reads (bound
    parameters: the key never appears in SQL text or logs)."""
    con.execute("create or replace temp table _ledger_key as select ?::varchar as k", [key])
    con.execute("create or replace temp table _ledger as select unnest(?::varchar[]) as hash",
                [hashes])


def erased_rows_sql(contract_erasure: tuple[tuple[str, str], ...]) -> str | None:
    """A condition on a staged row (``_parsed``), true when one of its identifier columns is in
    the ledger (temp tables of :func:`create_ledger_tables`)."""
    if not contract_erasure:
        return None
    # each distinct value is hashed once (a day of clickstream repeats a browser many times),
    # then the rows are matched against the few values found in the ledger
    tests = [f"{column} in (select v from (select distinct e.{column} as v from _parsed as e "
             f"where e.{column} is not null) where sha256((select k from _ledger_key) || '|' || "
             f"{identifier_sql(kind, 'v')}) in (select hash from _ledger))"
             for column, kind in contract_erasure]
    return " or ".join(tests)

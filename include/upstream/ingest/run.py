"""One source's files for some days: planned, hashed once, loaded in parallel waves."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import date
from pathlib import Path

import duckdb

from upstream import raw_parquet
from upstream.common import sha256_of
from upstream.contracts import Contract, contracts_for
from upstream.erasure import erase, forget_derived, ledger_hashes
from upstream.ingest.landing import landing_files
from upstream.ingest.load import ensure_raw_table, load_file
from upstream.ingest.manifest import MANIFEST_DDL, FileResult
from upstream.ingest.report import IngestReport, record_run
from upstream.privacy import erasure_secret
from upstream.settings import Settings
from upstream.warehouse import connection

log = logging.getLogger(__name__)


def ingest_source(settings: Settings, source: str, days: list[date],
                  batch: Path | None = None) -> IngestReport:
    """Load every file of ``source`` for ``days`` (one day for a daily run, more to backfill),
    or of one intraday micro-batch folder ``batch`` (``days`` is then its one day).

    Files load in ``settings.ingest_workers`` threads, each on its own cursor of the one
    warehouse connection (DuckDB: one writer process, concurrent transactions inside it); a
    gzip stream decompresses on one core, so parallel files are what uses the others, except
    large NDJSON files, whose parse uses every core: they load alone, first. Files
    with identical content load in a later wave, after their first copy, so a re-sent file is
    always recognised as a duplicate. The first error stops the scheduling of further files (a
    worker may already have started one more) and is raised once the running ones have
    finished; finished files stay committed.
    """
    started = time.time()
    report = IngestReport(source, [d.isoformat() for d in days])
    # (day, contract, path, sha256): each file is hashed once, here, and load_file reuses it
    plan = [(day, c, p, sha256_of(p) if p.stat().st_size else None)
            for day in days for c, p in landing_files(settings, source, day, batch)]
    first_of_content: dict[str, int] = {}
    waves: list[list[int]] = [[], []]
    for i, (_, _, _, sha) in enumerate(plan):
        first = first_of_content.setdefault(sha, i) if sha else i  # 0-byte files fail alone
        waves[0 if first == i else 1].append(i)
    results: dict[int, FileResult] = {}
    hashes = ledger_hashes(settings)
    ledger = (erasure_secret(settings), sorted(hashes)) if hashes else None
    with connection(settings.warehouse_path, limits=settings.duckdb_limits) as con:
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
        erasing = time.time()
        # orders and lines that arrived for an erased person are recorded and swept
        forget_derived(settings, con, {i for f in report.files for i in f.erased_identifiers})
        if "crm_customers" in tables:  # every CRM deletion committed so far is acted on now
            report.erased = _erase_crm_deletions(settings, con)
        report.erasure_s = time.time() - erasing
        if failure is not None:
            raise failure
        if settings.raw_parquet:  # the Parquet copy follows what committed, erasures included
            raw_parquet.sync(con, settings.raw_parquet_dir)
        record_run(con, report, started)
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


def _loads_alone(settings: Settings, contract: Contract, path: Path) -> bool:
    """A large NDJSON file: its staged lines are parsed twice on every core (json_keys, then
    json_transform), so a second file beside it only competes for them. At SF 10 (215 MB of
    gzip per day) four days took 89 s one at a time and 100-108 s two at a time; at SF 3
    (64 MB) 25-30 s either way; at SF 1 (21 MB) two at a time were faster (15 s against
    16-18 s for seven days)."""
    return (contract.format == "ndjson"
            and path.stat().st_size >= settings.ingest_alone_mb * 1_000_000)


def _load_wave(con, settings: Settings, plan: list, wave: list[int],
               results: dict[int, FileResult], ledger: tuple[str, list[str]] | None) -> None:
    alone, together = [], []
    for i in wave:
        sequential = settings.ingest_workers == 1 or _loads_alone(settings, *plan[i][1:3])
        (alone if sequential else together).append(i)
    for i in alone:  # strictly one after the other, stop at the first error
        results[i] = _load_one(con, settings, *plan[i], ledger)
    wave = together
    if not wave:
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

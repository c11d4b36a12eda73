"""The raw layer as Parquet, for engines that cannot open the DuckDB warehouse (issue 16).

Layout: ``<data>/raw/<table>/load_id=<id>/part-0.parquet``, one file per *current* load of the
table (manifest status ``loaded``), holding exactly that load's rows in ``raw.<table>`` (the
columns of the raw table: the contract's, ``_extra`` as JSON text, ``_load_id``,
``_source_file``, ``_record_no``, ``_loaded_at``). DuckDB (``read_parquet([...])`` of
:func:`table_files`) and Spark (views over the folder, filtered by a snapshot of the catalogue:
macros/cross_engine.sql) read the loads the catalogue lists, so both see the same rows.

The warehouse's raw tables and its load manifest stay the record; :func:`sync` makes the folders
match them and is idempotent:

- a current load without its file, or whose file holds another number of rows (an erasure
  purged some since), gets its file (re)written: to a hidden ``.part-0.parquet.tmp`` that no
  reader lists (Spark skips names starting with ``.``; the glob needs ``.parquet``), fsynced,
  then renamed over the old name in one step;
- the ledgers (``_quarantine``, ``_load_manifest``, ``_intraday_batches``, those that exist)
  are copied whole to ``<data>/raw/<ledger>/part-0.parquet``;
- ``catalogue.jsonl`` is then rewritten (again by an atomic rename): one line per current load
  (table, load id, rows). It is the manifest as the readers' catalogue: readers take the rows of
  the loads it lists only (DuckDB opens exactly its files; Spark's raw views filter the folder's
  rows by it), so a load it names always has its whole file and a file it does not name (being
  written, or superseded and not removed yet) is never read;
- last, a folder of a load that is not current (superseded by a new version of its path, or
  written by a sync that crashed before its catalogue) is removed.

Sync runs after every ingest (inside the ingest's warehouse connection, after its erasures),
after every intraday run and after every erasure. No reader takes what a crash left half done:
a crash inside ``load_file`` leaves no manifest row, so no file is counted; a crash inside sync
leaves whole files only and the previous catalogue, and the next sync (the task's retry, or the
next ingest) finishes the job. Rows in the files = rows in raw, per load: checked on every sync.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from upstream.common import quote_ident
from upstream.settings import RAW_CATALOGUE
from upstream.warehouse import sql_literal

log = logging.getLogger(__name__)

PART = "part-0.parquet"
# ledgers copied whole, every sync: the models read the first two (reports.vocabulary_report),
# a Spark run its as-of date from the third (upstream.intraday.newest_day)
LEDGERS = ("_quarantine", "_load_manifest", "_intraday_batches")


@dataclass
class SyncReport:
    tables: int = 0
    files: int = 0  # current files after the sync
    rows: int = 0  # rows in them
    written: list[str] = field(default_factory=list)  # load ids written or rewritten
    removed: list[str] = field(default_factory=list)  # folders of loads no longer current
    seconds: float = 0.0


def load_dir(root: Path, table: str, load_id: str) -> Path:
    return root / table / f"load_id={load_id}"


def ledger_file(root: Path, ledger: str) -> Path:
    """The whole-table copy of one of :data:`LEDGERS`."""
    return root / ledger / PART


def file_rows(path: Path) -> int | None:
    """Rows in a Parquet file from its footer, None when it is missing or unreadable."""
    try:
        return pq.ParquetFile(path).metadata.num_rows
    except (OSError, ValueError, pa.ArrowException):
        return None


def current_loads(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """Per raw table, each current load id and the rows it holds in raw (a load left with no
    rows, an allowed empty file or one whose rows were all erased, still gets its file: it
    carries the table's columns to readers). Raises when raw and the manifest disagree: a
    file's rows in raw must be its loaded minus erased."""
    manifest = con.execute(
        "select table_name, load_id, rows_loaded - coalesce(rows_erased, 0) "
        "from raw._load_manifest where status = 'loaded' order by 1, 2").fetchall()
    tables: dict[str, dict[str, int]] = {}
    for table, load_id, rows in manifest:
        tables.setdefault(table, {})[load_id] = int(rows)
    loads: dict[str, dict[str, int]] = {}
    for table, expected in tables.items():
        held = dict(con.execute(f"select _load_id, count(*) from raw.{quote_ident(table)} "
                                "group by 1").fetchall())
        wrong = {i: (held.get(i, 0), n) for i, n in expected.items() if held.get(i, 0) != n}
        stray = set(held) - set(expected)
        if wrong or stray:
            raise RuntimeError(
                f"raw.{table} and the load manifest disagree (held, expected): "
                f"{dict(list(wrong.items())[:5])}; rows of loads the manifest does not count "
                f"as loaded: {sorted(stray)[:5]}")
        loads[table] = expected
    return loads


def _write(con: duckdb.DuckDBPyConnection, table: str, load_id: str, target: Path) -> None:
    _copy(con, f"select * from raw.{quote_ident(table)} where _load_id = {sql_literal(load_id)}",
          target)


def _temporary(target: Path) -> Path:
    """Where ``target`` is written first: hidden from every reader (module docstring)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    return target.with_name(f".{target.name}.tmp")


def _rename_in(tmp: Path, target: Path) -> None:
    with open(tmp, "rb") as fh:  # the bytes are on disk before the name says they are there
        os.fsync(fh.fileno())
    os.replace(tmp, target)


def _copy(con: duckdb.DuckDBPyConnection, query: str, target: Path) -> None:
    """``query`` into ``target``: a hidden temporary file, fsynced, renamed in one step."""
    tmp = _temporary(target)
    con.execute(f"copy ({query}) to {sql_literal(str(tmp))} (format parquet, compression zstd)")
    _rename_in(tmp, target)


def _replace_text(path: Path, text: str) -> None:
    tmp = _temporary(path)
    tmp.write_text(text)
    _rename_in(tmp, path)


def sync(con: duckdb.DuckDBPyConnection, root: Path) -> SyncReport:
    """Make ``root`` hold exactly the current loads of every raw table (module docstring)."""
    started = time.time()
    report = SyncReport()
    root.mkdir(parents=True, exist_ok=True)
    loads = current_loads(con)
    for table, current in loads.items():
        for load_id, rows in current.items():
            target = load_dir(root, table, load_id) / PART
            if file_rows(target) != rows:
                _write(con, table, load_id, target)
                report.written.append(load_id)
            report.files += 1
            report.rows += rows
    held = {r[0] for r in con.execute("select table_name from duckdb_tables() "
                                      "where schema_name = 'raw'").fetchall()}
    for ledger in (name for name in LEDGERS if name in held):  # small; whole, erasures included
        _copy(con, f"select * from raw.{ledger}", ledger_file(root, ledger))
    report.tables = len(loads)
    lines = [json.dumps({"table": table, "load_id": load_id, "rows": rows})
             for table, current in sorted(loads.items()) for load_id, rows in sorted(current.items())]
    _replace_text(root / RAW_CATALOGUE, "".join(line + "\n" for line in lines))
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if folder.name in LEDGERS:
            continue
        current = loads.get(folder.name, {})
        for child in sorted(folder.iterdir()):
            load_id = child.name.removeprefix("load_id=")
            if child.name.startswith("load_id=") and load_id in current:
                for leftover in child.glob(".*.tmp"):  # a write a crash interrupted
                    leftover.unlink()
                continue
            shutil.rmtree(child) if child.is_dir() else child.unlink()
            report.removed.append(child.name)
    report.seconds = round(time.time() - started, 3)
    if report.written or report.removed:
        log.info("raw Parquet layer %s: %d file(s) written, %d removed; %d files, %d rows, "
                 "%.1fs", root, len(report.written), len(report.removed), report.files,
                 report.rows, report.seconds)
    return report


def read_catalogue(root: Path) -> dict[str, dict[str, int]]:
    """Per table, the current load ids and rows of the last completed sync."""
    path = root / RAW_CATALOGUE
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: no raw Parquet layer has been written "
                                "(UPSTREAM_RAW_PARQUET, or UPSTREAM_ENGINE=spark; then "
                                "`upstream raw-parquet`)")
    tables: dict[str, dict[str, int]] = {}
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        tables.setdefault(entry["table"], {})[entry["load_id"]] = entry["rows"]
    return tables


def table_files(root: Path, table: str) -> list[str]:
    """The files a reader opens for one table: one per current load of the catalogue."""
    return [str(load_dir(root, table, i) / PART) for i in read_catalogue(root).get(table, {})]

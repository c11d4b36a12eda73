"""Every DuckDB connection comes from here.

DuckDB allows one read-write process per file, and an open reader blocks the writer. A lock
conflict is turned into an error that says which file and what to do about it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import duckdb

from upstream.settings import WRITER_POOL

log = logging.getLogger(__name__)


def sql_literal(value: str) -> str:
    """A value as an SQL string literal (for the few places a value cannot be a parameter:
    DDL, COPY options, comments)."""
    return "'" + str(value).replace("'", "''") + "'"


class WarehouseLocked(RuntimeError):
    """Another process holds the DuckDB file."""


def connect(path: Path, *, read_only: bool = False,
            limits: Mapping[str, str] | None = None) -> duckdb.DuckDBPyConnection:
    """Open ``path``; lock conflicts become :class:`WarehouseLocked` with an actionable message.
    ``limits`` (``Settings.duckdb_limits``): memory_limit and the temp_directory to spill to."""
    if read_only and not path.exists():
        raise FileNotFoundError(f"DuckDB file {path} does not exist")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    config = dict(limits or {})
    if "temp_directory" in config:
        Path(config["temp_directory"]).mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise WarehouseLocked(
                f"{path} is locked by another process ({exc}). Warehouse writers must run in the "
                f"'{WRITER_POOL}' pool (1 slot); find the holder with `fuser {path}` and stop it."
            ) from exc
        raise
    # day boundaries (intervals, as-of dates, `{day}` checks) are UTC whatever the host says
    con.execute("set TimeZone = 'UTC'")
    return con


@contextmanager
def connection(path: Path, *, read_only: bool = False,
               limits: Mapping[str, str] | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(path, read_only=read_only, limits=limits)
    try:
        yield con
    finally:
        con.close()

"""Micro-batches cut from a generated day, dropped the way a sender delivers them.

:func:`cut` slices one day's landing files (``orders`` and ``web``) into batches of whole orders
(with their lines, invoices and delivery notes), returns and web events; :func:`drop` writes one
batch as ``<landing>/<source>/intraday/<name>/`` and its ``_READY`` marker last. The day itself
must not be loaded by the daily path as well (its rows would arrive twice under two paths: the
staging models keep one copy of an order, but not of a web event).
"""

from __future__ import annotations

import csv
import gzip
import io
import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from upstream.triggers import READY

ORDER_FILES = ("orders", "order_lines", "invoices", "delivery_notes", "returns")


@dataclass
class MicroBatch:
    """One batch's rows: CSV rows (header first) per orders file, and web event lines."""

    orders: dict[str, list[list[str]]] = field(default_factory=dict)
    events: list[bytes] = field(default_factory=list)

    def rows(self) -> dict[str, int]:
        return {**{k: len(v) - 1 for k, v in self.orders.items()}, "events": len(self.events)}


def _read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="") as f:
        return list(csv.reader(f))


def _one(folder: Path, prefix: str) -> Path:
    """The day's file of that kind (the first by name when a sender re-sent a copy)."""
    return sorted(folder.glob(f"{prefix}_*"))[0]


def cut(landing: Path, day: date, n: int, *, orders: int = 50, returns: int = 10,
        events: int = 2000) -> list[MicroBatch]:
    """``n`` batches from ``day``'s files: each with ``orders`` orders (oldest first), their
    lines, invoices and delivery notes, ``returns`` returns and ``events`` web events, as far as
    the day has them."""
    folder = landing / "orders" / day.isoformat()
    files = {name: _read_csv(_one(folder, name)) for name in ORDER_FILES}
    order_rows = sorted(files["orders"][1:], key=lambda r: r[files["orders"][0].index(
        "ordered_at")])
    with gzip.open(_one(landing / "web" / day.isoformat(), "events"), "rb") as f:
        lines = [ln for ln in f.read().splitlines() if ln.strip()]
    batches = []
    for i in range(n):
        chosen = order_rows[i * orders:(i + 1) * orders]
        ids = {r[0] for r in chosen}
        batch = MicroBatch()
        for name, rows in files.items():
            header = rows[0]
            if name == "orders":
                body = chosen
            elif name == "returns":
                body = rows[1 + i * returns:1 + (i + 1) * returns]
            else:
                body = [r for r in rows[1:] if r[header.index("order_id")] in ids]
            batch.orders[name] = [header, *body]
        batch.events = lines[i * events:(i + 1) * events]
        batches.append(batch)
    return batches


def file_rows(folder: Path) -> int:
    """Rows a sender put into a batch folder (CSV lines after the header, NDJSON lines)."""
    total = 0
    for f in folder.iterdir():
        if f.name.endswith(".csv"):
            total += len(f.read_text().splitlines()) - 1
        elif f.name.endswith(".ndjson.gz"):
            total += len([ln for ln in gzip.decompress(f.read_bytes()).splitlines() if ln])
    return total


def batch_name(at: datetime, i: int) -> str:
    return f"{at.astimezone(UTC):%Y%m%dT%H%M%S.%f}Z-{i:04d}"


def _write_ready(folder: Path) -> None:
    """The marker, written last and flushed: a batch is complete once it exists."""
    with (folder / READY).open("w") as f:
        f.write(datetime.now(UTC).isoformat() + "\n")
        f.flush()
        os.fsync(f.fileno())


def drop(landing: Path, batch: MicroBatch, name: str) -> list[Path]:
    """Deliver ``batch`` as ``orders/intraday/<name>/`` and ``web/intraday/<name>/``, each with
    its files first and ``_READY`` last; returns the folders."""
    folders = []
    if any(len(rows) > 1 for rows in batch.orders.values()):
        folder = landing / "orders" / "intraday" / name
        folder.mkdir(parents=True)
        for file, rows in batch.orders.items():
            if len(rows) < 2:  # a batch delivers the files it has rows for
                continue
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerows(rows)
            (folder / f"{file}_{name}.csv").write_text(buf.getvalue())
        folders.append(folder)
    if batch.events:
        folder = landing / "web" / "intraday" / name
        folder.mkdir(parents=True)
        (folder / f"events_{name}.ndjson.gz").write_bytes(
            gzip.compress(b"\n".join(batch.events) + b"\n"))
        folders.append(folder)
    for folder in folders:
        _write_ready(folder)
    return folders

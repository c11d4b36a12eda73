"""Write-audit-publish of the designers' database.

1. :func:`build_candidate` copies the marts from the warehouse into a new DuckDB file under
   ``published/.candidates/`` (pseudonymising customer ids), with a ``publication`` table that
   says which version and run it is.
2. :mod:`upstream.gate` validates the candidate and writes ``<candidate>.gate.json``.
3. :func:`publish_candidate` refuses a candidate without a passing gate record for exactly its
   bytes, then renames it over ``published/design.duckdb`` (atomic on one filesystem) and
   writes ``manifest.json`` (also by rename) and a line in ``history.jsonl``.

A reader holding the old file open keeps reading the old inode; a new connection sees the new
version. A failed gate leaves the published file byte-identical.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from upstream.ingest import sha256_of
from upstream.privacy import PSEUDONYM_SQL, pseudonym_secret
from upstream.settings import Settings
from upstream.warehouse import connection

log = logging.getLogger(__name__)

# Published table -> select over the warehouse (attached as ``wh``). Only these leave it.
FEEDS: dict[str, str] = {
    "customer_needs": (
        f"select {PSEUDONYM_SQL.format(column='customer_id')} as customer_key, "
        "* exclude (customer_id) from wh.marts.customer_needs"
    ),
    "design_demand": "select * from wh.marts.design_demand",
}
FEED_PARAMS: dict[str, int] = {"customer_needs": 1}  # how many secret parameters a feed binds


class PublishRefused(RuntimeError):
    """The candidate has no passing gate record, or the record is for other bytes."""


@dataclass(frozen=True)
class Candidate:
    path: Path
    version: int
    run_id: str
    interval_start: date
    interval_end: date
    row_counts: dict[str, int]

    @property
    def gate_record(self) -> Path:
        return self.path.with_name(self.path.name + ".gate.json")

    def to_json(self) -> dict:
        return {"path": str(self.path), "version": self.version, "run_id": self.run_id,
                "interval_start": self.interval_start.isoformat(),
                "interval_end": self.interval_end.isoformat(), "row_counts": self.row_counts}

    @classmethod
    def from_json(cls, doc: dict) -> Candidate:
        return cls(Path(doc["path"]), int(doc["version"]), doc["run_id"],
                   date.fromisoformat(doc["interval_start"]),
                   date.fromisoformat(doc["interval_end"]), dict(doc["row_counts"]))


def current_manifest(settings: Settings) -> dict | None:
    path = settings.published_manifest
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise RuntimeError(f"published manifest {path} is corrupt: {exc}") from exc


def _safe_name(run_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run_id)


def build_candidate(settings: Settings, *, run_id: str, interval_start: date,
                    interval_end: date) -> Candidate:
    """Copy the published feeds from the warehouse into a fresh candidate file."""
    previous = current_manifest(settings)
    version = (previous["version"] if previous else 0) + 1
    folder = settings.published_dir / ".candidates"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"design-v{version}-{_safe_name(run_id)}.duckdb"
    for stale in (path, path.with_name(path.name + ".wal"),
                  path.with_name(path.name + ".gate.json")):
        stale.unlink(missing_ok=True)
    secret = pseudonym_secret(settings)
    counts: dict[str, int] = {}
    with connection(path) as con:
        con.execute(f"attach '{settings.warehouse_path}' as wh (read_only)")
        for table, select in FEEDS.items():
            con.execute(f"create table main.{table} as {select}",
                        [secret] * FEED_PARAMS.get(table, 0))
            counts[table] = con.execute(f"select count(*) from main.{table}").fetchone()[0]
        con.execute(
            "create table main.publication as select ?::integer as version, ?::varchar as run_id, "
            "?::date as interval_start, ?::date as interval_end, now() as built_at",
            [version, run_id, interval_start, interval_end],
        )
        con.execute("detach wh")
        con.execute("checkpoint")
    log.info("candidate v%d at %s: %s", version, path, counts)
    return Candidate(path, version, run_id, interval_start, interval_end, counts)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def discard_candidate(candidate: Candidate) -> None:
    for p in (candidate.path, candidate.path.with_name(candidate.path.name + ".wal")):
        p.unlink(missing_ok=True)


def publish_candidate(settings: Settings, candidate: Candidate) -> dict:
    """Atomically replace the published database with a gated candidate; return the manifest."""
    if not candidate.gate_record.exists():
        raise PublishRefused(f"{candidate.path} has no gate record: run the gate first")
    gate = json.loads(candidate.gate_record.read_text())
    checksum = sha256_of(candidate.path)
    if not gate.get("success") or gate.get("sha256") != checksum:
        raise PublishRefused(
            f"{candidate.path} is not publishable: gate success={gate.get('success')}, gate "
            f"checked sha256 {gate.get('sha256')}, file has {checksum}")
    manifest = {
        "version": candidate.version,
        "run_id": candidate.run_id,
        "data_interval": {"start": candidate.interval_start.isoformat(),
                          "end": candidate.interval_end.isoformat()},
        "published_at": datetime.now(UTC).isoformat(),
        "database": settings.published_db.name,
        "sha256": checksum,
        "row_counts": candidate.row_counts,
        "gate": {"success": True, "expectations": gate.get("evaluated"),
                 "report": str(candidate.gate_record.name)},
    }
    os.replace(candidate.path, settings.published_db)
    _write_atomic(settings.published_manifest, json.dumps(manifest, indent=2) + "\n")
    with (settings.published_dir / "history.jsonl").open("a") as fh:
        fh.write(json.dumps(manifest) + "\n")
    candidate.gate_record.rename(settings.published_dir / "gate.json")
    log.info("published v%d (%s) at %s", candidate.version, candidate.row_counts,
             settings.published_db)
    return manifest

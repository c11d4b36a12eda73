"""The version store of ``published/``: immutable versions, the atomic swap of ``current``,
history, repair after crashes, pruning and rollback (layout in :mod:`upstream.publish`)."""

from __future__ import annotations

import fcntl
import getpass
import json
import logging
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from upstream.common import sha256_of
from upstream.publish.feeds import feed_names, write_feed_parquet
from upstream.report import dbt_dictionary
from upstream.settings import Settings
from upstream.warehouse import connection

log = logging.getLogger(__name__)


class PublishRefused(RuntimeError):
    """The candidate has no passing gate record, or the record is for other bytes."""


class PublicationError(RuntimeError):
    """The published folder is inconsistent in a way that cannot be repaired automatically."""


# What a build hands to the gate and the store: the candidate file and what it covers.
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


_held = threading.local()


@contextmanager
def publication_lock(settings: Settings, *, what: str = "publication",
                     timeout: float = 900.0) -> Iterator[None]:
    """One writer of ``published/`` at a time, across processes: publish, repair, rollback,
    prune and erasure rewrites take an exclusive flock on ``published/.lock`` (released by the
    kernel if the holder dies). Re-entrant within a thread, so publish may prune under it."""
    if getattr(_held, "depth", 0):
        _held.depth += 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    settings.published_dir.mkdir(parents=True, exist_ok=True)
    path = settings.published_dir / ".lock"
    with path.open("a+") as fh:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    fh.seek(0)
                    raise PublicationError(
                        f"{path} is held by another publisher ({fh.read().strip() or 'unknown'}) "
                        f"for more than {timeout:.0f} s; {what} waited and gave up. Next: check "
                        "that process (`fuser` on the lock file), then retry.") from None
                time.sleep(0.2)
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}: {what} since {datetime.now(UTC).isoformat()}\n")
        fh.flush()
        _held.depth = 1
        try:
            yield
        finally:
            _held.depth = 0
            fcntl.flock(fh, fcntl.LOCK_UN)


def version_name(version: int) -> str:
    return f"v{version:06d}"


def _version_number(path: Path) -> int | None:
    name = path.name
    return int(name[1:]) if name.startswith("v") and name[1:].isdigit() else None


def history(settings: Settings) -> list[dict]:
    path = settings.published_dir / "history.jsonl"
    if not path.exists():
        return []
    events = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                log.error("history.jsonl line %d is corrupt and ignored: %r", n, line[:200])
    return events


def append_history(settings: Settings, event: dict) -> None:
    with (settings.published_dir / "history.jsonl").open("a") as fh:
        fh.write(json.dumps(event) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_manifest(folder: Path) -> dict:
    """A version's manifest, checked against the database it describes."""
    path = folder / "manifest.json"
    if not path.exists():
        raise PublicationError(f"{folder.name}: manifest.json is missing")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise PublicationError(f"{folder.name}: manifest.json is corrupt ({exc})") from exc
    db = folder / "design.duckdb"
    if not db.exists():
        raise PublicationError(f"{folder.name}: design.duckdb is missing")
    if manifest.get("checksums", {}).get("design.duckdb") != sha256_of(db):
        raise PublicationError(f"{folder.name}: design.duckdb does not match its manifest checksum")
    return manifest


def current_version(settings: Settings) -> int | None:
    link = settings.current_link
    if not link.is_symlink():
        return None
    return _version_number(Path(os.readlink(link)))


def current_manifest(settings: Settings) -> dict | None:
    version = current_version(settings)
    if version is None:
        return None
    return read_manifest(settings.versions_dir / version_name(version))


def next_version(settings: Settings) -> int:
    seen = [e.get("version", 0) for e in history(settings)]
    if settings.versions_dir.exists():
        seen += [_version_number(p) or 0 for p in settings.versions_dir.iterdir()]
    return max(seen, default=0) + 1


def _safe_name(run_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in run_id)


def _git_revision(project_dir: Path) -> str:
    try:
        out = subprocess.run(["git", "-C", str(project_dir), "rev-parse", "HEAD"],
                             capture_output=True, text=True, timeout=10, check=True)
        dirty = subprocess.run(["git", "-C", str(project_dir), "status", "--porcelain"],
                               capture_output=True, text=True, timeout=10, check=True)
        return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())


def _export_feeds(db: Path, feeds: Path, tables: list[str]) -> dict[str, str]:
    """Every feed as Parquet, its table and column descriptions in the file's key-value
    metadata (``description``, ``column:<name>``)."""
    feeds.mkdir()
    with connection(db, read_only=True) as con:
        for table in tables:
            write_feed_parquet(con, table, feeds / f"{table}.parquet")
    return {f"feeds/{p.name}": sha256_of(p) for p in sorted(feeds.glob("*.parquet"))}



def _swap_symlink(link: Path, target: str) -> None:
    tmp = link.with_name(f".{link.name}.tmp")
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, link)  # atomic: readers see the old target or the new one


def _point_current(settings: Settings, version: int) -> None:
    _swap_symlink(settings.current_link, f"versions/{version_name(version)}")
    for name in ("design.duckdb", "manifest.json"):
        link = settings.published_dir / name
        if not (link.is_symlink() and os.readlink(link) == f"current/{name}"):
            _swap_symlink(link, f"current/{name}")


def publish_candidate(settings: Settings, candidate: Candidate) -> dict:
    """Make a gated candidate the new current version; return its manifest.

    Idempotent: a retry of the same candidate (its task failed after a step, or the process
    died) finishes what is missing and returns the same version, or says precisely why it
    cannot. Runs under :func:`publication_lock`, so no repair or other publish interleaves.
    """
    with publication_lock(settings, what=f"publish of run {candidate.run_id}"):
        name = version_name(candidate.version)
        final = settings.versions_dir / name
        if final.exists():
            return _finish_published(settings, candidate, final)
        incoming = settings.versions_dir / f".incoming-{name}"
        db, record = candidate.path, candidate.gate_record
        if not db.exists() and (incoming / "design.duckdb").exists():
            # a retry after a crash half-way: the gated file already moved into the folder
            db, record = incoming / "design.duckdb", incoming / "gate.json"
        if not db.exists():
            raise PublishRefused(
                f"candidate {candidate.path.name} is gone: a failed gate discarded it, or "
                f"`publish repair` removed its half-published copy after a crash. Next: clear "
                "the run from build_candidate to build and gate a new candidate.")
        if not record.exists():
            raise PublishRefused(f"{candidate.path} has no gate record: run the gate first "
                                 "(clear the run from the gate task)")
        gate = json.loads(record.read_text())
        checksum = sha256_of(db)
        if not gate.get("success") or gate.get("sha256") != checksum:
            raise PublishRefused(
                f"{candidate.path} is not publishable: gate success={gate.get('success')}, gate "
                f"checked sha256 {gate.get('sha256')}, file has {checksum}")
        _write_version(settings, candidate, gate, db, record, incoming, checksum)
        os.replace(incoming, final)        # 1. the version exists, complete
        return _finish_published(settings, candidate, final)


def _write_version(settings: Settings, candidate: Candidate, gate: dict, db: Path, record: Path,
                   incoming: Path, checksum: str) -> None:
    """Fill ``incoming`` with the gated database, its gate record, Parquet feeds, Data Docs and
    the manifest; every step can be redone."""
    incoming.mkdir(parents=True, exist_ok=True)
    if db != incoming / "design.duckdb":
        os.replace(db, incoming / "design.duckdb")
        os.replace(record, incoming / "gate.json")
    for redo in ("feeds", "data_docs"):
        shutil.rmtree(incoming / redo, ignore_errors=True)
    docs = gate.get("data_docs")
    if docs and Path(docs).exists():  # the run's GX Data Docs travel with the version
        shutil.copytree(Path(docs).parent, incoming / "data_docs")
        gate["data_docs"] = "data_docs/index.html"
    checksums = {"design.duckdb": checksum, **_export_feeds(
        incoming / "design.duckdb", incoming / "feeds", feed_names(settings.dbt_project_dir))}
    shutil.rmtree(incoming / "dbt_docs", ignore_errors=True)
    static_docs = settings.dbt_manifest.with_name("static_index.html")
    if static_docs.exists():  # `dbt docs generate --static` of this build, one page
        (incoming / "dbt_docs").mkdir()
        shutil.copyfile(static_docs, incoming / "dbt_docs" / "index.html")
    manifest = {
        "version": candidate.version,
        "run_id": candidate.run_id,
        "data_interval": {"start": candidate.interval_start.isoformat(),
                          "end": candidate.interval_end.isoformat()},
        "published_at": datetime.now(UTC).isoformat(),
        "git_revision": _git_revision(settings.project_dir),
        "engine": settings.engine,  # what ran the dbt models (UPSTREAM_ENGINE)
        "row_counts": candidate.row_counts,
        "checksums": checksums,
        "gate": {"success": True, "expectations": gate.get("evaluated"),
                 "warnings": gate.get("warnings", []), "report": "gate.json",
                 "data_docs": gate.get("data_docs")},
        "report": "report/index.html",
    }
    with connection(incoming / "design.duckdb", read_only=True) as con:
        data_from, data_to, through, *as_of = con.execute(
            "select data_from, data_to, intraday_batches_through, orders_as_of, web_as_of, "
            "crm_as_of from publication").fetchone()
        batches = [r[0] for r in con.execute(
            "select batch from publication_batches order by seq").fetchall()]
    manifest["data_covered"] = {"from": data_from.isoformat(), "to": data_to.isoformat()}
    # freshness per source, and the micro-batches this version is the first to hold
    manifest["freshness"] = {source: at and at.isoformat()
                             for source, at in zip(("orders", "web", "crm"), as_of, strict=True)}
    manifest["intraday"] = {"batches": batches, "through_seq": through}
    _build_report(settings, incoming, manifest)
    (incoming / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    _fsync_tree(incoming)


def _build_report(settings: Settings, incoming: Path, manifest: dict) -> None:
    """The designers' report of this version (upstream.report), against the current one."""
    from upstream.report import build_report

    shutil.rmtree(incoming / "report", ignore_errors=True)
    previous = current_version(settings)
    previous_folder = settings.versions_dir / version_name(previous) if previous else None
    previous_manifest = None
    if previous_folder is not None and (previous_folder / "manifest.json").exists():
        previous_manifest = json.loads((previous_folder / "manifest.json").read_text())
    build_report(incoming / "design.duckdb", incoming / "report", manifest=manifest,
                 previous_db=previous_folder / "design.duckdb" if previous_folder else None,
                 previous_manifest=previous_manifest,
                 dictionary=dbt_dictionary(settings.dbt_manifest,
                                            feed_names(settings.dbt_project_dir)))


def _finish_published(settings: Settings, candidate: Candidate, final: Path) -> dict:
    """Steps 2 and 3 of a publish (repoint ``current``, record history), done once: a version
    already published by this run is returned as it is."""
    manifest = read_manifest(final)
    if manifest.get("run_id") != candidate.run_id:
        raise PublishRefused(f"version {final.name} already exists, published by run "
                             f"{manifest.get('run_id')}; build a new candidate")
    published = {e["version"] for e in history(settings) if e.get("event") == "publish"}
    if candidate.version not in published:
        previous = current_version(settings)
        _point_current(settings, candidate.version)   # 2. readers now get it
        append_history(settings, {"event": "publish", "version": candidate.version,
                                   "previous": previous, "run_id": candidate.run_id,
                                   "at": manifest["published_at"]})
        log.info("published %s (%s) at %s", final.name, candidate.row_counts,
                 settings.published_db)
    else:
        log.info("%s was already published by run %s: nothing to redo", final.name,
                 candidate.run_id)
    prune(settings)
    return manifest


def published_versions(settings: Settings) -> list[int]:
    """Versions a history line says were published and whose folder still exists."""
    published = {e["version"] for e in history(settings) if e.get("event") == "publish"}
    return sorted(v for v in published
                  if (settings.versions_dir / version_name(v)).is_dir())


def prune(settings: Settings) -> list[int]:
    """Keep the newest ``keep_versions`` versions (and always the current one)."""
    with publication_lock(settings, what="prune"):
        return _prune(settings)


def _prune(settings: Settings) -> list[int]:
    current = current_version(settings)
    versions = published_versions(settings)
    doomed = [v for v in versions[:-settings.keep_versions] if v != current]
    for v in doomed:
        shutil.rmtree(settings.versions_dir / version_name(v))
        log.info("pruned %s (keeping the newest %d)", version_name(v), settings.keep_versions)
    return doomed


def repair(settings: Settings) -> list[str]:
    """Detect and repair what a crash or a hand can leave behind; return what was done.

    * ``.incoming-*`` folders (a crash while writing a version) are removed;
    * version folders no history line published (a crash between rename and repoint) are removed;
    * a ``current`` pointing at a missing or corrupt version is repointed at the newest valid one.

    Runs under :func:`publication_lock`: it never removes a folder that a live publish writes.
    """
    with publication_lock(settings, what="repair"):
        return _repair(settings)


def _repair(settings: Settings) -> list[str]:
    actions: list[str] = []
    versions_dir = settings.versions_dir
    if not versions_dir.exists():
        return actions
    for path in versions_dir.glob(".incoming-*"):
        shutil.rmtree(path)
        actions.append(f"removed half-written {path.name}")
    published = {e["version"] for e in history(settings) if e.get("event") == "publish"}
    current = current_version(settings)
    if current is not None and current not in published:  # crash before the history line
        append_history(settings, {"event": "publish", "version": current, "recovered": True,
                                   "at": datetime.now(UTC).isoformat()})
        actions.append(f"recorded {version_name(current)} in history (it was current)")
    for path in versions_dir.iterdir():
        number = _version_number(path)
        if number is not None and number not in published and number != current:
            shutil.rmtree(path)
            actions.append(f"removed {path.name}: written but never made current")
    if settings.current_link.is_symlink() or settings.current_link.exists():
        try:
            if current is None:
                raise PublicationError("current does not point at a version folder")
            read_manifest(versions_dir / version_name(current))
        except PublicationError as exc:
            actions.append(_repoint_to_newest_valid(settings, reason=str(exc)))
    for action in actions:
        log.warning("publication repair: %s", action)
    return actions


def _valid_versions(settings: Settings) -> list[int]:
    valid = []
    for v in published_versions(settings):
        try:
            read_manifest(settings.versions_dir / version_name(v))
            valid.append(v)
        except PublicationError as exc:
            log.error("version %s is not usable: %s", version_name(v), exc)
    return valid


def _repoint_to_newest_valid(settings: Settings, *, reason: str) -> str:
    valid = _valid_versions(settings)
    if not valid:
        raise PublicationError(f"current is broken ({reason}) and no valid version is left to "
                               f"serve; re-run the daily DAG to publish a new one")
    target = valid[-1]
    _point_current(settings, target)
    append_history(settings, {"event": "repair", "version": target, "reason": reason,
                               "at": datetime.now(UTC).isoformat()})
    return f"current was broken ({reason}); repointed to {version_name(target)}"


def rollback(settings: Settings, *, to: int | None = None, reason: str,
             who: str | None = None) -> dict:
    """Repoint ``current`` to an earlier valid version (default: the one before current)."""
    if not reason.strip():
        raise ValueError("a rollback needs a reason (--reason)")
    with publication_lock(settings, what="rollback"):
        return _rollback(settings, to=to, reason=reason, who=who)


def _rollback(settings: Settings, *, to: int | None, reason: str, who: str | None) -> dict:
    current = current_version(settings)
    valid = _valid_versions(settings)
    if to is None:
        older = [v for v in valid if current is None or v < current]
        if not older:
            raise PublicationError(f"no valid version older than {current} to roll back to; "
                                   f"valid versions: {valid}")
        to = older[-1]
    elif to not in valid:
        raise PublicationError(f"cannot roll back to version {to}: not a valid published "
                               f"version (valid: {valid})")
    _point_current(settings, to)
    event = {"event": "rollback", "version": to, "previous": current,
             "by": who or getpass.getuser(), "reason": reason,
             "at": datetime.now(UTC).isoformat()}
    append_history(settings, event)
    log.warning("rolled back from %s to %s: %s", current, to, reason)
    return event


def list_versions(settings: Settings) -> list[dict]:
    current = current_version(settings)
    rows = []
    for v in published_versions(settings):
        folder = settings.versions_dir / version_name(v)
        try:
            m = read_manifest(folder)
            rows.append({"version": v, "current": v == current, "run_id": m["run_id"],
                         "interval": m["data_interval"], "published_at": m["published_at"],
                         "data_covered": m.get("data_covered"),
                         "row_counts": m["row_counts"], "valid": True})
        except PublicationError as exc:
            rows.append({"version": v, "current": v == current, "valid": False,
                         "problem": str(exc)})
    return rows

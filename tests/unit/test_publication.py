"""Versioned publication: versions, current, rollback, pruning, repair, parallel readers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from dataclasses import replace

import duckdb
import pytest

from upstream import publish as pub
from upstream.common import sha256_of
from upstream.gate import run_gate
from upstream.publish import feed_names, store

from ..conftest import AS_OF, DAYS, PROJECT_DIR

FEEDS = feed_names(PROJECT_DIR / "dbt_project")  # the published feeds (dbt exposure)


def _publish(settings, run_id):
    cand = pub.build_candidate(settings, run_id=run_id, interval_start=DAYS[-1],
                               interval_end=AS_OF)
    run_gate(settings, cand)
    return pub.publish_candidate(settings, cand)


def _served_version(settings) -> int:
    con = duckdb.connect(str(settings.published_db), read_only=True)
    try:
        return con.execute("select version from publication").fetchone()[0]
    finally:
        con.close()


def test_each_publish_is_a_new_immutable_version_with_feeds_and_checksums(warehouse):
    s = warehouse
    first = _publish(s, "run-1")
    second = _publish(s, "run-2")
    assert (first["version"], second["version"]) == (1, 2)
    assert os.readlink(s.current_link) == "versions/v000002"
    assert _served_version(s) == 2
    folder = s.versions_dir / "v000002"
    assert sorted(second["checksums"]) == ["design.duckdb"] + sorted(
        f"feeds/{table}.parquet" for table in FEEDS)
    for rel, digest in second["checksums"].items():
        assert sha256_of(folder / rel) == digest
    con = duckdb.connect()
    assert con.execute(f"select count(*) from '{folder}/feeds/customer_needs.parquet'"
                       ).fetchone()[0] == second["row_counts"]["customer_needs"]
    assert second["git_revision"] != ""
    assert second["gate"]["data_docs"] == "data_docs/index.html"
    docs = (folder / "data_docs" / "index.html").read_text()
    for suite in (*FEEDS, "publication", "design_demand__shift"):
        assert suite in docs, f"Data Docs do not name suite {suite}"
    assert json.loads(s.published_manifest.read_text())["version"] == 2


def test_rollback_repoints_current_records_why_and_publishing_continues(warehouse):
    s = warehouse
    _publish(s, "run-1")
    _publish(s, "run-2")
    event = pub.rollback(s, reason="v2 demand looks wrong", who="ana")
    assert (event["version"], event["previous"], event["by"]) == (1, 2, "ana")
    assert _served_version(s) == 1
    assert pub.history(s)[-1]["reason"] == "v2 demand looks wrong"
    third = _publish(s, "run-3")
    assert third["version"] == 3 and _served_version(s) == 3
    pub.rollback(s, to=2, reason="back to 2")
    assert _served_version(s) == 2
    with pytest.raises(pub.PublicationError, match="cannot roll back to version 9"):
        pub.rollback(s, to=9, reason="no such version")
    with pytest.raises(ValueError, match="needs a reason"):
        pub.rollback(s, reason=" ")


def test_only_the_newest_versions_are_kept(warehouse):
    s = replace(warehouse, keep_versions=2)
    for i in range(3):
        _publish(s, f"run-{i}")
    assert sorted(p.name for p in s.versions_dir.iterdir()) == ["v000002", "v000003"]


def test_crash_between_writing_version_and_repointing_keeps_old_current(warehouse, monkeypatch):
    s = warehouse
    _publish(s, "run-1")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(store, "_point_current", crash)
    with pytest.raises(KeyboardInterrupt):
        _publish(s, "run-2")
    monkeypatch.undo()
    assert _served_version(s) == 1 and (s.versions_dir / "v000002").exists()
    (s.versions_dir / ".incoming-v000007").mkdir()  # and a half-written folder from a crash
    actions = pub.repair(s)
    assert "removed half-written .incoming-v000007" in actions
    assert "removed v000002: written but never made current" in actions
    assert _publish(s, "run-3")["version"] == 2
    assert _served_version(s) == 2


def test_broken_current_is_repointed_to_newest_valid_version(warehouse):
    s = warehouse
    _publish(s, "run-1")
    _publish(s, "run-2")
    (s.versions_dir / "v000002" / "manifest.json").write_text("{not json")
    actions = pub.repair(s)
    assert any("manifest.json is corrupt" in a and "repointed to v000001" in a for a in actions)
    assert _served_version(s) == 1
    os.remove(s.versions_dir / "v000001" / "manifest.json")
    with pytest.raises(pub.PublicationError, match="no valid version is left"):
        pub.repair(s)


def test_current_pointing_at_a_deleted_version_is_repaired(warehouse):
    s = warehouse
    _publish(s, "run-1")
    _publish(s, "run-2")
    shutil.rmtree(s.versions_dir / "v000002")
    assert any("repointed to v000001" in a for a in pub.repair(s))
    assert _served_version(s) == 1


READER = textwrap.dedent("""
    import duckdb, json, pathlib, sys, time
    db, versions, stop = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
    FEEDS = json.loads(sys.argv[4])
    seen, reads = set(), 0
    while not stop.exists():
        con = duckdb.connect(db, read_only=True)
        try:
            tables = {r[0] for r in con.execute("show tables").fetchall()}
            assert tables == {*FEEDS, "publication", "publication_batches"}, tables
            version = con.execute("select version from publication").fetchone()[0]
            rows = con.execute("select count(*) from customer_needs").fetchone()[0]
            manifest = json.loads((versions / f"v{version:06d}" / "manifest.json").read_text())
            assert rows == manifest["row_counts"]["customer_needs"], (version, rows)
        finally:
            con.close()
        seen.add(version)
        reads += 1
    print(json.dumps({"reads": reads, "versions": sorted(seen)}))
""")


def test_parallel_readers_never_see_errors_or_mixed_versions(warehouse, tmp_path):
    s = warehouse
    _publish(s, "run-0")
    stop = tmp_path / "stop"
    readers = [subprocess.Popen([sys.executable, "-c", READER, str(s.published_db),
                                 str(s.versions_dir), str(stop), json.dumps(FEEDS)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(3)]
    try:
        for i in range(1, 4):
            _publish(s, f"run-{i}")
            time.sleep(0.3)
        pub.rollback(s, reason="test rollback under load")
        time.sleep(0.3)
    finally:
        stop.touch()
    results = []
    for r in readers:
        out, err = r.communicate(timeout=60)
        assert r.returncode == 0, err
        results.append(json.loads(out))
    assert all(res["reads"] > 5 for res in results)
    assert set().union(*(res["versions"] for res in results)) >= {1, 4}

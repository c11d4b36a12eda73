"""Publishing under faults: a retried publish finishes what its first try left, and repair never
removes what a live publish is writing."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import pytest

from upstream import publish as pub
from upstream.gate import run_gate
from upstream.publish import store

from ..conftest import AS_OF, DAYS


def _gated(settings, run_id):
    cand = pub.build_candidate(settings, run_id=run_id, interval_start=DAYS[-1], interval_end=AS_OF)
    run_gate(settings, cand)
    return cand


def _publishes(settings):
    return [e for e in pub.history(settings) if e["event"] == "publish"]


@pytest.mark.parametrize("step", ["_export_feeds", "_fsync_tree", "_point_current"])
def test_a_retried_publish_finishes_what_the_first_try_left(warehouse, monkeypatch, step):
    settings = warehouse
    cand = _gated(settings, "run-1")
    real = getattr(store, step)

    def crash(*args, **kwargs):
        raise OSError(f"simulated crash in {step}")

    monkeypatch.setattr(store, step, crash)
    with pytest.raises(OSError, match="simulated crash"):
        pub.publish_candidate(settings, cand)
    monkeypatch.setattr(store, step, real)

    manifest = pub.publish_candidate(settings, cand)  # the retry, same candidate
    assert manifest["version"] == cand.version and manifest["run_id"] == "run-1"
    assert pub.current_version(settings) == cand.version
    pub.read_manifest(settings.versions_dir / pub.version_name(cand.version))  # checksums hold
    assert [e["version"] for e in _publishes(settings)] == [cand.version]
    assert not list(settings.versions_dir.glob(".incoming-*"))
    again = pub.publish_candidate(settings, cand)  # and once more: nothing to redo
    assert again == manifest and len(_publishes(settings)) == 1


def test_a_retry_after_repair_removed_the_half_publication_says_what_to_do(warehouse,
                                                                            monkeypatch):
    settings = warehouse
    cand = _gated(settings, "run-1")
    monkeypatch.setattr(store, "_export_feeds", lambda *a, **k: (_ for _ in ()).throw(OSError()))
    with pytest.raises(OSError):
        pub.publish_candidate(settings, cand)
    monkeypatch.undo()
    assert pub.repair(settings) == [f"removed half-written .incoming-{pub.version_name(1)}"]
    with pytest.raises(pub.PublishRefused, match="clear the run from build_candidate"):
        pub.publish_candidate(settings, cand)


SLOW_PUBLISH = textwrap.dedent("""
    import json, sys, time
    from upstream import publish as pub
    from upstream.publish import store
    from upstream.settings import get_settings
    real = store._export_feeds
    def slow(*args, **kwargs):
        print("exporting", flush=True)
        time.sleep(4)
        return real(*args, **kwargs)
    store._export_feeds = slow
    manifest = pub.publish_candidate(get_settings(), pub.Candidate.from_json(json.loads(sys.argv[1])))
    print("published", manifest["version"], flush=True)
""")


def test_repair_waits_for_a_live_publish_in_another_process(warehouse):
    settings = warehouse
    cand = _gated(settings, "run-1")
    child = subprocess.Popen([sys.executable, "-c", SLOW_PUBLISH, json.dumps(cand.to_json())],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "exporting"  # it holds the lock, mid-publish
    assert list(settings.versions_dir.glob(".incoming-*"))
    started = time.monotonic()
    actions = pub.repair(settings)  # what `publish repair` or a build_candidate runs
    waited = time.monotonic() - started
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 0 and out.strip() == f"published {cand.version}"
    assert actions == [] and waited > 1.0, (actions, waited)
    assert pub.current_version(settings) == cand.version
    pub.read_manifest(settings.versions_dir / pub.version_name(cand.version))


def test_the_lock_gives_up_with_a_message_naming_the_holder(warehouse):
    settings = warehouse
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import time
        from upstream import publish as pub
        from upstream.settings import get_settings
        with pub.publication_lock(get_settings(), what="a long rollback"):
            print("held", flush=True)
            time.sleep(5)
    """)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(pub.PublicationError, match=r"held by another publisher \(pid \d+: a long "
                                                   r"rollback since .*\) for more than 1 s"):
        with pub.publication_lock(settings, what="repair", timeout=1):
            pass
    holder.communicate(timeout=30)

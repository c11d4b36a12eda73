"""Intraday micro-batches: the trigger claims ready batches once, runs load each batch once,
refuse what cannot be a batch with a reason, and coalesce what piles up (no dbt here)."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from upstream.generate import Messiness, generate
from upstream.generate.batches import batch_name, cut, drop
from upstream.triggers import QUEUED, READY, ReadyBatchTrigger, claim_ready

DAY = date(2026, 11, 2)


def _folder(landing: Path, source: str, name: str, ready: bool = True) -> Path:
    folder = landing / source / "intraday" / name
    folder.mkdir(parents=True)
    if ready:
        (folder / READY).write_text("")
    return folder


def test_claim_ready_renames_each_marker_once_oldest_first(tmp_path):
    _folder(tmp_path, "web", "20261102T100500Z")
    _folder(tmp_path, "orders", "20261102T100000Z-a")
    _folder(tmp_path, "orders", "20261102T101000Z", ready=False)  # still being written
    os.utime(tmp_path / "web" / "intraday" / "20261102T100500Z" / READY, (1e9, 1e9))
    claimed = claim_ready(tmp_path, ["orders", "web"])
    assert [c["batch"] for c in claimed] == ["orders/intraday/20261102T100000Z-a",
                                             "web/intraday/20261102T100500Z"]
    assert claimed[1]["marker_at"].startswith("2001-09-09")  # the sender's time is kept
    assert (tmp_path / "web" / "intraday" / "20261102T100500Z" / QUEUED).exists()
    assert claim_ready(tmp_path, ["orders", "web"]) == []


def test_the_trigger_waits_then_fires_once_with_what_it_claimed(tmp_path):
    trigger = ReadyBatchTrigger(landing_dir=str(tmp_path), sources=["orders"],
                                poke_interval=0.05)
    classpath, kwargs = trigger.serialize()
    assert classpath == "upstream.triggers.ReadyBatchTrigger"
    assert ReadyBatchTrigger(**kwargs).serialize() == (classpath, kwargs)

    async def first_event():
        return await anext(trigger.run())

    async def scenario():
        task = asyncio.create_task(first_event())
        await asyncio.sleep(0.3)
        assert not task.done(), "no batch yet: the trigger keeps waiting"
        _folder(tmp_path, "orders", "20261102T100000Z")
        return await asyncio.wait_for(task, 5)

    event = asyncio.run(scenario())
    assert [b["batch"] for b in event.payload["batches"]] == ["orders/intraday/20261102T100000Z"]
    json.dumps(event.payload)  # an asset event's extra is JSON


@pytest.fixture
def day_cut(settings):
    """A generated day cut into three micro-batches; the day itself is not delivered."""
    generate(settings.landing_dir, seed=3, sf=0.002, days=1, start=DAY, mess=Messiness.clean())
    batches = cut(settings.landing_dir, DAY, 3, orders=4, returns=0, events=40)
    for source in ("catalogue", "crm", "orders", "web"):
        for f in (settings.landing_dir / source / DAY.isoformat()).iterdir():
            f.unlink()
        (settings.landing_dir / source / DAY.isoformat()).rmdir()
    return batches


def _ledger(settings) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute("select batch, status, rows_read, rows_loaded, rows_quarantined, "
                           "reason from raw._intraday_batches order by seq").fetchall()


def test_batches_load_once_bad_ones_are_refused_and_a_run_takes_at_most_its_limit(settings,
                                                                                 day_cut):
    from upstream.intraday import ingest_batches

    landing = settings.landing_dir
    at = datetime(2026, 11, 2, 10, tzinfo=UTC)
    folders = [f for i, b in enumerate(day_cut) for f in drop(landing, b, batch_name(at, i))]
    bad_name = _folder(landing, "orders", "today")
    (bad_name / "orders_today.csv").write_text("order_id\n")
    broken = _folder(landing, "web", "20261102T110000Z-broken")
    (broken / "events_broken.ndjson.gz").write_bytes(b"not gzip at all")
    limited = replace(settings, intraday_max_batches=4)

    first = ingest_batches(limited, "run-1")
    assert len(first["batches"]) == 4 and first["waiting"] == 4  # 6 folders + 2 bad ones
    second = ingest_batches(limited, "run-2")
    assert first["batches"] + second["batches"] == sorted(
        (f.relative_to(landing).as_posix() for f in folders),
        key=lambda k: (k.rsplit("/", 1)[1], k))
    assert sorted(second["refused"]) == ["orders/intraday/today",
                                         "web/intraday/20261102T110000Z-broken"]
    assert ingest_batches(limited, "run-3") == {"batches": [], "refused": {}, "waiting": 0,
                                                "newest_day": None}
    ledger = _ledger(settings)
    reasons = {b: r for b, s, *_, r in ledger if s == "refused"}
    assert "YYYYMMDDTHHMMSSZ" in reasons["orders/intraday/today"]
    assert "cannot be parsed" in reasons["web/intraday/20261102T110000Z-broken"]
    for batch, status, read, loaded, quarantined, _ in ledger:
        if status == "loaded":
            sent = sum(len(gzip.decompress(f.read_bytes()).splitlines()) if f.suffix == ".gz"
                       else len(f.read_text().splitlines()) - 1
                       for f in (landing / batch).iterdir() if f.name not in (READY, QUEUED))
            assert read == sent == loaded + quarantined, batch
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        events = con.execute("select count(*), count(distinct event_id) from raw.web_events"
                             ).fetchone()
    assert events == (sum(len(b.events) for b in day_cut),) * 2

    # the sender fixes the broken batch and writes _READY again: now it loads, once
    (broken / "events_broken.ndjson.gz").write_bytes(gzip.compress(day_cut[0].events[0] + b"\n"))
    (broken / QUEUED).unlink()
    (broken / READY).write_text("")
    os.utime(broken / READY, (datetime.now(UTC).timestamp() + 5,) * 2)
    fixed = ingest_batches(settings, "run-4")
    assert fixed["batches"] == ["web/intraday/20261102T110000Z-broken"]
    assert [s for b, s, *_ in _ledger(settings) if b.endswith("-broken")] == ["refused",
                                                                              "loaded"]


def test_a_batch_from_a_clock_in_the_future_is_refused(settings):
    from upstream.intraday import Batch

    now = datetime(2026, 11, 2, 12, tzinfo=UTC)

    def batch(name: str) -> Batch:
        return Batch("orders", name, settings.landing_dir / name, now)

    assert batch("20261102T115900Z").problem(settings, now) is None
    assert "a day ahead" in batch("20261105T000000Z").problem(settings, now)
    assert "history start" in batch("19991231T000000Z").problem(settings, now)
    assert batch("20261399T000000Z").day is None
    assert Batch.found("orders", settings.landing_dir / "nothing") is None

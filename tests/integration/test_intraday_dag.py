"""The intraday DAG through real Airflow (`airflow dags test`): micro-batches of a generated day
are loaded exactly once, published in a new version that lists them, interleave with the daily
DAG without loss or doubles, and the incremental result equals a full refresh, table by table.

The triggerer's part (the asset event that schedules the DAG) runs in
tests/system/test_services.py; here the run claims the ready batches itself, as it does for
batches that arrive while the triggerer is down.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from tests.integration.project import AIRFLOW, ROOT, airflow_project
from upstream.generate import Messiness, generate
from upstream.generate.batches import batch_name, cut, drop, file_rows

pytestmark = pytest.mark.integration

DAY4 = date(2026, 11, 4)  # cut into micro-batches, never delivered as a day


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("intraday")
    env = airflow_project(root, UPSTREAM_PSEUDONYM_SECRET="intraday-secret",
                          UPSTREAM_MIN_GROUP_SIZE="2", UPSTREAM_INTRADAY_MAX_BATCHES="4")
    landing = root / "data" / "landing"
    generate(landing, seed=31, sf=0.003, days=4, mess=Messiness.clean())
    batches = cut(landing, DAY4, 4, orders=8, returns=2, events=150)
    for source in ("catalogue", "crm", "orders", "web"):  # day 4 only arrives in batches
        shutil.rmtree(landing / source / DAY4.isoformat())
    return env, root, batches


def _run(env, dag_id: str, *args: str) -> subprocess.CompletedProcess:
    run = subprocess.run([AIRFLOW, "dags", "test", dag_id, *args], env=env, capture_output=True,
                         text=True, cwd=ROOT, timeout=900)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    return run


def _manifest(root: Path) -> dict:
    return json.loads((root / "published" / "manifest.json").read_text())


def _ledger(root: Path) -> list[tuple]:
    with duckdb.connect(str(root / "data" / "warehouse" / "upstream.duckdb"),
                        read_only=True) as con:
        return con.execute("select batch, status, claimed_by, files, rows_read, rows_loaded, "
                           "rows_quarantined from raw._intraday_batches order by seq").fetchall()


def _at(i: int) -> datetime:
    return datetime(2026, 11, 4, 9, 0, i, tzinfo=UTC)


def test_micro_batches_publish_once_and_equal_a_full_refresh(env):
    env, root, batches = env
    landing = root / "data" / "landing"
    _run(env, "upstream_daily", "2026-11-04", "-c", json.dumps({"mode": "full_refresh"}))
    daily = _manifest(root)
    assert daily["intraday"] == {"batches": [], "through_seq": 0}

    # two batches (four folders: orders and web each), then a folder that is no batch (no
    # time in its name); a run takes four batches at most (UPSTREAM_INTRADAY_MAX_BATCHES),
    # oldest name first: the bad one waits for the next run
    names = [batch_name(_at(i), i) for i in range(4)]
    folders = [f for i in (0, 1) for f in drop(landing, batches[i], names[i])]
    bad = landing / "orders" / "intraday" / "latest"
    bad.mkdir()
    (bad / "orders_latest.csv").write_text("order_id\n")
    (bad / "_READY").write_text("")
    _run(env, "upstream_intraday")
    manifest = _manifest(root)
    assert manifest["version"] == daily["version"] + 1
    keys = sorted(f.relative_to(landing).as_posix() for f in folders)
    assert sorted(manifest["intraday"]["batches"]) == keys
    assert manifest["freshness"]["orders"].startswith("2026-11-04")
    ledger = _ledger(root)
    assert [(b, s) for b, s, *_ in ledger] == [
        (k, "loaded") for k in sorted(keys, key=lambda k: (k.rsplit("/", 1)[1], k))], ledger
    # the run claimed the markers itself (no triggerer here): _READY became _QUEUED
    assert all((f / "_QUEUED").exists() and not (f / "_READY").exists() for f in folders)

    # exact counts: every row of every batch file is loaded or quarantined, once
    for batch, status, claimed_by, files, read, loaded, quarantined in ledger:
        assert status == "loaded" and claimed_by == "run"
        assert files == len([f for f in (landing / batch).iterdir() if f.name != "_QUEUED"])
        assert read == file_rows(landing / batch) == loaded + quarantined, batch
    with duckdb.connect(str(root / "data" / "warehouse" / "upstream.duckdb"),
                        read_only=True) as con:
        raw_orders = con.execute("select count(*) from raw.erp_orders where _source_file like "
                                 "'orders/intraday/%'").fetchone()[0]
        raw_events = con.execute("select count(*) from raw.web_events where _source_file like "
                                 "'web/intraday/%'").fetchone()[0]
    assert raw_orders == sum(len(batches[i].orders["orders"]) - 1 for i in (0, 1))
    assert raw_events == sum(len(batches[i].events) for i in (0, 1))
    with duckdb.connect(str(root / "published" / "design.duckdb"), read_only=True) as con:
        assert sorted(r[0] for r in con.execute("select batch from publication_batches")
                      .fetchall()) == keys

    # interleaving: batch 2 arrives, and the daily DAG runs first: it takes the batch (same
    # pool, same ledger); the intraday run after it finds nothing and publishes nothing
    folders2 = drop(landing, batches[2], names[2])
    run = _run(env, "upstream_daily", "2026-11-04", "-c",
               json.dumps({"mode": "range", "range_start": "2026-11-01",
                           "range_end": "2026-11-03"}))
    by_daily = _manifest(root)
    # the folder without a time was refused, with a reason that says how to name it
    refused = [(b, s) for b, s, *_ in _ledger(root) if s == "refused"]
    assert refused == [("orders/intraday/latest", "refused")]
    assert "YYYYMMDDTHHMMSSZ" in run.stdout + run.stderr
    assert '"event": "upstream.batch_refused"' in run.stdout + run.stderr  # alerted
    assert sorted(by_daily["intraday"]["batches"]) == sorted(
        f.relative_to(landing).as_posix() for f in folders2)
    # the daily run did not go back behind the intraday data (as of day 5, not day 4)
    assert by_daily["data_interval"]["end"] == "2026-11-05"
    _run(env, "upstream_intraday")
    assert _manifest(root)["version"] == by_daily["version"], "nothing new: no new version"

    # batch 3 by the intraday DAG again, then its marker written again (a sender's retry):
    # the batch is loaded already, the run finds nothing new
    folders3 = drop(landing, batches[3], names[3])
    _run(env, "upstream_intraday")
    version = _manifest(root)["version"]
    (folders3[0] / "_READY").write_text("again\n")
    _run(env, "upstream_intraday")
    assert _manifest(root)["version"] == version
    ledger = _ledger(root)
    loaded = [b for b, s, *_ in ledger if s == "loaded"]
    assert len(loaded) == len(set(loaded)) == len(folders) + len(folders2) + len(folders3)
    with duckdb.connect(str(root / "data" / "warehouse" / "upstream.duckdb"),
                        read_only=True) as con:
        doubled = con.execute("select count(*) from (select path from raw._load_manifest "
                              "where status = 'loaded' group by path having count(*) > 1)"
                              ).fetchone()[0]
        raw_events = con.execute("select count(*), count(distinct event_id) from raw.web_events "
                                 "where _source_file like 'web/intraday/%'").fetchone()
    assert doubled == 0
    assert raw_events == (sum(len(b.events) for b in batches),) * 2

    # incremental (daily + three intraday builds) equals a full refresh over the same data
    incremental = _snapshot(root)
    _run(env, "upstream_daily", "2026-11-04", "-c", json.dumps({"mode": "full_refresh"}))
    assert _manifest(root)["data_interval"]["end"] == "2026-11-05"
    full = _snapshot(root)
    empty = [m for m in incremental if not incremental[m]]
    assert incremental == full, [m for m in full if incremental[m] != full[m]]
    # at this size the fit marts hold no group of k returns; the other six have rows
    assert set(empty) <= {"marts.design_fit_by_size", "marts.design_fit_issues"}, empty


def _snapshot(root: Path) -> dict[str, list]:
    with duckdb.connect(str(root / "data" / "warehouse" / "upstream.duckdb"),
                        read_only=True) as con:
        marts = [r[0] for r in con.execute("select table_name from information_schema.tables "
                                           "where table_schema = 'marts' order by 1").fetchall()]
        queries = {
            "attributed": "select * exclude (_loaded_at) "
                          "from intermediate.int_web__events_attributed order by event_id",
            "cells": "select * from intermediate.int_demand__weekly_cells order by all",
            # the running sums' shares (their masses agree to 1e-12 relative)
            "signals": "select person_id, attribute, value, round(weight / sum(weight) over "
                       "(partition by person_id, attribute), 10) "
                       "from intermediate.int_customer_signals order by all",
            **{f"marts.{m}": f"select * from marts.{m} order by all" for m in marts}}
        return {name: con.execute(q).fetchall() for name, q in queries.items()}

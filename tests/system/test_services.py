"""The real deployment, natively: PostgreSQL + api-server, scheduler, dag-processor, triggerer on
127.0.0.1, driven through the REST API v2 like an operator would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from upstream.generate import Messiness, generate
from upstream.services import AirflowApi, services_env

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "scripts" / "services.sh"
# The full refresh loads three days that end three days ago and its run covers the last of
# them; the later tests deliver yesterday. Relative to today, so `design_demand`'s window
# (UPSTREAM_DEMAND_WINDOW_DAYS) always holds both: fixed dates fell out of it with the calendar
# and the max-shrink gate then, rightly, refused the later publications.
FIRST_DAY = datetime.now(UTC).date() - timedelta(days=5)
LOGICAL_DATE = f"{FIRST_DAY + timedelta(days=3)}T00:00:00Z"


class Api(AirflowApi):
    """The REST API client, with the waits these tests need."""

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> None:
        self.wait_for(f"/api/v2/dags/{dag_id}", timeout)

    def _wait(self, path: str, timeout: float, after: str | None = None) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.get(path)
            done = run["state"] in ("success", "failed")
            if done and (after is None or (run["end_date"] or "") > after):
                return run
            time.sleep(2)
        raise TimeoutError(f"{path} still {run['state']}")

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300) -> dict:
        return self._wait(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}", timeout)

    def run_until_done(self, dag_id: str, body: dict, timeout: float = 600) -> dict:
        run = self.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)
        return self._wait(f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}", timeout)

    def rerun_until_done(self, dag_id: str, run: dict, timeout: float = 600) -> dict:
        """Re-run a day the Airflow way: clear its run (same run id, same logical date)."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}"
        self.call("POST", path + "/clear", {"dry_run": False})
        return self._wait(path, timeout, after=run["end_date"])

    def task_seconds(self, dag_id: str, run_id: str) -> float:
        tis = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
        return sum(t["duration"] or 0 for t in tis)


@pytest.fixture(scope="module")
def services():
    # not under pytest's tmp folder (mode 0700): PostgreSQL runs as its own user
    root = Path(tempfile.mkdtemp(prefix="upstream-system-"))
    root.chmod(0o755)
    env = services_env(root / "state", {
        **os.environ, "UPSTREAM_DATA_DIR": str(root / "data"),
        "UPSTREAM_PUBLISHED_DIR": str(root / "pub"), "UPSTREAM_PSEUDONYM_SECRET": "system-test",
        "UPSTREAM_MIN_GROUP_SIZE": "2"})
    generate(root / "data" / "landing", seed=5, sf=0.005, days=3, start=FIRST_DAY,
             mess=Messiness())
    started = time.monotonic()
    up = subprocess.run(["bash", str(SERVICES), "up"], env=env, capture_output=True, text=True,
                        timeout=300)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        print(f"services up in {time.monotonic() - started:.1f} s")
        yield Api.for_services(env), root
    finally:
        started_pids = _service_pids(root / "state")
        down = subprocess.run(["bash", str(SERVICES), "down"], env=env, capture_output=True,
                              text=True, timeout=180)
        assert down.returncode == 0, down.stderr
        left = list((root / "state" / "pids").glob("*.pid"))
        alive = [p for p in started_pids if _alive(p)]
        shutil.rmtree(root, ignore_errors=True)
        assert not left, f"pid files left behind: {left}"
        assert not alive, f"services-down returned with processes still running: {alive}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").exists() and ") Z " not in Path(
        f"/proc/{pid}/stat").read_text()


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True).stdout
    found = [int(p) for p in out.split()]
    return found + [g for c in found for g in _children(c)]


def _service_pids(state: Path) -> set[int]:
    """Every process the services started: the components, everything below them, PostgreSQL."""
    pids = set()
    for f in (state / "pids").glob("*.pid"):
        pid = int(f.read_text())
        pids |= {pid, *_children(pid)}
    postmaster = state / "pg" / "postmaster.pid"
    if postmaster.exists():
        pg = int(postmaster.read_text().split()[0])
        pids |= {pg, *_children(pg)}
    return pids


def _feeds(pub: Path, version: int) -> dict[str, str]:
    manifest = json.loads((pub / "versions" / f"v{version:06d}" / "manifest.json").read_text())
    return {k: v for k, v in manifest["checksums"].items() if k.startswith("feeds/")}


def test_trigger_through_rest_api_publishes_and_a_rerun_changes_nothing(services):
    api, root = services
    pub = root / "pub"
    api.wait_for_dag("upstream_daily")
    api.call("PATCH", "/api/v2/dags/upstream_daily", {"is_paused": False})
    body = {"logical_date": LOGICAL_DATE, "conf": {"mode": "full_refresh"}}

    first = api.run_until_done("upstream_daily", body)
    assert first["state"] == "success", first
    manifest = json.loads((pub / "manifest.json").read_text())
    assert manifest["run_id"] == first["dag_run_id"] and manifest["version"] >= 1
    wall = (datetime.fromisoformat(first["end_date"]) -
            datetime.fromisoformat(first["start_date"])).total_seconds()
    overhead = wall - api.task_seconds("upstream_daily", first["dag_run_id"])
    print(f"run wall {wall:.1f} s, scheduler overhead {overhead:.1f} s")

    wh = root / "data" / "warehouse" / "upstream.duckdb"
    count = "select count(*), sum(rows_loaded) from raw._load_manifest where status = 'loaded'"
    with duckdb.connect(str(wh), read_only=True) as con:
        loads_before = con.execute(count).fetchone()
    second = api.rerun_until_done("upstream_daily", first)
    assert second["state"] == "success", second
    again = json.loads((pub / "manifest.json").read_text())
    assert again["version"] == manifest["version"] + 1
    assert again["row_counts"] == manifest["row_counts"]
    assert _feeds(pub, again["version"]) == _feeds(pub, manifest["version"]), \
        "the same day again must publish byte-identical feeds"
    with duckdb.connect(str(wh), read_only=True) as con:
        assert con.execute(count).fetchone() == loads_before, "no file was loaded twice"


def test_invalid_params_are_refused_at_trigger_time(services):
    api, _ = services
    with pytest.raises(urllib.error.HTTPError) as err:
        api.call("POST", "/api/v2/dags/upstream_daily/dagRuns",
                  {"logical_date": None, "conf": {"mode": "weekly"}})
    assert err.value.code == 400
    assert "weekly" in err.value.read().decode()


def test_ingest_dags_emit_assets_that_trigger_the_publish_dag(services):
    api, root = services
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    generate(root / "data" / "landing", seed=5, sf=0.005, days=1, start=yesterday,
             mess=Messiness.clean())
    dags = [f"upstream_ingest_{s}" for s in ("catalogue", "crm", "web", "orders")]
    for dag_id in [*dags, "upstream_publish"]:
        api.wait_for_dag(dag_id)
        api.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
    # unpausing schedules each ingest DAG's latest interval: yesterday
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        runs = api.get("/api/v2/dags/upstream_publish/dagRuns")["dag_runs"]
        triggered = [r for r in runs if r["run_type"] == "asset_triggered"]
        if triggered and triggered[-1]["state"] in ("success", "failed"):
            break
        time.sleep(3)
    else:
        raise TimeoutError(f"no asset-triggered publish finished: {runs}")
    assert triggered[-1]["state"] == "success", triggered[-1]
    history = [json.loads(ln) for ln in (root / "pub" / "history.jsonl").read_text().splitlines()]
    published = [e for e in history if e["event"] == "publish"]
    assert any(e["run_id"] == triggered[-1]["dag_run_id"] for e in published)
    for dag_id in dags:
        (run,) = [r for r in api.get(f"/api/v2/dags/{dag_id}/dagRuns")["dag_runs"]
                  if r["run_type"] == "scheduled"]
        assert run["state"] == "success" and run["data_interval_start"].startswith(
            yesterday.isoformat())


def test_every_listener_is_on_loopback_and_postgres_wants_its_password(services):
    import psycopg2

    api, root = services
    state = root / "state"
    pids = _service_pids(state)
    listening = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True,
                               check=True).stdout.splitlines()
    ours = [line.split() for line in listening
            if any(f"pid={p}," in line for p in pids)]
    assert ours, listening
    assert all(fields[3].startswith(("127.0.0.1:", "[::ffff:127.0.0.1]:")) for fields in ours), ours
    pg_port = int((state / "pg" / "postmaster.pid").read_text().split()[3])
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(host="127.0.0.1", port=pg_port, user="airflow", password="airflow",
                         dbname="airflow", connect_timeout=10)
    good = (state / "pg_airflow_password").read_text().strip()
    assert oct((state / "pg_airflow_password").stat().st_mode)[-3:] == "600"
    with psycopg2.connect(host="127.0.0.1", port=pg_port, user="airflow", password=good,
                          dbname="airflow", connect_timeout=10) as con:
        assert con.closed == 0


def test_a_run_triggered_without_a_logical_date_covers_yesterday(services):
    """REST `"logical_date": null` with a conf: the run covers the UTC day before it runs
    (the ingest test above delivered yesterday's files)."""
    api, root = services
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    if not (root / "data" / "landing" / "web" / yesterday.isoformat()).exists():
        generate(root / "data" / "landing", seed=5, sf=0.005, days=1, start=yesterday,
                 mess=Messiness.clean())
    run = api.run_until_done("upstream_daily", {"logical_date": None,
                                                "conf": {"mode": "full_refresh"}})
    assert run["state"] == "success", run
    manifest = json.loads((root / "pub" / "manifest.json").read_text())
    assert manifest["run_id"] == run["dag_run_id"]
    assert manifest["data_covered"]["to"] == yesterday.isoformat()


def test_micro_batches_trigger_the_intraday_dag_through_the_triggerer(services):
    """Batches dropped with a _READY marker: the triggerer claims them (AssetWatcher), the asset
    event schedules upstream_intraday, and the version that run publishes lists them; every
    row of their files is in the warehouse once."""
    from upstream.generate.batches import batch_name, cut, drop

    api, root = services
    landing = root / "data" / "landing"
    if not (root / "pub" / "manifest.json").exists():  # run alone: a publication to build on
        api.wait_for_dag("upstream_daily")
        api.call("PATCH", "/api/v2/dags/upstream_daily", {"is_paused": False})
        api.run_until_done("upstream_daily", {"logical_date": LOGICAL_DATE,
                                              "conf": {"mode": "full_refresh"}})
    api.wait_for_dag("upstream_intraday")
    api.call("PATCH", "/api/v2/dags/upstream_intraday", {"is_paused": False})
    # today's rows, cut from a day generated elsewhere (so no daily run loads them too)
    scratch = root / "scratch"
    today = datetime.now(UTC).date()
    generate(scratch, seed=9, sf=0.005, days=1, start=today, mess=Messiness.clean())
    batches = cut(scratch, today, 2, orders=6, returns=0, events=120)
    keys = []
    for i, batch in enumerate(batches):
        keys += [f.relative_to(landing).as_posix()
                 for f in drop(landing, batch, batch_name(datetime.now(UTC), i))]
        time.sleep(1)
    deadline = time.monotonic() + 420
    while time.monotonic() < deadline:
        runs = api.get("/api/v2/dags/upstream_intraday/dagRuns")["dag_runs"]
        if any(r["state"] == "failed" for r in runs):
            raise AssertionError(f"an intraday run failed: {runs}")
        history = [json.loads(ln) for ln in (root / "pub" / "history.jsonl").read_text()
                   .splitlines()]
        versions = [e["version"] for e in history if e["event"] == "publish"]
        seen = {b for v in versions if (root / "pub" / "versions" / f"v{v:06d}").exists()
                for b in json.loads((root / "pub" / "versions" / f"v{v:06d}" / "manifest.json")
                                    .read_text()).get("intraday", {}).get("batches", [])}
        if set(keys) <= seen:
            break
        time.sleep(2)
    else:
        raise TimeoutError(f"batches {keys} not published; intraday runs: {runs}")
    publishing = [json.loads((root / "pub" / "versions" / f"v{v:06d}" / "manifest.json")
                             .read_text()) for v in versions
                  if (root / "pub" / "versions" / f"v{v:06d}").exists()]
    publishing = [m for m in publishing if set(m.get("intraday", {}).get("batches", [])) & set(keys)]
    for m in publishing:  # published by an intraday run the triggerer's asset event started
        # publishing is not the run's last step: wait for the run itself to end
        run = api.wait_for_run("upstream_intraday", m["run_id"])
        assert run["run_type"] == "asset_triggered" and run["state"] == "success", run
        events = api.get(f"/api/v2/dags/upstream_intraday/dagRuns/{m['run_id']}"
                         "/upstreamAssetEvents")["asset_events"]
        claimed = {b["batch"] for e in events for b in e["extra"]["payload"]["batches"]}
        assert claimed & set(m["intraday"]["batches"]), (claimed, m["intraday"])
    for r in api.get("/api/v2/dags/upstream_intraday/dagRuns")["dag_runs"]:  # the writers done
        assert api.wait_for_run("upstream_intraday", r["dag_run_id"])["state"] == "success", r
    wh = root / "data" / "warehouse" / "upstream.duckdb"
    with duckdb.connect(str(wh), read_only=True) as con:
        ledger = con.execute("select batch, claimed_by, rows_read, rows_loaded, rows_quarantined "
                             "from raw._intraday_batches where status = 'loaded'").fetchall()
        orders = con.execute("select count(*), count(distinct order_id) from raw.erp_orders "
                             "where _source_file like 'orders/intraday/%'").fetchone()
        order_files = con.execute(
            "select sum(rows_read), sum(rows_loaded) from raw._load_manifest where status = "
            "'loaded' and table_name = 'erp_orders' and path like 'orders/intraday/%'").fetchone()
        events = con.execute("select count(*), count(distinct event_id) from raw.web_events "
                             "where _source_file like 'web/intraday/%'").fetchone()
    assert sorted(b for b, *_ in ledger) == sorted(keys)  # each once
    assert all(read == loaded + quarantined for _, _, read, loaded, quarantined in ledger), ledger
    # the triggerer claimed them (a run claims what arrives while it starts)
    assert "trigger" in {by for _, by, *_ in ledger}, ledger
    # every order of the batches was read once, and what loaded is in raw once
    assert order_files[0] == sum(len(b.orders["orders"]) - 1 for b in batches)
    assert orders == (order_files[1],) * 2
    assert events == (sum(len(b.events) for b in batches),) * 2
    assert all(not (landing / k / "_READY").exists() and (landing / k / "_QUEUED").exists()
               for k in keys)

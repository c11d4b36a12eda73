"""`upstream bench-intraday` (`make bench-intraday`): latency from a micro-batch's ``_READY``
marker to the published version that holds it, through the real services.

1. generates ``days + 1`` days at ``sf`` ending yesterday; the first ``days`` are loaded as a
   full refresh (``airflow dags test upstream_daily``), the last is cut into ``batches``
   micro-batches (``orders`` orders with their lines, ``returns`` returns, ``events`` web
   events each) and never delivered as a day;
2. starts PostgreSQL and the Airflow components on 127.0.0.1 (scripts/services.sh, state under
   the bench's folder), unpauses ``upstream_intraday``, and drops one batch every ``interval``
   seconds (orders and web folders, ``_READY`` last);
3. waits until every batch is in a published version, then per batch takes the time from its
   marker to that version's publication and splits it by the ledger (marker → claimed by the
   triggerer), the run's task instances from the REST API (queue until its ``ingest_intraday``
   starts, ingest, dbt, candidate, gate, publish) and the rest (the scheduler between tasks);
4. stops the services, counts lost and doubled batches and rows, runs the daily full refresh
   over the same data and compares every mart with what the intraday path built;
5. prints p50/p95/max and the breakdown, and writes ``.bench/intraday.json``.

Targets are reported, never asserted: a benchmark, not a test.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import statistics
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from upstream.bench import scratch
from upstream.generate.batches import batch_name, cut, drop, file_rows
from upstream.runner import dags_test
from upstream.services import AirflowApi, services_env
from upstream.settings import Settings

TARGET_P95_S = 60.0
# the triggerer's log once it runs the watcher (no task defers here, so a trigger is it)
WATCHING = re.compile(r"trigger ID \d+ starting|[1-9]\d* watchers currently running")
STAGES = ("trigger", "queue", "ingest", "dbt", "candidate", "gate", "publish", "scheduler")
TASK_STAGE = {"ingest_intraday": "ingest", "transform": "dbt", "build_candidate": "candidate",
              "gate": "gate", "publish": "publish"}


def _percentile(values: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least ``q`` of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _marts(warehouse: Path) -> dict[str, list]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        marts = [r[0] for r in con.execute("select table_name from information_schema.tables "
                                           "where table_schema = 'marts' order by 1").fetchall()]
        return {m: con.execute(f"select * from marts.{m} order by all").fetchall() for m in marts}


def _published(versions: Path) -> list[dict]:
    return [json.loads((v / "manifest.json").read_text()) for v in sorted(versions.glob("v*"))
            if (v / "manifest.json").exists()]


def run(settings: Settings, *, sf: float = 1.0, batches: int = 20, interval: float = 15.0,
        days: int = 7, seed: int = 42, orders: int = 50, returns: int = 10,
        events: int = 2000, timeout: float = 1800) -> dict:
    root = settings.data_dir / "bench" / f"intraday-sf{sf:g}"
    bench, env, airflow, upstream = scratch(settings, root)
    root.mkdir(parents=True)
    root.chmod(0o755)  # PostgreSQL runs as its own user under it
    env = {**env, "UPSTREAM_KEEP_VERSIONS": "1000"}  # every version's manifest is read
    services = services_env(root / "services", env)
    last = datetime.now(UTC).date() - timedelta(days=1)
    start = last - timedelta(days=days)
    subprocess.run([upstream, "generate", "--seed", str(seed), "--sf", str(sf), "--days",
                    str(days + 1), "--start", start.isoformat(), "--out", str(bench.landing_dir),
                    "--quiet"], env=env, check=True)
    cuts = cut(bench.landing_dir, last, batches, orders=orders, returns=returns, events=events)
    for source in ("catalogue", "crm", "orders", "web"):
        shutil.rmtree(bench.landing_dir / source / last.isoformat())
    full = dags_test(airflow, "upstream_daily", last.isoformat(), {"mode": "full_refresh"},
                     root / "logs" / "full.log", out=None, env=env)
    if full.returncode or not full.published:
        raise RuntimeError(f"the full refresh failed; log {root / 'logs' / 'full.log'}")
    script = bench.project_dir / "scripts" / "services.sh"
    figures: dict = {"sf": sf, "batches": batches, "interval_s": interval,
                     "per_batch": {"orders": orders, "returns": returns, "events": events},
                     "full_refresh_s": round(full.seconds, 1)}
    up = subprocess.run(["bash", str(script), "up"], env=services, capture_output=True,
                        text=True)
    try:
        if up.returncode:
            raise RuntimeError(f"services did not start: {up.stdout}{up.stderr}")
        api = AirflowApi.for_services(services)
        api.wait_for("/api/v2/dags/upstream_intraday")
        api.call("PATCH", "/api/v2/dags/upstream_intraday", {"is_paused": False})
        _wait_for_watcher(root / "services" / "logs" / "triggerer.log")
        drops = _drop(bench.landing_dir, cuts, interval)
        manifests = _wait_published(bench.versions_dir, drops, timeout)
        _wait_idle(api)
        runs = {m["run_id"]: _tasks(api, m["run_id"]) for m in manifests
                if m["intraday"]["batches"]}
    finally:
        subprocess.run(["bash", str(script), "down"], env=services, capture_output=True)
    figures.update(_latency(bench, drops, manifests, runs))
    figures.update(_integrity(bench, drops))
    incremental = _marts(bench.warehouse_path)
    again = dags_test(airflow, "upstream_daily", last.isoformat(), {"mode": "full_refresh"},
                      root / "logs" / "reconcile.log", out=None, env=env)
    figures["daily_after_s"] = round(again.seconds, 1)
    figures["daily_after_equal"] = again.returncode == 0 and _marts(
        bench.warehouse_path) == incremental
    return figures


def _wait_for_watcher(log: Path, timeout: float = 180) -> None:
    """Until the triggerer runs the watcher's trigger (after the DAG processor parsed the DAG)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and WATCHING.search(log.read_text(errors="replace")):
            return
        time.sleep(1)
    raise TimeoutError(f"the triggerer did not start ReadyBatchTrigger in {timeout} s ({log})")


def _drop(landing: Path, cuts: list, interval: float) -> list[dict]:
    """Drop the batches at a steady rate; each drop's folders (relative keys)."""
    drops, began = [], time.monotonic()
    for i, batch in enumerate(cuts):
        time.sleep(max(0.0, began + i * interval - time.monotonic()))
        folders = drop(landing, batch, batch_name(datetime.now(UTC), i))
        drops.append({"i": i, "keys": [f.relative_to(landing).as_posix() for f in folders]})
    return drops


def _wait_published(versions: Path, drops: list[dict], timeout: float) -> list[dict]:
    wanted = {k for d in drops for k in d["keys"]}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        manifests = _published(versions)
        if wanted <= {b for m in manifests for b in m.get("intraday", {}).get("batches", [])}:
            return manifests
        time.sleep(2)
    return _published(versions)  # what is missing is counted as lost


def _wait_idle(api: AirflowApi, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = api.get("/api/v2/dags/upstream_intraday/dagRuns")["dag_runs"]
        if all(r["state"] in ("success", "failed") for r in runs):
            return
        time.sleep(2)


def _tasks(api: AirflowApi, run_id: str) -> dict[str, tuple[datetime, datetime]]:
    tis = api.get(f"/api/v2/dags/upstream_intraday/dagRuns/{run_id}/taskInstances")
    return {t["task_id"]: (datetime.fromisoformat(t["start_date"]),
                           datetime.fromisoformat(t["end_date"]))
            for t in tis["task_instances"] if t["start_date"] and t["end_date"]}


def _latency(bench: Settings, drops: list[dict], manifests: list[dict], runs: dict) -> dict:
    with duckdb.connect(str(bench.warehouse_path), read_only=True) as con:
        ledger = {b: (m, c) for b, m, c in con.execute(
            "select batch, marker_at, coalesce(claimed_at, loaded_at) from raw._intraday_batches "
            "where status = 'loaded'").fetchall()}
    first: dict[str, dict] = {}  # batch -> the manifest of the first version holding it
    for m in sorted(manifests, key=lambda m: m["version"]):
        for b in m.get("intraday", {}).get("batches", []):
            first.setdefault(b, m)
    rows = []
    for d in drops:
        keys = set(d["keys"])
        if not keys <= first.keys() or not keys <= ledger.keys():
            continue
        holder = max((first[k] for k in keys), key=lambda m: m["version"])
        marker = max(ledger[k][0] for k in keys)
        claimed = max(ledger[k][1] for k in keys)
        published = datetime.fromisoformat(holder["published_at"])
        tasks = runs.get(holder["run_id"], {})
        stage = {s: 0.0 for s in STAGES}
        stage["trigger"] = (claimed - marker).total_seconds()
        if "ingest_intraday" in tasks:
            stage["queue"] = (tasks["ingest_intraday"][0] - claimed).total_seconds()
        for task, (began, ended) in tasks.items():
            if task in TASK_STAGE:
                stage[TASK_STAGE[task]] = (ended - began).total_seconds()
        total = (published - marker).total_seconds()
        stage["scheduler"] = total - sum(v for k, v in stage.items() if k != "scheduler")
        rows.append({"i": d["i"], "latency_s": round(total, 1), "version": holder["version"],
                     **{k: round(v, 1) for k, v in stage.items()}})
    latencies = [r["latency_s"] for r in rows]
    versions = sorted({r["version"] for r in rows})
    return {
        "p50_s": round(statistics.median(latencies), 1) if rows else None,
        "p95_s": _percentile(latencies, 0.95) if rows else None,
        "max_s": max(latencies) if rows else None,
        "target_p95_s": TARGET_P95_S,
        "versions": len(versions),
        "batches_per_version": round(len(rows) / len(versions), 2) if versions else None,
        "breakdown_mean_s": {s: round(statistics.mean(r[s] for r in rows), 1) for s in STAGES}
        if rows else {},
        "per_drop": rows,
    }


def _integrity(bench: Settings, drops: list[dict]) -> dict:
    """Lost: a dropped batch no published version holds, a row of its files neither loaded nor
    quarantined. Doubled: a batch or file loaded twice, a raw row more than its file loaded
    (less the rows an erasure purged since)."""
    keys = [k for d in drops for k in d["keys"]]
    sent = sum(file_rows(bench.landing_dir / k) for k in keys)
    with duckdb.connect(str(bench.warehouse_path), read_only=True) as con:
        loaded = dict(con.execute("select batch, count(*) from raw._intraday_batches "
                                  "where status = 'loaded' group by batch").fetchall())
        files_twice = con.execute(
            "select count(*) from (select path from raw._load_manifest where status = 'loaded' "
            "and path like '%/intraday/%' group by path having count(*) > 1)").fetchone()[0]
        read, rows_loaded, quarantined, erased = con.execute(
            "select sum(rows_read), sum(rows_loaded), sum(rows_quarantined), sum(rows_erased) "
            "from raw._load_manifest where status = 'loaded' and path like '%/intraday/%'"
        ).fetchone()
        in_raw = sum(con.execute(f"select count(*) from raw.{t} where _source_file like "
                                 "'%/intraday/%'").fetchone()[0]
                     for (t,) in con.execute("select distinct table_name from raw._load_manifest "
                                             "where path like '%/intraday/%'").fetchall())
    lost = sum(1 for k in keys if k not in loaded) + abs(sent - read) + (
        read - rows_loaded - quarantined)
    # rows an erasure purged since (a CRM delete of their person) left raw on purpose
    doubled = sum(n - 1 for n in loaded.values()) + files_twice + (in_raw - rows_loaded + erased)
    return {"lost": lost, "doubled": doubled, "folders": len(keys), "rows_sent": sent,
            "rows_loaded": rows_loaded, "rows_quarantined": quarantined, "rows_erased": erased}


def render(figures: dict) -> str:
    b = figures["breakdown_mean_s"]
    lines = [
        f"SF {figures['sf']:g}: {figures['batches']} micro-batches, one every "
        f"{figures['interval_s']:g} s ({figures['per_batch']}), through the triggerer and "
        "upstream_intraday",
        f"latency marker -> published: p50 {figures['p50_s']} s, p95 {figures['p95_s']} s "
        f"(target <= {figures['target_p95_s']:g}), max {figures['max_s']} s; "
        f"{figures['versions']} versions, {figures['batches_per_version']} batches each",
        "mean breakdown (s): " + ", ".join(f"{s} {b.get(s)}" for s in STAGES),
        f"lost {figures['lost']}, doubled {figures['doubled']} ({figures['folders']} folders, "
        f"{figures['rows_sent']} rows sent: {figures['rows_loaded']} loaded, "
        f"{figures['rows_quarantined']} quarantined, {figures['rows_erased']} erased since)",
        f"daily full refresh afterwards: {figures['daily_after_s']} s, marts equal to the "
        f"intraday path's: {figures['daily_after_equal']}",
    ]
    return "\n".join(lines)


def save(figures: dict, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "intraday.json"
    path.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    return path




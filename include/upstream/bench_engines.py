"""`upstream bench-engines` (`make bench-engines`): the daily DAG on both engines, same data.

1. generates ``days`` days at ``sf`` once;
2. runs ``upstream_daily`` through ``airflow dags test`` as a full refresh over them, once with
   ``UPSTREAM_ENGINE=duckdb`` and once with ``UPSTREAM_ENGINE=spark`` (pyspark in local mode),
   each in a project of its own that reads the one landing folder;
3. keeps every task's wall time, the slowest models and the peak RSS of each run, the ratio
   Spark / DuckDB per stage, and whether the published feeds of the two versions are equal
   (upstream.spark.compare, pseudonymised keys included);
4. prints them and writes ``.bench/engines.json``.

Spark in local mode on two cores is expected to be slower: it pays a JVM, a shuffle per join
and aggregate, and a Parquet write per model. The point is that the same DAG, models and gate
run on an engine that spreads over a cluster.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import duckdb

from upstream.bench import _dag, _measured, _ratio, scratch
from upstream.settings import Settings
from upstream.spark import compare
from upstream.warehouse import sql_literal

START = date(2026, 11, 1)
ENGINES = ("duckdb", "spark")
BENCH_SECRET = "bench-engines: not a secret, only for comparing the two versions"


def run(settings: Settings, *, sf: float, days: int = 7, seed: int = 42,
        airflow: str | None = None) -> dict:
    root = settings.data_dir / "bench" / f"engines-sf{sf:g}"
    landing = root / "landing"
    base, env, airflow, upstream = scratch(settings, root, airflow)
    generate_s, _ = _measured(
        [upstream, "generate", "--seed", str(seed), "--sf", str(sf), "--days", str(days),
         "--start", START.isoformat(), "--out", str(landing), "--quiet"], env)
    figures: dict = {"sf": sf, "days": days, "generate_s": round(generate_s, 1)}
    run_date = START + timedelta(days=days)
    published = {}
    for engine in ENGINES:
        bench, env, airflow, _ = scratch(base, root / engine, airflow)
        bench = replace(bench, engine=engine, landing_root=landing)
        # one pseudonymisation key for both, so the published customer keys can be compared
        env.update(UPSTREAM_ENGINE=engine, UPSTREAM_LANDING_DIR=str(landing),
                   UPSTREAM_PSEUDONYM_SECRET=BENCH_SECRET)
        result = _dag(airflow, bench, run_date, "full_refresh", engine, env)
        figures[engine] = {"seconds": result["seconds"], "peak_rss_mb": result["peak_rss_mib"],
                           "tasks": result["tasks"],
                           "slowest_models": dict(list(result["models"].items())[:8])}
        published[engine] = bench.published_db.resolve()
    duck, spark = figures["duckdb"], figures["spark"]
    figures["ratios"] = {"full": _ratio(spark["seconds"], duck["seconds"]),
                         **{task: _ratio(spark["tasks"].get(task), s)
                            for task, s in duck["tasks"].items()}}
    figures["feeds_equal"] = _feeds_equal(*published.values())
    return figures


def _feeds_equal(duckdb_db: Path, spark_db: Path) -> dict[str, bool]:
    """Each published feed of the DuckDB-built version against the Spark-built one."""
    with duckdb.connect(str(duckdb_db), read_only=True) as con:
        con.execute(f"attach {sql_literal(str(spark_db))} as spark_version (read_only)")
        feeds = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_catalog = "
            "current_database() and table_schema = 'main' order by 1").fetchall()]
        return {feed: compare(con, f"main.{feed}", f"spark_version.main.{feed}", feed).equal
                for feed in feeds if not feed.startswith("publication")}


def save(figures: dict, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "engines.json"
    path.write_text(json.dumps(figures, indent=2) + "\n")
    return path


def render(figures: dict) -> str:
    duck, spark = figures["duckdb"], figures["spark"]
    lines = [f"engines at SF {figures['sf']:g}, {figures['days']} days as a full refresh "
             f"(generated in {figures['generate_s']} s)",
             f"{'stage':24} {'duckdb s':>10} {'spark s':>10} {'spark/duckdb':>13}"]
    for task, seconds in duck["tasks"].items():
        lines.append(f"{task:24} {seconds:>10} {spark['tasks'].get(task, '-'):>10} "
                     f"{figures['ratios'].get(task) or '-':>13}")
    lines.append(f"{'whole run (wall)':24} {duck['seconds']:>10} {spark['seconds']:>10} "
                 f"{figures['ratios']['full'] or '-':>13}")
    lines.append(f"peak RSS MiB: duckdb {duck['peak_rss_mb']}, spark {spark['peak_rss_mb']}")
    unequal = [f for f, same in figures["feeds_equal"].items() if not same]
    lines.append("published feeds equal: " + ("all " + str(len(figures["feeds_equal"]))
                                               if not unequal else f"NO: {unequal}"))
    return "\n".join(lines)

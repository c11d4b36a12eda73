"""`upstream bench`: generation, ingest and dbt figures at a scale factor, with ratios.

The floor for ingest is DuckDB's plain read of the same files into a table with the contract's
types (no checks, no manifest, no quarantine). Targets are reported, never asserted.
"""

from __future__ import annotations

import json
import logging
import resource
import shutil
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import duckdb

from upstream.contracts import Contract
from upstream.generate import generate
from upstream.ingest import ingest_source, landing_files
from upstream.publish.feeds import feed_names, relations
from upstream.settings import Settings
from upstream.transform import run_dbt
from upstream.warehouse import sql_literal

log = logging.getLogger(__name__)
START = date(2026, 11, 1)


def _peak_rss_mib() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def _plain_read_sql(contract: Contract, paths: list[Path]) -> str:
    files = "[" + ", ".join(sql_literal(str(p)) for p in paths) + "]"
    columns = "{" + ", ".join(f"{sql_literal(c.name)}: {sql_literal(c.type)}" for c in contract.columns) + "}"
    if contract.format == "ndjson":
        return (f"select * from read_json({files}, format='newline_delimited', columns={columns}, "
                "ignore_errors=true)")
    opts = contract.csv_options
    return (f"select * from read_csv({files}, header=true, delim={sql_literal(str(opts['delim']))}, "
            f"encoding={sql_literal(str(opts['encoding']))}, ignore_errors=true, union_by_name=true)")


def floor_seconds(settings: Settings, source: str, days: list[date],
                  database: Path | None = None) -> tuple[float, int]:
    """Seconds for DuckDB to read every file of the source into typed tables; rows read.

    In memory by default (the floor the target refers to); with ``database``, into tables of
    that DuckDB file, committed: what any loader pays at least to persist the same rows.
    """
    by_contract: dict[str, tuple[Contract, list[Path]]] = {}
    for day in days:
        for contract, path in landing_files(settings, source, day):
            by_contract.setdefault(contract.name, (contract, []))[1].append(path)
    con = duckdb.connect(str(database) if database else ":memory:")
    kind = "table" if database else "temp table"
    try:
        started, rows = time.perf_counter(), 0
        for contract, paths in by_contract.values():
            con.execute(f"create or replace {kind} t as {_plain_read_sql(contract, paths)}")
            rows += con.execute("select count(*) from t").fetchone()[0]
        if database:
            con.execute("checkpoint")
        return time.perf_counter() - started, rows
    finally:
        con.close()
        if database:
            for p in (database, database.with_name(database.name + ".wal")):
                p.unlink(missing_ok=True)


def dbt_layer_seconds(settings: Settings) -> dict[str, float]:
    """Seconds per layer of the last dbt invocation (its run_results.json; one thread, so the
    layers add up to the build minus dbt's start-up and parse)."""
    target = settings.data_dir / "dbt" / "target"
    results = json.loads((target / "run_results.json").read_text())["results"]
    nodes = json.loads((target / "manifest.json").read_text())["nodes"]
    layers: dict[str, float] = {}
    for result in results:
        node = nodes.get(result["unique_id"], {})
        kind = node.get("resource_type", result["unique_id"].split(".")[0])
        if kind == "exposure":
            continue
        if kind == "model":
            layer = node["fqn"][1] if len(node["fqn"]) > 2 else "models"
        else:
            layer = {"test": "tests", "unit_test": "tests", "seed": "seeds",
                     "snapshot": "snapshots"}.get(kind, kind)
        layers[layer] = layers.get(layer, 0.0) + result["execution_time"]
    return {k: round(v, 2) for k, v in sorted(layers.items())}


def mart_rows(settings: Settings) -> dict[str, int]:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        marts = relations(settings.dbt_manifest, feed_names(settings.dbt_project_dir),
                          database=None)
        return {t: con.execute(f"select count(*) from {rel}").fetchone()[0]
                for t, rel in sorted(marts.items())}
    finally:
        con.close()


def run(settings: Settings, *, sf: float, days: int, seed: int = 42, dbt: bool = True) -> dict:
    root = settings.data_dir / "bench" / f"sf{sf:g}"
    shutil.rmtree(root, ignore_errors=True)
    bench = replace(settings, data_dir=root, published_dir=root / "published")
    day_list = [START + timedelta(days=i) for i in range(days)]
    figures: dict = {"sf": sf, "days": days, "sources": {}}

    started = time.perf_counter()
    summary = generate(bench.landing_dir, seed=seed, sf=sf, days=days, start=START)
    figures["generate_seconds"] = round(time.perf_counter() - started, 2)
    figures["generated_rows"] = dict(summary.rows)
    figures["landing_mib"] = round(sum(p.stat().st_size for p in summary.files) / 2**20, 1)

    total_ingest = total_floor = 0.0
    for source in ("catalogue", "crm", "web", "orders"):
        floor, floor_rows = floor_seconds(bench, source, day_list)
        persisted, _ = floor_seconds(bench, source, day_list, root / "floor.duckdb")
        started = time.perf_counter()
        report = ingest_source(bench, source, day_list).summary()
        seconds = time.perf_counter() - started
        total_ingest, total_floor = total_ingest + seconds, total_floor + floor
        figures["sources"][source] = {
            "rows_read": report["rows_read"], "rows_loaded": report["rows_loaded"],
            "rows_quarantined": report["rows_quarantined"], "ingest_seconds": round(seconds, 2),
            "rows_per_second": round(report["rows_read"] / seconds) if seconds else None,
            "floor_seconds": round(floor, 2), "floor_rows": floor_rows,
            "floor_persisted_seconds": round(persisted, 2),
            "ratio_to_floor": round(seconds / floor, 2) if floor else None,
        }
    figures["ingest_seconds"] = round(total_ingest, 2)
    figures["floor_seconds"] = round(total_floor, 2)
    figures["ingest_ratio_to_floor"] = round(total_ingest / total_floor, 2)

    if dbt:
        started = time.perf_counter()
        run_dbt(bench, ["build"], as_of=day_list[-1] + timedelta(days=1))
        figures["dbt_build_seconds"] = round(time.perf_counter() - started, 2)
        figures["dbt_layer_seconds"] = dbt_layer_seconds(bench)
        figures["mart_rows"] = mart_rows(bench)
    figures["peak_rss_mib"] = round(_peak_rss_mib(), 1)
    figures["warehouse_mib"] = round(bench.warehouse_path.stat().st_size / 2**20, 1)
    return figures


def render(figures: dict) -> str:
    lines = [f"SF {figures['sf']} over {figures['days']} days: {figures['landing_mib']} MiB of "
             f"landing files generated in {figures['generate_seconds']} s",
             f"{'source':<10} {'rows read':>11} {'ingest s':>9} {'rows/s':>10} {'floor s':>8} "
             f"{'ratio':>6} {'floor->file s':>14}"]
    for source, f in figures["sources"].items():
        lines.append(f"{source:<10} {f['rows_read']:>11} {f['ingest_seconds']:>9} "
                     f"{f['rows_per_second']!s:>10} {f['floor_seconds']:>8} "
                     f"{f['ratio_to_floor']!s:>6} {f['floor_persisted_seconds']:>14}")
    lines.append(f"{'total':<10} {'':>11} {figures['ingest_seconds']:>9} {'':>10} "
                 f"{figures['floor_seconds']:>8} {figures['ingest_ratio_to_floor']:>6}  "
                 "(target: ratio <= 2.0)")
    if "dbt_build_seconds" in figures:
        layers = ", ".join(f"{k} {v} s" for k, v in figures["dbt_layer_seconds"].items())
        lines.append(f"dbt build: {figures['dbt_build_seconds']} s ({layers}; the rest is "
                     "dbt start-up and parse)")
        lines.append("mart rows: " + ", ".join(f"{k} {v}" for k, v in figures["mart_rows"].items()))
    lines.append(f"peak RSS: {figures['peak_rss_mib']} MiB; warehouse {figures['warehouse_mib']} MiB")
    lines.append(json.dumps(figures))
    return "\n".join(lines)

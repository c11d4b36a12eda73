"""`upstream score` (`make score`): how right the customer model is, against the truth a
generated world planted (``upstream generate`` writes it to ``truth/``, see
:func:`upstream.generate.core.write_truth`).

The published feeds are joined to the truth through the pseudonymous key (recomputed here with
the local secret) and the warehouse's identity map (CRM id -> person). Scored:

* identity: pairwise precision and recall of merges over CRM records (same predicted person vs
  same true person);
* size: top-1 accuracy of ``sizes_by_category`` per category, overall and by the person's
  purchases in the category (1, 2-3, 4+; the target is on 3+), beside the naive baseline (the
  size bought most often; ties: the most recent purchase); calibration of the confidence (a
  reliability table over ten bins of confidence, and the expected calibration error);
* fit and colour: share of customers with a planted preference whose top affinity is it;
* trends: precision and recall of ``design_demand``'s rising/falling against the planted
  expected demand (truth/order_shares.csv summed over the same two windows, the same 1.2 / 0.8
  thresholds);
* unmet demand: recall of the planted searches without results and sizes never in stock within
  the top N rows of ``design_unmet_demand`` of their kind (by visitors, then events).

The arithmetic is tested on a hand-made truth (tests/unit/test_score.py); the targets live in
the benchmark (``make score``), never in a test.
"""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta
from pathlib import Path

import duckdb

from upstream.privacy import PSEUDONYM_SQL, pseudonym_secret
from upstream.publish.feeds import relations
from upstream.settings import Settings
from upstream.warehouse import connect, sql_literal

log = logging.getLogger(__name__)

# The targets (reported beside the scores, never asserted)
TARGETS = {"size_top1_3plus": (">=", 0.90), "ece": ("<=", 0.05), "merge_precision": (">=", 0.99),
           "merge_recall": (">=", 0.95), "trend_precision": (">=", 0.8),
           "trend_recall": (">=", 0.8), "unmet_recall_top20": (">=", 0.9)}
TRUTH_FILES = ("customers", "sizes", "order_shares", "unmet")


def _load_truth(con: duckdb.DuckDBPyConnection, truth_dir: Path) -> None:
    for name in TRUTH_FILES:
        path = truth_dir / f"{name}.csv"
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: score needs the truth `upstream "
                                    "generate` writes beside the landing folder (--truth)")
        con.execute(f"create temp table t_{name} as select * from read_csv({sql_literal(str(path))}, "
                    "header=true, all_varchar=false)")


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> dict:
    cur = con.execute(sql, params or [])
    row = cur.fetchone()
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _ratio(a, b) -> float | None:
    return round(a / b, 4) if b else None


def score(settings: Settings, truth_dir: Path, *, top_n: int = 20) -> dict:
    """Every score (see the module docstring) of the current publication and the warehouse."""
    published = settings.published_db
    if not published.exists():
        raise FileNotFoundError(f"nothing is published at {published}: run the DAG first")
    rel = relations(settings.dbt_manifest, ["int_identity__map", "int_order_lines__enriched"])
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        _load_truth(con, truth_dir)
        con.execute(f"attach {sql_literal(str(published.resolve()))} as pub (read_only)")
        wh = connect(settings.warehouse_path, read_only=True)
        wh.close()  # fails early with a clear message while a writer holds the warehouse
        con.execute(f"attach {sql_literal(str(settings.warehouse_path))} as wh (read_only)")
        secret = pseudonym_secret(settings)
        con.execute(
            f"""create temp table ids as
            select m.identifier_value as crm_id, m.person_id, t.person_crm_id as true_person
            from {rel['int_identity__map']} as m
            inner join t_customers as t on t.crm_id = m.identifier_value
            where m.identifier_type = 'crm'""")
        con.execute(
            f"""create temp table persons as
            select distinct person_id, {PSEUDONYM_SQL.format(column='person_id')} as customer_key
            from ids""", [secret])
        con.execute(
            f"""create temp table lines as
            select person_id, category, size, ordered_at from {rel['int_order_lines__enriched']}
            where is_known_customer and category is not null and size is not null""")
        return {**_identity(con), **_sizes(con), **_affinity(con), **_trends(con),
                **_unmet(con, top_n), "truth_dir": str(truth_dir),
                "published_version": _version(settings)}
    finally:
        con.close()


def _version(settings: Settings) -> int | None:
    path = settings.published_manifest
    return json.loads(path.read_text()).get("version") if path.exists() else None


def _identity(con: duckdb.DuckDBPyConnection) -> dict:
    pairs = _one(con, """
        select
            (select coalesce(sum(n * (n - 1) / 2), 0) from
                (select count(*) as n from ids group by person_id)) as predicted_pairs,
            (select coalesce(sum(n * (n - 1) / 2), 0) from
                (select count(*) as n from ids group by true_person)) as true_pairs,
            (select coalesce(sum(n * (n - 1) / 2), 0) from
                (select count(*) as n from ids group by person_id, true_person)) as correct_pairs,
            (select count(*) from ids) as crm_records""")
    return {"merge_precision": _ratio(pairs["correct_pairs"], pairs["predicted_pairs"])
            if pairs["predicted_pairs"] else 1.0,
            "merge_recall": _ratio(pairs["correct_pairs"], pairs["true_pairs"])
            if pairs["true_pairs"] else 1.0,
            "identity": {k: int(v) for k, v in pairs.items()}}


def _sizes(con: duckdb.DuckDBPyConnection) -> dict:
    con.execute(
        """create temp table size_scores as
        with predicted as (
            select p.person_id, e.entry.key as category, e.entry.value.size as size,
                   e.entry.value.confidence as confidence
            from pub.customer_needs as c
            inner join persons as p on p.customer_key = c.customer_key,
                 unnest(map_entries(c.sizes_by_category)) as e(entry)
        ),
        bought as (
            select person_id, category, size, count(*) as n, max(ordered_at) as last_at
            from lines group by all
        ),
        history as (
            select person_id, category, sum(n) as purchases,
                   arg_max(size, (n, last_at, size)) as baseline
            from bought group by all
        )
        select predicted.*, t.size as true_size, coalesce(h.purchases, 0) as purchases,
               h.baseline, predicted.size = t.size as correct, h.baseline = t.size as baseline_correct
        from predicted
        inner join t_sizes as t on t.crm_id = predicted.person_id and t.category = predicted.category
        left join history as h on h.person_id = predicted.person_id
            and h.category = predicted.category""")
    buckets = _rows(con, """
        select case when purchases <= 1 then '1' when purchases <= 3 then '2-3' else '4+' end
                   as purchases,
               count(*) as n, round(avg(correct::int), 4) as top1,
               round(avg(baseline_correct::int), 4) as baseline
        from size_scores where purchases >= 1 group by 1 order by 1""")
    three = _one(con, """
        select count(*) as n, round(avg(correct::int), 4) as top1,
               round(avg(baseline_correct::int), 4) as baseline
        from size_scores where purchases >= 3""")
    overall = _one(con, "select count(*) as n, round(avg(correct::int), 4) as top1 "
                        "from size_scores")
    per_category = _rows(con, """
        select category, count(*) as n, round(avg(correct::int), 4) as top1
        from size_scores group by 1 order by 1""")
    reliability = _rows(con, """
        select least(floor(confidence * 10), 9)::int as bin, count(*) as n,
               round(avg(confidence), 4) as confidence, round(avg(correct::int), 4) as accuracy
        from size_scores where confidence is not null group by 1 order by 1""")
    total = sum(r["n"] for r in reliability)
    ece = (sum(r["n"] * abs(r["accuracy"] - r["confidence"]) for r in reliability) / total
           if total else None)
    return {"size_top1_3plus": three["top1"], "size_top1_baseline": three["baseline"],
            "size_top1_all": overall["top1"], "ece": round(ece, 4) if ece is not None else None,
            "size": {"predictions": overall["n"], "with_3plus": three["n"],
                     "by_purchases": buckets, "by_category": per_category,
                     "reliability": reliability}}


def _affinity(con: duckdb.DuckDBPyConnection) -> dict:
    out = {}
    for dimension in ("colour", "fit"):
        row = _one(con, f"""
            select count(*) as n,
                   round(avg((map_keys(c.{dimension}_affinity)[1] = t.{dimension})::int), 4)
                       as top1
            from pub.customer_needs as c
            inner join persons as p on p.customer_key = c.customer_key
            inner join t_customers as t on t.crm_id = p.person_id
            where t.{dimension} is not null and t.{dimension} <> ''
              and cardinality(c.{dimension}_affinity) > 0""")
        out[f"{dimension}_top1"] = row["top1"]
        out[f"{dimension}_customers"] = row["n"]
    return out


def _trends(con: duckdb.DuckDBPyConnection) -> dict:
    con.execute(
        """create temp table trend_scores as
        with cells as (
            select distinct category, colour, material, fit, window_start, window_end
            from pub.design_demand where trend in ('rising', 'falling', 'steady')
        ),
        expected as (
            select cells.category, cells.colour, cells.material, cells.fit,
                   sum(s.share) filter (where s.day >= cells.window_start) as current_share,
                   sum(s.share) filter (where s.day < cells.window_start) as previous_share
            from cells
            inner join t_order_shares as s
                on s.category = cells.category and s.colour = cells.colour
                and s.material = cells.material and s.fit = cells.fit
                and s.day <= cells.window_end
                and s.day >= cells.window_start
                    - (cells.window_end - cells.window_start + 1) * interval 1 day
            group by all
        )
        select *, current_share / previous_share as expected_ratio,
               case when current_share >= 1.2 * previous_share then 'rising'
                    when current_share <= 0.8 * previous_share then 'falling'
                    else 'steady' end as planted
        from expected where previous_share > 0""")
    # a cell of design_demand is per size as well: each size's row is scored once
    row = _one(con, """
        with scored as (
            select d.trend, t.planted from pub.design_demand as d
            inner join trend_scores as t using (category, colour, material, fit)
            where d.trend in ('rising', 'falling', 'steady')
        )
        select count(*) filter (where trend <> 'steady' and trend = planted) as hits,
               count(*) filter (where trend <> 'steady') as labelled,
               count(*) filter (where planted <> 'steady') as planted,
               count(*) as cells
        from scored""")
    return {"trend_precision": _ratio(row["hits"], row["labelled"]),
            "trend_recall": _ratio(row["hits"], row["planted"]),
            "trends": {k: int(v) for k, v in row.items()}}


def _unmet(con: duckdb.DuckDBPyConnection, top_n: int) -> dict:
    rows = _rows(con, """
        with ranked as (
            select *, row_number() over (partition by signal_type
                                         order by visitor_count desc, events desc, subject, size)
                          as rank
            from pub.design_unmet_demand
        )
        select t.kind, t.subject, t.size, min(r.rank) as rank
        from t_unmet as t
        left join ranked as r
            on r.subject = t.subject
            and ((t.kind = 'search_without_results' and r.signal_type = t.kind)
                 or (t.kind = 'size_never_in_stock'
                     and r.signal_type = 'view_of_out_of_stock_size' and r.size = t.size))
        group by all order by 1, 2, 3""")
    found = [r for r in rows if r["rank"] is not None and r["rank"] <= top_n]
    return {f"unmet_recall_top{top_n}": _ratio(len(found), len(rows)),
            "unmet_recall_top20": _ratio(len(found), len(rows)) if top_n == 20 else None,
            "unmet": rows}


def render(scores: dict) -> str:
    lines = ["score                   value    target   baseline"]
    for key in ("size_top1_3plus", "ece", "merge_precision", "merge_recall", "trend_precision",
                "trend_recall", "unmet_recall_top20"):
        value = scores.get(key)
        op, target = TARGETS[key]
        met = value is not None and (value >= target if op == ">=" else value <= target)
        base = scores.get("size_top1_baseline") if key == "size_top1_3plus" else None
        lines.append(f"{key:22s} {_fmt(value):>7s}  {op} {target:<5g} "
                     f"{_fmt(base) if base is not None else '':>8s}  {'met' if met else 'MISSED'}")
    lines.append(f"{'colour_top1':22s} {_fmt(scores.get('colour_top1')):>7s}  "
                 f"({scores.get('colour_customers')} customers with a planted colour)")
    lines.append(f"{'fit_top1':22s} {_fmt(scores.get('fit_top1')):>7s}  "
                 f"({scores.get('fit_customers')} customers with a planted fit)")
    size = scores["size"]
    lines.append("size top-1 by purchases in the category: " + ", ".join(
        f"{b['purchases']}: {_fmt(b['top1'])} (baseline {_fmt(b['baseline'])}, n={b['n']})"
        for b in size["by_purchases"]))
    lines.append("calibration (confidence bin: n, mean confidence -> accuracy): " + ", ".join(
        f"{r['bin'] / 10:.1f}: {r['n']}, {r['confidence']:.2f} -> {r['accuracy']:.2f}"
        for r in size["reliability"]))
    lines.append("unmet demand (rank in its kind): " + ", ".join(
        f"{r['subject']}{' ' + r['size'] if r['size'] else ''}: {r['rank'] or 'absent'}"
        for r in scores["unmet"]))
    return "\n".join(lines)


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def run(settings: Settings, *, sf: float, days: int, seed: int = 42,
        airflow: str | None = None) -> dict:
    """`make score`: generate ``days`` days at ``sf`` (with their truth) into
    ``data/score/sf<sf>-<days>d``, run ``upstream_daily`` as a full refresh over them through
    ``airflow dags test``, and score the publication."""
    from upstream.bench import START, _dag, _measured, scratch

    root = settings.data_dir / "score" / f"sf{sf:g}-{days}d"
    scored, env, airflow, upstream = scratch(settings, root, airflow)
    truth = root / "truth"
    generate_s, _ = _measured(
        [upstream, "generate", "--seed", str(seed), "--sf", str(sf), "--days", str(days),
         "--start", START.isoformat(), "--out", str(scored.landing_dir), "--truth", str(truth),
         "--quiet"], env)
    run_date = START + timedelta(days=days)
    dag = _dag(airflow, scored, run_date, "full_refresh", "full", env)
    scores = score(scored, truth)
    scores.update(sf=sf, days=days, seed=seed, generate_s=round(generate_s, 1),
                  dag_s=dag["seconds"], as_of=run_date.isoformat())
    return scores


def save(scores: dict, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "score.json"
    path.write_text(json.dumps(scores, indent=2, default=_json_default) + "\n")
    return path


def _json_default(value):
    if isinstance(value, date):
        return value.isoformat()
    return float(value)

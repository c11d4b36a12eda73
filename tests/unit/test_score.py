"""`upstream score`'s own arithmetic, on a hand-made truth, warehouse and publication (the
targets live in `make score`, not here)."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pytest

from upstream import score
from upstream.generate import generate
from upstream.privacy import pseudonym

SECRET = "test-secret"  # the settings fixture's UPSTREAM_PSEUDONYM_SECRET


def _csv(path, header: str, rows: list[str]) -> None:
    path.write_text("\n".join([header, *rows]) + "\n")


@pytest.fixture
def world(settings, tmp_path):
    truth = tmp_path / "truth"
    truth.mkdir()
    # C2 is a second record of C1's person (merged: right); C4 is its own person (merged into
    # C3: wrong); C6 is a second record of C5's person (not merged: missed)
    _csv(truth / "customers.csv", "crm_id,person_crm_id,colour,fit",
         ["C1,C1,green,slim", "C2,C1,green,slim", "C3,C3,,regular", "C4,C4,,",
          "C5,C5,red,", "C6,C5,red,"])
    _csv(truth / "sizes.csv", "crm_id,category,size",
         ["C1,shirts,M", "C1,trousers,L", "C3,shirts,S", "C5,shirts,L"])
    _csv(truth / "order_shares.csv", "day,sku,category,colour,material,fit,share", [
        f"2026-11-0{d},SKU-{i},{cat},black,cotton,slim,{share}"
        for i, (cat, shares) in enumerate([("dresses", [0.1, 0.1, 0.15, 0.15]),
                                           ("shirts", [0.1, 0.1, 0.1, 0.1]),
                                           ("skirts", [0.15, 0.15, 0.05, 0.05])])
        for d, share in enumerate(shares, start=1)])
    _csv(truth / "unmet.csv", "kind,subject,category,size",
         ["search_without_results,vegan leather jacket,,", "search_without_results,maternity dress,,",
          "size_never_in_stock,SKU-00001,shirts,M"])

    settings.warehouse_path.parent.mkdir(parents=True)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("create schema intermediate")
        con.execute("create table intermediate.int_identity__map as select * from (values "
                    "('crm:C1','crm','C1','C1'), ('crm:C2','crm','C2','C1'), "
                    "('crm:C3','crm','C3','C3'), ('crm:C4','crm','C4','C3'), "
                    "('crm:C5','crm','C5','C5'), ('crm:C6','crm','C6','C6'), "
                    "('email:x@y','email','x@y','C1')) "
                    "t(identifier, identifier_type, identifier_value, person_id)")
        con.execute("create table intermediate.int_order_lines__enriched as select * from (values "
                    # C1 shirts: L, L, M (3; baseline L), trousers: M (1)
                    "('C1', true, 'shirts', 'L', timestamp '2026-11-01 10:00'), "
                    "('C1', true, 'shirts', 'L', timestamp '2026-11-02 10:00'), "
                    "('C1', true, 'shirts', 'M', timestamp '2026-11-03 10:00'), "
                    "('C1', true, 'trousers', 'M', timestamp '2026-11-03 10:00'), "
                    # C3 shirts: XS, XS, S, S (4; a tie, the latest wins: S)
                    "('C3', true, 'shirts', 'XS', timestamp '2026-11-01 10:00'), "
                    "('C3', true, 'shirts', 'XS', timestamp '2026-11-01 11:00'), "
                    "('C3', true, 'shirts', 'S', timestamp '2026-11-02 10:00'), "
                    "('C3', true, 'shirts', 'S', timestamp '2026-11-04 10:00'), "
                    # C5 shirts: M, L (2; the latest: L)
                    "('C5', true, 'shirts', 'M', timestamp '2026-11-01 10:00'), "
                    "('C5', true, 'shirts', 'L', timestamp '2026-11-02 10:00'), "
                    "('guest:z', false, 'shirts', 'XL', timestamp '2026-11-02 10:00')) "
                    "t(person_id, is_known_customer, category, size, ordered_at)")
    settings.dbt_manifest.parent.mkdir(parents=True)
    settings.dbt_manifest.write_text(json.dumps({"nodes": {
        f"model.upstream.{name}": {"schema": "intermediate", "alias": name}
        for name in ("int_identity__map", "int_order_lines__enriched")}}))

    settings.published_dir.mkdir(parents=True)
    settings.published_manifest.write_text(json.dumps({"version": 3}))
    key = {p: pseudonym(SECRET, p) for p in ("C1", "C3", "C5")}
    with duckdb.connect(str(settings.published_db)) as con:
        con.execute("""create table customer_needs (
            customer_key varchar,
            sizes_by_category map(varchar, struct(size varchar, confidence double)),
            colour_affinity map(varchar, double), fit_affinity map(varchar, double))""")
        con.execute("insert into customer_needs values "
                    "(?, map {'shirts': {'size': 'M', 'confidence': 0.9}, "
                    "         'trousers': {'size': 'M', 'confidence': 0.6}}, "
                    " map {'green': 0.6, 'red': 0.4}, map {'slim': 1.0}), "
                    "(?, map {'shirts': {'size': 'S', 'confidence': 0.95}}, "
                    " map {'black': 1.0}, map {'relaxed': 0.5, 'regular': 0.5}), "
                    "(?, map {'shirts': {'size': 'M', 'confidence': 0.65}}, "
                    " map {'black': 0.7, 'red': 0.3}, map {})",
                    [key["C1"], key["C3"], key["C5"]])
        con.execute("""create table design_demand as select * from (values
            ('dresses', 'M', 'black', 'cotton', 'slim', 'rising'),
            ('dresses', 'L', 'black', 'cotton', 'slim', 'steady'),
            ('shirts', 'M', 'black', 'cotton', 'slim', 'rising'),
            ('skirts', 'M', 'black', 'cotton', 'slim', 'falling'),
            ('jackets', 'M', 'black', 'cotton', 'slim', 'new'))
            t(category, size, colour, material, fit, trend)""")
        con.execute("alter table design_demand add column window_start date "
                    "default date '2026-11-03'")
        con.execute("alter table design_demand add column window_end date "
                    "default date '2026-11-04'")
        con.execute("""create table design_unmet_demand as select * from (values
            ('search_without_results', 'linen dress', null, 10, 12),
            ('search_without_results', 'vegan leather jacket', null, 8, 9),
            ('view_of_out_of_stock_size', 'SKU-00002', 'M', 20, 30),
            ('view_of_out_of_stock_size', 'SKU-00001', 'M', 5, 6),
            ('view_of_out_of_stock_size', 'SKU-00001', 'L', 50, 60))
            t(signal_type, subject, size, visitor_count, events)""")
    return truth


def test_scores_follow_from_the_hand_made_truth(settings, world):
    s = score.score(settings, world)

    # pairs: predicted {C1,C2} {C3,C4}; true {C1,C2} {C5,C6}; right: (C1,C2)
    assert (s["merge_precision"], s["merge_recall"]) == (0.5, 0.5)
    assert s["identity"] == {"predicted_pairs": 2, "true_pairs": 2, "correct_pairs": 1,
                             "crm_records": 6}
    # sizes: C1 shirts M (right), trousers M (wrong, truth L), C3 S (right), C5 M (wrong)
    assert s["size_top1_all"] == 0.5
    assert (s["size_top1_3plus"], s["size_top1_baseline"]) == (1.0, 0.5)  # C1 and C3 shirts
    assert s["size"]["by_purchases"] == [
        {"purchases": "1", "n": 1, "top1": 0.0, "baseline": 0.0},
        {"purchases": "2-3", "n": 2, "top1": 0.5, "baseline": 0.5},
        {"purchases": "4+", "n": 1, "top1": 1.0, "baseline": 1.0}]
    # bins 9 (0.9, 0.95: both right) and 6 (0.6, 0.65: both wrong)
    assert s["size"]["reliability"] == [
        {"bin": 6, "n": 2, "confidence": 0.625, "accuracy": 0.0},
        {"bin": 9, "n": 2, "confidence": 0.925, "accuracy": 1.0}]
    assert s["ece"] == pytest.approx((2 * 0.075 + 2 * 0.625) / 4)
    # colour: C1 green (right), C5 black (wrong); C3 has no planted colour
    assert (s["colour_top1"], s["colour_customers"]) == (0.5, 2)
    # fit: C1 slim (right), C3 relaxed first (wrong); C5's map is empty
    assert (s["fit_top1"], s["fit_customers"]) == (0.5, 2)
    # trends: dresses 0.3/0.2 rising, shirts steady, skirts 0.1/0.3 falling; rows labelled
    # rising/falling: dresses M (hit), shirts M (false), skirts M (hit); planted: dresses M,
    # dresses L (missed), skirts M; the 'new' row is not scored
    assert (s["trend_precision"], s["trend_recall"]) == (round(2 / 3, 4), round(2 / 3, 4))
    assert s["trends"] == {"hits": 2, "labelled": 3, "planted": 3, "cells": 4}
    # unmet: vegan leather jacket 2nd of its kind, maternity dress absent, SKU-00001 M 3rd
    assert s["unmet_recall_top20"] == round(2 / 3, 4)
    assert {(r["subject"], r["rank"]) for r in s["unmet"]} == {
        ("maternity dress", None), ("vegan leather jacket", 2), ("SKU-00001", 3)}
    assert score.score(settings, world, top_n=1)["unmet_recall_top1"] == 0.0
    assert s["published_version"] == 3
    assert "size_top1_3plus" in score.render(s)


def test_the_command_prints_the_table_or_json(settings, world, capsys):
    from upstream.cli import main

    assert main(["score", "--truth", str(world)]) == 0
    table = capsys.readouterr().out
    assert "merge_precision" in table and "0.500" in table and "MISSED" in table
    assert main(["score", "--truth", str(world), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["merge_recall"] == 0.5


def test_missing_truth_says_where_it_comes_from(settings, tmp_path):
    settings.published_dir.mkdir(parents=True)
    settings.published_db.touch()
    settings.dbt_manifest.parent.mkdir(parents=True)
    settings.dbt_manifest.write_text(json.dumps({"nodes": {
        f"model.upstream.{n}": {"schema": "intermediate"}
        for n in ("int_identity__map", "int_order_lines__enriched")}}))
    with pytest.raises(FileNotFoundError, match="upstream generate"):
        score.score(settings, tmp_path / "nowhere")


def test_generated_truth_is_what_the_world_plants(tmp_path):
    generate(tmp_path / "landing", sf=0.002, days=2, start=date(2026, 11, 1),
             truth_dir=tmp_path / "truth")
    con = duckdb.connect()
    t = str(tmp_path / "truth")
    customers = con.execute(f"select count(*), count(distinct person_crm_id) "
                            f"from '{t}/customers.csv'").fetchone()
    assert customers[0] == 200 and customers[1] < 200  # aliases share a person
    assert con.execute(f"select count(*) from '{t}/sizes.csv'").fetchone()[0] == 200 * 6
    shares = con.execute(f"select day, round(sum(share), 9) from '{t}/order_shares.csv' "
                         "group by day order by day").fetchall()
    assert [s for _, s in shares] == [1.0, 1.0]
    # an alias record's sizes are its person's
    assert con.execute(f"""select count(*) from '{t}/sizes.csv' a
        join '{t}/customers.csv' c on a.crm_id = c.crm_id
        join '{t}/sizes.csv' b on b.crm_id = c.person_crm_id and b.category = a.category
        where a.size <> b.size""").fetchone()[0] == 0
    unmet = con.execute(f"select kind, count(*) from '{t}/unmet.csv' group by 1 order by 1"
                        ).fetchall()
    assert unmet == [("search_without_results", 3), ("size_never_in_stock", 5)]
    # a planted size never in stock is never in stock in the catalogue files
    sku, size = con.execute(f"select subject, size from '{t}/unmet.csv' "
                            "where kind = 'size_never_in_stock' limit 1").fetchone()
    stock = con.execute(f"select distinct in_stock_sizes from "
                        f"read_csv('{tmp_path}/landing/catalogue/*/*.csv') where sku = ?",
                        [sku]).fetchall()
    assert stock and all(size not in s.split("|") for (s,) in stock)

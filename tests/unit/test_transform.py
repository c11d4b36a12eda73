"""What dbt makes of messy raw data (built once per session by the built_warehouse fixture)."""

from __future__ import annotations

import duckdb
import pytest

from ..conftest import AS_OF, DAYS


@pytest.fixture(scope="module")
def con(built_warehouse):
    c = duckdb.connect(str(built_warehouse), read_only=True)
    yield c
    c.close()


def _one(con, sql):
    return con.execute(sql).fetchone()[0]


def test_duplicate_events_are_deduplicated_by_event_id(con):
    raw_dups = _one(con, "select count(*) - count(distinct event_id) from raw.web_events")
    assert raw_dups > 0
    assert _one(con, "select count(*) from intermediate.int_web__events") == _one(
        con, "select count(distinct event_id) from raw.web_events")


def test_renamed_channel_column_is_recovered_from_overflow(con):
    assert _one(con, "select count(*) from raw.erp_orders where channel is null") > 0
    assert _one(con, "select count(*) from staging.stg_erp__orders where channel is null") == 0


def test_amounts_are_converted_to_eur_with_reference_rates(con):
    rows = con.execute(
        "select e.currency_code, l.unit_price, e.unit_price_eur, f.units_per_eur "
        "from intermediate.int_order_lines__enriched e "
        "join staging.stg_erp__order_lines l using (order_line_id) "
        "join reference.fx_rates f using (currency_code) where e.currency_code <> 'EUR'"
    ).fetchall()
    assert rows, "the sample has orders in other currencies"
    for _, price, eur, rate in rows:
        assert abs(float(price) / float(rate) - float(eur)) <= 0.005


def test_deleted_customers_are_erased_at_ingest(con):
    """A CRM delete is an erasure (upstream.erasure, tests in test_erasure.py): its rows leave
    raw, the manifest counts them, and staging has every living customer once."""
    assert _one(con, "select count(*) from raw.crm_customers where op = 'delete'") == 0
    assert _one(con, "select sum(rows_erased) from raw._load_manifest "
                     "where table_name = 'crm_customers'") > 0
    assert _one(con, "select count(*) from staging.stg_crm__customers") == _one(
        con, "select count(distinct crm_id) from raw.crm_customers")


def test_phones_are_normalised_to_e164(con):
    assert _one(con, "select count(*) from staging.stg_crm__customers "
                     "where not regexp_full_match(phone_e164, '\\+49151[0-9]{8}')") == 0


def test_bots_are_flagged(con):
    assert _one(con, "select count(*) from staging.stg_web__events where is_bot") > 0
    assert _one(con, "select count(*) from staging.stg_web__events "
                     "where is_bot and customer_id is not null") == 0


def test_snapshot_keeps_crm_history_as_scd2(warehouse):
    from datetime import date

    from upstream.ingest import ingest_source
    from upstream.transform import run_dbt

    day = date(2026, 11, 20)
    folder = warehouse.landing_dir / "crm" / day.isoformat()
    folder.mkdir(parents=True)
    con = duckdb.connect(str(warehouse.warehouse_path), read_only=True)
    cols = [r[0] for r in con.execute("describe raw.crm_customers").fetchall()
            if not r[0].startswith("_")]
    row = con.execute(f"select {', '.join(cols)} from raw.crm_customers where op = 'upsert' "
                      "and segment <> 'vip' order by crm_id limit 1").df()
    con.close()
    row["segment"], row["updated_at"] = "vip", "2026-11-20 12:00:00+00"
    row.to_csv(folder / "crm_customers_20261120.csv", index=False)
    row.iloc[:0].to_csv(folder / "legacy_customers_20261120.csv", index=False, sep=";")
    ingest_source(warehouse, "crm", [day])
    run_dbt(warehouse, ["snapshot"], as_of=AS_OF)
    con = duckdb.connect(str(warehouse.warehouse_path), read_only=True)
    versions = con.execute(
        "select segment, dbt_valid_to is null from snapshots.snp_crm__customers "
        "where customer_id = ? order by dbt_valid_from", [row["crm_id"][0]]).fetchall()
    con.close()
    assert len(versions) == 2
    assert versions[0][1] is False and versions[1] == ("vip", True)


def test_fit_issues_and_unmet_demand_are_suppressed_below_k_and_consistent(con):
    k = 2  # the session warehouse is built with min_group_size=2
    assert _one(con, "select count(*) from marts.design_fit_issues") > 0
    assert _one(con, f"select count(*) from marts.design_fit_issues where customer_count < {k} "
                     "or return_rate not between 0 and 1") == 0
    # every zero-result search in the feed really had no results in the raw clickstream
    assert _one(con, """
        select count(*) from marts.design_unmet_demand u
        where signal_type = 'search_without_results' and exists (
            select 1 from staging.stg_web__events e
            where e.search_query = u.subject and e.result_count > 0)""") == 0
    assert _one(con, f"select count(*) from marts.design_unmet_demand where visitor_count < {k}") == 0
    assert _one(con, "select count(distinct signal_type) from marts.design_unmet_demand") == 3


def test_dbt_docs_generate_documents_every_published_model(warehouse):
    import json

    from upstream.transform import run_dbt

    run_dbt(warehouse, ["docs", "generate"], as_of=AS_OF)
    target = warehouse.data_dir / "dbt" / "target"
    manifest = json.loads((target / "manifest.json").read_text())
    catalog = json.loads((target / "catalog.json").read_text())
    published = sorted(["customer_needs", "design_customer_briefs", "design_demand",
                        "design_demand_weekly", "design_fit_by_size", "design_fit_issues",
                        "design_unmet_demand", "size_scale"])
    for name in published:
        node = manifest["nodes"][f"model.upstream.{name}"]
        assert node["config"]["contract"]["enforced"], name
        assert node["description"], name
        assert all(c["description"] for c in node["columns"].values()), name
        assert f"model.upstream.{name}" in catalog["nodes"], name
    exposure = manifest["exposures"]["exposure.upstream.design_database"]
    assert sorted(exposure["depends_on"]["nodes"]) == [f"model.upstream.{n}" for n in published]


def test_a_command_after_the_build_runs_only_when_it_succeeded_and_cannot_undo_it(warehouse):
    """run_dbt(..., then=...): both commands in one dbt process; a build that succeeded is
    recorded even when the command after it fails, and a failed build runs nothing after it."""
    from datetime import timedelta

    from upstream.transform import TransformFailed, last_as_of, run_dbt

    later = AS_OF + timedelta(days=1)
    catalog = warehouse.dbt_target_dir / "catalog.json"
    catalog.unlink(missing_ok=True)
    with pytest.raises(TransformFailed) as caught:
        run_dbt(warehouse, ["run", "--select", "size_scale"], as_of=later,
                then=["run-operation", "no_such_macro"])
    assert caught.value.args[0].startswith("dbt run-operation no_such_macro failed (exit ")
    assert last_as_of(warehouse) == later  # the run before it was recorded

    with pytest.raises(TransformFailed) as caught:
        run_dbt(warehouse, ["run-operation", "no_such_macro"], as_of=later + timedelta(days=1),
                then=["docs", "generate", "--no-compile"])
    assert caught.value.args[0].startswith("dbt run-operation no_such_macro failed (exit ")
    assert not catalog.exists()  # nothing ran after the failure
    assert last_as_of(warehouse) == later

    output = run_dbt(warehouse, ["run", "--select", "size_scale"], as_of=later,
                     then=["docs", "generate", "--no-compile"])
    assert output.count("Running with dbt=") == 2 and "Catalog written" in output
    assert catalog.exists()


@pytest.mark.slow
def test_incremental_web_events_and_marts_equal_a_full_refresh(settings):
    import gzip
    import json
    import math

    from upstream.generate import generate
    from upstream.ingest import ingest_source
    from upstream.transform import run_dbt

    generate(settings.landing_dir, seed=8, sf=0.002, days=4)  # default messiness
    # day 3 re-sends five day-1 events with other content: the first delivery must win
    first = settings.landing_dir / "web" / DAYS[0].isoformat() / "events_20261101.ndjson.gz"
    with gzip.open(first, "rt") as fh:
        resent = [json.loads(line) for _, line in zip(range(5), fh, strict=False)]
    with gzip.open(settings.landing_dir / "web" / DAYS[2].isoformat() /
                   "events_20261103_late.ndjson.gz", "wt") as fh:
        fh.writelines(json.dumps({**e, "user_agent": "resent"}) + "\n" for e in resent)
    # days 3-4 bring new CRM records, orders and logins: the identity map changes under events
    # attributed by the first run (browsers that log in, people who merge)
    # day 3 also re-sends a day-1 order under another customer (its lines change person) and
    # relabels a product's colour (everybody who saw it has other affinities)
    day3 = settings.landing_dir / "orders" / DAYS[2].isoformat()
    header, first_order, other = (settings.landing_dir / "orders" / DAYS[0].isoformat() /
                                  "orders_20261101.csv").read_text().splitlines()[:3]
    other_customer = other.split(",")[1]
    moved = first_order.split(",")
    moved[1] = other_customer
    (day3 / "orders_20261103_resent.csv").write_text(f"{header}\n{','.join(moved)}\n")
    products = settings.landing_dir / "catalogue" / DAYS[2].isoformat() / "products_20261103.csv"
    rows = products.read_text().splitlines()
    cells = rows[1].split(",")
    cells[2] = "navy" if cells[2] != "navy" else "black"
    products.write_text("\n".join([rows[0], ",".join(cells), *rows[2:]]) + "\n")
    # the first run covers days 1-2 (as of day 3), the second days 3-4 as of AS_OF: signals
    # cross the earlier as-of date, running sums must carry them forward. Day 3's web file is
    # loaded before the first run: its events are loaded, yet on or after that run's as-of
    # date, so only the second run counts them (they cross the as-of date, not a load)
    for source in ("catalogue", "crm", "orders", "web"):
        ingest_source(settings, source, DAYS[:3] if source == "web" else DAYS[:2])
    run_dbt(settings, ["build"], as_of=DAYS[2])
    attributed = ("select event_id, person_id, is_known_customer "
                  "from intermediate.int_web__events_attributed")
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as c:
        first_run = dict((e, (p, k)) for e, p, k in c.execute(attributed).fetchall())
        crossing = c.execute("select count(*) from intermediate.int_web__events_attributed "
                             f"where is_known_customer and occurred_at >= date '{DAYS[2]}'"
                             ).fetchone()[0]
    assert crossing > 0
    for source in ("catalogue", "crm", "orders", "web"):
        ingest_source(settings, source, DAYS[2:4])
    run_dbt(settings, ["build"], as_of=AS_OF)  # incremental: only the new loads
    signals = ("select person_id, attribute, value, weight "
               "from intermediate.int_customer_signals order by all")
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as c:
        rederived, known = c.execute(
            "select rederived_persons, (select count(distinct person_id) "
            "from intermediate.int_customer_signals) "
            "from intermediate.int_customer_signals__applied").fetchone()
        running_sums = c.execute(signals).fetchall()
        cells_rederived, cells_deltas = c.execute(
            "select rederived_persons, delta_lines "
            "from intermediate.int_demand__weekly_cells__applied").fetchone()
        signals_deltas = c.execute("select delta_lines "
                                   "from intermediate.int_customer_signals__applied"
                                   ).fetchone()[0]
        returned_since = c.execute(
            "select count(*) from intermediate.int_order_lines__enriched "
            f"where returned_quantity > 0 and ordered_at < date '{DAYS[2]}' "
            f"and _changed_at > (select max(_loaded_at) from raw.web_events "
            f"where _source_file like 'web/{DAYS[1]}/%')").fetchone()[0]
    assert cells_rederived is not None and cells_rederived > 0
    # the second run re-derived some people (new orders, merges) and brought the others
    # forward by adding their new web signals
    assert rederived is not None and 0 < rederived < known, (rederived, known)
    # lines of the first run returned since (days 3-4): the signals apply their new minus old
    # masses (state_line_deltas) instead of re-deriving their persons; the cells count no
    # returned units (state_line_columns), so a return changes nothing there
    assert returned_since > 0 and 0 < signals_deltas <= returned_since, (signals_deltas,
                                                                         returned_since)
    assert cells_deltas == 0
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as c:
        marts = [r[0] for r in c.execute("select table_name from information_schema.tables "
                                         "where table_schema = 'marts' order by 1").fetchall()]
    assert len(marts) == 8  # every model in models/marts
    queries = {"events": "select * exclude (_loaded_at) from intermediate.int_web__events "
                         "order by event_id",
               "attributed": "select * exclude (_loaded_at) "
                             "from intermediate.int_web__events_attributed order by event_id",
               "cells": "select * from intermediate.int_demand__weekly_cells order by all",
               "preferences": "select * from intermediate.int_customer_preferences order by all",
               "needs": "select * from intermediate.int_customer_needs order by all",
               **{m: f"select * from marts.{m} order by all" for m in marts}}

    def snapshot() -> dict[str, list]:
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as c:
            return {name: c.execute(q).fetchall() for name, q in queries.items()}

    incremental = snapshot()
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as c:
        raw_distinct = c.execute("select count(distinct event_id) from raw.web_events").fetchone()
    run_dbt(settings, ["build", "--full-refresh"], as_of=AS_OF)
    full = snapshot()
    assert len(incremental["events"]) == raw_distinct[0]
    assert all(incremental[m] for m in marts)
    # the second run re-attributed events of the first (else the equality below proves little)
    second_run = {row[2]: (row[0], row[1]) for row in incremental["attributed"]}
    moved = [e for e, who in first_run.items() if e in second_run and second_run[e] != who]
    assert len(moved) >= 10, f"only {len(moved)} events changed person between the runs"
    assert incremental == full, "incremental and full refresh give the same events and marts"
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as c:
        derived = c.execute(signals).fetchall()
    assert [r[:3] for r in running_sums] == [r[:3] for r in derived]
    assert all(math.isclose(a[3], b[3], rel_tol=1e-12) for a, b in zip(running_sums, derived,
                                                                        strict=True))
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as c:
        assert c.execute("select count(*) from raw.web_events where user_agent = 'resent'"
                         ).fetchone()[0] == 5
        # no event in the model came from the re-sent (later) delivery
        assert c.execute("select count(*) from intermediate.int_web__events e "
                         "join raw.web_events r on r.event_id = e.event_id "
                         "and r._loaded_at = e._loaded_at where r.user_agent = 'resent'"
                         ).fetchone()[0] == 0
    # a run as of an earlier day cannot take sums forward (signals would have to leave them):
    # both states derive everybody again, and equal a full refresh as of that day
    applied = ("select rederived_persons from intermediate.int_customer_signals__applied "
               "union all select rederived_persons "
               "from intermediate.int_demand__weekly_cells__applied")
    run_dbt(settings, ["build"], as_of=DAYS[3])
    rewound = snapshot()
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as c:
        assert [r[0] for r in c.execute(applied).fetchall()] == [None, None]
    run_dbt(settings, ["build", "--full-refresh"], as_of=DAYS[3])
    assert rewound == snapshot()


@pytest.mark.slow
def test_returns_apply_as_deltas_that_equal_re_deriving(settings):
    """Hand-built returns of three counted lines on a day with one other order: a partial
    return, a full one, and two that add up to twice the line's units (damage: kept units go
    below zero and drop out). The signals apply each line's masses now minus as counted
    (three delta lines, nobody re-derived); the cells count no returns and re-derive nobody;
    the preferences recompute exactly the consenting persons whose fit rows or signals changed.
    Signals, preferences and every mart equal a full refresh."""
    import csv
    import math

    from upstream.generate import Messiness, generate
    from upstream.ingest import ingest_source
    from upstream.transform import run_dbt

    generate(settings.landing_dir, seed=3, sf=0.001, days=2, mess=Messiness.clean())
    for source in ("catalogue", "crm", "orders", "web"):
        ingest_source(settings, source, DAYS[:2])
    run_dbt(settings, ["build"], as_of=DAYS[2])
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as c:
        picked = c.execute(
            "select order_line_id, quantity from intermediate.int_order_lines__enriched "
            "where is_known_customer and quantity >= 2 and returned_quantity = 0 "
            "qualify row_number() over (partition by person_id order by order_line_id) = 1 "
            "order by order_line_id limit 3").fetchall()
    assert len(picked) == 3
    (partial, _), (full, full_units), (over, over_units) = picked
    day3 = settings.landing_dir / "orders" / DAYS[2].isoformat()
    day3.mkdir(parents=True)
    # besides the returns, day 3 brings one order (a known customer's day-2 order again under
    # new ids: a new line, brought forward) and no delivery notes or invoices
    day2 = settings.landing_dir / "orders" / DAYS[1].isoformat()
    for name in ("orders", "order_lines", "delivery_notes", "invoices"):
        with (day2 / f"{name}_{DAYS[1]:%Y%m%d}.csv").open(newline="") as fh:
            rows = list(csv.reader(fh))
        if name == "orders":
            order = next(r[0] for r in rows[1:] if r[1])
        kept = [[f"X{v}" if v.startswith(order) else v for v in r] for r in rows[1:]
                if order in r[:2]]
        with (day3 / f"{name}_{DAYS[2]:%Y%m%d}.csv").open("w", newline="") as fh:
            csv.writer(fh).writerows([rows[0], *kept])
    returns = [("partial", partial, 1), ("full", full, full_units),
               ("over-1", over, over_units), ("over-2", over, over_units)]
    (day3 / f"returns_{DAYS[2]:%Y%m%d}.csv").write_text(
        "return_id,order_line_id,returned_at,quantity,reason_code,free_text\n" + "".join(
            f"R-{name},{line},{DAYS[2]} 15:00:00+00,{units},too_large,\n"
            for name, line, units in returns))

    def preference_inputs() -> tuple[dict[str, list], set[str]]:
        rows: dict[str, list] = {}
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as c:
            for table in ("int_customer_fit__sizes", "int_customer_signals"):
                for row in c.execute(f"select * from intermediate.{table} order by all"
                                     ).fetchall():
                    rows.setdefault(row[0], []).append(row)
            consenting = {r[0] for r in c.execute(
                "select person_id from intermediate.int_customers__golden "
                "where has_profiling_consent").fetchall()}
        return rows, consenting

    before, _ = preference_inputs()
    ingest_source(settings, "orders", [DAYS[2]])
    run_dbt(settings, ["build"], as_of=DAYS[3])
    applied = ("select rederived_persons, delta_lines from intermediate.{}__applied")
    tables = {"signals": "select person_id, attribute, value, weight "
                         "from intermediate.int_customer_signals order by all",
              "cells": "select * from intermediate.int_demand__weekly_cells order by all",
              "needs": "select * from marts.customer_needs order by all",
              "int_needs": "select * from intermediate.int_customer_needs order by all",
              "preferences": "select * from intermediate.int_customer_preferences order by all",
              "weekly": "select * from marts.design_demand_weekly order by all"}

    def snapshot():
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as c:
            return {n: c.execute(q).fetchall() for n, q in tables.items()}, {
                m: c.execute(applied.format(m)).fetchone()
                for m in ("int_customer_signals", "int_demand__weekly_cells",
                          "int_customer_preferences")}

    incremental, states = snapshot()
    # the preferences recompute only the consenting persons whose fit rows or signals changed:
    # the returns' and the new order's, and those whose size confidence (rounded, from a vote
    # accuracy learnt from everybody) moved; everybody else's row is kept
    after, consenting = preference_inputs()
    changed = {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
    recomputed = states.pop("int_customer_preferences")[0]
    assert recomputed == len(changed & consenting) and 0 < recomputed < len(consenting) / 2
    assert states == {"int_customer_signals": (0, 3), "int_demand__weekly_cells": (0, 0)}
    run_dbt(settings, ["build", "--full-refresh"], as_of=DAYS[3])
    full, _ = snapshot()
    assert [r[:3] for r in incremental["signals"]] == [r[:3] for r in full["signals"]]
    assert all(math.isclose(a[3], b[3], rel_tol=1e-12)
               for a, b in zip(incremental["signals"], full["signals"], strict=True))
    compared = ("cells", "needs", "int_needs", "preferences", "weekly")
    assert {n: incremental[n] for n in compared} == {n: full[n] for n in compared}


@pytest.mark.slow
def test_a_dbt_failure_caused_by_data_names_the_node_and_the_suspect_deliveries(settings,
                                                                                monkeypatch):
    """An older contract let an unknown currency in on day 2: dbt's test fails, and the message
    names the failing test and the files loaded since dbt last succeeded (day 2's), not day 1's."""
    from dataclasses import replace
    from datetime import date

    from upstream.generate import Messiness, generate
    from upstream.ingest import ingest_source
    from upstream.ingest import landing as landing_mod
    from upstream.transform import TransformFailed, run_dbt

    day1, day2 = date(2026, 11, 1), date(2026, 11, 2)
    generate(settings.landing_dir, seed=2, sf=0.001, days=2, mess=Messiness.clean())
    for source in ("catalogue", "crm", "web", "orders"):
        ingest_source(settings, source, [day1])
    run_dbt(settings, ["build"], as_of=day2)

    lenient = landing_mod.with_vocabularies

    def without_currency_check(contract, seeds):
        resolved = lenient(contract, seeds)
        return replace(resolved, checks=tuple(k for k in resolved.checks
                                              if k.reason != "unknown_currency"))

    monkeypatch.setattr(landing_mod, "with_vocabularies", without_currency_check)
    orders = settings.landing_dir / "orders" / day2.isoformat() / "orders_20261102.csv"
    lines = orders.read_text().splitlines()
    lines[1] = lines[1].replace(",EUR,", ",XXX,")
    orders.write_text("\n".join(lines) + "\n")
    for source in ("catalogue", "crm", "web", "orders"):
        ingest_source(settings, source, [day2])
    with pytest.raises(TransformFailed) as caught:
        run_dbt(settings, ["build"], as_of=date(2026, 11, 3))
    message = str(caught.value)
    assert " in relationships_stg_erp__orders_currency_code" in message.splitlines()[0]
    assert "orders/2026-11-02/orders_20261102.csv" in message
    assert "orders/2026-11-01/orders_20261101.csv" not in message
    assert "Next:" in message

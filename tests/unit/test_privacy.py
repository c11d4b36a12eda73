"""No published table carries a name, email, phone, address or CRM id."""

from __future__ import annotations

import re

import duckdb

from upstream import publish as pub
from upstream.gate import run_gate
from upstream.publish import feed_names

from ..conftest import AS_OF, DAYS, PROJECT_DIR

FEEDS = feed_names(PROJECT_DIR / "dbt_project")  # the published feeds (dbt exposure)

PATTERNS = {
    "email": re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+"),
    # the CRM's formats: +49151…, +49 151 …, 0151 … (dates and hex keys must not match)
    "phone": re.compile(r"\+\d{2}[ \d]{9,}|\b0\d{3} \d{6,}"),
    "crm_id": re.compile(r"\bC\d{8}\b"),
}


def test_published_tables_hold_no_personal_data(warehouse):
    cand = pub.build_candidate(warehouse, run_id="scan", interval_start=DAYS[-1],
                               interval_end=AS_OF)
    run_gate(warehouse, cand)
    pub.publish_candidate(warehouse, cand)
    wh = duckdb.connect(str(warehouse.warehouse_path), read_only=True)
    names = {v for row in wh.execute("select first_name, last_name, street, city "
                                     "from staging.stg_crm__customers").fetchall()
             for v in row if v}
    wh.close()
    con = duckdb.connect(str(warehouse.published_db), read_only=True)
    tables = [r[0] for r in con.execute("show tables").fetchall()]
    assert set(FEEDS) <= set(tables)
    found = []
    for table in tables:
        columns = [r[0] for r in con.execute(f"describe {table}").fetchall()]
        assert not {"email", "phone", "first_name", "last_name", "street", "customer_id",
                    "crm_id", "guest_email"} & set(columns), (table, columns)
        for row in con.execute(f"select * from {table}").fetchall():
            for value in row:
                text = str(value)
                found += [(table, kind, text) for kind, rx in PATTERNS.items() if rx.search(text)]
                found += [(table, "name", text) for n in names if len(n) > 3 and n in text]
    con.close()
    assert found == [], found[:10]


# What an outsider holding the ERP export (orders, lines, returns; CRM ids, no names) computes
# per CRM id, coarsened by the published rules (docs are public), to join on published rows.
ATTACKER = """
with lines as (
    select o.crm_id, o.order_id, o.ordered_at, l.quantity,
           l.quantity * l.unit_price / fx.units_per_eur as amount,
           coalesce(r.returned, 0) as returned, coalesce(l.is_made_to_order, false) as mto,
           coalesce(l.discount_rate, 0) > 0 as discounted
    from raw.erp_orders o
    join raw.erp_order_lines l using (order_id)
    join reference.fx_rates fx on fx.currency_code = upper(trim(o.currency))
    left join (select order_line_id, sum(quantity) as returned from raw.erp_returns
               group by all) r on r.order_line_id = l.order_line_id
    where o.crm_id is not null
),
per_id as (
    select crm_id, count(distinct order_id) as orders, sum(quantity) as units,
           sum(returned) as returned, sum(amount) as revenue,
           sum(amount * (quantity - least(returned, quantity)) / quantity) as net,
           min(ordered_at) as first_at, max(ordered_at) as last_at,
           greatest(max(ordered_at), (select max(occurred_at) from raw.web_events w
                                      where w.customer_id = lines.crm_id)) as last_activity_at,
           sum(quantity) filter (where mto) / sum(quantity) as mto_share,
           coalesce(sum(quantity) filter (where discounted) / sum(quantity), 0) as disc_share
    from lines group by crm_id
)
select crm_id, {columns} from per_id
"""
BAND = ("case when {c} < 100 then '<100' when {c} < 250 then '100-250' when {c} < 500 "
        "then '250-500' when {c} < 1000 then '500-1000' else '1000+' end")


def _recovered(attacker: list[tuple], published: list[tuple], key_of) -> int:
    """Published rows whose tuple matches exactly one CRM id of the attacker's, and the right one."""
    by_tuple: dict[tuple, list[str]] = {}
    for crm_id, *values in attacker:
        by_tuple.setdefault(tuple(values), []).append(crm_id)
    hits = 0
    for customer_key, *values in published:
        found = by_tuple.get(tuple(values), [])
        hits += len(found) == 1 and key_of(found[0]) == customer_key
    return hits


def test_linkage_attacks_recover_nobody_from_what_is_published(warehouse):
    import hashlib

    cand = pub.build_candidate(warehouse, run_id="linkage", interval_start=DAYS[-1],
                               interval_end=AS_OF)
    wh = duckdb.connect(str(warehouse.warehouse_path), read_only=True)
    design = duckdb.connect(str(cand.path), read_only=True)

    def key_of(crm_id):
        return hashlib.sha256(f"test-secret|{crm_id}".encode()).hexdigest()

    def attack(attacker_columns, published_sql):
        return _recovered(wh.execute(ATTACKER.format(columns=attacker_columns)).fetchall(),
                          design.execute(published_sql).fetchall(), key_of)

    # the attacks against exact values (what the feed held before): they work
    exact = {r[0]: r[1:] for r in wh.execute(
        "select customer_id, last_activity_at, first_order_date, last_order_date, order_count "
        "from intermediate.int_customer_needs").fetchall()}
    profiled = len(exact)
    by_time = _recovered(wh.execute(ATTACKER.format(columns="last_activity_at")).fetchall(),
                         [(key_of(c), v[0]) for c, v in exact.items()], key_of)
    by_dates = _recovered(
        wh.execute(ATTACKER.format(columns="first_at::date, last_at::date, orders")).fetchall(),
        [(key_of(c), v[1], v[2], v[3]) for c, v in exact.items()], key_of)
    assert by_time > profiled / 3 and by_dates > profiled / 20, (by_time, by_dates, profiled)

    # the same attacks, and a broader one, against what is published: nobody
    week = "date_trunc('week', last_at)::date"
    month = "date_trunc('month', first_at)::date"
    assert attack(week, "select customer_key, last_order_week from customer_needs "
                        "where last_order_week is not null") == 0
    assert attack(f"{month}, {week}, least(orders, 10)",
                  "select customer_key, first_order_month, last_order_week, order_count "
                  "from customer_needs where profile_detail = 'full'") == 0
    broad = (f"{month}, {week}, least(orders, 10), least(units, 20), least(returned, 10), "
             f"{BAND.format(c='revenue')}, {BAND.format(c='net')}, "
             "case when mto_share = 0 then 'never' when mto_share < 0.25 then 'rarely' "
             "when mto_share < 0.5 then 'often' else 'mostly' end")
    assert attack(broad, "select customer_key, first_order_month, last_order_week, "
                         "order_count, units_bought, units_returned, revenue_band, "
                         "net_revenue_band, made_to_order_band from customer_needs "
                         "where profile_detail = 'full'") == 0
    coarse = ("least(orders, 2), least(returned, 1), case when revenue < 250 then '<250' "
              "else '250+' end")
    assert attack(coarse, "select customer_key, order_count, units_returned, revenue_band "
                          "from customer_needs where profile_detail = 'coarse'") == 0
    # what the published rows carry at all: no timestamp, no exact amount
    columns = {r[0]: r[1] for r in design.execute("describe customer_needs").fetchall()}
    assert not {"last_activity_at", "revenue", "net_revenue", "first_order_date",
                "last_order_date", "recency_days", "median_unit_price_eur"} & set(columns)
    assert not any("TIMESTAMP" in t for t in columns.values())
    wh.close()
    design.close()

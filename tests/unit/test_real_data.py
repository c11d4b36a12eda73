"""A real retailer's exports, not our generator's: foreign vocabularies, people counted once,
nothing personal published.

A hand-built world of another shape: a PIM with sizes such as ``petite``, ``N/A``, ``S-XXL``,
``28-34`` and ``Mini|Maxi``, in-stock sizes in lower case, new categories and colours; orders in
``usd`` (lower case, padded), GBP, JPY and an unknown XYZ; return reasons as free text in
English and German; countries as names in several languages. The people:

- C1 Ana (United States) bought two T-shirts M in USD, returned one "zu klein" (too small):
  T-shirts L by the tie rule. She viewed T-shirt M (in stock, delivered as ``m``).
- C2 Ben (Deutschland) bought a dress PETITE in GBP and returned it: "Did not fit" (free text,
  no code) is wrong_size, which says nothing about the direction. He viewed T-shirt XL, which
  is out of stock.
- C3 Cleo (U.K.) bought jeans 32 and 36 in JPY (36 is not in the range 28-34: undeclared);
  viewed T-shirt XL and the dress in REGULAR, both out of stock.
- C4 Dan (Atlantis: unknown) bought a scarf (N/A = ONE SIZE) and a hat Mini; returned the scarf
  with code R99 and text "arrived damaged" (damaged) and the hat for "Parcel never came"
  (unmapped: other, reported).
- C5 Eve ordered a T-shirt M, viewed it logged in, ordered again as a guest, and was erased on
  day 2: none of it may count anywhere.
- C6 Tom and C7 Lisa share family@x.eu (different names and birth years): two people; a guest
  order under that email belongs to neither.
- C900 has no CRM record (never exported): ordered a T-shirt M and, logged in as C900 from
  browser A9, viewed it: one person across orders and web.
- Searches without results: "linen jumpsuit" (Ana, Ben) is a need; an email, a phone number
  and an IBAN typed into the search box (two people each) are personal data, never published.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from datetime import date
from pathlib import Path

import duckdb
import pytest

from upstream.settings import Settings

from ..conftest import PROJECT_DIR

DAY1, DAY2, AS_OF = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)
SECRET = "real-data-secret"

PRODUCTS = """sku,category,colour,material,fit,base_price_eur,size_range,configurable_options,is_made_to_order,in_stock_sizes,snapshot_date
P-DRESS,Dress,Burgundy,Silk,Regular Fit,150.00,petite|regular|tall,,false,Petite|tall,2026-11-01
P-TEE,T-Shirts, Gray ,cotton,slim,25.00,S-XXL,,false,s|m|l|xxl,2026-11-01
P-SCARF,Scarves,Off White,wool,,40.00,N/A,,false,N/A,2026-11-01
P-JEANS,Jeans,indigo,denim,slim,90.00,28-34,,false,30|32,2026-11-01
P-HAT,Hats,black,felt,,30.00,Mini|Maxi,,false,Mini,2026-11-01
"""
CRM_HEADER = ("crm_id,first_name,last_name,email,phone,street,postal_code,city,country,birth_year,"
              "segment,consent_marketing,consent_profiling,height_cm,chest_cm,waist_cm,"
              "preferred_fit,preferred_colours,created_at,updated_at,op\n")
TS = "2025-01-01 00:00:00+00"
CRM_DAY1 = CRM_HEADER + "".join(
    f"{cid},{first},{last},{email},,,,,{country},{year},vip,true,true,,,,,,{TS},{TS},upsert\n"
    for cid, first, last, email, country, year in [
        ("C1", "Ana", "Alves", "ana@x.eu", "United States", 1990),
        ("C2", "Ben", "Berg", "ben@x.eu", "Deutschland", 1985),
        ("C3", "Cleo", "Cruz", "cleo@x.eu", "U.K.", 1987),
        ("C4", "Dan", "Dorn", "dan@x.eu", "Atlantis", 1979),
        ("C5", "Eve", "Ek", "eve@x.eu", "Sverige", 1995),
        ("C6", "Tom", "Vos", "family@x.eu", "fr", 1970),
        ("C7", "Lisa", "Vos", "family@x.eu", " FRANCE ", 2004),
    ])
CRM_DAY2 = CRM_HEADER + "C5,,,,,,,,,,,false,false,,,,,,,2026-11-02 09:00:00+00,delete\n"

ORDERS = """order_id,crm_id,guest_email,ordered_at,currency,channel,shipping_country
O1,C1,,2026-11-01 10:00:00+00, usd ,web,USA
O2,C2,,2026-11-01 10:05:00+00,GBP,web,Deutschland
O3,C3,,2026-11-01 10:10:00+00,JPY,web,Vereinigtes Königreich
O4,C4,,2026-11-01 10:15:00+00,EUR,web,Narnia
O5,C5,,2026-11-01 10:20:00+00,EUR,web,SE
O6,,eve@x.eu,2026-11-01 10:25:00+00,EUR,web,SE
O7,,family@x.eu,2026-11-01 10:30:00+00,EUR,web,FR
O8,C900,,2026-11-01 10:35:00+00,EUR,web,Österreich
O9,C1,,2026-11-01 10:40:00+00,XYZ,web,US
"""
LINES = """order_line_id,order_id,sku,category,size,colour,material,fit,configured_options,is_made_to_order,quantity,unit_price,discount_rate
O1-1,O1,P-TEE,T-Shirts,m,Gray,cotton,slim,,false,1,29.00,0
O1-2,O1,P-TEE,T-Shirts,M,gray,Cotton,Slim,,false,1,29.00,0
O2-1,O2,P-DRESS,dress,Petite,burgundy,silk,regular fit,,false,1,127.50,0
O3-1,O3,P-JEANS,Jeans,32,indigo,denim,slim,,false,1,16200.00,0
O3-2,O3,P-JEANS,Jeans,36,indigo,denim,slim,,false,1,16200.00,0
O4-1,O4,P-SCARF,Scarves,N/A,off white,wool,,,false,1,40.00,0
O4-2,O4,P-HAT,Hats,Mini,black,felt,,,false,1,30.00,0
O5-1,O5,P-TEE,T-Shirts,M,gray,cotton,slim,,false,1,25.00,0
O6-1,O6,P-TEE,T-Shirts,M,gray,cotton,slim,,false,1,25.00,0
O7-1,O7,P-TEE,T-Shirts,M,gray,cotton,slim,,false,1,25.00,0
O8-1,O8,P-TEE,T-Shirts,extra large,gray,cotton,slim,,false,1,25.00,0
O8-2,O8,P-TEE,T-Shirts,medium,gray,cotton,slim,,false,1,25.00,0
O9-1,O9,P-TEE,T-Shirts,M,gray,cotton,slim,,false,1,25.00,0
"""
RETURNS = """return_id,order_line_id,returned_at,quantity,reason_code,free_text
R1,O1-2,2026-11-01 18:00:00+00,1,zu klein,
R2,O2-1,2026-11-01 18:00:00+00,1,,Did not fit
R3,O4-1,2026-11-01 18:00:00+00,1,R99,arrived damaged
R4,O4-2,2026-11-01 18:00:00+00,1,Parcel never came,
"""
EMPTY = {
    "delivery_notes": "delivery_id,order_id,shipped_at,delivered_at,carrier,status\n",
    "invoices": "invoice_id,order_id,net_amount,vat_amount,gross_amount,currency,issued_at,paid_at\n",
}


def _event(n, kind, anon, customer=None, sku=None, size=None, query=None, results=None):
    return {"event_id": f"E{n:03d}", "event_type": kind,
            "occurred_at": f"2026-11-01T{12 + n // 60:02d}:{n % 60:02d}:00+01:00",
            "anonymous_id": anon, "session_id": f"S{anon}", "customer_id": customer, "sku": sku,
            "size": size, "search_query": query, "result_count": results,
            "option_name": None, "option_value": None, "user_agent": "Mozilla/5.0 (X11)"}


SEARCHES = {"linen jumpsuit": ("A1", "A2"), "me@mail.com": ("A1", "A3"),
            "+49 151 2345678": ("A2", "A3"), "DE89 3704 0044 0532 0130 00": ("A1", "A2")}
EVENTS = [
    _event(1, "login", "A1", "C1"), _event(2, "login", "A2", "C2"),
    _event(3, "login", "A3", "C3"), _event(4, "login", "A5", "C5"),
    _event(5, "login", "A9", "C900"),
    _event(10, "product_view", "A1", "C1", "P-TEE", "m"),            # in stock (stock says 'm')
    _event(11, "product_view", "A2", "C2", "P-TEE", "XL"),           # out of stock
    _event(12, "product_view", "A3", "C3", "P-TEE", "xl"),           # out of stock
    _event(13, "product_view", "A3", "C3", "P-DRESS", "Regular"),    # out of stock
    _event(14, "product_view", "A2", "C2", "P-DRESS", "PETITE"),     # in stock
    _event(15, "product_view", "A2", "C2", "P-TEE", "xxl"),          # in stock
    _event(16, "product_view", "A5", "C5", "P-TEE", "M"),            # erased: never counts
    _event(17, "product_view", "A9", None, "P-TEE", "M"),            # C900's browser
    _event(18, "product_view", "A3", None, "P-SCARF", "one size"),   # in stock (N/A)
    *[_event(30 + i, "search", anon, query=q, results=0)
      for i, (q, anon) in enumerate((q, a) for q, pair in SEARCHES.items() for a in pair)],
]


def _write_landing(landing: Path) -> None:
    def put(source: str, day: date, name: str, text: str) -> None:
        folder = landing / source / day.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")

    put("catalogue", DAY1, "products_20261101.csv", PRODUCTS)
    put("crm", DAY1, "crm_customers_20261101.csv", CRM_DAY1)  # no legacy CRM: it is optional
    put("crm", DAY2, "crm_customers_20261102.csv", CRM_DAY2)
    put("orders", DAY1, "orders_20261101.csv", ORDERS)
    put("orders", DAY1, "order_lines_20261101.csv", LINES)
    put("orders", DAY1, "returns_20261101.csv", RETURNS)
    for name, header in EMPTY.items():
        put("orders", DAY1, f"{name}_20261101.csv", header)
    folder = landing / "web" / DAY1.isoformat()
    folder.mkdir(parents=True)
    with gzip.open(folder / "events_20261101.ndjson.gz", "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(e) + "\n" for e in EVENTS)


def _settings(root: Path) -> Settings:
    return Settings(project_dir=PROJECT_DIR, data_dir=root / "data",
                    published_dir=root / "published", max_reject_rate=0.5, reject_floor=0,
                    min_group_size=2, pseudonym_secret=SECRET, demand_window_days=7)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Ingest, dbt build, gate and publish the hand-built exports once."""
    from upstream import publish as pub
    from upstream.gate import run_gate
    from upstream.ingest import ingest_source
    from upstream.transform import run_dbt

    settings = _settings(tmp_path_factory.mktemp("real_data"))
    _write_landing(settings.landing_dir)
    reports = [ingest_source(settings, "catalogue", [DAY1]),
               ingest_source(settings, "crm", [DAY1, DAY2]),
               ingest_source(settings, "web", [DAY1]),
               ingest_source(settings, "orders", [DAY1])]
    run_dbt(settings, ["build"], as_of=AS_OF)
    cand = pub.build_candidate(settings, run_id="real", interval_start=DAY2, interval_end=AS_OF)
    gate = run_gate(settings, cand)
    manifest = pub.publish_candidate(settings, cand)
    wh = duckdb.connect(str(settings.warehouse_path), read_only=True)
    design = duckdb.connect(str(settings.published_db), read_only=True)
    yield {"settings": settings, "reports": reports, "gate": gate, "manifest": manifest,
           "wh": wh, "design": design}
    wh.close()
    design.close()


def _rows(con, sql) -> list[tuple]:
    return con.execute(sql).fetchall()


def _key(person_id: str) -> str:
    return hashlib.sha256(f"{SECRET}|{person_id}".encode()).hexdigest()


def test_everything_loads_or_is_quarantined_with_a_reason(world):
    for report in world["reports"]:
        assert {f.status for f in report.files} == {"loaded"}, report.summary()
    manifest = _rows(world["wh"], "select path, rows_read, rows_loaded, rows_quarantined "
                                  "from raw._load_manifest")
    assert all(read == loaded + quarantined for _, read, loaded, quarantined in manifest)
    quarantined = _rows(world["wh"], "select source_file, reason, raw_text::json ->> 'order_id' "
                                     "from raw._quarantine where reason <> 'erased'")
    assert quarantined == [("orders/2026-11-01/orders_20261101.csv", "unknown_currency", "O9")]
    # Eve was erased by the day-2 CRM delta: her later deliveries are quarantined without text
    # (her login and view, her order and her guest order), the lines of those orders purged
    erased = _rows(world["wh"], "select source_file, count(*), count(raw_text) from "
                                "raw._quarantine where reason = 'erased' group by all order by 1")
    assert erased == [("orders/2026-11-01/orders_20261101.csv", 2, 0),
                      ("web/2026-11-01/events_20261101.ndjson.gz", 2, 0)]
    assert _rows(world["wh"], "select rows_loaded, rows_erased from raw._load_manifest "
                              "where table_name = 'erp_order_lines'") == [(13, 2)]
    assert _rows(world["wh"], "select count(*) from raw.erp_order_lines "
                              "where order_id in ('O5', 'O6')") == [(0,)]


def test_gate_passes_and_every_feed_is_published(world):
    from upstream.publish import feed_names

    FEEDS = feed_names(PROJECT_DIR / "dbt_project")

    assert world["gate"].success
    assert set(world["manifest"]["row_counts"]) == set(FEEDS)
    tables = {r[0] for r in _rows(world["design"], "show tables")}
    assert set(FEEDS) <= tables


def test_every_unknown_value_is_reported(world):
    report = set(_rows(world["wh"], "select kind, category, value, occurrences "
                                    "from reports.vocabulary_report"))
    assert report == {
        ("unknown_size_order", "hats", "MAXI", 0),
        ("unknown_size_order", "hats", "MINI", 1),
        ("undeclared_size", "jeans", "36", 1),
        ("category_without_size_chart", "hats", "hats", None),
        ("category_without_size_chart", "jeans", "jeans", None),
        ("category_without_size_chart", "scarves", "scarves", None),
        ("category_without_size_chart", "t-shirts", "t-shirts", None),
        ("unmapped_return_reason", None, "Parcel never came", 1),
        ("unknown_country", None, "Atlantis", 1),
        ("unknown_country", None, "Narnia", 1),
        ("unknown_currency", None, "XYZ", 1),
    }
    warnings = "\n".join(world["gate"].warnings)
    for kind in ("unknown_size_order", "undeclared_size", "category_without_size_chart",
                 "unmapped_return_reason", "unknown_country", "unknown_currency"):
        assert f"kind==\"{kind}\"" in warnings, kind
    assert "'hats: MINI'" in warnings and "'XYZ'" in warnings
    # and dbt's own warning: the quarantined order O9 left its line an orphan
    assert "dbt: relationships_stg_erp__order_lines_order_id__order_id__ref_stg_erp__orders_: " \
           "Got 1 result, configured to warn if != 0" in world["gate"].warnings
    assert world["manifest"]["gate"]["warnings"] == world["gate"].warnings


def test_size_scales_come_from_the_catalogue_in_seed_order(world):
    scales = dict(_rows(world["design"], "select category, list(size order by sort_order) "
                                         "from size_scale group by category"))
    assert scales["t-shirts"] == ["S", "M", "L", "XL", "XXL"]
    # the size chart knows dresses in XS..XL too; scales sort alphabetically (alpha, length)
    assert scales["dresses"] == ["XS", "S", "M", "L", "XL", "PETITE", "REGULAR", "TALL"]
    assert scales["scarves"] == ["ONE SIZE"]
    assert scales["jeans"] == ["28", "30", "32", "34", "36"]
    assert scales["hats"] == ["MAXI", "MINI"]


def test_out_of_stock_views_are_counted_exactly(world):
    # in stock as delivered in lower case ('m', 'xxl', 'Petite', N/A): never out of stock
    views = dict(_rows(world["wh"], "select customer_id, out_of_stock_size_views "
                                    "from marts.customer_needs"))
    assert views == {"C1": 0, "C2": 1, "C3": 2, "C4": 0, "C6": 0, "C7": 0}
    feed = _rows(world["design"], "select subject, category, size, events, visitor_count "
                                  "from design_unmet_demand "
                                  "where signal_type = 'view_of_out_of_stock_size'")
    assert feed == [("P-TEE", "t-shirts", "XL", 2, 2)]  # the REGULAR dress: one person, < k


def test_currencies_reasons_and_countries_are_normalised(world):
    wh = world["wh"]
    prices = dict(_rows(wh, "select order_line_id, unit_price_eur from "
                            "intermediate.int_order_lines__enriched"))
    assert (float(prices["O1-1"]), float(prices["O2-1"]), float(prices["O3-1"])) == (
        25.0, 150.0, 90.0)  # 29 USD / 1.16, 127.50 GBP / 0.85, 16 200 JPY / 180
    reasons = dict(_rows(wh, "select return_id, reason_code from staging.stg_erp__returns"))
    assert reasons == {"R1": "too_small", "R2": "wrong_size", "R3": "damaged", "R4": "other"}
    countries = dict(_rows(wh, "select customer_id, country_code from marts.customer_needs"))
    assert countries == {"C1": "US", "C2": "DE", "C3": "GB", "C4": None, "C6": "FR", "C7": "FR"}
    shipping = dict(_rows(wh, "select order_id, shipping_country_code from staging.stg_erp__orders"))
    assert (shipping["O1"], shipping["O3"], shipping["O4"], shipping["O8"]) == (
        "US", "GB", None, "AT")


def test_fit_uses_the_catalogue_scale_and_directionless_reasons_say_nothing(world):
    fit = {(p, c): (s, conf) for p, c, s, conf in _rows(
        world["wh"], "select person_id, category, recommended_size, confidence "
                     "from intermediate.int_customer_fit__sizes")}
    # a tie of two votes over 5 sizes: posterior 1 / (2 + 3/r), r = 0.7 x 4 / 0.3 -> 0.43
    assert fit[("C1", "t-shirts")] == ("L", 0.43)   # kept M, "zu klein" -> L; tie -> larger
    assert ("C2", "dresses") not in fit             # returned, "did not fit": no direction
    assert fit[("C3", "jeans")] == ("36", 0.43)
    assert ("C4", "hats") not in fit                 # returned for an unmapped reason: no vote


def test_one_person_per_cell_when_a_crm_record_is_missing(world):
    persons = dict(_rows(world["wh"], "select identifier, person_id "
                                      "from intermediate.int_identity__map"))
    assert persons["crm:C900"] == persons["anon:A9"] == "C900"
    # T-shirts M: Ana (two lines, a view), C900 (an order line, a view from A9), the family's
    # guest order; Eve's order, guest order and view are gone (erased)
    cell = _rows(world["design"], "select units, order_count, customer_count, product_views "
                                  "from design_demand where category = 't-shirts' and size = 'M'")
    assert cell == [(4, 3, 3, 2)]


def test_erased_person_is_absent_from_every_feed(world):
    wh = world["wh"]
    assert not _rows(wh, "select * from intermediate.int_order_lines__enriched "
                         "where order_id in ('O5', 'O6')")
    assert not _rows(wh, "select * from intermediate.int_web__events_attributed "
                         "where anonymous_id = 'A5'")
    assert not _rows(wh, "select * from intermediate.int_identity__map "
                         "where identifier in ('crm:C5', 'email:eve@x.eu', 'anon:A5')")
    key = _key("C5")
    for (table,) in _rows(world["design"], "show tables"):
        text = str(_rows(world["design"], f"select * from {table}"))
        assert key not in text and "C5" not in text, table


def test_shared_email_does_not_merge_different_people(world):
    persons = dict(_rows(world["wh"], "select identifier, person_id "
                                      "from intermediate.int_identity__map"))
    assert (persons["crm:C6"], persons["crm:C7"]) == ("C6", "C7")
    assert persons["guest_order:O7"] == "guest_order:O7"
    report = dict(_rows(world["wh"], "select identifier_type, identifiers "
                                     "from intermediate.int_identity__match_report"))
    assert report["guarded_shared_email"] == 1
    assert report["crm_without_record"] == 1
    needs = {r[0] for r in _rows(world["wh"], "select customer_id from marts.customer_needs")}
    assert {"C6", "C7"} <= needs


PERSONAL = {
    "email": re.compile(r"[^\s@]+@[^\s@]+"),
    "phone or card": re.compile(r"\d(?:[ ./()-]?\d){6,}"),
    "iban": re.compile(r"(?i)\b[a-z]{2}\d{2}(?: ?[a-z0-9]{4}){2,7}"),
}


def test_no_direct_identifier_in_any_published_string_column(world):
    design = world["design"]
    subjects = [r[0] for r in _rows(design, "select subject from design_unmet_demand "
                                            "where signal_type = 'search_without_results'")]
    assert subjects == ["linen jumpsuit"]
    found = []
    for (table,) in _rows(design, "show tables"):
        columns = [c for c, kind, *_ in _rows(design, f"describe {table}")
                   if kind == "VARCHAR" and c != "customer_key"]
        for column in columns:
            for (value,) in _rows(design, f'select distinct "{column}" from {table}'):
                found += [(table, column, kind, value) for kind, rx in PERSONAL.items()
                          if value and rx.search(value)]
    assert found == []

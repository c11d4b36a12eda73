from __future__ import annotations

import gzip
import time
from dataclasses import replace
from datetime import date

import duckdb
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from upstream.contracts import ContractError
from upstream.generate import Messiness, generate
from upstream.ingest import LandingError, ingest_source
from upstream.ingest import load as load_mod
from upstream.ingest import manifest as manifest_mod
from upstream.ingest import run as run_mod

DAY = date(2026, 11, 1)
HEADER = "order_id,crm_id,guest_email,ordered_at,currency,channel,shipping_country\n"


def _rows(settings, sql):
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


FLOW_HEADERS = {
    "delivery_notes": "delivery_id,order_id,shipped_at,delivered_at,carrier,status\n",
    "invoices": "invoice_id,order_id,net_amount,vat_amount,gross_amount,currency,issued_at,"
                "paid_at\n",
    "returns": "return_id,order_line_id,returned_at,quantity,reason_code,free_text\n",
}
LINES = ("order_line_id,order_id,sku,category,size,colour,material,fit,configured_options,"
         "is_made_to_order,quantity,unit_price,discount_rate\n"
         "L1,O1,SKU-1,dresses,M,red,silk,slim,,false,1,10.00,0\n")


def _write_orders(settings, day, orders_text, lines_text=LINES):
    """An orders folder with the given headers file, one line and empty flow files."""
    folder = settings.landing_dir / "orders" / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    stamp = f"{day:%Y%m%d}"
    (folder / f"orders_{stamp}.csv").write_text(orders_text)
    (folder / f"order_lines_{stamp}.csv").write_text(lines_text)
    for name, header in FLOW_HEADERS.items():
        (folder / f"{name}_{stamp}.csv").write_text(header)
    return folder


def _gzip(path, text):
    with gzip.open(path.with_name(path.name + ".gz"), "wt", encoding="utf-8") as fh:
        fh.write(text)


def test_every_generated_row_is_read_and_accounted(settings):
    summary = generate(settings.landing_dir, seed=5, sf=0.001, days=2)
    for source in ("catalogue", "crm", "web", "orders"):
        report = ingest_source(settings, source, [DAY, date(2026, 11, 2)])
        for f in report.files:
            assert f.rows_read == f.rows_loaded + f.rows_quarantined
    read = dict(_rows(settings, "select table_name, sum(rows_read) from raw._load_manifest "
                                "group by all"))
    assert read == {k: n for k, n in summary.rows.items()}


def test_rerun_of_same_day_changes_nothing(settings):
    generate(settings.landing_dir, seed=5, sf=0.001, days=1)
    first = ingest_source(settings, "web", [DAY])
    snapshot = _rows(settings, "select * exclude (_loaded_at) from raw.web_events order by all")
    again = ingest_source(settings, "web", [DAY])
    assert [f.status for f in first.files] == ["loaded"]
    assert [f.status for f in again.files] == ["skipped"]
    after = _rows(settings, "select * exclude (_loaded_at) from raw.web_events order by all")
    assert after == snapshot
    assert _rows(settings, "select count(*) from raw._load_manifest") == [(1,)]


def test_new_content_under_known_name_replaces_old_version(settings):
    _write_orders(settings, DAY, HEADER + "O1,C1,,2026-11-01 10:00:00+00,EUR,web,DE\n")
    ingest_source(settings, "orders", [DAY])
    _write_orders(settings, DAY, HEADER + "O1,C1,,2026-11-01 10:00:00+00,EUR,web,DE\n"
                                          "O2,C2,,2026-11-01 11:00:00+00,EUR,store,FR\n")
    report = ingest_source(settings, "orders", [DAY])
    orders = next(f for f in report.files if f.table == "erp_orders")
    assert (orders.status, orders.version) == ("loaded", 2)
    assert "replaces version 1" in orders.note
    assert _rows(settings, "select order_id from raw.erp_orders order by 1") == [("O1",), ("O2",)]
    assert _rows(settings, "select version, status from raw._load_manifest "
                           "where table_name = 'erp_orders' order by version") == [
        (1, "superseded"), (2, "loaded")]


def test_malformed_rows_are_quarantined_with_line_and_reason(settings):
    good = "".join(f"O{i},C{i},,2026-11-01 10:00:00+00,EUR,web,DE\n" for i in range(40))
    bad = ("O90,C90,,not-a-date,EUR,web,DE\n"  # line 42: cast error
           "O91,C91,,2026-11-01 10:00:00+00,EUR,web,DE,surplus\n"  # line 43: too many columns
           ",C92,,2026-11-01 10:00:00+00,EUR,web,DE\n")  # line 44: missing key
    _write_orders(settings, DAY, HEADER + good + bad)
    report = ingest_source(replace(settings, max_reject_rate=0.1), "orders", [DAY])
    orders = next(f for f in report.files if f.table == "erp_orders")
    assert (orders.rows_read, orders.rows_loaded, orders.rows_quarantined) == (43, 40, 3)
    quarantined = _rows(settings, "select line_no, reason, raw_text from raw._quarantine "
                                  "where table_name = 'erp_orders' order by reason")
    reasons = [r[1] for r in quarantined]
    assert "CAST:ordered_at" in reasons
    assert "TOO MANY COLUMNS" in reasons
    assert "missing_required:order_id" in reasons
    cast_row = next(r for r in quarantined if r[1] == "CAST:ordered_at")
    assert cast_row[0] == 42 and "not-a-date" in cast_row[2]


def test_file_above_reject_rate_is_refused_and_nothing_loaded(settings):
    _write_orders(settings, DAY, HEADER + "O1,C1,,garbage,EUR,web,DE\n"
                                          "O2,C2,,2026-11-01,EUR,web,DE\n")
    with pytest.raises(LandingError, match=r"orders_20261101\.csv: 1 of 2 rows .* file refused"
                                           r".*Reasons: CAST:ordered_at x1"):
        ingest_source(replace(settings, reject_floor=0), "orders", [DAY])
    assert _rows(settings, "select count(*) from raw.erp_orders") == [(0,)]
    assert _rows(settings, "select status from raw._load_manifest "
                           "where table_name = 'erp_orders'") == [("refused",)]


def test_invalid_json_lines_are_quarantined(settings):
    folder = settings.landing_dir / "web" / DAY.isoformat()
    folder.mkdir(parents=True)
    path = folder / "events_20261101.ndjson"
    good = "".join(
        f'{{"event_id":"E{i}","event_type":"page_view","occurred_at":"2026-11-01T10:00:00Z",'
        f'"anonymous_id":"A{i}","utm_source":"mail"}}\n' for i in range(60))
    _gzip(path, good + '{"event_id": "broken\n'
        '{"event_id":"E99","event_type":"page_view","occurred_at":"yesterday","anonymous_id":"A"}\n'
        # an object after JSON's blanks (spaces, tabs) is one; valid JSON that is not one is not
        ' \t {"event_id":"E100","event_type":"page_view","occurred_at":"2026-11-01T11:00:00Z",'
        '"anonymous_id":"A100","utm_source":"mail"}\n'
        '[1, 2]\n')
    report = ingest_source(settings, "web", [DAY])
    (f,) = report.files
    assert (f.rows_read, f.rows_loaded, f.rows_quarantined) == (64, 61, 3)
    assert f.extra_columns == ["utm_source"]
    assert _rows(settings, "select line_no, reason from raw._quarantine order by line_no") == [
        (61, "invalid_json"), (62, "bad_type:occurred_at"), (64, "json_not_an_object")]
    assert _rows(settings, "select _record_no from raw.web_events where event_id = 'E100'") == [
        (63,)]
    assert _rows(settings, "select distinct _extra->>'$.utm_source' from raw.web_events") == [
        ("mail",)]


def test_missing_landing_folder_names_it(settings):
    with pytest.raises(LandingError, match=r"no landing folder for source 'crm' on 2026-11-01"):
        ingest_source(settings, "crm", [DAY])


def test_empty_file_names_the_file(settings):
    folder = _write_orders(settings, DAY, "")
    with pytest.raises(LandingError, match=str(folder / "orders_20261101.csv") + " is empty"):
        ingest_source(settings, "orders", [DAY])


def test_header_only_file_is_an_error(settings):
    _write_orders(settings, DAY, HEADER)
    with pytest.raises(LandingError, match="orders_20261101.csv holds no rows"):
        ingest_source(settings, "orders", [DAY])


def test_missing_required_column_refuses_the_file(settings):
    _write_orders(settings, DAY, "order_id,crm_id,currency\nO1,C1,EUR\n")
    with pytest.raises(ContractError, match=r"lacks required column\(s\) \['ordered_at'\]"):
        ingest_source(settings, "orders", [DAY])


def test_crash_inside_a_file_leaves_nothing_and_rerun_completes(settings, monkeypatch):
    generate(settings.landing_dir, seed=2, sf=0.001, days=1)
    real = manifest_mod.write_manifest

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("simulated crash after rows were inserted")

    monkeypatch.setattr(manifest_mod, "write_manifest", crash)
    with pytest.raises(KeyboardInterrupt):
        ingest_source(settings, "orders", [DAY])
    assert _rows(settings, "select count(*) from raw.erp_order_lines") == [(0,)]
    assert _rows(settings, "select count(*) from raw.erp_orders") == [(0,)]
    monkeypatch.setattr(manifest_mod, "write_manifest", real)
    report = ingest_source(settings, "orders", [DAY])
    expected = {f.table: f.rows_loaded for f in report.files}
    assert _rows(settings, "select count(*) from raw.erp_order_lines") == [
        (expected["erp_order_lines"],)]


@pytest.mark.parametrize("workers", [1, 2])
def test_crash_between_files_rerun_loads_only_the_rest(settings, monkeypatch, workers):
    settings = replace(settings, ingest_workers=workers)
    summary = generate(settings.landing_dir, seed=2, sf=0.001, days=2, mess=Messiness.clean())
    real = load_mod.load_file
    calls = []

    def crash_on_sixth(*args, **kwargs):
        calls.append(1)
        if len(calls) == 6:
            raise RuntimeError("simulated crash between files")
        return real(*args, **kwargs)

    monkeypatch.setattr(run_mod, "load_file", crash_on_sixth)
    with pytest.raises(RuntimeError, match="simulated crash"):
        ingest_source(settings, "orders", [DAY, date(2026, 11, 2)])
    committed = _rows(settings, "select count(*) from raw._load_manifest")[0][0]
    assert 5 <= committed < 10
    monkeypatch.setattr(run_mod, "load_file", real)
    report = ingest_source(settings, "orders", [DAY, date(2026, 11, 2)])
    statuses = [f.status for f in report.files]
    assert statuses.count("skipped") == committed and statuses.count("loaded") == 10 - committed
    if workers == 1:  # one at a time: exactly the five files before the crash were committed
        assert committed == 5
    assert _rows(settings, "select count(*) = count(distinct order_line_id) "
                           "from raw.erp_order_lines") == [(True,)]
    assert _rows(settings, "select count(*) from raw.erp_order_lines") == [
        (summary.rows["erp_order_lines"],)], "every line exactly once after the rerun"


def test_large_ndjson_files_load_one_at_a_time_and_the_rest_in_parallel(settings, monkeypatch):
    import threading

    days = [date(2026, 11, d) for d in (1, 2, 3)]
    generate(settings.landing_dir, seed=9, sf=0.001, days=3)
    real, lock, running, most = load_mod.load_file, threading.Lock(), [0], {}

    def counting(con, contract, path, **kwargs):
        with lock:
            running[0] += 1
            most[contract.format] = max(most.get(contract.format, 0), running[0])
        try:
            time.sleep(0.2)  # long enough for a parallel worker to overlap
            return real(con, contract, path, **kwargs)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(run_mod, "load_file", counting)
    # every web file counts as large here: they load one after the other
    small = replace(settings, ingest_workers=2, ingest_alone_mb=0)
    web = ingest_source(small, "web", days)
    orders = ingest_source(small, "orders", days)
    assert most == {"ndjson": 1, "csv": 2}
    assert len(web.files) == 3 and {f.status for f in web.files + orders.files} == {"loaded"}


def test_backfill_of_three_days_equals_three_daily_runs(settings, tmp_path, monkeypatch):
    days = [date(2026, 11, d) for d in (1, 2, 3)]
    generate(settings.landing_dir, seed=9, sf=0.001, days=3)
    ingest_source(settings, "web", days)
    backfilled = _rows(settings, "select * exclude (_load_id, _loaded_at) from raw.web_events "
                                 "order by all")
    monkeypatch.setenv("UPSTREAM_DATA_DIR", str(tmp_path / "daily"))
    from upstream.settings import get_settings

    daily = get_settings()
    generate(daily.landing_dir, seed=9, sf=0.001, days=3)
    for d in days:
        ingest_source(daily, "web", [d])
    assert _rows(daily, "select * exclude (_load_id, _loaded_at) from raw.web_events "
                        "order by all") == backfilled


line = st.one_of(
    st.builds(lambda i: f'{{"event_id":"E{i}","event_type":"search","occurred_at":'
                        f'"2026-11-01T00:00:00Z","anonymous_id":"A"}}', st.integers(0, 10**6)),
    st.text(alphabet='{}":,abc 1', max_size=12).filter(lambda s: "\n" not in s and s.strip()),
)


@hsettings(max_examples=25, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(line, min_size=1, max_size=30))
def test_read_equals_loaded_plus_quarantined_for_any_lines(settings, lines):
    folder = settings.landing_dir / "web" / DAY.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    _gzip(folder / "events_20261101.ndjson", "\n".join(lines) + "\n")
    settings.warehouse_path.unlink(missing_ok=True)
    relaxed = replace(settings, max_reject_rate=1.0)
    (f,) = ingest_source(relaxed, "web", [DAY]).files
    valid = sum(1 for ln in lines if ln.startswith('{"event_id":"E'))
    assert f.rows_read == len(lines)
    assert f.rows_loaded == valid
    assert f.rows_read == f.rows_loaded + f.rows_quarantined

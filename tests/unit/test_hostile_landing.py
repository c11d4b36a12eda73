"""A hostile world at the landing door: links, glob names, foreign time zones, impossible dates,
absurd numbers, monster lines, bad bytes. Every case loses nothing (read = loaded +
quarantined), leaks nothing, and stops only what it must."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import textwrap
from datetime import date

import duckdb
import pytest

from upstream.alerts import alert_payload
from upstream.contracts import ContractError
from upstream.ingest import LandingError, ingest_source

from .test_ingest import FLOW_HEADERS, HEADER, LINES, _rows, _write_orders

DAY = date(2026, 11, 1)
ORDER = "O1,C1,,2026-11-01 10:00:00+00,EUR,web,DE\n"


def _accounted(settings):
    rows = _rows(settings, "select path, rows_read, rows_loaded, rows_quarantined "
                           "from raw._load_manifest where status = 'loaded'")
    assert rows and all(r == lo + q for _, r, lo, q in rows), rows


def _quarantine(settings, table):
    return _rows(settings, "select line_no, record_no, reason, raw_text from raw._quarantine "
                           f"where table_name = '{table}' order by line_no, record_no")


def test_a_link_to_a_secret_is_refused_without_echoing_it(settings, tmp_path):
    folder = _write_orders(settings, DAY, HEADER + ORDER)
    secret = tmp_path / "pseudonym_secret"
    secret.write_text("0123456789abcdef-the-key\n")
    (folder / "invoices_20261101.csv").unlink()
    (folder / "invoices_20261101.csv").symlink_to(secret)
    with pytest.raises(LandingError) as caught:
        ingest_source(settings, "orders", [DAY])
    message = str(caught.value)
    assert "is a symbolic link" in message and "Next:" in message
    payload = json.dumps(alert_payload({"exception": caught.value}))
    assert "0123456789abcdef" not in message + payload
    assert not settings.warehouse_path.exists() or _rows(
        settings, "select count(*) from raw._load_manifest") == [(0,)]


def test_a_link_to_a_csv_outside_landing_loads_nothing(settings, tmp_path):
    outside = tmp_path / "elsewhere.csv"
    outside.write_text(HEADER + ORDER)
    folder = _write_orders(settings, DAY, HEADER + ORDER)
    (folder / "orders_20261101.csv").unlink()
    (folder / "orders_20261101.csv").symlink_to(outside)
    with pytest.raises(LandingError, match="symbolic link"):
        ingest_source(settings, "orders", [DAY])
    day_link = settings.landing_dir / "orders" / "2026-11-02"
    day_link.symlink_to(tmp_path)
    with pytest.raises(LandingError, match="is a link or lies outside the landing root"):
        ingest_source(settings, "orders", [date(2026, 11, 2)])


def test_a_file_named_like_a_glob_is_read_as_that_one_file(settings):
    folder = _write_orders(settings, DAY, HEADER + "".join(
        f"O{i},C{i},,2026-11-01 10:00:00+00,EUR,web,DE\n" for i in range(1, 573)))
    (folder / "orders_*.csv").write_text(HEADER + "X1,C1,,2026-11-01 10:00:00+00,EUR,web,DE\n"
                                         "X2,C2,,2026-11-01 10:00:00+00,EUR,web,DE\n")
    ingest_source(settings, "orders", [DAY])
    loaded = dict(_rows(settings, "select path, rows_read from raw._load_manifest "
                                  "where table_name = 'erp_orders'"))
    assert loaded == {"orders/2026-11-01/orders_*.csv": 2,
                      "orders/2026-11-01/orders_20261101.csv": 572}
    assert _rows(settings, "select count(*), count(distinct order_id) from raw.erp_orders") == [
        (574, 574)]
    _accounted(settings)


def test_the_host_time_zone_never_leaks_into_ingest(settings):
    _write_orders(settings, DAY, HEADER + "O1,C1,,2026-11-01 00:01:45,EUR,web,DE\n")
    script = textwrap.dedent("""
        from datetime import date
        from upstream.settings import get_settings
        from upstream.ingest import ingest_source
        ingest_source(get_settings(), "orders", [date(2026, 11, 1)])
    """)
    env = {**os.environ, "TZ": "Asia/Kolkata", "UPSTREAM_DATA_DIR": str(settings.data_dir)}
    subprocess.run([sys.executable, "-c", script], env=env, check=True)
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    con.execute("set TimeZone = 'UTC'")
    assert con.execute("select ordered_at::varchar from raw.erp_orders").fetchone() == (
        "2026-11-01 00:01:45+00",)
    con.close()


def test_timestamps_without_offset_follow_the_contracts_zone(settings, monkeypatch):
    from dataclasses import replace

    from upstream.ingest import landing as landing_mod

    real = landing_mod.claim_files

    def in_berlin(*args, **kwargs):
        delivery = real(*args, **kwargs)
        return replace(delivery, files=[(replace(c, timezone="Europe/Berlin"), p)
                                        if c.table == "erp_orders" else (c, p)
                                        for c, p in delivery.files])

    monkeypatch.setattr(landing_mod, "claim_files", in_berlin)
    _write_orders(settings, DAY, HEADER + "O1,C1,,2026-11-01 10:00:00,EUR,web,DE\n"
                                          "O2,C1,,2026-11-01 10:00:00+00,EUR,web,DE\n")
    ingest_source(settings, "orders", [DAY])
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    con.execute("set TimeZone = 'UTC'")
    assert con.execute("select order_id, ordered_at::varchar from raw.erp_orders order by 1"
                       ).fetchall() == [("O1", "2026-11-01 09:00:00+00"),
                                        ("O2", "2026-11-01 10:00:00+00")]
    con.close()


def test_impossible_dates_are_quarantined(settings):
    folder = _write_orders(settings, DAY, HEADER + ORDER + "O2,C1,,1970-01-01 00:00:00+00,EUR,"
                                                         "web,DE\n")
    (folder / "returns_20261101.csv").write_text(
        FLOW_HEADERS["returns"]
        + "R1,L1,2999-01-01 00:00:00+00,1,too_small,\n"
        + "R2,L1,0001-01-01 00:00:00+00,1,too_small,\n"
        + "R3,L1,2026-11-01 12:00:00+00,1,too_small,\n")
    (folder / "invoices_20261101.csv").write_text(
        FLOW_HEADERS["invoices"]
        + "I1,O1,10.00,1.90,11.90,EUR,2999-12-31 00:00:00+00,\n"
        + "I2,O1,10.00,1.90,11.90,EUR,2026-11-01 12:00:00+00,1900-01-01 00:00:00+00\n")
    (folder / "delivery_notes_20261101.csv").write_text(
        FLOW_HEADERS["delivery_notes"]
        + "D1,O1,2999-06-01 00:00:00+00,,DHL,in_transit\n"
        + "D2,O1,2026-11-01 12:00:00+00,2026-11-04 12:00:00+00,DHL,delivered\n")
    ingest_source(settings, "orders", [DAY])
    reasons = {r[2] for t in ("erp_returns", "erp_invoices", "erp_delivery_notes", "erp_orders")
               for r in _quarantine(settings, t)}
    assert reasons == {"implausible_date:returned_at", "implausible_date:issued_at",
                       "implausible_date:paid_at", "implausible_date:shipped_at",
                       "implausible_date:ordered_at"}
    assert _rows(settings, "select return_id from raw.erp_returns") == [("R3",)]
    assert _rows(settings, "select delivery_id from raw.erp_delivery_notes") == [("D2",)]
    _accounted(settings)


def test_an_absurd_quantity_is_quarantined_not_summed(settings):
    _write_orders(settings, DAY, HEADER + ORDER, LINES + (
        "L2,O1,SKU-1,dresses,M,red,silk,slim,,false,2000000000,10.00,0\n"))
    ingest_source(settings, "orders", [DAY])
    assert [r[2] for r in _quarantine(settings, "erp_order_lines")] == ["out_of_range:quantity"]
    _accounted(settings)


def test_nul_bytes_in_csv_values_are_quarantined(settings):
    _write_orders(settings, DAY, HEADER + ORDER + "O2,C\x001,,2026-11-01 10:00:00+00,EUR,web,DE\n")
    ingest_source(settings, "orders", [DAY])
    assert [r[2] for r in _quarantine(settings, "erp_orders")] == ["nul_byte:crm_id"]
    assert _rows(settings, "select count(*) from raw.erp_orders where contains(crm_id, chr(0))"
                 ) == [(0,)]
    _accounted(settings)


def _event(i: int) -> bytes:
    return json.dumps({"event_id": f"E{i}", "event_type": "page_view",
                       "occurred_at": "2026-11-01T10:00:00+00:00",
                       "anonymous_id": f"A{i}"}).encode()


def test_one_bad_line_never_refuses_a_day_of_clickstream(settings):
    lines = [_event(i) for i in range(1, 1001)]
    lines[9] = b'{"event_id": "HUGE", "pad": "' + b"x" * (10 * 1024 * 1024) + b'"}'  # line 10
    lines[499] = b'{"event_id": "E500", "name": "\xff\xfe not utf-8"}'                 # line 500
    lines[699] = b'{"event_id": "E700", "event_type": "page_vi'                         # line 700
    folder = settings.landing_dir / "web" / DAY.isoformat()
    folder.mkdir(parents=True)
    with gzip.open(folder / "events_20261101.ndjson.gz", "wb") as fh:
        fh.write(b"\n".join(lines) + b"\n")
    report = ingest_source(settings, "web", [DAY])
    (result,) = report.files
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_quarantined) == (
        "loaded", 1000, 997, 3)
    quarantined = [(line, reason, len(text)) for line, _, reason, text in
                   _quarantine(settings, "web_events")]
    assert [(line, reason) for line, reason, _ in quarantined] == [
        (10, "line_too_long"), (500, "invalid_utf8"), (700, "invalid_json")]
    assert all(n <= 2000 for *_, n in quarantined), "raw text is capped"
    # the lines after a refused one keep their own numbers
    assert _rows(settings, "select _record_no from raw.web_events where event_id = 'E999'"
                 ) == [(999,)]


@pytest.mark.parametrize("case", ["folder_is_a_file", "unclaimed", "missing", "empty",
                                  "header_only", "missing_column", "reject_rate"])
def test_every_refusal_names_the_file_and_says_what_to_do_next(settings, case):
    folder = _write_orders(settings, DAY, HEADER + ORDER)
    orders = folder / "orders_20261101.csv"
    if case == "folder_is_a_file":
        for f in folder.iterdir():
            f.unlink()
        folder.rmdir()
        folder.write_text("not a folder")
        expected = "is a file, not a folder"
    elif case == "unclaimed":
        (folder / "notes.txt").write_text("ignore me")
        expected = "no contract of source 'orders' matches"
    elif case == "missing":
        orders.unlink()
        expected = "no file matching 'orders_*.csv'"
    elif case == "empty":
        orders.write_text("")
        expected = "is empty (0 bytes)"
    elif case == "header_only":
        orders.write_text(HEADER)
        expected = "holds no rows"
    elif case == "missing_column":
        orders.write_text("order_id,secret_value_123\nO1,x\n")
        expected = "lacks required column(s)"
    else:
        orders.write_text(HEADER + "".join(f"O{i},C1,,2026-11-01 10:00:00+00,XYZ,web,DE\n"
                                           for i in range(20)))
        expected = "fx_rates.csv"
    with pytest.raises((LandingError, ContractError)) as caught:
        ingest_source(settings, "orders", [DAY])
    message = str(caught.value)
    assert expected in message
    assert "Next:" in message and message.rstrip().endswith((".", ")"))
    assert "secret_value_123" not in message, "a header is never echoed"

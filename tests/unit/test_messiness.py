"""Each messiness knob on its own, with exact outcomes after ingest."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import duckdb
import pytest

from upstream.generate import Messiness, generate
from upstream.ingest import ingest_source

DAYS = [date(2026, 11, 1) + timedelta(days=i) for i in range(3)]
SOURCES = ("catalogue", "crm", "web", "orders")


def _load(settings, **knobs):
    summary = generate(settings.landing_dir, seed=4, sf=0.002, days=len(DAYS),
                       mess=Messiness.clean().with_(**knobs))
    relaxed = replace(settings, max_reject_rate=1.0)
    for source in SOURCES:
        ingest_source(relaxed, source, DAYS)
    return summary, duckdb.connect(str(settings.warehouse_path), read_only=True)


def _one(con, sql, params=None):
    return con.execute(sql, params or []).fetchone()[0]


def _reasons(con) -> dict[str, int]:
    """Quarantine reasons of data defects (an erased customer's rows are not defects: the
    generator's CRM deletes every day, see test_erasure.py)."""
    return dict(con.execute("select reason, count(*) from raw._quarantine "
                            "where reason <> 'erased' group by reason").fetchall())


def test_clean_data_loads_every_row(settings):
    summary, con = _load(settings)
    assert _reasons(con) == {}
    erased = _one(con, "select count(*) from raw._quarantine where reason = 'erased'")
    assert _one(con, "select sum(rows_loaded) from raw._load_manifest") + erased == sum(
        summary.rows.values())


def test_malformed_rows_are_quarantined_as_structural_errors(settings):
    summary, con = _load(settings, malformed_rows=0.02)
    injected = summary.injected["malformed_rows"]
    assert injected > 10
    reasons = _reasons(con)
    assert sum(reasons.values()) == injected
    assert set(reasons) <= {"invalid_json", "TOO MANY COLUMNS"} | {
        r for r in reasons if r.startswith(("MISSING COLUMNS", "CAST:"))}
    assert _one(con, "select count(*) from raw.web_events where event_id like 'BROKEN%'") == 0


def test_wrong_encoding_rows_are_quarantined_with_their_raw_text(settings):
    summary, con = _load(settings, wrong_encoding=0.02)
    injected = summary.injected["wrong_encoding"]
    assert injected > 0
    rows = con.execute("select reason, raw_text from raw._quarantine "
                       "where reason <> 'erased'").fetchall()
    assert len(rows) == injected
    assert all(r[0].startswith("INVALID ENCODING") for r in rows)
    assert _one(con, "select count(*) from raw.crm_customers where crm_id like 'CENC%'") == 0


def test_nulls_in_required_fields_are_quarantined(settings):
    summary, con = _load(settings, null_required=0.01)
    reasons = _reasons(con)
    assert summary.injected["null_required"] > 0
    assert sum(reasons.values()) == summary.injected["null_required"]
    assert all(r.startswith("missing_required:") for r in reasons)


def test_out_of_range_values_are_quarantined_by_contract_checks(settings):
    summary, con = _load(settings, out_of_range=0.01)
    reasons = _reasons(con)
    assert summary.injected["out_of_range"] > 0
    assert sum(reasons.values()) == summary.injected["out_of_range"]
    assert set(reasons) <= {"birth_year_out_of_range", "non_positive_quantity",
                            "ordered_in_future"}
    assert _one(con, "select count(*) from raw.erp_order_lines where quantity <= 0") == 0


def test_late_events_arrive_in_later_files_and_keep_their_own_time(settings):
    summary, con = _load(settings, late_events=0.2)
    late = _one(con, "select count(*) from raw.web_events where occurred_at::date < "
                     "strptime(regexp_extract(_source_file, '(\\d{4}-\\d{2}-\\d{2})', 1), "
                     "'%Y-%m-%d')::date")
    assert late == summary.injected["late_events"] > 0
    assert _one(con, "select count(*) - count(distinct event_id) from raw.web_events") == 0


def test_duplicate_events_stay_in_raw_for_staging_to_deduplicate(settings):
    summary, con = _load(settings, duplicate_events=0.05)
    dups = _one(con, "select count(*) - count(distinct event_id) from raw.web_events")
    assert dups == summary.injected["duplicate_events"] > 0


def test_duplicate_files_are_recognised_by_content_and_not_loaded(settings):
    summary, con = _load(settings, duplicate_files=1.0)
    assert summary.injected["duplicate_files"] == 2 * (len(DAYS) - 1)
    assert _one(con, "select count(*) from raw._load_manifest where status = 'duplicate'") == (
        summary.injected["duplicate_files"])
    for table in ("crm_customers", "erp_orders"):
        assert _one(con, f"select count(*) from raw.{table} where _source_file like '%resend%'") == 0


def test_mixed_currencies_are_kept_as_delivered(settings):
    summary, con = _load(settings, mixed_currency=0.3)
    assert _one(con, "select count(*) from raw.erp_orders where currency <> 'EUR'") == (
        summary.injected["mixed_currency"]) > 0


def test_schema_drift_keeps_new_and_renamed_columns_in_overflow(settings):
    _, con = _load(settings, schema_drift_day=1)
    drifted = con.execute(
        "select path, extra_columns from raw._load_manifest where table_name = 'erp_orders' "
        "order by path").fetchall()
    assert drifted[0][1] == []
    assert all(sorted(cols) == ["sales_channel", "sales_channel_detail"] for _, cols in drifted[1:])
    assert _one(con, "select count(*) from raw.erp_orders where channel is null and "
                     "_extra ->> 'sales_channel' in ('web', 'store')") > 0
    report = con.execute("select extra_columns from raw._ingest_runs where source = 'orders'"
                         ).fetchone()[0]
    assert "erp_orders.sales_channel" in report


@pytest.mark.parametrize("knob", ["malformed_rows", "null_required", "out_of_range"])
def test_every_file_satisfies_read_equals_loaded_plus_quarantined(settings, knob):
    _, con = _load(settings, **{knob: 0.01})
    broken = con.execute(
        "select m.path, m.rows_read, m.rows_loaded, m.rows_quarantined, "
        "(select count(*) from raw._quarantine q where q.load_id = m.load_id) as q "
        "from raw._load_manifest m where m.status = 'loaded' "
        "and (rows_read <> rows_loaded + rows_quarantined or rows_quarantined <> q)").fetchall()
    assert broken == []

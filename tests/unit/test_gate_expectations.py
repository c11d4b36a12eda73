"""Each kind of expectation in expectations/ fails on a corrupted candidate and passes on a good
one; what the suites left to dbt (the models' invariants) fails ``dbt test`` on a corrupted mart."""

from __future__ import annotations

import json

import duckdb
import pytest

from upstream import publish as pub
from upstream.gate import run_gate, validate

from ..conftest import AS_OF, DAYS


def _candidate(settings, run_id="r"):
    return pub.build_candidate(settings, run_id=run_id, interval_start=DAYS[-1], interval_end=AS_OF)


def _corrupt(candidate, *statements):
    con = duckdb.connect(str(candidate.path))
    try:
        for sql in statements:
            con.execute(sql)
        con.execute("checkpoint")
    finally:
        con.close()


def test_good_candidate_passes_every_suite(warehouse):
    result = validate(warehouse, _candidate(warehouse))
    assert result.failures == [] and result.warnings == []
    assert {"customer_needs", "design_demand", "publication"} <= set(result.tables)


CASES = {
    "not_null": (["update customer_needs set customer_key = null where rowid = 0"],
                 "customer_needs: expect_column_values_to_not_be_null {'column': 'customer_key'}"),
    "unique": (["update customer_needs set customer_key = (select min(customer_key) "
                "from customer_needs) where rowid < 3"],
               "customer_needs: expect_column_values_to_be_unique"),
    "value_lengths": (["update customer_needs set customer_key = 'abc' where rowid = 0"],
                      "expect_column_value_lengths_to_equal {'column': 'customer_key', 'value': 64"),
    "size_outside_the_scale": (["update design_demand set size = 'XXXXL' where rowid = 0"],
                               "design_demand: expect_column_values_to_be_in_set "
                               "{'column': 'size'"),
    "columns": (["alter table customer_needs add column email varchar"],
                "expect_table_columns_to_match_ordered_list"),
    "group_size": (["update design_demand set customer_count = 1 where rowid = 0"],
                   "{'column': 'customer_count', 'min_value': 2"),
    "row_count_equal": (["insert into publication select * from publication"],
                        "publication: expect_table_row_count_to_equal {'value': 1} failed: observed 2"),
    "freshness": (["update publication set data_lag_days = 9"],
                  "{'column': 'data_lag_days', 'min_value': 0.0, 'max_value': 2.0} failed"),
    "cross_feed": (["update design_demand set window_end = window_end - 1"],
                   "design_demand: expect_column_values_to_be_in_set {'column': 'window_end'"),
    "unsuited_table": (["create table emails as select 'a@b.c' as email"],
                       "emails: published table has no suite"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_corruption_fails_the_gate_naming_table_expectation_and_value(warehouse, case):
    statements, expected = CASES[case]
    cand = _candidate(warehouse)
    _corrupt(cand, *statements)
    result = validate(warehouse, cand)
    assert not result.success
    assert any(expected in f for f in result.failures), result.failures


def test_feed_shrinking_beyond_limit_against_last_good_publication_blocks(warehouse):
    first = _candidate(warehouse, "good")
    run_gate(warehouse, first)
    pub.publish_candidate(warehouse, first)
    shrunk = _candidate(warehouse, "shrunk")
    _corrupt(shrunk, "delete from design_demand where rowid % 4 <> 0")
    result = validate(warehouse, shrunk)
    before = first.row_counts["design_demand"]
    assert any("design_demand: expect_table_row_count_to_be_between {'min_value': "
               f"{int(before * 0.5)}" in f for f in result.failures), result.failures


def test_warnings_publish_and_are_reported(warehouse):
    first = _candidate(warehouse, "good")
    run_gate(warehouse, first)
    pub.publish_candidate(warehouse, first)
    odd = _candidate(warehouse, "odd")
    _corrupt(odd, "update design_demand set units = units * 50 where category = "
             "(select min(category) from design_demand)")
    result = run_gate(warehouse, odd)
    assert result.success
    assert any("design_demand__shift" in w and "z_score" in w for w in result.warnings)
    manifest = pub.publish_candidate(warehouse, odd)
    ours = [w for w in manifest["gate"]["warnings"] if not w.startswith("dbt: ")]
    assert len(ours) == 1, manifest["gate"]["warnings"]
    # dbt's warn results of the build behind the candidate are reported with them
    from upstream.transform import build_warnings

    assert [w for w in manifest["gate"]["warnings"] if w.startswith("dbt: ")] == (
        build_warnings(warehouse))


def test_the_invariants_the_suites_left_to_dbt_fail_dbt_test(warehouse):
    """Ranges, accepted values, seed relationships and compound keys of the marts are dbt tests
    now (the suites no longer repeat them): a corrupted mart fails ``dbt test`` by name, and the
    two checks that were warnings stay warnings."""
    from upstream.transform import TransformFailed, run_dbt

    con = duckdb.connect(str(warehouse.warehouse_path))
    try:
        for sql in ("update marts.customer_needs set units_bought = -5 where rowid = 0",
                    "update marts.customer_needs set price_band = 'bogus' where rowid = 1",
                    "update marts.design_fit_issues set reason_code = 'bored' where rowid = 0",
                    "insert into marts.design_demand select * from marts.design_demand limit 1",
                    "update marts.customer_needs set stated_fit = 'baggy' where rowid = 2"):
            con.execute(sql)
    finally:
        con.close()
    with pytest.raises(TransformFailed) as failed:
        run_dbt(warehouse, ["build", "--select", "customer_needs", "design_fit_issues",
                            "design_demand", "--resource-type", "test"], as_of=AS_OF)
    message = str(failed.value)
    for test in ("accepted_range_customer_needs_units_bought",
                 "accepted_values_customer_needs_price_band",
                 "relationships_design_fit_issues_reason_code",
                 "unique_combination_design_demand"):
        assert test in message, (test, message)
    results = json.loads((warehouse.dbt_target_dir / "run_results.json").read_text())["results"]
    status = {r["unique_id"].split(".")[2]: r["status"] for r in results}
    warned = [name for name, st in status.items() if "customer_needs_stated_fit" in name]
    assert warned and all(status[name] == "warn" for name in warned), status

"""Write-audit-publish on a real warehouse built by dbt from generated data."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from dataclasses import replace

import duckdb
import pytest

from upstream import pipeline
from upstream.gate import GateFailed, run_gate
from upstream.publish import PublishRefused, build_candidate, publish_candidate
from upstream.transform import TransformFailed, run_dbt

from ..conftest import AS_OF, DAYS


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _publish(settings, run_id):
    cand = build_candidate(settings, run_id=run_id, interval_start=DAYS[-1], interval_end=AS_OF)
    run_gate(settings, cand)
    return publish_candidate(settings, cand)


def test_gate_failure_names_table_expectation_value_and_keeps_publication(warehouse):
    settings = warehouse
    first = _publish(settings, "run-1")
    before = _sha(settings.published_db)
    cand = build_candidate(settings, run_id="run-2", interval_start=DAYS[-1], interval_end=AS_OF)
    con = duckdb.connect(str(cand.path))
    con.execute("update customer_needs set customer_key = null where rowid < 3")
    con.close()
    with pytest.raises(GateFailed) as err:
        pipeline.gate(cand.to_json(), settings)
    message = str(err.value)
    assert ("customer_needs: expect_column_values_to_not_be_null {'column': 'customer_key'}"
            in message)
    assert "observed 3 unexpected value(s)" in message
    assert not cand.path.exists(), "a failed candidate is discarded"
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    stored = con.execute("select count(*), count(*) filter (where not success) "
                         "from audit.gate_results where run_id = 'run-2'").fetchone()
    con.close()
    assert stored[0] > 20 and stored[1] == 1
    assert _sha(settings.published_db) == before
    assert json.loads(settings.published_manifest.read_text())["version"] == first["version"]


def test_gate_uses_configured_group_size(warehouse):
    strict = replace(warehouse, min_group_size=10_000)
    cand = build_candidate(strict, run_id="r", interval_start=DAYS[-1], interval_end=AS_OF)
    with pytest.raises(GateFailed, match=r"design_demand: expect_column_values_to_be_between "
                                         r"\{'column': 'customer_count', 'min_value': 10000"):
        run_gate(strict, cand)


def test_publish_refuses_ungated_or_changed_candidate(warehouse):
    settings = warehouse
    cand = build_candidate(settings, run_id="r", interval_start=DAYS[-1], interval_end=AS_OF)
    with pytest.raises(PublishRefused, match="no gate record"):
        publish_candidate(settings, cand)
    run_gate(settings, cand)
    con = duckdb.connect(str(cand.path))
    con.execute("delete from design_demand")
    con.close()
    with pytest.raises(PublishRefused, match="not publishable"):
        publish_candidate(settings, cand)
    assert not settings.published_db.exists()


def test_published_feed_has_pseudonymous_keys_only(warehouse):
    settings = warehouse
    _publish(settings, "run-1")
    con = duckdb.connect(str(settings.published_db), read_only=True)
    keys = {r[0] for r in con.execute("select customer_key from customer_needs").fetchall()}
    text = " ".join(str(v) for row in con.execute("select * from customer_needs").fetchall()
                    for v in row)
    con.close()
    expected = hashlib.sha256(b"test-secret|C00000001").hexdigest()
    consent = duckdb.connect(str(settings.warehouse_path), read_only=True).execute(
        "select has_profiling_consent from staging.stg_crm__customers "
        "where customer_id = 'C00000001'").fetchone()[0]
    assert (expected in keys) == consent
    assert "C0000" not in text and "@example.com" not in text and "151 " not in text


def test_open_reader_survives_publish_and_new_reader_sees_new_version(warehouse, tmp_path):
    settings = warehouse
    _publish(settings, "run-1")
    go = tmp_path / "go"
    reader = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, pathlib, time
            con = duckdb.connect({str(settings.published_db)!r}, read_only=True)
            print(con.execute("select version from publication").fetchone()[0], flush=True)
            while not pathlib.Path({str(go)!r}).exists():
                time.sleep(0.05)
            print(con.execute("select version, (select count(*) from customer_needs) "
                              "from publication").fetchone()[0], flush=True)
        """)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert reader.stdout.readline().strip() == "1"
    second = _publish(settings, "run-2")  # the reader still holds v1 open
    go.touch()
    out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, err
    assert out.strip() == "1", "the open reader keeps reading its version without an error"
    assert second["version"] == 2
    con = duckdb.connect(str(settings.published_db), read_only=True)
    assert con.execute("select version, run_id from publication").fetchone() == (2, "run-2")
    con.close()


@pytest.mark.slow
def test_dbt_failure_is_reported_with_dbt_summary(settings):
    with pytest.raises(TransformFailed, match="dbt build failed"):
        run_dbt(settings, ["build"], as_of=AS_OF)  # no raw tables: sources are missing

"""dbt's own unit tests (``unit_tests:`` in the models' yml) in the fast tier: the models under
test and their parents are built empty (``--empty``) on the raw tables the contracts define,
then every unit test runs on its hand-written rows. No data is loaded, nothing is built for real.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import yaml

from upstream.contracts import all_contracts
from upstream.ingest import MANIFEST_DDL, ensure_raw_table
from upstream.transform import run_dbt
from upstream.warehouse import connection

from ..conftest import PROJECT_DIR


def _unit_tests() -> set[str]:
    names = set()
    for path in (PROJECT_DIR / "dbt_project" / "models").rglob("*.yml"):
        for test in (yaml.safe_load(path.read_text()) or {}).get("unit_tests", []):
            names.add(f"{test['model']}::{test['name']}")
    return names


def test_every_dbt_unit_test_passes(settings, tmp_path):
    settings = replace(settings, data_dir=tmp_path / "data")
    with connection(settings.warehouse_path) as con:
        con.execute(MANIFEST_DDL)
        for contract in all_contracts():
            ensure_raw_table(con, contract)
    expected = _unit_tests()
    assert len(expected) >= 3
    out = run_dbt(settings, ["build", "--empty", "--select", "+test_type:unit",
                             "--exclude", "test_type:data"], as_of=date(2026, 11, 10))
    passed = {line.split(" PASS ")[1].split()[0] for line in out.splitlines() if " PASS " in line}
    assert expected <= passed, expected - passed
    assert "ERROR=0" in out

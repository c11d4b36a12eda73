"""No published table carries a name, email, phone, address or CRM id."""

from __future__ import annotations

import re

import duckdb

from upstream import publish as pub
from upstream.gate import run_gate

from ..conftest import AS_OF, DAYS

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
    assert set(pub.FEEDS) <= set(tables)
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

"""A stray process holding the warehouse gives an actionable error, not a bare stack trace."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from upstream.generate import Messiness, generate
from upstream.ingest import ingest_source
from upstream.settings import WRITER_POOL
from upstream.transform import TransformFailed, run_dbt
from upstream.warehouse import WarehouseLocked

from ..conftest import AS_OF, DAYS


@pytest.fixture
def stray_writer(warehouse):
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, sys
        con = duckdb.connect({str(warehouse.warehouse_path)!r})
        print("holding", flush=True)
        sys.stdin.read()
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "holding"
    yield warehouse
    holder.stdin.close()
    holder.wait(timeout=30)


def test_ingest_names_the_locked_file_and_the_pool(stray_writer):
    generate(stray_writer.landing_dir, sf=0.001, days=1, mess=Messiness.clean())
    with pytest.raises(WarehouseLocked, match=r"upstream\.duckdb is locked by another process.*"
                                              + WRITER_POOL):
        ingest_source(stray_writer, "crm", DAYS[:1])


def test_dbt_failure_on_a_locked_warehouse_says_why(stray_writer):
    with pytest.raises(TransformFailed, match="Another process holds"):
        run_dbt(stray_writer, ["build"], as_of=AS_OF)

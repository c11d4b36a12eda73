"""Shared DAG header pieces: default args, approved tags, the writer pool, fail-fast errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

WRITER_POOL = "duckdb_writer"
APPROVED_TAGS = frozenset({"upstream", "ingest", "transform", "gate", "publish", "daily"})

def _on_failure(context):
    from upstream.alerts import on_failure

    on_failure(context)


DEFAULT_ARGS = {
    "owner": "upstream-data",
    "on_failure_callback": _on_failure,
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
    "execution_timeout": timedelta(hours=1),
}


@contextmanager
def fail_fast() -> Iterator[None]:
    """Turn errors a retry cannot fix into AirflowFailException (no retries, clear message)."""
    from airflow.sdk.exceptions import AirflowFailException

    from upstream.pipeline import PERMANENT

    try:
        yield
    except PERMANENT as exc:
        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc


def _run_params() -> dict:
    from airflow.sdk import Param

    return {
        "mode": Param("daily", enum=["daily", "full_refresh", "range"],
                      description="daily: the run's day; full_refresh: every landing day up to "
                                  "it, dbt --full-refresh; range: range_start..range_end"),
        "range_start": Param(None, type=["null", "string"], format="date",
                             description="first day for mode=range (YYYY-MM-DD)"),
        "range_end": Param(None, type=["null", "string"], format="date",
                           description="last day for mode=range (YYYY-MM-DD)"),
    }


RUN_PARAMS = _run_params()

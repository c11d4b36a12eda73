"""Task bodies for the Airflow DAGs: each Airflow task is one call into this module.

Inputs are plain values (dates, ids), outputs JSON-able dicts for XCom. Errors that a retry
cannot fix (bad landing files, a failed gate) are raised as :class:`PermanentError` so the DAG
can fail the task without burning its retries.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from upstream.contracts import ContractError
from upstream.gate import GateFailed, run_gate
from upstream.ingest import LandingError, ingest_source
from upstream.publish import (
    Candidate,
    PublishRefused,
    build_candidate,
    discard_candidate,
    publish_candidate,
)
from upstream.settings import Settings, get_settings
from upstream.transform import TransformFailed, run_dbt

log = logging.getLogger(__name__)

PERMANENT = (LandingError, ContractError, GateFailed, PublishRefused, TransformFailed)


def days_to_load(day: date, backfill_from: str | date | None) -> list[date]:
    """The run's day, or every day from ``backfill_from`` through it."""
    if backfill_from in (None, ""):
        return [day]
    first = backfill_from if isinstance(backfill_from, date) else date.fromisoformat(backfill_from)
    if first > day:
        raise ValueError(f"backfill_from {first} is after the run's day {day}")
    return [first + timedelta(days=i) for i in range((day - first).days + 1)]


def ingest(source: str, day: date, backfill_from: str | None = None,
           settings: Settings | None = None) -> dict:
    settings = settings or get_settings()
    report = ingest_source(settings, source, days_to_load(day, backfill_from))
    summary = report.summary()
    log.info("ingest %s %s..%s: files %s, read=%d loaded=%d quarantined=%d, extra columns %s",
             source, summary["first_day"], summary["last_day"], summary["files"],
             summary["rows_read"], summary["rows_loaded"], summary["rows_quarantined"],
             summary["extra_columns"])
    return summary


def transform(as_of: date, settings: Settings | None = None) -> dict:
    """``dbt build`` (models + tests) for data before ``as_of``."""
    settings = settings or get_settings()
    run_dbt(settings, ["build"], as_of=as_of)
    return {"as_of": as_of.isoformat()}


def candidate(run_id: str, start: date, end: date, settings: Settings | None = None) -> dict:
    settings = settings or get_settings()
    return build_candidate(settings, run_id=run_id, interval_start=start,
                           interval_end=end).to_json()


def gate(candidate_doc: dict, settings: Settings | None = None) -> dict:
    """Validate; on failure the candidate file is removed (its gate record stays)."""
    settings = settings or get_settings()
    cand = Candidate.from_json(candidate_doc)
    try:
        result = run_gate(settings, cand)
    except GateFailed:
        discard_candidate(cand)
        raise
    return {"success": result.success, "evaluated": result.evaluated}


def publish(candidate_doc: dict, settings: Settings | None = None) -> dict:
    settings = settings or get_settings()
    return publish_candidate(settings, Candidate.from_json(candidate_doc))

"""Task bodies for the Airflow DAGs: each Airflow task is one call into this module.

Inputs are plain values (dates, ids), outputs JSON-able dicts for XCom. Errors that a retry
cannot fix (bad landing files, a failed gate, contradictory params) are the :data:`PERMANENT`
exception types, which the DAGs turn into AirflowFailException so no retries are burnt.
"""

from __future__ import annotations

import json
import logging
import re
import resource
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from upstream import spark
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
from upstream.transform import TransformFailed, last_as_of, run_dbt

log = logging.getLogger(__name__)

MODES = ("daily", "full_refresh", "range")


class InvalidParams(ValueError):
    """The run's params contradict each other; the message says how to fix them."""


PERMANENT = (LandingError, ContractError, GateFailed, PublishRefused, TransformFailed,
             InvalidParams)


def _date(value: str | date | None, name: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidParams(f"param {name}={value!r} is not a date (YYYY-MM-DD)") from exc


def check_params(params: dict, day: date, settings: Settings | None = None) -> dict:
    """Validate the DAG params for a run whose data interval starts on ``day``."""
    settings = settings or get_settings()
    first = settings.history_start
    if day < first:
        raise InvalidParams(f"the run's day {day} is before the history start {first} "
                            "(UPSTREAM_HISTORY_START): Upstream loads nothing earlier. To load "
                            "older data, set UPSTREAM_HISTORY_START to its first day")
    mode = params.get("mode") or "daily"
    if mode not in MODES:
        raise InvalidParams(f"param mode={mode!r} must be one of {MODES}")
    start = _date(params.get("range_start"), "range_start")
    end = _date(params.get("range_end"), "range_end")
    if mode == "range":
        if start is None or end is None:
            raise InvalidParams("mode 'range' needs range_start and range_end (YYYY-MM-DD)")
        if start > end:
            raise InvalidParams(f"range_start {start} is after range_end {end}")
        if end > day:
            raise InvalidParams(f"range_end {end} is after the run's day {day}: a run only "
                                "loads days its data interval has reached")
        if start < first:
            raise InvalidParams(f"range_start {start} is before the history start {first} "
                                "(UPSTREAM_HISTORY_START); set it earlier to load older data")
    elif start or end:
        raise InvalidParams(f"range_start/range_end only apply to mode 'range', not {mode!r}")
    return {"mode": mode, "range_start": start and start.isoformat(),
            "range_end": end and end.isoformat()}


def days_to_load(settings: Settings, source: str, day: date, params: dict) -> list[date]:
    """daily: the run's day; range: range_start..range_end; full_refresh: every landing day of
    the source up to the run's day."""
    checked = check_params(params, day, settings)
    if checked["mode"] == "daily":
        return [day]
    if checked["mode"] == "range":
        first, last = (date.fromisoformat(checked[k]) for k in ("range_start", "range_end"))
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]
    folder = settings.landing_dir / source
    days = sorted(d for d in (_date_or_none(p.name) for p in folder.glob("*-*-*"))
                  if d and settings.history_start <= d <= day)
    if not days:
        raise LandingError(f"full refresh: no landing folders for source {source!r} up to {day} "
                           f"in {folder}")
    return days


def _date_or_none(name: str) -> date | None:
    try:
        return date.fromisoformat(name)
    except ValueError:
        return None


def progress(task: str, started: float, **figures: Any) -> None:
    """One ``PROGRESS {json}`` log line per finished task: its wall time, key figures and the
    peak RSS so far of the task's process and its children (dbt), which `upstream run-dag`
    (make run) prints as the run goes and `upstream bench` collects."""
    rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
              resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    log.info("PROGRESS %s", json.dumps({"task": task, "seconds": round(time.time() - started, 1),
                                        **figures, "peak_rss_mib": round(rss)}, default=str))


def ingest(source: str, day: date, params: dict | None = None,
           settings: Settings | None = None) -> dict:
    started = time.time()
    settings = settings or get_settings()
    report = ingest_source(settings, source, days_to_load(settings, source, day, params or {}))
    summary = report.summary()
    log.info("ingest %s %s..%s: files %s, read=%d loaded=%d quarantined=%d, extra columns %s",
             source, summary["first_day"], summary["last_day"], summary["files"],
             summary["rows_read"], summary["rows_loaded"], summary["rows_quarantined"],
             summary["extra_columns"])
    progress(f"ingest_{source}", started, loaded=summary["rows_loaded"],
             quarantined=summary["rows_quarantined"], files=sum(summary["files"].values()),
             days=len(report.days), erased_crm_ids=summary["erased_crm_ids"],
             erasure_s=summary["erasure_s"], ledger_check_s=summary["ledger_check_s"])
    return summary


def transform(as_of: date, params: dict | None = None, settings: Settings | None = None) -> dict:
    """``dbt build`` (models + tests) for data before ``as_of``, then ``dbt docs generate
    --static --no-compile``; a full refresh rebuilds incremental models from scratch."""
    settings = settings or get_settings()
    if not settings.warehouse_path.exists():
        raise TransformFailed(f"warehouse {settings.warehouse_path} does not exist yet: nothing "
                              "has been ingested; run the ingest DAGs (or upstream_daily) first")
    started = time.time()
    mode = (params or {}).get("mode")
    full = mode == "full_refresh"
    if settings.engine == "spark":  # this build's export, for its candidate and gate
        settings = replace(settings, spark_export=spark.new_export(settings))
    # after the build, unless intraday (a micro-batch changes data, not the project: its page
    # stands), the whole project as one page, published with the version (its dictionary and
    # lineage), in the build's dbt process. --no-compile: the page shows the manifest of the
    # build that just ran (the SQL that built this data, not the next run's incremental
    # filters) and skips compiling every node again (SF 1: 2.5-2.9 s against 5.3-6.6 s; the
    # catalog is the same)
    docs = None if mode == "intraday" else ["docs", "generate", "--static", "--no-compile"]
    output = run_dbt(settings, ["build", *(["--full-refresh"] if full else [])], as_of=as_of,
                     then=docs)
    done = re.findall(r"Done\. (PASS=\d+ WARN=\d+ ERROR=\d+ SKIP=\d+)", output)
    progress("transform", started, dbt=done[-1] if done else "", full_refresh=full)
    return {"as_of": as_of.isoformat(), "full_refresh": full,
            **({"spark_export": str(settings.spark_export)} if settings.spark_export else {})}


def candidate(run_id: str, start: date, end: date, settings: Settings | None = None,
              spark_export: str | None = None) -> dict:
    """The candidate of the run; ``spark_export``: the folder its Spark build exported to."""
    started = time.time()
    settings = _with_export(settings or get_settings(), spark_export)
    built = build_candidate(settings, run_id=run_id, interval_start=start, interval_end=end)
    progress("build_candidate", started, version=built.version, feeds=len(built.row_counts),
             rows=sum(built.row_counts.values()))
    return {**built.to_json(), **({"spark_export": spark_export} if spark_export else {})}


def _with_export(settings: Settings, spark_export: str | None) -> Settings:
    return replace(settings, spark_export=Path(spark_export)) if spark_export else settings


def gate(candidate_doc: dict, settings: Settings | None = None) -> dict:
    """Validate; on failure the candidate file is removed (its gate record stays)."""
    started = time.time()
    settings = _with_export(settings or get_settings(), candidate_doc.get("spark_export"))
    cand = Candidate.from_json(candidate_doc)
    try:
        result = run_gate(settings, cand)
    except GateFailed:
        discard_candidate(cand)
        raise
    progress("gate", started, expectations=result.evaluated, warnings=len(result.warnings))
    return {"success": result.success, "evaluated": result.evaluated}


def publish(candidate_doc: dict, settings: Settings | None = None) -> dict:
    started = time.time()
    settings = settings or get_settings()
    manifest = publish_candidate(settings, Candidate.from_json(candidate_doc))
    version = settings.versions_dir / f"v{manifest['version']:06d}"
    progress("publish", started, version=manifest["version"], covered=manifest["data_covered"],
             database=str(settings.published_db), report=str(version / manifest["report"]),
             warnings=len(manifest["gate"]["warnings"]))
    return manifest


def run_interval(data_interval_start, data_interval_end, dag_run) -> tuple[date, date]:
    """(first day, end day exclusive) a run covers. A run triggered without a logical date
    (REST ``"logical_date": null``) has no data interval: like a manual run of the daily
    timetable, it covers the UTC day before the day it runs after."""
    if data_interval_start is not None and data_interval_end is not None:
        return data_interval_start.date(), data_interval_end.date()
    run_after = getattr(dag_run, "run_after", None)
    if run_after is None:
        raise InvalidParams("this run has neither a data interval nor a run_after time: trigger "
                            "it with a logical_date (e.g. 2026-11-29T00:00:00Z)")
    end = run_after.astimezone(UTC).date()
    return end - timedelta(days=1), end


def ingest_intraday(run_id: str, dag_id: str | None = None,
                    settings: Settings | None = None) -> dict:
    """Load the waiting intraday micro-batches (upstream.intraday). A refused batch does not
    stop the others: it is alerted (log, webhook, mail) with its reason."""
    from upstream.alerts import notify
    from upstream.intraday import ingest_batches

    started = time.time()
    settings = settings or get_settings()
    summary = ingest_batches(settings, run_id)
    for batch, reason in summary["refused"].items():
        notify({"event": "upstream.batch_refused", "dag_id": dag_id,
                "task_id": "ingest_intraday", "run_id": run_id, "batch": batch,
                "error": reason}, settings)
    progress("ingest_intraday", started, batches=len(summary["batches"]),
             refused=len(summary["refused"]), waiting=summary["waiting"])
    return summary


def not_behind_intraday(as_of: date, settings: Settings | None = None) -> date:
    """``as_of``, moved to the day after the newest loaded micro-batch when that is later: a
    publication never hides rows the intraday path already published (a daily run for
    yesterday that runs after this morning's batches keeps them)."""
    from upstream.intraday import newest_day

    newest = newest_day(settings or get_settings())
    return max(as_of, newest + timedelta(days=1)) if newest else as_of


def intraday_scope(context) -> tuple[date, date, dict]:
    """(first day, as-of date, params) of an ``upstream_intraday`` run: the as-of date of the
    last dbt build, or the day after the newest micro-batch when that is later (never earlier,
    which would re-derive everybody); dbt builds incrementally."""
    settings = get_settings()
    as_of = not_behind_intraday(last_as_of(settings) or datetime.now(UTC).date(), settings)
    return as_of - timedelta(days=1), as_of, {"mode": "intraday"}


def daily_scope(context) -> tuple[date, date, dict]:
    """(first day, as-of date, params) of an ``upstream_daily`` run: its data interval (see
    :func:`run_interval`) and the params it was triggered with; the as-of date is not behind
    the intraday path (:func:`not_behind_intraday`)."""
    start, end = run_interval(context.get("data_interval_start"),
                              context.get("data_interval_end"), context.get("dag_run"))
    return start, not_behind_intraday(end), dict(context.get("params") or {})


def publish_scope(context) -> tuple[date, date, dict]:
    """(first day, as-of date, params) of an ``upstream_publish`` run (:func:`as_of_for_publish`):
    the day before the as-of date, and a full refresh when no asset event triggered it."""
    as_of, full = as_of_for_publish(context.get("logical_date"),
                                    context.get("triggering_asset_events"))
    as_of = not_behind_intraday(as_of)
    return as_of - timedelta(days=1), as_of, {"mode": "full_refresh" if full else "daily"}


def as_of_for_publish(logical_date, triggering_asset_events) -> tuple[date, bool]:
    """(as-of date, full refresh?) for a publish run.

    Asset-triggered: the day after the newest ``last_day`` the ingest DAGs reported.
    Timetable-triggered (no asset events): the run's date, as a full refresh.
    """
    days = [e.extra["last_day"] for events in (triggering_asset_events or {}).values()
            for e in events if e.extra and e.extra.get("last_day")]
    if days:
        return date.fromisoformat(max(days)) + timedelta(days=1), False
    if logical_date is None:
        raise InvalidParams("upstream_publish was triggered without a logical date and without "
                            "asset events: trigger it with a logical_date, or let the ingest "
                            "DAGs trigger it")
    return logical_date.date(), True

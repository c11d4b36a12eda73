"""Every Upstream DAG is built here; the files in ``dags/`` are one call each (dag_id == file
name, ``doc_md`` from the file's docstring).

* :func:`make_daily_dag` (``upstream_daily``): the whole chain for one run's data interval;
* :func:`make_ingest_dag` (``upstream_ingest_<source>``): one source, emits its raw Asset;
* :func:`make_publish_dag` (``upstream_publish``): transform → candidate → gate → publish when
  every source has delivered (Assets), and daily at 04:00 UTC as a full refresh;
* :func:`make_intraday_dag` (``upstream_intraday``): micro-batches → incremental transform →
  candidate → gate → publish, on the asset event the triggerer emits when batches are ready.

``transform`` and ``build_candidate`` are written once (:func:`transform_and_publish`) and take
the run's scope from a resolver in :mod:`upstream.pipeline` (``daily_scope``, ``publish_scope``
or ``intraday_scope``): the first day, the as-of date and the params of the run. Task bodies
import ``upstream.pipeline`` inside the task, so parsing a DAG file stays fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from airflow.sdk import (
    AssetAll,
    AssetOrTimeSchedule,
    CronDataIntervalTimetable,
    CronTriggerTimetable,
    chain,
    dag,
    task,
)

from upstream.assets import DESIGN_FEEDS, INTRADAY_BATCHES, MARTS, RAW
from upstream.settings import WRITER_POOL, get_settings

APPROVED_TAGS = frozenset({"upstream", "ingest", "transform", "gate", "publish", "daily",
                           "intraday"})
DAILY = CronDataIntervalTimetable("0 0 * * *", timezone="UTC")
# No Airflow start_date: Airflow would silently run no task for a day before it ("success",
# nothing loaded). The first day Upstream loads is the setting UPSTREAM_HISTORY_START, checked by
# every run (pipeline.check_params), which refuses earlier days with a message. With
# catchup=False the scheduler starts from the latest interval, as it did with a start date.


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


def _header(dag_id: str, doc: str, tags: list[str], **schedule) -> dict:
    """The house DAG header (checked by tests/dags): docs, one run at a time, retries, alerts."""
    return dict(dag_id=dag_id, doc_md=doc, catchup=False, max_active_runs=1,
                default_args=DEFAULT_ARGS, tags=["upstream", *tags], **schedule)


def ingest_task(source: str):
    """Load one source's landing files for the run; emits the source's raw Asset with the
    last day loaded, which the publish DAG uses as its as-of date."""

    @task(task_id=f"ingest_{source}", pool=WRITER_POOL, outlets=[RAW[source]])
    def ingest(data_interval_start=None, data_interval_end=None, dag_run=None, params=None,
               outlet_events=None) -> dict:
        from upstream import pipeline

        with fail_fast():
            day, _ = pipeline.run_interval(data_interval_start, data_interval_end, dag_run)
            summary = pipeline.ingest(source, day, dict(params))
        outlet_events[RAW[source]].extra = {"last_day": summary["last_day"]}
        return summary

    return ingest()


def intraday_task():
    """Load the waiting intraday micro-batches (upstream.intraday); the daily DAGs run it too,
    so a batch the intraday DAG has not taken yet is in the day's publication."""

    @task(pool=WRITER_POOL)
    def ingest_intraday(run_id=None, dag=None) -> dict:
        from upstream import pipeline

        return pipeline.ingest_intraday(run_id, dag.dag_id)

    return ingest_intraday()


def transform_and_publish(scope: str, *upstream_tasks) -> None:
    """transform → build_candidate → gate → publish, after ``upstream_tasks``; ``scope`` names
    the resolver in :mod:`upstream.pipeline` that gives the run's (first day, as-of, params)."""

    # on Spark the transform opens no DuckDB file: it waits for the Spark slot, not the writer's
    @task(pool=get_settings().transform_pool, outlets=[MARTS])
    def transform() -> dict:
        from airflow.sdk import get_current_context

        from upstream import pipeline

        with fail_fast():
            first_day, as_of, params = getattr(pipeline, scope)(get_current_context())
            result = pipeline.transform(as_of, params)
        return {**result, "interval_start": first_day.isoformat()}

    @task(pool=WRITER_POOL)
    def build_candidate(transformed: dict, run_id=None) -> dict:
        from datetime import date

        from upstream import pipeline

        return pipeline.candidate(run_id, date.fromisoformat(transformed["interval_start"]),
                                  date.fromisoformat(transformed["as_of"]),
                                  spark_export=transformed.get("spark_export"))

    @task(pool=WRITER_POOL)  # records its results in the warehouse
    def gate(candidate: dict) -> dict:
        from upstream import pipeline

        with fail_fast():
            pipeline.gate(candidate)
        return candidate

    @task(outlets=[DESIGN_FEEDS])
    def publish(candidate: dict) -> dict:
        from upstream import pipeline

        with fail_fast():
            return pipeline.publish(candidate)

    transformed = transform()
    if upstream_tasks:
        chain(*upstream_tasks, transformed)
    publish(gate(build_candidate(transformed)))


def make_daily_dag(doc: str):
    """The whole chain for one run's data interval: check params, ingest every source, then
    transform and publish. For manual runs, reruns, backfills and the REST API; in production
    keep it paused and let the ingest DAGs → upstream_publish run."""

    @dag(**_header("upstream_daily", doc, ["daily"], schedule=DAILY, params=RUN_PARAMS))
    def daily_dag():
        @task  # AirflowFailException on bad params: no retries are spent
        def check_params(data_interval_start=None, data_interval_end=None, dag_run=None,
                         params=None) -> dict:
            from upstream import pipeline

            with fail_fast():
                day, _ = pipeline.run_interval(data_interval_start, data_interval_end, dag_run)
                return pipeline.check_params(dict(params), day)

        transform_and_publish("daily_scope", check_params(),
                              [*(ingest_task(source) for source in RAW), intraday_task()])

    return daily_dag()


def make_ingest_dag(source: str, doc: str):
    @dag(**_header(f"upstream_ingest_{source}", doc, ["ingest"], schedule=DAILY,
                   params=RUN_PARAMS))
    def ingest_dag():
        ingest_task(source)

    return ingest_dag()


def make_publish_dag(doc: str):
    @dag(**_header("upstream_publish", doc, ["publish"], schedule=AssetOrTimeSchedule(
            timetable=CronTriggerTimetable("0 4 * * *", timezone="UTC"),
            assets=AssetAll(*RAW.values()))))
    def publish_dag():
        transform_and_publish("publish_scope", intraday_task())

    return publish_dag()


def make_intraday_dag(doc: str):
    """Runs when the triggerer has claimed ready micro-batches (asset event); one run at a time,
    and the events that arrive meanwhile make one next run, which takes every waiting batch."""

    @dag(**_header("upstream_intraday", doc, ["intraday"], schedule=[INTRADAY_BATCHES]))
    def intraday_dag():
        @task.short_circuit
        def anything_loaded(loaded: dict) -> bool:
            """Nothing new (another run took the batches): skip the rest."""
            return bool(loaded["batches"])

        transform_and_publish("intraday_scope", anything_loaded(intraday_task()))

    return intraday_dag()

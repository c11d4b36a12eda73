"""DAG builders shared by the thin files in dags/ (one DAG per file, dag_id == file name)."""

from __future__ import annotations

from airflow.sdk import (
    AssetAll,
    AssetOrTimeSchedule,
    CronDataIntervalTimetable,
    CronTriggerTimetable,
    chain,
    dag,
    task,
)

from upstream.assets import DESIGN_FEEDS, MARTS, RAW
from upstream.dag_support import DEFAULT_ARGS, RUN_PARAMS, WRITER_POOL, fail_fast

DAILY = CronDataIntervalTimetable("0 0 * * *", timezone="UTC")
# No Airflow start_date: Airflow would silently run no task for a day before it ("success",
# nothing loaded). The first day Upstream loads is the setting UPSTREAM_HISTORY_START, checked by
# every run (pipeline.check_params), which refuses earlier days with a message. With
# catchup=False the scheduler starts from the latest interval, as it did with a start date.


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


def make_ingest_dag(source: str, doc: str):
    @dag(dag_id=f"upstream_ingest_{source}", doc_md=doc, schedule=DAILY,
         catchup=False, max_active_runs=1, default_args=DEFAULT_ARGS,
         tags=["upstream", "ingest"], params=RUN_PARAMS)
    def ingest_dag():
        ingest_task(source)

    return ingest_dag()


def make_publish_dag(doc: str):
    """transform → build_candidate → gate → publish, when every source has delivered (Assets),
    and daily at 04:00 UTC as a full refresh."""

    @dag(dag_id="upstream_publish", doc_md=doc, catchup=False,
         schedule=AssetOrTimeSchedule(
             timetable=CronTriggerTimetable("0 4 * * *", timezone="UTC"),
             assets=AssetAll(*RAW.values())),
         max_active_runs=1, default_args=DEFAULT_ARGS, tags=["upstream", "publish"])
    def publish_dag():
        @task(pool=WRITER_POOL, outlets=[MARTS])
        def transform(logical_date=None, triggering_asset_events=None) -> dict:
            from upstream import pipeline

            with fail_fast():
                as_of, full = pipeline.as_of_for_publish(logical_date, triggering_asset_events)
                result = pipeline.transform(as_of, {"mode": "full_refresh" if full else "daily"})
            return {**result, "interval_start": pipeline.previous_day(as_of)}

        @task(pool=WRITER_POOL)
        def build_candidate(transformed: dict, run_id=None) -> dict:
            from datetime import date

            from upstream import pipeline

            return pipeline.candidate(run_id, date.fromisoformat(transformed["interval_start"]),
                                      date.fromisoformat(transformed["as_of"]))

        gate_and_publish(build_candidate(transform()))

    return publish_dag()


def gate_and_publish(candidate):
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

    return publish(gate(candidate))


__all__ = ["chain", "gate_and_publish", "ingest_task", "make_ingest_dag", "make_publish_dag"]

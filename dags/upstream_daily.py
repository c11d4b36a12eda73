"""
### upstream_daily

The daily spine: ingest the day's landing files (catalogue, CRM, web, orders) into the DuckDB warehouse,
`dbt build` the staging and mart models, copy the published feeds into a candidate database,
validate it with the Great Expectations gate, and atomically publish it as
`published/design.duckdb`.

* Data interval: one UTC day; ingest loads `data/landing/<source>/<day>/`.
* Param `mode`: `daily` (default) loads the run's day; `full_refresh` loads every landing day up
  to the run's day and rebuilds dbt with `--full-refresh`; `range` loads `range_start`..`range_end`.
  Invalid params are refused at trigger time (JSON schema) or by `check_params` (no retries).
* Every task that touches the warehouse runs in the `duckdb_writer` pool (1 slot).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import CronDataIntervalTimetable, chain, dag, task

from upstream.assets import DESIGN_FEEDS, MARTS, RAW
from upstream.dag_support import DEFAULT_ARGS, RUN_PARAMS, WRITER_POOL, fail_fast


def _ingest_task(source: str):
    @task(task_id=f"ingest_{source}", pool=WRITER_POOL, outlets=[RAW[source]])
    def ingest(data_interval_start=None, params=None) -> dict:
        from upstream import pipeline

        with fail_fast():
            return pipeline.ingest(source, data_interval_start.date(), dict(params))

    return ingest()


@dag(
    dag_id="upstream_daily",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["upstream", "daily"],
    params=RUN_PARAMS,
)
def upstream_daily():
    @task  # AirflowFailException on bad params: no retries are spent
    def check_params(data_interval_start=None, params=None) -> dict:
        from upstream import pipeline

        with fail_fast():
            return pipeline.check_params(dict(params), data_interval_start.date())

    @task(pool=WRITER_POOL, outlets=[MARTS])
    def transform(data_interval_end=None, params=None) -> dict:
        from upstream import pipeline

        with fail_fast():
            return pipeline.transform(data_interval_end.date(), dict(params))

    @task(pool=WRITER_POOL)
    def build_candidate(run_id=None, data_interval_start=None, data_interval_end=None) -> dict:
        from upstream import pipeline

        return pipeline.candidate(run_id, data_interval_start.date(), data_interval_end.date())

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

    ingests = [_ingest_task(source) for source in RAW]
    built = transform()
    cand = build_candidate()
    chain(check_params(), ingests, built, cand)
    publish(gate(cand))


upstream_daily()

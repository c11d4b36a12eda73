"""
### upstream_daily

The whole chain in one DAG, for manual runs, reruns and backfills (`make run`, the REST API):
ingest the day's landing files (catalogue, CRM, web, orders) into the DuckDB warehouse,
`dbt build` the staging and mart models, copy the published feeds into a candidate database,
validate it with the Great Expectations gate, and atomically publish it as
`published/design.duckdb`.

* Data interval: one UTC day (the run at D+1 00:00 covers day D); ingest loads
  `data/landing/<source>/<day>/`. The scheduled path is `upstream_ingest_<source>` (daily) →
  Assets → `upstream_publish`.
* Param `mode`: `daily` (default) loads the run's day; `full_refresh` loads every landing day up
  to the run's day and rebuilds dbt with `--full-refresh`; `range` loads `range_start`..`range_end`.
  Invalid params are refused at trigger time (JSON schema) or by `check_params` (no retries).
* Every task that touches the warehouse runs in the `duckdb_writer` pool (1 slot).
"""

from __future__ import annotations

from airflow.sdk import chain, dag, task

from upstream.assets import MARTS, RAW
from upstream.dag_factories import DAILY, gate_and_publish, ingest_task
from upstream.dag_support import DEFAULT_ARGS, RUN_PARAMS, WRITER_POOL, fail_fast


@dag(
    dag_id="upstream_daily",
    doc_md=__doc__,
    # The timetable gives manual runs and `airflow backfill create` their one-day intervals. In
    # production keep this DAG paused and let upstream_ingest_* → upstream_publish run.
    schedule=DAILY,  # no start_date: see dag_factories (UPSTREAM_HISTORY_START)
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["upstream", "daily"],
    params=RUN_PARAMS,
)
def upstream_daily():
    # Each task takes its days from pipeline.run_interval: the data interval, or for a run
    # triggered with "logical_date": null the UTC day before it runs.
    @task  # AirflowFailException on bad params: no retries are spent
    def check_params(data_interval_start=None, data_interval_end=None, dag_run=None,
                     params=None) -> dict:
        from upstream import pipeline

        with fail_fast():
            day, _ = pipeline.run_interval(data_interval_start, data_interval_end, dag_run)
            return pipeline.check_params(dict(params), day)

    @task(pool=WRITER_POOL, outlets=[MARTS])
    def transform(data_interval_start=None, data_interval_end=None, dag_run=None,
                  params=None) -> dict:
        from upstream import pipeline

        with fail_fast():
            _, end = pipeline.run_interval(data_interval_start, data_interval_end, dag_run)
            return pipeline.transform(end, dict(params))

    @task(pool=WRITER_POOL)
    def build_candidate(run_id=None, data_interval_start=None, data_interval_end=None,
                        dag_run=None) -> dict:
        from upstream import pipeline

        start, end = pipeline.run_interval(data_interval_start, data_interval_end, dag_run)
        return pipeline.candidate(run_id, start, end)

    ingests = [ingest_task(source) for source in RAW]
    cand = build_candidate()
    chain(check_params(), ingests, transform(), cand)
    gate_and_publish(cand)


upstream_daily()

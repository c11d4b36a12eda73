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
* Every task that touches the warehouse runs in the writer pool (1 slot, `upstream settings --pool`).
"""

from upstream.dag_factories import make_daily_dag

make_daily_dag(__doc__)  # an Airflow DAG

"""
### upstream_ingest_orders

Daily ingest of the `orders` landing files into the DuckDB warehouse (`raw.*`), one UTC day per
run (the run at D+1 00:00 loads day D). Emits the `upstream_raw_orders` Asset; `upstream_publish`
runs when all sources have delivered. Params as in `upstream_daily` (`mode`, `range_*`).
"""

from upstream.dag_factories import make_ingest_dag

make_ingest_dag("orders", __doc__)  # an Airflow DAG

"""
### upstream_publish

Data-aware: runs `dbt build`, builds the candidate design database, gates it and publishes it
when every ingest DAG has emitted its raw Asset (as of the newest day they loaded), and daily at
04:00 UTC as a full refresh (`dbt build --full-refresh`). Emits `upstream_design_feeds`.
"""

from upstream.dag_factories import make_publish_dag

make_publish_dag(__doc__)  # an Airflow DAG

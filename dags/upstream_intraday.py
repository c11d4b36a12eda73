"""
### upstream_intraday

Event-driven: a sender drops a micro-batch of ERP documents, web events or CRM records into
`data/landing/<source>/intraday/<YYYYMMDDTHHMMSSZ[-suffix]>/` and writes `_READY` into it last.
The triggerer (AssetWatcher on `upstream_intraday_batches`, `upstream.triggers.ReadyBatchTrigger`)
claims it (`_READY` → `_QUEUED`) and this DAG runs: load every waiting batch through the daily
ingest path (manifest, quarantine, exactly once; ledger `raw._intraday_batches`), `dbt build`
incrementally, build the candidate, gate it and publish a new version that lists its batches.

* One run at a time; batches that arrive meanwhile are taken together by the next run
  (at most `UPSTREAM_INTRADAY_MAX_BATCHES`, oldest first). A run that finds nothing new skips.
* Shares the writer pool with the daily DAGs, which also load any waiting batch.
"""

from upstream.dag_factories import make_intraday_dag

make_intraday_dag(__doc__)  # an Airflow DAG

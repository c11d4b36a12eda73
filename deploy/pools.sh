#!/usr/bin/env bash
# The warehouse writer pool: one slot, because DuckDB allows one writer process per file.
# Run by scripts/airflow-init.sh, scripts/services.sh and the compose airflow-init service.
set -euo pipefail
# The name has one home, upstream.settings.WRITER_POOL; every writing task names it from there.
POOL=$("${UPSTREAM:-upstream}" settings --pool)
"${AIRFLOW:-airflow}" pools set "$POOL" 1 "Serialises DuckDB warehouse writers (one writer per file)"
# UPSTREAM_ENGINE=spark: transforms leave the writer pool for this one. One slot: the embedded
# Derby metastore opens in one process at a time; raise it with a Hive metastore service.
SPARK_POOL=$("${UPSTREAM:-upstream}" settings --spark-pool)
"${AIRFLOW:-airflow}" pools set "$SPARK_POOL" 1 "Spark transforms (one per embedded metastore)"

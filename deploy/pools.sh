#!/usr/bin/env bash
# The warehouse writer pool: one slot, because DuckDB allows one writer process per file.
# Run by scripts/airflow-init.sh, scripts/services.sh and the compose airflow-init service.
set -euo pipefail
# The name has one home, upstream.settings.WRITER_POOL; every writing task names it from there.
POOL=$("${UPSTREAM:-upstream}" settings --pool)
"${AIRFLOW:-airflow}" pools set "$POOL" 1 "Serialises DuckDB warehouse writers (one writer per file)"

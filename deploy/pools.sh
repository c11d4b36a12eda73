#!/usr/bin/env bash
# The warehouse writer pool: one slot, because DuckDB allows one writer process per file.
# Run by scripts/airflow-init.sh, scripts/services.sh and the compose airflow-init service.
set -euo pipefail
"${AIRFLOW:-airflow}" pools set duckdb_writer 1 "Serialises DuckDB warehouse writers (one writer per file)"

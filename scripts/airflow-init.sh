#!/usr/bin/env bash
# Prepare the local Airflow home (SQLite metadata, no examples) and the warehouse writer pool.
# Expects the environment the Makefile exports (AIRFLOW_HOME, AIRFLOW__CORE__DAGS_FOLDER, ...).
set -euo pipefail
: "${AIRFLOW_HOME:?AIRFLOW_HOME must be set (the Makefile sets it to .airflow/)}"
mkdir -p "$AIRFLOW_HOME"
AIRFLOW=${AIRFLOW:-.venv/bin/airflow}
echo "airflow: migrating the metadata database in $AIRFLOW_HOME (about 15 s)"
"$AIRFLOW" db migrate >"$AIRFLOW_HOME/db-migrate.log" 2>&1 || {
  echo "airflow db migrate failed; see $AIRFLOW_HOME/db-migrate.log" >&2
  tail -20 "$AIRFLOW_HOME/db-migrate.log" >&2
  exit 1
}
AIRFLOW="$AIRFLOW" UPSTREAM="$(dirname "$AIRFLOW")/upstream" "$(dirname "$0")/../deploy/pools.sh" >/dev/null

#!/usr/bin/env bash
# sqlfluff with the dbt templater on the given dbt SQL files (default: every model and snapshot),
# against a scratch warehouse, with the settings' dbt environment. Used by `make lint` and
# pre-commit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN="$ROOT/.venv/bin"
eval "$("$BIN/upstream" settings --dbt-env)"
export UPSTREAM_WAREHOUSE="$ROOT/.tmp/lint/lint.duckdb" DBT_TARGET_PATH="$ROOT/.tmp/lint/target" \
  DBT_LOG_PATH="$ROOT/.tmp/lint/logs"
mkdir -p "$ROOT/.tmp/lint"
files=()
for f in "$@"; do files+=("$(realpath "$f")"); done
cd "$ROOT/dbt_project"
[ ${#files[@]} -gt 0 ] || files=(models snapshots)
exec "$BIN/sqlfluff" lint "${files[@]}" --processes 2 --disable-progress-bar

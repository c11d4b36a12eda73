#!/usr/bin/env bash
# Start or stop the real Airflow deployment natively, as docker-compose.yml describes it:
# PostgreSQL for metadata, then api-server, scheduler, dag-processor and triggerer on 127.0.0.1.
#   scripts/services.sh up | down | status
# State lives in $UPSTREAM_SERVICES_DIR (default .services/): Postgres cluster, Airflow home,
# logs and one pid file per process. `down` stops exactly the processes it started.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${UPSTREAM_SERVICES_DIR:-$ROOT/.services}
PG_PORT=${UPSTREAM_PG_PORT:-54329}
API_PORT=${UPSTREAM_API_PORT:-8089}
BIN=${UPSTREAM_BIN:-$ROOT/.venv/bin}
COMPONENTS=(api-server scheduler dag-processor triggerer)

pg_bin() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$found" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "services: installing PostgreSQL from Debian's packages" >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null
      found=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    else
      echo "services: PostgreSQL server binaries not found (install Debian's postgresql)" >&2
      exit 1
    fi
  fi
  echo "$found"
}

as_pg() {  # PostgreSQL refuses to run as root
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

airflow_env() {
  set -a
  # shellcheck disable=SC1091
  . "$ROOT/deploy/airflow.env"
  set +a
  export AIRFLOW_HOME="$DIR/airflow"
  export AIRFLOW__CORE__DAGS_FOLDER="$ROOT/dags"
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="postgresql+psycopg2://airflow:airflow@127.0.0.1:$PG_PORT/airflow"
  export AIRFLOW__API__HOST=127.0.0.1
  export AIRFLOW__API__PORT="$API_PORT"
  export AIRFLOW__API__BASE_URL="http://127.0.0.1:$API_PORT"
  export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$API_PORT/execution/"
  export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$DIR/simple_auth_manager_passwords.json"
  export AIRFLOW__API_AUTH__JWT_SECRET
  AIRFLOW__API_AUTH__JWT_SECRET=$(cat "$DIR/jwt_secret")
  export UPSTREAM_PROJECT_DIR="$ROOT"
}

start_postgres() {
  local bin; bin=$(pg_bin)
  mkdir -p "$DIR/pg" "$DIR/run"
  if [ "$(id -u)" = 0 ]; then chown postgres "$DIR/pg" "$DIR/run"; fi
  if [ ! -f "$DIR/pg/PG_VERSION" ]; then
    as_pg "$bin/initdb" -D "$DIR/pg" -A trust -U postgres >"$DIR/logs/initdb.log" 2>&1 || {
      cat "$DIR/logs/initdb.log" >&2
      echo "services: initdb failed (the postgres user must be able to reach $DIR)" >&2
      exit 1
    }
  fi
  if ! as_pg "$bin/pg_ctl" -D "$DIR/pg" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$DIR/pg" -w -t 60 -l "$DIR/run/postgres.log" \
      -o "-p $PG_PORT -k $DIR/run -c listen_addresses=127.0.0.1" start >/dev/null || {
      tail -20 "$DIR/run/postgres.log" >&2
      echo "services: PostgreSQL did not start on 127.0.0.1:$PG_PORT" >&2
      exit 1
    }
  fi
  local psql=("$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qtA)
  if [ -z "$("${psql[@]}" -c "select 1 from pg_roles where rolname = 'airflow'")" ]; then
    "${psql[@]}" -c "create role airflow login password 'airflow'"
    "${psql[@]}" -c "create database airflow owner airflow"
  fi
}

up() {
  mkdir -p "$DIR/logs" "$DIR/pids" "$DIR/airflow"
  [ -f "$DIR/jwt_secret" ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/jwt_secret"
  local t0=$SECONDS
  start_postgres
  airflow_env
  "$BIN/airflow" db migrate >"$DIR/logs/db-migrate.log" 2>&1 || {
    tail -20 "$DIR/logs/db-migrate.log" >&2
    echo "services: airflow db migrate failed; is PostgreSQL reachable on 127.0.0.1:$PG_PORT?" >&2
    exit 1
  }
  AIRFLOW="$BIN/airflow" "$ROOT/deploy/pools.sh" >/dev/null
  for c in "${COMPONENTS[@]}"; do
    if [ -f "$DIR/pids/$c.pid" ] && kill -0 "$(cat "$DIR/pids/$c.pid")" 2>/dev/null; then continue; fi
    setsid "$BIN/airflow" "$c" >"$DIR/logs/$c.log" 2>&1 < /dev/null &
    echo $! >"$DIR/pids/$c.pid"
  done
  for _ in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:$API_PORT/api/v2/monitor/health" 2>/dev/null \
        | grep -q '"scheduler":{"status":"healthy"'; then
      echo "services: up in $((SECONDS - t0)) s: api-server http://127.0.0.1:$API_PORT," \
           "PostgreSQL 127.0.0.1:$PG_PORT, state in $DIR"
      return 0
    fi
    for c in "${COMPONENTS[@]}"; do
      kill -0 "$(cat "$DIR/pids/$c.pid")" 2>/dev/null || {
        tail -30 "$DIR/logs/$c.log" >&2; echo "services: $c exited; log $DIR/logs/$c.log" >&2; exit 1; }
    done
    sleep 1
  done
  echo "services: not healthy after 120 s; logs in $DIR/logs" >&2
  exit 1
}

down() {
  for c in "${COMPONENTS[@]}"; do
    local f="$DIR/pids/$c.pid"
    [ -f "$f" ] || continue
    local pid; pid=$(cat "$f")
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$f"
  done
  local bin; bin=$(pg_bin)
  if [ -f "$DIR/pg/PG_VERSION" ]; then
    as_pg "$bin/pg_ctl" -D "$DIR/pg" -m fast -w stop >/dev/null 2>&1 || true
  fi
  echo "services: stopped"
}

status() {
  for c in "${COMPONENTS[@]}"; do
    local f="$DIR/pids/$c.pid"
    if [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null; then echo "$c: running ($(cat "$f"))"
    else echo "$c: stopped"; fi
  done
  curl -fsS "http://127.0.0.1:$API_PORT/api/v2/monitor/health" 2>/dev/null || echo "api: unreachable"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Start or stop the real Airflow deployment natively, as docker-compose.yml describes it:
# PostgreSQL for metadata, then api-server, scheduler, dag-processor and triggerer on 127.0.0.1.
#   scripts/services.sh up | down | status
# State lives in $UPSTREAM_SERVICES_DIR (default .services/): Postgres cluster, its generated
# passwords (scram-sha-256, files readable by this user only), Airflow home, logs and one pid
# file per process. Every listener is on 127.0.0.1: the API (and its execution API), PostgreSQL,
# the scheduler's health check; the log servers are not started (all components share this
# host's log folder). `down` stops exactly the processes it started, their children included,
# and returns when none is left.
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
  AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="postgresql+psycopg2://airflow:$(cat "$DIR/pg_airflow_password")@127.0.0.1:$PG_PORT/airflow"
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN
  export AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST=127.0.0.1
  export AIRFLOW__API__HOST=127.0.0.1
  export AIRFLOW__API__PORT="$API_PORT"
  export AIRFLOW__API__BASE_URL="http://127.0.0.1:$API_PORT"
  export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$API_PORT/execution/"
  export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$DIR/simple_auth_manager_passwords.json"
  export AIRFLOW__API_AUTH__JWT_SECRET
  AIRFLOW__API_AUTH__JWT_SECRET=$(cat "$DIR/jwt_secret")
  export UPSTREAM_PROJECT_DIR="$ROOT"
}

secret() {  # a generated password in a file only this user reads
  [ -s "$1" ] || (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$1")
}

start_postgres() {
  local bin; bin=$(pg_bin)
  mkdir -p "$DIR/pg" "$DIR/run"
  if [ "$(id -u)" = 0 ]; then chown postgres "$DIR/pg" "$DIR/run"; fi
  secret "$DIR/pg_superuser_password"
  secret "$DIR/pg_airflow_password"
  if [ ! -f "$DIR/pg/PG_VERSION" ]; then
    local pwfile="$DIR/run/initdb.pw"
    cp "$DIR/pg_superuser_password" "$pwfile"
    if [ "$(id -u)" = 0 ]; then chown postgres "$pwfile"; fi
    as_pg "$bin/initdb" -D "$DIR/pg" -U postgres --auth=scram-sha-256 --pwfile="$pwfile" \
      >"$DIR/logs/initdb.log" 2>&1 || {
      rm -f "$pwfile"
      cat "$DIR/logs/initdb.log" >&2
      echo "services: initdb failed (the postgres user must be able to reach $DIR)" >&2
      exit 1
    }
    rm -f "$pwfile"
  elif grep -Eq '^[^#]*\btrust\b' "$DIR/pg/pg_hba.conf" 2>/dev/null; then
    echo "services: $DIR/pg was initialised with trust authentication by an older version;" \
         "run \`make services-down\`, remove $DIR/pg, then \`make services-up\`" >&2
    exit 1
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
  export PGPASSWORD; PGPASSWORD=$(cat "$DIR/pg_superuser_password")
  if [ -z "$("${psql[@]}" -c "select 1 from pg_roles where rolname = 'airflow'")" ]; then
    "${psql[@]}" -c "create role airflow login password '$(cat "$DIR/pg_airflow_password")'"
    "${psql[@]}" -c "create database airflow owner airflow"
  fi
  unset PGPASSWORD
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
  AIRFLOW="$BIN/airflow" UPSTREAM="$BIN/upstream" "$ROOT/deploy/pools.sh" >/dev/null
  for c in "${COMPONENTS[@]}"; do
    if [ -f "$DIR/pids/$c.pid" ] && kill -0 "$(cat "$DIR/pids/$c.pid")" 2>/dev/null; then continue; fi
    local args=()
    case "$c" in scheduler|triggerer) args=(--skip-serve-logs) ;; esac
    setsid "$BIN/airflow" "$c" "${args[@]}" >"$DIR/logs/$c.log" 2>&1 < /dev/null &
    echo $! >"$DIR/pids/$c.pid"
  done
  for _ in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:$API_PORT/api/v2/monitor/health" 2>/dev/null \
        | grep -q '"scheduler":{"status":"healthy"'; then
      echo "services: up in $((SECONDS - t0)) s"
      echo "  Airflow UI and REST API  http://127.0.0.1:$API_PORT  (user admin, password in" \
           "$DIR/simple_auth_manager_passwords.json)"
      echo "  PostgreSQL               127.0.0.1:$PG_PORT  (user airflow, password in" \
           "$DIR/pg_airflow_password)"
      echo "  logs                     $DIR/logs"
      echo "  DAGs start paused: unpause upstream_daily in the UI, or see README (Runbook)"
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

descendants() {  # every process below the given pids (task processes included)
  local pid
  for pid in "$@"; do
    local children; children=$(ps -o pid= --ppid "$pid" 2>/dev/null | tr -d ' ' || true)
    for child in $children; do echo "$child"; descendants "$child"; done
  done
}

alive() { local p; for p in "$@"; do kill -0 "$p" 2>/dev/null && echo "$p"; done; return 0; }

down() {
  local pids=() groups=()
  for c in "${COMPONENTS[@]}"; do
    local f="$DIR/pids/$c.pid"
    [ -f "$f" ] || continue
    local pid; pid=$(cat "$f")
    groups+=("$pid")
    pids+=("$pid" $(descendants "$pid"))
  done
  if [ ${#groups[@]} -gt 0 ]; then
    # the groups setsid made, and any process below them that left its group
    for g in "${groups[@]}"; do kill -TERM -- "-$g" 2>/dev/null || true; done
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 1 40); do [ -z "$(alive "${pids[@]}")" ] && break; sleep 0.5; done
    local left; left=$(alive "${pids[@]}")
    if [ -n "$left" ]; then
      for g in "${groups[@]}"; do kill -KILL -- "-$g" 2>/dev/null || true; done
      kill -KILL $left 2>/dev/null || true
      for _ in $(seq 1 20); do [ -z "$(alive "${pids[@]}")" ] && break; sleep 0.25; done
    fi
    left=$(alive "${pids[@]}")
    if [ -n "$left" ]; then
      echo "services: processes still running after SIGKILL: $left" >&2
      exit 1
    fi
    rm -f "$DIR"/pids/*.pid
  fi
  local bin; bin=$(pg_bin)
  if [ -f "$DIR/pg/PG_VERSION" ]; then
    as_pg "$bin/pg_ctl" -D "$DIR/pg" -m fast -w stop >/dev/null 2>&1 || true
  fi
  echo "services: stopped (${#pids[@]} processes, none left)"
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

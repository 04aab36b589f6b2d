#!/usr/bin/env bash
# Starts, stops and checks the real services NucleiFlow talks to, on fixed loopback ports:
#   PostgreSQL 127.0.0.1:5432 (the machine's own cluster; databases nucleiflow and nucleiflow_test)
#   Temporal   127.0.0.1:7233 (temporal server start-dev, SQLite file under the services dir; UI on :8233)
#   MLflow     127.0.0.1:5050 (mlflow server --serve-artifacts, SQLite backend, artifacts under the services dir)
# Idempotent: `up` leaves a healthy service alone. Logs and pid files: $NUCLEIFLOW_HOME/services/.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
NF_HOME="${NUCLEIFLOW_HOME:-$ROOT/.nucleiflow}"
SVC="$NF_HOME/services"
PG_HOST=127.0.0.1 PG_PORT=5432
TEMPORAL_PORT="${NUCLEIFLOW_TEMPORAL_PORT:-7233}" TEMPORAL_UI_PORT="${NUCLEIFLOW_TEMPORAL_UI_PORT:-8233}"
MLFLOW_PORT="${NUCLEIFLOW_MLFLOW_PORT:-5050}"
mkdir -p "$SVC/logs"

log() { printf '[services] %s\n' "$*"; }
die() { printf '[services] error: %s\n' "$*" >&2; exit 1; }

venv() { bash "$ROOT/scripts/setup-tools-venv.sh" | tail -n1; }

wait_for() { # name, seconds, command...
  local name=$1 secs=$2; shift 2
  for ((i = 0; i < secs * 2; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  return 1
}

pg_ok() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; }
temporal_ok() { "$(venv)/bin/temporal" operator cluster health --address "127.0.0.1:$TEMPORAL_PORT" 2>/dev/null | grep -q SERVING; }
mlflow_ok() { curl -fsS "http://127.0.0.1:$MLFLOW_PORT/health" 2>/dev/null | grep -qi ok; }

pid_alive() { [ -f "$SVC/$1.pid" ] && kill -0 "$(cat "$SVC/$1.pid")" 2>/dev/null; }

postgres_up() {
  if ! pg_ok; then
    log "PostgreSQL is down; starting the machine's cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start \
      || die "could not start PostgreSQL (pg_ctlcluster); see /var/log/postgresql/"
    wait_for postgres 30 pg_ok || die "PostgreSQL did not become ready on $PG_HOST:$PG_PORT"
  fi
  for db in nucleiflow nucleiflow_test; do
    psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -tAc "select 1 from pg_database where datname='$db'" | grep -q 1 \
      || psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -qc "create database $db" >/dev/null
  done
  log "postgres  ok  postgresql://postgres@$PG_HOST:$PG_PORT/nucleiflow (and nucleiflow_test)"
}

temporal_up() {
  if temporal_ok; then log "temporal  ok  127.0.0.1:$TEMPORAL_PORT (already running)"; return; fi
  local bin; bin="$(venv)/bin/temporal"
  log "starting Temporal dev server (log: $SVC/logs/temporal.log)"
  setsid "$bin" server start-dev --ip 127.0.0.1 --port "$TEMPORAL_PORT" --ui-port "$TEMPORAL_UI_PORT" \
    --db-filename "$SVC/temporal.db" --log-level warn >>"$SVC/logs/temporal.log" 2>&1 < /dev/null &
  echo $! > "$SVC/temporal.pid"
  wait_for temporal 60 temporal_ok || die "Temporal did not become healthy on 127.0.0.1:$TEMPORAL_PORT; see $SVC/logs/temporal.log"
  log "temporal  ok  127.0.0.1:$TEMPORAL_PORT (UI http://127.0.0.1:$TEMPORAL_UI_PORT)"
}

mlflow_up() {
  if mlflow_ok; then log "mlflow    ok  http://127.0.0.1:$MLFLOW_PORT (already running)"; return; fi
  local bin; bin="$(venv)/bin/mlflow"
  mkdir -p "$SVC/mlflow-artifacts"
  log "starting MLflow server (log: $SVC/logs/mlflow.log)"
  setsid "$bin" server --host 127.0.0.1 --port "$MLFLOW_PORT" --workers 1 \
    --backend-store-uri "sqlite:///$SVC/mlflow.db" --serve-artifacts --artifacts-destination "$SVC/mlflow-artifacts" \
    >>"$SVC/logs/mlflow.log" 2>&1 < /dev/null &
  echo $! > "$SVC/mlflow.pid"
  wait_for mlflow 120 mlflow_ok || die "MLflow did not become healthy on 127.0.0.1:$MLFLOW_PORT; see $SVC/logs/mlflow.log"
  log "mlflow    ok  http://127.0.0.1:$MLFLOW_PORT"
}

stop() { # name: stop the process group we started, then wait for it to go
  local name=$1
  if pid_alive "$name"; then
    local pid; pid=$(cat "$SVC/$name.pid")
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    log "$name stopped"
  else
    log "$name was not started by this script"
  fi
  rm -f "$SVC/$name.pid"
}

env_lines() {
  cat <<ENV
export DATABASE_URL=postgresql://postgres@$PG_HOST:$PG_PORT/nucleiflow
export TEMPORAL_ADDRESS=127.0.0.1:$TEMPORAL_PORT
export MLFLOW_TRACKING_URI=http://127.0.0.1:$MLFLOW_PORT
ENV
}

case "${1:-status}" in
  up)
    postgres_up
    temporal_up
    mlflow_up
    env_lines > "$SVC/env.sh"
    log "to use them: source $SVC/env.sh"
    ;;
  down)
    stop mlflow
    stop temporal
    log "PostgreSQL is the machine's own cluster and is left running"
    ;;
  status)
    rc=0
    if pg_ok; then log "postgres  ok"; else log "postgres  DOWN"; rc=1; fi
    if temporal_ok; then log "temporal  ok"; else log "temporal  DOWN"; rc=1; fi
    if mlflow_ok; then log "mlflow    ok"; else log "mlflow    DOWN"; rc=1; fi
    exit $rc
    ;;
  env) env_lines ;;
  *) die "usage: scripts/services.sh up|down|status|env" ;;
esac

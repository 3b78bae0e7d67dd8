#!/usr/bin/env bash
# The replicated deployment without Docker: PostgreSQL, an MLflow tracking server backed by
# it (artifacts proxied by the server), N app replicas sharing both, and HAProxy in front of
# them with cookie-based stickiness (Gradio's queue lives in each replica: a browser or
# gradio_client session stays on the replica it started on, and moves to another only when
# that one is down; sign-ins are shared, so a move costs nothing or at most a new sign-in).
# The same services as deploy/compose.yaml; the tests start them with it.
#
#   deploy/native.sh up        # postgres + mlflow + replicas + load balancer, then the URLs
#   deploy/native.sh lb        # only the load balancer (HAProxy, needs the replicas)
#   deploy/native.sh postgres  # only PostgreSQL (databases `mlflow` and `sentiment`)
#   deploy/native.sh mlflow    # only the MLflow server (needs postgres)
#   deploy/native.sh apps      # only the replicas (needs both)
#   deploy/native.sh stop mlflow|apps|lb|postgres   # stop one service
#   deploy/native.sh down      # stop everything
#   deploy/native.sh env       # print the variables a replica needs
#
# Settings (environment): DEPLOY_DIR (.deploy), PG_PORT (5433), MLFLOW_PORT (5000),
# APP_PORT (7861: replicas on APP_PORT, APP_PORT+1, ...), LB_PORT (7860: the address users
# and programs call), REPLICAS (2), PG_PASSWORD and SESSION_SECRET (generated once and kept
# in DEPLOY_DIR, mode 600). Everything listens on 127.0.0.1 only (LB_HOST to change the load
# balancer's); TLS, when wanted, is terminated in front of it.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEPLOY_DIR="$(mkdir -p "${DEPLOY_DIR:-$ROOT/.deploy}" && cd "${DEPLOY_DIR:-$ROOT/.deploy}" && pwd)"
PG_PORT="${PG_PORT:-5433}"
MLFLOW_PORT="${MLFLOW_PORT:-5000}"
APP_PORT="${APP_PORT:-7861}"
LB_PORT="${LB_PORT:-7860}"
LB_HOST="${LB_HOST:-127.0.0.1}"
REPLICAS="${REPLICAS:-2}"
PYTHON="${PYTHON:-python3}"
PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
# PostgreSQL refuses to run as root: as root its files live where the postgres user can
# reach them (one folder per port), owned by that user.
if [ "$(id -u)" = 0 ]; then
  PGDATA="${PGDATA:-/tmp/sentiment-pgdata-$PG_PORT}"
  as_pg() { runuser -u postgres -- "$@"; }
else
  PGDATA="${PGDATA:-$DEPLOY_DIR/pgdata}"
  as_pg() { "$@"; }
fi

kept_secret() {  # kept_secret FILE VALUE: VALUE if set, else a secret generated once in FILE
  local file="$DEPLOY_DIR/$1"
  if [ -n "${2:-}" ]; then
    echo "$2"
  else
    [ -s "$file" ] || (umask 077 && "$PYTHON" -c "import secrets; print(secrets.token_hex(16))" > "$file")
    cat "$file"
  fi
}
password() { kept_secret pg-password "${PG_PASSWORD:-}"; }

database_url() { echo "postgresql://sentiment:$(password)@127.0.0.1:$PG_PORT/$1"; }

print_env() {
  echo "MLFLOW_TRACKING_URI=http://127.0.0.1:$MLFLOW_PORT"
  echo "SENTIMENT_DATABASE_URL=$(database_url sentiment)"
  echo "SENTIMENT_SESSION_SECRET=$(kept_secret session-secret "${SESSION_SECRET:-}")"
  echo "SENTIMENT_TRUSTED_PROXIES=127.0.0.1"
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local seconds="$1" what="$2"; shift 2
  for _ in $(seq 1 $((seconds * 5))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "error: $what did not start within $seconds s" >&2
  return 1
}

start_postgres() {
  [ -n "$PG_BIN" ] || { echo "error: PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    mkdir -p "$PGDATA" && chmod 700 "$PGDATA"
    [ "$(id -u)" = 0 ] && chown postgres: "$PGDATA"
    local pwfile; pwfile="$(mktemp)"; echo "$(password)" > "$pwfile"; chmod 644 "$pwfile"
    as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth-local=peer \
      --auth-host=scram-sha-256 --pwfile="$pwfile" >"$DEPLOY_DIR/initdb.log" 2>&1
    rm -f "$pwfile"
  fi
  if ! as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -w -t 60 -l "$PGDATA/server.log" start \
      -o "-p $PG_PORT -k $PGDATA -c listen_addresses=127.0.0.1" >/dev/null
  fi
  local sql=(as_pg "$PG_BIN/psql" -h "$PGDATA" -p "$PG_PORT" -U postgres -d postgres -qtA)
  if [ "$("${sql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname='sentiment'")" != 1 ]; then
    local quoted; quoted="$(password)"; quoted="${quoted//\'/\'\'}"  # SQL-quote it
    "${sql[@]}" -c "CREATE ROLE sentiment LOGIN PASSWORD '$quoted'"
  fi
  for db in mlflow sentiment; do
    if [ "$("${sql[@]}" -c "SELECT 1 FROM pg_database WHERE datname='$db'")" != 1 ]; then
      "${sql[@]}" -c "CREATE DATABASE $db OWNER sentiment"
    fi
  done
  echo "postgres: 127.0.0.1:$PG_PORT (data $PGDATA)"
}

start_mlflow() {
  mkdir -p "$DEPLOY_DIR/artifacts"
  local backend; backend="$(database_url mlflow | sed 's#^postgresql://#postgresql+psycopg://#')"
  # its own process group (setsid): stopping it ends its workers, and nothing else.
  # MLflow's job runner (GenAI jobs, about eight huey consumer processes) is off: the
  # registry does not use it.
  MLFLOW_DISABLE_TELEMETRY=true MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false \
    nohup setsid "$PYTHON" -m mlflow server \
    --backend-store-uri "$backend" --artifacts-destination "$DEPLOY_DIR/artifacts" \
    --serve-artifacts --host 127.0.0.1 --port "$MLFLOW_PORT" --workers 2 \
    </dev/null >"$DEPLOY_DIR/mlflow.log" 2>&1 &
  echo $! >"$DEPLOY_DIR/mlflow.pid"
  wait_for 120 "the MLflow server" "$PYTHON" -c \
    "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$MLFLOW_PORT/health', timeout=2)"
  echo "mlflow: http://127.0.0.1:$MLFLOW_PORT (log $DEPLOY_DIR/mlflow.log)"
}

start_apps() {
  local i port shared
  # Read (and on the first run generate) the shared settings once, here: expanded inside
  # each background command instead, the replicas raced to generate the secrets and got
  # different ones (a sign-in then held on one replica only).
  shared="$(print_env | xargs)"
  for i in $(seq 1 "$REPLICAS"); do
    port=$((APP_PORT + i - 1))
    # the app itself is the background job (not a subshell around it): its pid is the one
    # kept, and nothing left behind holds the caller's output open
    (cd "$ROOT"
     env $shared SENTIMENT_HOME="$DEPLOY_DIR/replica-$i" \
       GRADIO_SERVER_NAME=127.0.0.1 GRADIO_SERVER_PORT="$port" \
       nohup "$PYTHON" app.py </dev/null >"$DEPLOY_DIR/replica-$i.log" 2>&1 &
     echo $! >"$DEPLOY_DIR/replica-$i.pid")
    echo "replica $i: http://127.0.0.1:$port (log $DEPLOY_DIR/replica-$i.log)"
  done
}

start_lb() {
  command -v haproxy >/dev/null || { echo "error: HAProxy is not installed (apt-get install haproxy)" >&2; exit 1; }
  local cfg="$DEPLOY_DIR/haproxy.cfg" i port
  {
    echo "global"
    echo "  maxconn 4096"
    echo "defaults"
    echo "  mode http"
    echo "  option forwardfor"      # the replicas see the client (SENTIMENT_TRUSTED_PROXIES)
    echo "  option redispatch"      # a replica down: its users go to another
    echo "  retries 2"
    echo "  timeout connect 3s"
    echo "  timeout client 1h"      # Gradio streams a long training's progress
    echo "  timeout server 1h"
    echo "  timeout tunnel 1h"
    echo "frontend sentiment"
    echo "  bind $LB_HOST:$LB_PORT"
    echo "  default_backend replicas"
    echo "backend replicas"
    echo "  balance roundrobin"
    echo "  option httpchk GET /api/v1/ready"  # a replica gets traffic once its model is loaded
    echo "  http-check expect status 200"
    echo "  cookie SENTIMENT_REPLICA insert indirect nocache httponly"
    for i in $(seq 1 "$REPLICAS"); do
      port=$((APP_PORT + i - 1))
      echo "  server replica-$i 127.0.0.1:$port check inter 1s fall 2 rise 2 cookie r$i"
    done
  } >"$cfg"
  haproxy -c -q -f "$cfg"
  nohup haproxy -db -f "$cfg" </dev/null >"$DEPLOY_DIR/haproxy.log" 2>&1 &
  echo $! >"$DEPLOY_DIR/haproxy.pid"
  wait_for 30 "HAProxy" "$PYTHON" -c \
    "import socket; socket.create_connection(('$LB_HOST', $LB_PORT), timeout=1)"
  echo "load balancer: http://$LB_HOST:$LB_PORT (sticky, replicas $APP_PORT..$((APP_PORT + REPLICAS - 1)); each joins when its /api/v1/ready answers 200)"
}

stop_pidfile() {  # stop_pidfile FILE [group]: the pid it names (its process group with group)
  local file="$1" target
  [ -f "$file" ] || return 0
  local pid; pid="$(cat "$file")"
  target="$pid"; [ "${2:-}" = group ] && target="-$pid"
  if kill -- "$target" 2>/dev/null; then
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 -- "$target" 2>/dev/null || true
  fi
  rm -f "$file"
}

stop() {
  case "$1" in
    mlflow) stop_pidfile "$DEPLOY_DIR/mlflow.pid" group ;;
    lb) stop_pidfile "$DEPLOY_DIR/haproxy.pid" ;;
    apps) for f in "$DEPLOY_DIR"/replica-*.pid; do stop_pidfile "$f"; done ;;
    postgres) if [ -s "$PGDATA/PG_VERSION" ]; then
                as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast stop >/dev/null 2>&1 || true
              fi ;;
    *) echo "usage: $0 stop mlflow|apps|lb|postgres" >&2; exit 2 ;;
  esac
}

case "${1:-up}" in
  up) start_postgres; start_mlflow; start_apps; start_lb ;;
  lb) start_lb ;;
  postgres) start_postgres ;;
  mlflow) start_mlflow ;;
  apps) start_apps ;;
  env) print_env ;;
  stop) stop "${2:?stop what: mlflow, apps or postgres}" ;;
  down) stop lb; stop apps; stop mlflow; stop postgres ;;
  *) echo "usage: $0 up|postgres|mlflow|apps|lb|env|stop SERVICE|down" >&2; exit 2 ;;
esac

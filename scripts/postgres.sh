#!/usr/bin/env bash
# A PostgreSQL for development and tests: Debian's packages, a cluster of our own under
# .stack/postgres, listening on loopback only. Idempotent.
#
#   scripts/postgres.sh up      install if missing, init, start, create role and database, print the URL
#   scripts/postgres.sh down    stop (fast shutdown: open sessions are ended, data is kept)
#   scripts/postgres.sh status  exit 0 when accepting connections
#   scripts/postgres.sh url     print postgres://authmesh:…@127.0.0.1:<port>/authmesh
#
# AUTHMESH_PG_PORT overrides the port (55432). The role authmesh may create databases, so the
# URL also serves the tests that need a fresh database each (AUTHMESH_TEST_POSTGRES_URL).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# AUTHMESH_STACK_DIR moves the data elsewhere (tests run private servers there).
BASE="${AUTHMESH_STACK_DIR:-$ROOT/.stack}/postgres"
DATA="$BASE/data"
RUN="$BASE/run"
LOG="$BASE/postgres.log"
PASSWORD_FILE="$BASE/password"
PORT="${AUTHMESH_PG_PORT:-55432}"
START_TIMEOUT=30

die() { echo "postgres.sh: $*" >&2; exit 1; }

[[ "$PORT" =~ ^[0-9]+$ ]] && ((PORT > 0 && PORT < 65536)) || die "AUTHMESH_PG_PORT must be a port number, got '$PORT'"

bindir() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]] && echo "$dir"
  done | sort -V | tail -n 1
}

ensure_installed() {
  [[ -n "$(bindir)" ]] && return
  [[ $EUID -eq 0 ]] || die "PostgreSQL is not installed and installing it needs root (apt-get install postgresql)"
  echo "postgres.sh: installing PostgreSQL from Debian's packages" >&2
  # The package's own cluster is not ours; policy-rc.d or no init system keeps it from starting.
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2; then
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2
  fi
  [[ -n "$(bindir)" ]] || die "PostgreSQL installed but initdb/pg_ctl not found under /usr/lib/postgresql"
}

# initdb and the server refuse to run as root: run them as the postgres OS user then.
as_owner() {
  if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_ctl_() { as_owner "$(bindir)/pg_ctl" -D "$DATA" "$@"; }

running() { [[ -n "$(bindir)" && -f "$DATA/PG_VERSION" ]] && pg_ctl_ status >/dev/null 2>&1; }

accepting() { "$(bindir)/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 2 2>/dev/null; }

# Admin statements over our private socket as the superuser (trust for local connections only).
psql_admin() { as_owner "$(bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h "$RUN" -p "$PORT" -U postgres -d postgres "$@"; }

password() {
  if [[ ! -s "$PASSWORD_FILE" ]]; then
    mkdir -p "$BASE"
    (umask 077; head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$PASSWORD_FILE")
  fi
  cat "$PASSWORD_FILE"
}

url() { echo "postgres://authmesh:$(password)@127.0.0.1:$PORT/authmesh"; }

init_cluster() {
  [[ -f "$DATA/PG_VERSION" ]] && return
  echo "postgres.sh: creating a cluster in $DATA" >&2
  mkdir -p "$DATA" "$RUN"
  if [[ $EUID -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "the postgres OS user is missing (it comes with Debian's postgresql package)"
    chown -R postgres:postgres "$BASE"
  fi
  chmod 700 "$DATA"
  as_owner "$(bindir)/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >"$BASE/initdb.log" 2>&1 || { cat "$BASE/initdb.log" >&2; die "initdb failed"; }
}

start() {
  if running; then
    accepting || die "a server runs in $DATA but does not accept connections on 127.0.0.1:$PORT (another port? see $LOG)"
    return
  fi
  # A port taken by something else would make the start wait for nothing.
  if accepting; then die "something else already listens on 127.0.0.1:$PORT (set AUTHMESH_PG_PORT)"; fi
  mkdir -p "$RUN"
  [[ $EUID -eq 0 ]] && chown postgres:postgres "$RUN" "$BASE" && touch "$LOG" && chown postgres:postgres "$LOG"
  pg_ctl_ -l "$LOG" -w -t "$START_TIMEOUT" \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -c unix_socket_directories='$RUN' -c max_connections=200" start >/dev/null ||
    { tail -n 20 "$LOG" >&2; die "the server did not start within ${START_TIMEOUT}s"; }
  local i
  for ((i = 0; i < START_TIMEOUT * 4; i++)); do accepting && return; sleep 0.25; done
  die "the server started but does not accept connections on 127.0.0.1:$PORT"
}

ensure_role_and_database() {
  local pw
  pw="$(password)"
  # The password only ever travels on stdin, never on a command line other users could read.
  { printf '\\set pw %s\n' "$pw"; cat <<'SQL'; } | psql_admin
SELECT 'CREATE ROLE authmesh LOGIN CREATEDB' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authmesh')
\gexec
ALTER ROLE authmesh WITH LOGIN CREATEDB PASSWORD :'pw';
SELECT 'CREATE DATABASE authmesh OWNER authmesh' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'authmesh')
\gexec
SQL
}

case "${1:-}" in
  up)
    ensure_installed
    init_cluster
    start
    ensure_role_and_database
    url
    ;;
  down)
    if running; then pg_ctl_ -m fast -w -t "$START_TIMEOUT" stop >/dev/null; echo "postgres.sh: stopped" >&2; else echo "postgres.sh: not running" >&2; fi
    ;;
  status)
    if running && accepting; then echo "postgres.sh: up on 127.0.0.1:$PORT ($DATA)"; else echo "postgres.sh: down"; exit 1; fi
    ;;
  url)
    [[ -s "$PASSWORD_FILE" ]] || die "no cluster yet: run scripts/postgres.sh up"
    url
    ;;
  *)
    echo "usage: $0 up|down|status|url" >&2
    exit 2
    ;;
esac

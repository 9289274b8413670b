#!/usr/bin/env bash
# A MariaDB for development and tests: Debian's packages, a data directory of our own under
# .stack/mariadb, listening on loopback only, started without systemd. Idempotent.
#
#   scripts/mariadb.sh up      install if missing, init, start, create user and database, print the URL
#   scripts/mariadb.sh down    stop cleanly (data is kept)
#   scripts/mariadb.sh status  exit 0 when accepting connections
#   scripts/mariadb.sh url     print mysql://authmesh:…@127.0.0.1:<port>/authmesh
#
# AUTHMESH_MARIADB_PORT overrides the port (53306). The user authmesh owns every database named
# authmesh…, so the URL also serves the tests that need a fresh database each
# (AUTHMESH_TEST_MYSQL_URL).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# AUTHMESH_STACK_DIR moves the data elsewhere (tests run private servers there).
BASE="${AUTHMESH_STACK_DIR:-$ROOT/.stack}/mariadb"
DATA="$BASE/data"
RUN="$BASE/run"
SOCKET="$RUN/mariadb.sock"
PIDFILE="$RUN/mariadb.pid"
LOG="$BASE/mariadb.log"
PASSWORD_FILE="$BASE/password"
PORT="${AUTHMESH_MARIADB_PORT:-53306}"
TIMEOUT=30

die() { echo "mariadb.sh: $*" >&2; exit 1; }

[[ "$PORT" =~ ^[0-9]+$ ]] && ((PORT > 0 && PORT < 65536)) || die "AUTHMESH_MARIADB_PORT must be a port number, got '$PORT'"

server_bin() { command -v mariadbd || { [[ -x /usr/sbin/mariadbd ]] && echo /usr/sbin/mariadbd; } || true; }

ensure_installed() {
  [[ -n "$(server_bin)" ]] && command -v mariadb-install-db >/dev/null && return
  [[ $EUID -eq 0 ]] || die "MariaDB is not installed and installing it needs root (apt-get install mariadb-server)"
  echo "mariadb.sh: installing MariaDB from Debian's packages" >&2
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y mariadb-server >&2; then
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y mariadb-server >&2
  fi
  [[ -n "$(server_bin)" ]] || die "MariaDB installed but mariadbd not found"
}

# mariadbd refuses to run as root unless told to; it runs as the package's mysql user then.
run_user() { if [[ $EUID -eq 0 ]]; then echo mysql; else id -un; fi; }

pid() { [[ -s "$PIDFILE" ]] && cat "$PIDFILE"; }

running() { local p; p="$(pid)" && kill -0 "$p" 2>/dev/null; }

# Our server answers on its socket; the TCP port is checked separately (the anonymous TCP ping
# of mariadb-admin is refused by host, which it does not count as alive).
accepting() {
  [[ -S "$SOCKET" ]] && mariadb-admin --no-defaults --connect-timeout=2 --socket="$SOCKET" -u "$(id -un)" ping >/dev/null 2>&1 && port_open
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" 2>/dev/null; }

# Admin statements over our private socket as root (unix_socket authentication: no password exists).
sql_admin() { mariadb --no-defaults --socket="$SOCKET" -u "$(id -un)" "$@"; }

password() {
  if [[ ! -s "$PASSWORD_FILE" ]]; then
    mkdir -p "$BASE"
    (umask 077; head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$PASSWORD_FILE")
  fi
  cat "$PASSWORD_FILE"
}

url() { echo "mysql://authmesh:$(password)@127.0.0.1:$PORT/authmesh"; }

init_datadir() {
  [[ -d "$DATA/mysql" ]] && return
  echo "mariadb.sh: creating a data directory in $DATA" >&2
  mkdir -p "$DATA" "$RUN"
  [[ $EUID -eq 0 ]] && chown -R mysql:mysql "$BASE"
  mariadb-install-db --no-defaults --datadir="$DATA" --user="$(run_user)" \
    --auth-root-authentication-method=socket --auth-root-socket-user="$(id -un)" --skip-test-db \
    >"$BASE/install-db.log" 2>&1 || { cat "$BASE/install-db.log" >&2; die "mariadb-install-db failed"; }
}

start() {
  if running; then
    accepting || die "a server runs from $DATA but does not accept connections on 127.0.0.1:$PORT (another port? see $LOG)"
    return
  fi
  if port_open; then die "something else already listens on 127.0.0.1:$PORT (set AUTHMESH_MARIADB_PORT)"; fi
  mkdir -p "$RUN"
  rm -f "$PIDFILE"
  [[ $EUID -eq 0 ]] && chown mysql:mysql "$RUN" "$BASE" && touch "$LOG" && chown mysql:mysql "$LOG"
  # setsid detaches it from this shell, so it outlives the script and its terminal.
  setsid "$(server_bin)" --no-defaults --datadir="$DATA" --user="$(run_user)" \
    --bind-address=127.0.0.1 --port="$PORT" --socket="$SOCKET" --pid-file="$PIDFILE" --log-error="$LOG" \
    --skip-name-resolve --character-set-server=utf8mb4 --collation-server=utf8mb4_bin \
    --default-time-zone=+00:00 --max-connections=300 </dev/null >/dev/null 2>&1 &
  local i
  for ((i = 0; i < TIMEOUT * 4; i++)); do
    if accepting; then return; fi
    sleep 0.25
  done
  tail -n 20 "$LOG" >&2 || true
  die "the server did not accept connections within ${TIMEOUT}s"
}

ensure_user_and_database() {
  # The password travels on stdin, never on a command line other users could read.
  sql_admin <<SQL
CREATE DATABASE IF NOT EXISTS authmesh CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE USER IF NOT EXISTS 'authmesh'@'127.0.0.1' IDENTIFIED BY '$(password)';
ALTER USER 'authmesh'@'127.0.0.1' IDENTIFIED BY '$(password)';
GRANT ALL PRIVILEGES ON \`authmesh%\`.* TO 'authmesh'@'127.0.0.1';
SQL
}

stop() {
  if ! running; then echo "mariadb.sh: not running" >&2; return; fi
  local p i
  p="$(pid)"
  mariadb-admin --no-defaults --socket="$SOCKET" -u "$(id -un)" shutdown 2>/dev/null || kill -TERM "$p" 2>/dev/null || true
  for ((i = 0; i < TIMEOUT * 4; i++)); do
    kill -0 "$p" 2>/dev/null || { echo "mariadb.sh: stopped" >&2; return; }
    sleep 0.25
  done
  die "the server (pid $p) did not stop within ${TIMEOUT}s"
}

case "${1:-}" in
  up)
    ensure_installed
    init_datadir
    start
    ensure_user_and_database
    url
    ;;
  down) stop ;;
  status)
    if running && accepting; then echo "mariadb.sh: up on 127.0.0.1:$PORT ($DATA)"; else echo "mariadb.sh: down"; exit 1; fi
    ;;
  url)
    [[ -s "$PASSWORD_FILE" ]] || die "no data directory yet: run scripts/mariadb.sh up"
    url
    ;;
  *)
    echo "usage: $0 up|down|status|url" >&2
    exit 2
    ;;
esac

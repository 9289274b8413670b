#!/usr/bin/env bash
# A local Hazelcast cluster for development and tests: members from the com.hazelcast:hazelcast
# jar on Maven Central, run with java and hazelcast/hazelcast.xml (the file docker-compose
# mounts), TCP-IP join on loopback.
#
#   scripts/hazelcast.sh up [N]          fetch the jar if missing, start members 1..N (default 2),
#                                        wait until all have joined one cluster and it is safe
#   scripts/hazelcast.sh down            stop every member
#   scripts/hazelcast.sh status          which members run, on which ports
#   scripts/hazelcast.sh members         the member list for clients: 127.0.0.1:5701,127.0.0.1:5702
#   scripts/hazelcast.sh stop-member N [--kill]
#                                        stop member N (SIGTERM: graceful; --kill: SIGKILL, a crash)
#   scripts/hazelcast.sh start-member N  start member N again and wait until it has joined and the
#                                        cluster is safe (every backup copied: stopping any one
#                                        member right after this returns loses no entry)
#
# Environment:
#   HAZELCAST_VERSION   jar version (default 5.6.0, matching hazelcast-client 5.6.0)
#   HAZELCAST_PORT      port of member 1; member N listens on HAZELCAST_PORT+N-1 (default 5701)
#   HAZELCAST_MEMBERS   how many members the cluster has (default 2); `up N` overrides
#   HAZELCAST_DIR       jar, logs and pids (default .stack/hazelcast in the repository)
#   HAZELCAST_HEAP      JVM heap per member (default 256m)
#   HAZELCAST_WAIT      seconds to wait for members to join, and again for the cluster to be safe
#                       (default 90)
#   HAZELCAST_LOG_KEEP  earlier logs kept per member when it starts again: member-N.log.1 is the
#                       previous run's, .2 the one before (default 5; 0 keeps none)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="${HAZELCAST_VERSION:-5.6.0}"
BASE_PORT="${HAZELCAST_PORT:-5701}"
COUNT="${HAZELCAST_MEMBERS:-2}"
DIR="${HAZELCAST_DIR:-$ROOT/.stack/hazelcast}"
HEAP="${HAZELCAST_HEAP:-256m}"
WAIT="${HAZELCAST_WAIT:-90}"
LOG_KEEP="${HAZELCAST_LOG_KEEP:-5}"
CONFIG="$ROOT/hazelcast/hazelcast.xml"
JAR="$DIR/hazelcast-$VERSION.jar"
CLUSTER="authmesh"

die() { echo "hazelcast.sh: $*" >&2; exit 1; }
is_count() { [[ "$1" =~ ^[1-9][0-9]*$ ]]; }
[[ "$LOG_KEEP" =~ ^[0-9]+$ ]] || die "HAZELCAST_LOG_KEEP must be a number of log generations (0 or more)"

port_of() { echo $((BASE_PORT + $1 - 1)); }
pid_file() { echo "$DIR/member-$1.pid"; }
log_file() { echo "$DIR/member-$1.log"; }

member_list() {
  local list="" i
  for ((i = 1; i <= COUNT; i++)); do list+="${list:+,}127.0.0.1:$(port_of "$i")"; done
  echo "$list"
}

running_pid() {
  local f pid
  f="$(pid_file "$1")"
  [[ -f "$f" ]] || return 1
  pid="$(cat "$f")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  # A recycled pid must not be mistaken for our member (nor killed by `down`).
  grep -q "HazelcastMemberStarter" "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

# Whether the process started for member N is still alive. Not running_pid: just after the start
# the child may not have exec'd java yet (its command line is still this script's), and that
# would read as "exited while starting".
started_alive() {
  local pid
  pid="$(cat "$(pid_file "$1")" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

fetch_jar() {
  [[ -s "$JAR" ]] && return 0
  command -v mvn >/dev/null || die "mvn not found: install Maven (apt-get install maven) or put $JAR in place"
  mkdir -p "$DIR"
  echo "fetching com.hazelcast:hazelcast:$VERSION from Maven Central" >&2
  # Run outside the repository so no pom.xml is picked up; dependency:copy needs no project.
  (cd "$DIR" && mvn -q -B dependency:copy "-Dartifact=com.hazelcast:hazelcast:$VERSION" "-DoutputDirectory=$DIR") \
    || die "could not fetch com.hazelcast:hazelcast:$VERSION with Maven"
  [[ -s "$JAR" ]] || die "Maven finished but $JAR is missing"
}

# Hazelcast's configuration overrides append list entries rather than replace them, so a member
# list other than the file's (another HAZELCAST_PORT) goes into a derived copy of the file; a
# member that kept the file's list would find, and merge with, the default cluster on loopback.
effective_config() {
  local list
  list="$(member_list)"
  grep -q "<members>$list</members>" "$CONFIG" && { echo "$CONFIG"; return; }
  mkdir -p "$DIR"
  sed "s|<members>[^<]*</members>|<members>$list</members>|" "$CONFIG" >"$DIR/hazelcast.xml"
  grep -q "<members>$list</members>" "$DIR/hazelcast.xml" || die "could not set the member list in $DIR/hazelcast.xml"
  echo "$DIR/hazelcast.xml"
}

# A restarted member's log must not erase the previous run's: that log is what tells why the member
# stopped (a crash, an OOM). Shift member-N.log to .1, .1 to .2, … and drop what passes LOG_KEEP.
rotate_log() {
  local log i
  log="$(log_file "$1")"
  [[ -e "$log" ]] || return 0
  if ((LOG_KEEP == 0)); then
    rm -f "$log"
    return 0
  fi
  rm -f "$log.$LOG_KEEP"
  for ((i = LOG_KEEP - 1; i >= 1; i--)); do
    [[ -e "$log.$i" ]] && mv -f "$log.$i" "$log.$((i + 1))"
  done
  mv -f "$log" "$log.1"
}

start_member() {
  local n="$1" port pid config
  command -v java >/dev/null || die "java not found: install a JDK 17+ (apt-get install openjdk-17-jre-headless)"
  if pid="$(running_pid "$n")"; then
    echo "member $n already runs (pid $pid, port $(port_of "$n"))" >&2
    return 0
  fi
  port="$(port_of "$n")"
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port is already in use by another process: set HAZELCAST_PORT to a free range"
  fi
  config="$(effective_config)"
  rotate_log "$n"
  # setsid: the member must outlive this script and the terminal or CI step that ran it.
  setsid java -Xms64m "-Xmx$HEAP" -XX:+UseSerialGC \
    --add-modules java.se --add-exports java.base/jdk.internal.ref=ALL-UNNAMED \
    --add-opens java.base/java.lang=ALL-UNNAMED --add-opens java.base/sun.nio.ch=ALL-UNNAMED \
    --add-opens java.management/sun.management=ALL-UNNAMED --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED \
    -Djava.net.preferIPv4Stack=true \
    "-Dhazelcast.config=$config" \
    "-Dhz.network.port.port=$port" \
    -cp "$JAR" com.hazelcast.core.server.HazelcastMemberStarter \
    >"$(log_file "$n")" 2>&1 </dev/null &
  echo $! >"$(pid_file "$n")"
  echo "member $n starting (pid $!, port $port, log $(log_file "$n"))" >&2
}

# The member's own view of the cluster: the last "Members {size:N" line it logged.
cluster_size_seen_by() {
  local line
  line="$(grep -o 'Members {size:[0-9]*' "$(log_file "$1")" 2>/dev/null | tail -n 1)" || true
  echo "${line##*size:}"
}

wait_joined() {
  local expected="$1" deadline=$((SECONDS + WAIT)) n ok
  shift
  while :; do
    ok=1
    for n in "$@"; do
      started_alive "$n" || die "member $n exited while starting; see $(log_file "$n")"
      [[ "$(cluster_size_seen_by "$n")" == "$expected" ]] || ok=0
    done
    ((ok)) && return 0
    ((SECONDS < deadline)) || die "members $* did not form a cluster of $expected within ${WAIT}s; see $DIR/member-*.log"
    sleep 0.5
  done
}

# A member's health endpoint (hazelcast.xml enables only the HEALTH_CHECK REST group), one line of
# JSON: {"nodeState":"ACTIVE","clusterState":"ACTIVE","clusterSafe":true,"migrationQueueSize":0,...}
health_of() {
  curl -sf --max-time 2 "http://127.0.0.1:$(port_of "$1")/hazelcast/health" 2>/dev/null || true
}

# Safe: every member given sees a cluster of `expected`, ACTIVE, clusterSafe (no migration running
# and every partition's backups in sync with its owner) and an empty migration queue. A member
# that has just joined owns no partition yet, so one safe answer may come before the rebalancing
# that follows a join has started: the state must hold for SAFE_STREAK checks in a row. Until it
# is safe, the members hold some partitions in one copy only, and losing the wrong member then
# loses entries (issue 11: a member killed right after start-member returned cost revocations).
SAFE_STREAK=4
wait_safe() {
  local expected="$1" deadline=$((SECONDS + WAIT)) n ok streak=0 h last=""
  shift
  command -v curl >/dev/null || die "curl not found: it reads the members' health endpoint (apt-get install curl)"
  while :; do
    ok=1
    for n in "$@"; do
      started_alive "$n" || die "member $n exited; see $(log_file "$n")"
      h="$(health_of "$n")"
      last="member $n: ${h:-no answer from its health endpoint (a member started with an older hazelcast.xml, without the HEALTH_CHECK REST group, never answers: restart it)}"
      if [[ "$h" != *'"nodeState":"ACTIVE"'* || "$h" != *'"clusterState":"ACTIVE"'* || "$h" != *'"clusterSafe":true'* \
        || "$h" != *'"migrationQueueSize":0,'* || "$h" != *"\"clusterSize\":$expected}"* ]]; then
        ok=0
        break
      fi
    done
    if ((ok)); then
      streak=$((streak + 1))
      ((streak >= SAFE_STREAK)) && return 0
    else
      streak=0
    fi
    ((SECONDS < deadline)) || die "the cluster of members $* was not safe (backups in sync) within ${WAIT}s; last: $last"
    sleep 0.5
  done
}

stop_member() {
  local n="$1" signal="${2:-TERM}" pid i
  pid="$(running_pid "$n")" || { echo "member $n is not running" >&2; rm -f "$(pid_file "$n")"; return 0; }
  kill "-$signal" "$pid"
  # Graceful shutdown migrates partitions away; give it time, then insist.
  for ((i = 0; i < 600; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "member $n did not stop in 60s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$(pid_file "$n")"
  echo "member $n stopped ($signal)" >&2
}

running_members() {
  local f n
  for f in "$DIR"/member-*.pid; do
    [[ -e "$f" ]] || continue
    n="${f##*/member-}"
    n="${n%.pid}"
    running_pid "$n" >/dev/null && echo "$n"
  done
  return 0
}

cmd="${1:-}"
case "$cmd" in
  up)
    if [[ -n "${2:-}" ]]; then is_count "$2" || die "up: expected a member count, got '$2'"; COUNT="$2"; fi
    is_count "$COUNT" || die "HAZELCAST_MEMBERS must be a positive number"
    is_count "$BASE_PORT" || die "HAZELCAST_PORT must be a port number"
    fetch_jar
    members=()
    for ((i = 1; i <= COUNT; i++)); do start_member "$i"; members+=("$i"); done
    wait_joined "$COUNT" "${members[@]}"
    wait_safe "$COUNT" "${members[@]}"
    echo "hazelcast cluster '$CLUSTER' is up with $COUNT member(s): $(member_list)" >&2
    member_list
    ;;
  down)
    for n in $(running_members); do stop_member "$n" TERM; done
    ;;
  status)
    any=0
    for ((i = 1; i <= COUNT; i++)); do
      if pid="$(running_pid "$i")"; then
        any=1
        echo "member $i: running (pid $pid, 127.0.0.1:$(port_of "$i"), sees a cluster of $(cluster_size_seen_by "$i"))"
      else
        echo "member $i: stopped"
      fi
    done
    ((any)) || exit 3
    ;;
  members)
    member_list
    ;;
  stop-member)
    is_count "${2:-}" || die "stop-member: expected a member number"
    [[ "${3:-}" == "" || "${3:-}" == "--kill" ]] || die "stop-member: unknown option '${3}'"
    stop_member "$2" "$([[ "${3:-}" == "--kill" ]] && echo KILL || echo TERM)"
    ;;
  start-member)
    is_count "${2:-}" || die "start-member: expected a member number"
    fetch_jar
    start_member "$2"
    # Joined once this member sees every member that is running now (itself included). It is
    # added by hand: just started, it may not have exec'd java yet, and running_members would
    # then miss it and wait for a cluster one member too small.
    mapfile -t up_now < <(running_members | grep -vx "$2")
    up_now+=("$2")
    wait_joined "${#up_now[@]}" "$2"
    wait_safe "${#up_now[@]}" "${up_now[@]}"
    echo "member $2 joined a cluster of ${#up_now[@]}, which is safe (backups in sync)" >&2
    ;;
  *)
    sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac

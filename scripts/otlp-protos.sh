#!/usr/bin/env bash
# The OpenTelemetry protocol's .proto files (opentelemetry-proto), which scripts/otlp-receiver.mjs
# decodes OTLP with. They come from Maven Central's io.opentelemetry.proto:opentelemetry-proto jar
# (the project publishes its protos there, in the jar), fetched with Maven like the Hazelcast jar.
#   scripts/otlp-protos.sh install   fetch and unpack into .tools/otlp-proto (idempotent)
#   scripts/otlp-protos.sh dir       print that directory
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

VERSION=1.11.0-alpha
DIR="$ROOT/.tools/otlp-proto"
STAMP="$DIR/.version"
MARKER="$DIR/opentelemetry/proto/collector/trace/v1/trace_service.proto"

die() { echo "otlp-protos: $*" >&2; exit 1; }

install() {
  if [[ -s "$MARKER" && "$(cat "$STAMP" 2>/dev/null)" == "$VERSION" ]]; then
    echo "opentelemetry-proto $VERSION already in $DIR"
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found: install Maven (apt-get install maven)"
  command -v unzip >/dev/null || die "unzip not found: apt-get install unzip"
  local tmp
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  echo "fetching io.opentelemetry.proto:opentelemetry-proto:$VERSION from Maven Central" >&2
  # Run outside the repository so no pom.xml is picked up; dependency:copy needs no project.
  (cd "$tmp" && mvn -q -B dependency:copy "-Dartifact=io.opentelemetry.proto:opentelemetry-proto:$VERSION" "-DoutputDirectory=$tmp") \
    || die "could not fetch io.opentelemetry.proto:opentelemetry-proto:$VERSION with Maven"
  rm -rf "$DIR.new"
  mkdir -p "$DIR.new"
  unzip -q "$tmp/opentelemetry-proto-$VERSION.jar" 'opentelemetry/proto/*' -d "$DIR.new"
  [[ -s "$DIR.new/opentelemetry/proto/collector/trace/v1/trace_service.proto" ]] || die "the jar holds no trace_service.proto"
  echo "$VERSION" >"$DIR.new/.version"
  rm -rf "$DIR"
  mv "$DIR.new" "$DIR"
  echo "opentelemetry-proto $VERSION installed in $DIR"
}

case "${1:-}" in
  install) install ;;
  dir) echo "$DIR" ;;
  *) echo "usage: $0 install|dir" >&2; exit 2 ;;
esac

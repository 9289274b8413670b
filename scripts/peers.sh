#!/usr/bin/env bash
# Peer servers that the benchmarks measure authmesh against, built from package registries into
# .tools/ (git-ignored). node-oidc-provider is an npm devDependency and needs nothing here.
#
#   scripts/peers.sh hydra install   Ory Hydra v2.3.0 from the Go module proxy into
#                                    .tools/hydra/v2.3.0/hydra (idempotent; ~2 min of CGO build
#                                    on 2 cores the first time, then a no-op)
#   scripts/peers.sh hydra path      print the binary's path; exit 1 when it is not installed
#
# Why a throwaway module: Hydra's go.mod has replace directives (gobuffalo/pop => ory/pop), which
# `go install pkg@version` refuses, so the build runs in a temporary module that copies the one
# replace the build needs and records Hydra as a tool (`go get -tool`). The sqlite build tags give
# the in-memory store (`DSN=memory`) that bench/hydra-target.ts runs it with.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

HYDRA_VERSION=v2.3.0
# Copied from github.com/ory/hydra/v2@v2.3.0's go.mod.
HYDRA_POP_REPLACE='github.com/gobuffalo/pop/v6=github.com/ory/pop/v6@v6.2.1-0.20241121111754-e5dfc0f3344b'

tools="$root/.tools"
hydra_bin="$tools/hydra/$HYDRA_VERSION/hydra"
# Never let a go.mod's go/toolchain line trigger a toolchain download.
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

say() { echo "peers: $*"; }
die() { echo "peers: $*" >&2; exit 1; }

hydra_installed() {
  local out
  [ -x "$hydra_bin" ] && out="$("$hydra_bin" version 2>/dev/null)" && grep -qE "^Version: +${HYDRA_VERSION}\$" <<<"$out"
}

hydra_install() {
  if hydra_installed; then
    say "hydra $HYDRA_VERSION already installed ($hydra_bin)"
    return
  fi
  command -v go >/dev/null || die "go is required (1.24 or newer, for go get -tool)"
  command -v cc >/dev/null || die "a C compiler is required (the sqlite driver needs CGO)"
  local work
  work="$(mktemp -d)"
  # shellcheck disable=SC2064
  trap "rm -rf '$work'" EXIT
  say "building hydra $HYDRA_VERSION in $work (Go module proxy, CGO, a few minutes)"
  (
    cd "$work"
    go mod init authmesh.local/hydra-build >/dev/null 2>&1
    go mod edit -replace "$HYDRA_POP_REPLACE"
    # Its long list of downloaded modules is kept out of the output unless it fails.
    go get -tool "github.com/ory/hydra/v2@$HYDRA_VERSION" >get.log 2>&1 || { cat get.log >&2; exit 1; }
    mkdir -p "$(dirname "$hydra_bin")"
    # Build to a temporary name first: an interrupted build never leaves a half-written binary.
    # The version is stamped as Hydra's release builds do (otherwise it reports "master").
    CGO_ENABLED=1 go build -tags sqlite,sqlite_omit_load_extension \
      -ldflags "-X github.com/ory/hydra/v2/driver/config.Version=$HYDRA_VERSION" \
      -o "$hydra_bin.partial" github.com/ory/hydra/v2
  )
  mv "$hydra_bin.partial" "$hydra_bin"
  "$hydra_bin" version | head -3
  hydra_installed || die "built $hydra_bin but it does not report version $HYDRA_VERSION"
  say "hydra installed: $hydra_bin"
}

case "${1:-}/${2:-}" in
  hydra/install) hydra_install ;;
  hydra/path)
    if hydra_installed; then echo "$hydra_bin"; else exit 1; fi
    ;;
  *)
    echo "usage: scripts/peers.sh hydra install|path" >&2
    exit 2
    ;;
esac

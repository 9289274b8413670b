#!/usr/bin/env bash
# The relying-party libraries the OpenID Connect examples in examples/oidc/ use, installed
# idempotently (CI calls `install vet`; test/e2e/oidc-rp.test.ts runs the examples):
#
#   scripts/oidc-rps.sh install   Go: the modules of examples/oidc/go (github.com/coreos/go-oidc/v3,
#                                 golang.org/x/oauth2, pinned in go.mod/go.sum) into the module
#                                 cache; Python: examples/oidc/python/requirements.txt (Authlib,
#                                 requests, pinned) into .tools/venv. Node's openid-client is a
#                                 pinned dependency in package.json (npm ci installs it).
#   scripts/oidc-rps.sh vet       the Go example vets and builds, the Python one compiles against
#                                 the pinned Authlib, the Node one parses
#
# Network: the Go module proxy and PyPI on the first install only; a re-run with everything in
# place touches neither (the venv carries a stamp of the requirements it holds, and `go mod
# download` answers from the module cache). Nothing committed is modified.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

tools="$root/.tools"
venv="$tools/venv"
requirements="$root/examples/oidc/python/requirements.txt"
# Never let a go.mod's go line trigger a toolchain download, and never rewrite go.mod/go.sum.
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=readonly"
export PYTHONDONTWRITEBYTECODE=1

say() { echo "oidc-rps: $*"; }
die() { echo "oidc-rps: $*" >&2; exit 1; }

install_python() {
  command -v python3 >/dev/null || die "python3 is required (3.10 or newer)"
  # Its own stamp: the venv is shared with scripts/clients.sh, which stamps its own requirements.
  local stamp="$venv/.oidc-rp-requirements.sha256" want
  want="$(sha256sum "$requirements" | cut -d' ' -f1)"
  if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    say "python relying party (Authlib) up to date in .tools/venv"
    return
  fi
  say "installing examples/oidc/python/requirements.txt into .tools/venv"
  mkdir -p "$tools"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$requirements"
  echo "$want" >"$stamp"
}

install_go() {
  command -v go >/dev/null || die "go is required (1.26 or newer)"
  say "Go relying party modules (go-oidc, x/oauth2; go.sum-verified)"
  (cd examples/oidc/go && go mod download)
}

cmd_install() {
  install_go
  install_python
}

cmd_vet() {
  (cd examples/oidc/go && go vet . && go build -o /dev/null .)
  say "go vet and go build: ok"
  [ -x "$venv/bin/python" ] || die ".tools/venv is missing: run scripts/oidc-rps.sh install first"
  "$venv/bin/python" - "$root/examples/oidc/python/rp.py" <<'PY'
import sys
import authlib, joserfc, requests  # noqa: F401  the pinned libraries import
compile(open(sys.argv[1]).read(), sys.argv[1], "exec")
print(f"oidc-rps: python: Authlib {authlib.__version__} imports, rp.py compiles")
PY
  node --check examples/oidc/node/rp.mjs
  say "node: rp.mjs parses"
}

[ $# -gt 0 ] || { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
for cmd in "$@"; do
  case "$cmd" in
    install) cmd_install ;;
    vet) cmd_vet ;;
    *) die "unknown command: $cmd (install, vet)" ;;
  esac
done

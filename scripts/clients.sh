#!/usr/bin/env bash
# Generated Go and Python clients for authmesh's contracts, and the example programs that use them.
#
#   scripts/clients.sh install     pinned protoc-gen-go/-go-grpc into .tools/bin, a venv with the
#                                  pinned Python packages in .tools/venv, the Go example's modules
#   scripts/clients.sh gen         buf generate with buf.gen.go.yaml and buf.gen.python.yaml
#                                  (local plugins only) into clients/go/gen and clients/python/gen
#   scripts/clients.sh vet         the generated Go code and the example vet and build; every
#                                  generated Python module imports
#   scripts/clients.sh run-go      build and run clients/go against $AUTHMESH_ADDR
#   scripts/clients.sh run-python  run clients/python/example.py against $AUTHMESH_ADDR
#
# Several commands may be given at once (`scripts/clients.sh install gen vet`). Every command is
# idempotent; nothing committed is modified (.tools/ and the gen folders are git-ignored). `gen`
# needs build/proto-deps, which `npm ci` / `npm run gen` create. Network: the Go module proxy and
# PyPI, on the first install only.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

# Pinned tool versions (the Python ones are in clients/python/requirements.txt, the Go example's
# modules in clients/go/go.mod and go.sum).
PROTOC_GEN_GO_VERSION=v1.36.12     # google.golang.org/protobuf
PROTOC_GEN_GO_GRPC_VERSION=v1.6.2  # google.golang.org/grpc/cmd/protoc-gen-go-grpc

tools="$root/.tools"
venv="$tools/venv"
requirements="$root/clients/python/requirements.txt"
# Never let a go.mod's go line trigger a toolchain download, and never rewrite go.mod/go.sum.
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=readonly"
export PATH="$tools/bin:$PATH"
export PYTHONDONTWRITEBYTECODE=1

say() { echo "clients: $*"; }
die() { echo "clients: $*" >&2; exit 1; }

need_python() {
  command -v python3 >/dev/null || die "python3 is required (3.10 or newer)"
}

install_go_plugin() {
  local bin="$1" pkg="$2" version="$3" expect="$4"
  if [ -x "$tools/bin/$bin" ] && [ "$("$tools/bin/$bin" --version 2>/dev/null)" = "$expect" ]; then
    say "$bin $version already installed"
    return
  fi
  say "installing $bin $version into .tools/bin"
  GOBIN="$tools/bin" go install "$pkg@$version"
}

install_venv() {
  need_python
  local stamp="$venv/.requirements.sha256" want
  want="$(sha256sum "$requirements" | cut -d' ' -f1)"
  if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    say "python venv up to date (.tools/venv)"
    return
  fi
  say "installing clients/python/requirements.txt into .tools/venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$requirements"
  echo "$want" >"$stamp"
}

cmd_install() {
  command -v go >/dev/null || die "go is required (1.26 or newer)"
  mkdir -p "$tools/bin"
  install_go_plugin protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go \
    "$PROTOC_GEN_GO_VERSION" "protoc-gen-go $PROTOC_GEN_GO_VERSION"
  install_go_plugin protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc \
    "$PROTOC_GEN_GO_GRPC_VERSION" "protoc-gen-go-grpc ${PROTOC_GEN_GO_GRPC_VERSION#v}"
  install_venv
  say "downloading the Go example's modules (go.sum-verified)"
  (cd clients/go && go mod download)
}

cmd_gen() {
  [ -d build/proto-deps ] || die "build/proto-deps is missing: run npm ci (or npm run gen) first"
  [ -x "$tools/bin/protoc-gen-go" ] && [ -x "$venv/bin/python" ] || die "tools missing: run scripts/clients.sh install first"
  local buf="$root/node_modules/.bin/buf"
  [ -x "$buf" ] || die "buf is missing: run npm ci first"
  "$buf" generate --template buf.gen.go.yaml
  say "generated clients/go/gen ($(find clients/go/gen -name '*.go' | wc -l) files)"
  "$buf" generate --template buf.gen.python.yaml
  say "generated clients/python/gen ($(find clients/python/gen -name '*.py' | wc -l) files)"
}

cmd_vet() {
  [ -d clients/go/gen ] && [ -d clients/python/gen ] || die "generated code missing: run scripts/clients.sh gen first"
  # A contract change that breaks Go users shows up here as a compile error in gen or the example.
  (cd clients/go && go vet ./... && go build ./...)
  say "go vet and go build: ok"
  # Every generated module must import against the pinned runtime (protobuf, grpcio, and
  # googleapis-common-protos for the google/* imports we do not generate).
  (cd clients/python/gen && "$venv/bin/python" - <<'PY'
import importlib, pathlib
mods = sorted(str(p.with_suffix("")).replace("/", ".") for p in pathlib.Path(".").rglob("*.py"))
for m in mods:
    importlib.import_module(m)
print(f"clients: python: {len(mods)} generated modules import")
PY
  )
  "$venv/bin/python" -c 'import sys; compile(open(sys.argv[1]).read(), sys.argv[1], "exec")' clients/python/example.py
}

cmd_run_go() {
  [ -d clients/go/gen ] || die "clients/go/gen is missing: run scripts/clients.sh install gen first"
  (cd clients/go && go build -o "$tools/bin/authmesh-example-go" .)
  "$tools/bin/authmesh-example-go"
}

cmd_run_python() {
  [ -d clients/python/gen ] || die "clients/python/gen is missing: run scripts/clients.sh install gen first"
  "$venv/bin/python" clients/python/example.py
}

[ $# -gt 0 ] || { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
for cmd in "$@"; do
  case "$cmd" in
    install) cmd_install ;;
    gen) cmd_gen ;;
    vet) cmd_vet ;;
    run-go) cmd_run_go ;;
    run-python) cmd_run_python ;;
    *) die "unknown command: $cmd (install, gen, vet, run-go, run-python)" ;;
  esac
done

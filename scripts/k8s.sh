#!/usr/bin/env bash
# Kubernetes manifests (deploy/k8s): render the kustomize overlays and validate them offline.
#   scripts/k8s.sh install              kustomize (Go module proxy) into .tools/bin and
#                                       kubernetes-validate (PyPI, bundles the API schemas) into
#                                       .tools/venv, both pinned (idempotent)
#   scripts/k8s.sh render [OVERLAY…]    kustomize build of each overlay (default: embedded stack) to
#                                       build/k8s/<overlay>.yaml, and the same as a JSON array of
#                                       objects (build/k8s/<overlay>.json) for test/k8s
#   scripts/k8s.sh print OVERLAY        kustomize build of one overlay to stdout (pipe to kubectl apply -f -)
#   scripts/k8s.sh validate [OVERLAY…]  render, then validate every object against the Kubernetes
#                                       API schemas of K8S_VERSION (default 1.30), strictly (an
#                                       unknown field is an error), without a cluster or network
# Commands chain: scripts/k8s.sh install render validate
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

KUSTOMIZE_VERSION=v5.8.2          # its go.mod asks for Go 1.26 (v5.8.3 needs 1.27)
KUBERNETES_VALIDATE_VERSION=1.37.0
K8S_VERSION="${K8S_VERSION:-1.30}"
BIN="$ROOT/.tools/bin"
KUSTOMIZE="$BIN/kustomize"
VENV="$ROOT/.tools/venv"
OUT="$ROOT/build/k8s"
OVERLAYS_DIR="$ROOT/deploy/k8s/overlays"

die() { echo "k8s.sh: $*" >&2; exit 1; }

install() {
  if [ -x "$KUSTOMIZE" ] && "$KUSTOMIZE" version 2>/dev/null | grep -q "$KUSTOMIZE_VERSION"; then
    echo "kustomize $KUSTOMIZE_VERSION already in .tools/bin"
  else
    command -v go >/dev/null || die "go not found: kustomize is built from the Go module proxy (install Go 1.26)"
    mkdir -p "$BIN"
    GOBIN="$BIN" go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
    "$KUSTOMIZE" version
  fi
  if [ -x "$VENV/bin/kubernetes-validate" ] && [ "$("$VENV/bin/kubernetes-validate" --version 2>/dev/null)" = "$KUBERNETES_VALIDATE_VERSION" ]; then
    echo "kubernetes-validate $KUBERNETES_VALIDATE_VERSION already in .tools/venv"
  else
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-input "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
    echo "kubernetes-validate $("$VENV/bin/kubernetes-validate" --version) in .tools/venv"
  fi
}

need() {
  [ -x "$KUSTOMIZE" ] && [ -x "$VENV/bin/kubernetes-validate" ] || die "tools missing: run scripts/k8s.sh install first"
}

overlay_dir() {
  [[ "$1" =~ ^[a-z0-9-]+$ ]] && [ -f "$OVERLAYS_DIR/$1/kustomization.yaml" ] \
    || die "no overlay '$1' (overlays: $(ls "$OVERLAYS_DIR" | tr '\n' ' '))"
  echo "$OVERLAYS_DIR/$1"
}

render() {
  need
  mkdir -p "$OUT"
  local o dir
  for o in "$@"; do
    dir="$(overlay_dir "$o")"
    "$KUSTOMIZE" build "$dir" >"$OUT/$o.yaml"
    # JSON for the manifest test (no YAML parser in the Node dependencies): PyYAML comes with
    # kubernetes-validate.
    "$VENV/bin/python" -c 'import json, sys, yaml; json.dump([d for d in yaml.safe_load_all(open(sys.argv[1])) if d], open(sys.argv[2], "w"), indent=1)' \
      "$OUT/$o.yaml" "$OUT/$o.json"
    echo "rendered $o: $(grep -c '^kind:' "$OUT/$o.yaml") objects in build/k8s/$o.yaml"
  done
}

validate() {
  need
  local o
  for o in "$@"; do
    render "$o" >/dev/null
    "$VENV/bin/kubernetes-validate" --kubernetes-version "$K8S_VERSION" --strict --quiet "$OUT/$o.yaml"
    echo "validated $o against the Kubernetes $K8S_VERSION API schemas (strict)"
  done
}

[ $# -gt 0 ] || { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
# Commands first, then the overlays they apply to (default: every overlay).
cmds=()
overlays=()
for arg in "$@"; do
  case "$arg" in
    install | render | validate | print) cmds+=("$arg") ;;
    *) overlays+=("$arg") ;;
  esac
done
[ ${#overlays[@]} -gt 0 ] || overlays=(embedded stack)
for cmd in "${cmds[@]}"; do
  case "$cmd" in
    install) install ;;
    render) render "${overlays[@]}" ;;
    validate) validate "${overlays[@]}" ;;
    print)
      need
      [ ${#overlays[@]} -eq 1 ] || die "print: name one overlay (embedded or stack)"
      dir="$(overlay_dir "${overlays[0]}")"
      "$KUSTOMIZE" build "$dir"
      ;;
  esac
done
[ ${#cmds[@]} -gt 0 ] || die "no command: install, render, validate or print"

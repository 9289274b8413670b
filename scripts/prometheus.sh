#!/usr/bin/env bash
# Prometheus and promtool for the metrics test and for a newcomer scraping a local stack, from
# Debian's `prometheus` package (2.42; it includes promtool).
#   scripts/prometheus.sh install   installs the package when prometheus or promtool is missing
#                                   (idempotent), without recommends (no node exporter), and makes
#                                   sure the package's own service is not left running: the test
#                                   starts its own Prometheus on a free loopback port
#   scripts/prometheus.sh check URL runs `promtool check metrics` on what URL serves
set -euo pipefail

install() {
  if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
    echo "prometheus already installed: $(prometheus --version 2>&1 | head -1)"
    stop_packaged_service
    return 0
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # Other installs may hold the dpkg lock for a while: wait for it rather than fail.
  local apt=($sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends prometheus)
  if ! "${apt[@]}"; then
    $sudo apt-get -o DPkg::Lock::Timeout=600 update
    "${apt[@]}"
  fi
  stop_packaged_service
  prometheus --version 2>&1 | head -1
  promtool --version 2>&1 | head -1
}

# The package's init script may start a Prometheus on :9090 (with systemd absent, invoke-rc.d runs
# the SysV script). Nothing of ours uses it; stop it so it holds no port.
stop_packaged_service() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if [ -x /etc/init.d/prometheus ] && pgrep -u prometheus -x prometheus >/dev/null 2>&1; then
    $sudo /etc/init.d/prometheus stop || true
  fi
  if pgrep -u prometheus -x prometheus >/dev/null 2>&1; then
    echo "a packaged prometheus (user prometheus) is still running: stop it (it listens on :9090)" >&2
    return 1
  fi
}

check() {
  local url="$1"
  curl -fsS --max-time 10 "$url" | promtool check metrics
}

case "${1:-}" in
  install) install ;;
  check) shift; check "$@" ;;
  *)
    echo "usage: $0 install | check URL" >&2
    exit 2
    ;;
esac

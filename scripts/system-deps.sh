#!/usr/bin/env bash
# Installs the Debian packages the test suite drives for real: chromium (the UI test), prometheus
# (promtool rule tests and the scrape test), redis-server (shared state across instances), and
# curl, jq and openssl (the runbook's commands, run by tests/deploy/test_runbook.py).
# Idempotent: does nothing when every tool is already on PATH.
set -euo pipefail

declare -A tools=([chromium]=chromium [promtool]=prometheus [prometheus]=prometheus [redis-server]=redis-server
  [curl]=curl [jq]=jq [openssl]=openssl)
missing=()
for tool in "${!tools[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${tools[$tool]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

mapfile -t packages < <(printf '%s\n' "${missing[@]}" | sort -u)
if [ "$(id -u)" -ne 0 ]; then
  echo "system-deps: missing ${packages[*]}; install them with: sudo apt-get install ${packages[*]}" >&2
  exit 1
fi
echo "system-deps: installing ${packages[*]} (Debian packages)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
# The Debian prometheus package starts a service where an init system runs; tests start their own.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
  systemctl stop prometheus || true
fi

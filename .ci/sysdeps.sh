#!/usr/bin/env bash
# Installs the programs the tests talk to (and PostgreSQL's server binaries), when this machine lets us (root + apt).
set -u
need=()
command -v ssh >/dev/null || need+=(openssh-client)
command -v tmux >/dev/null || need+=(tmux)
command -v xmlsec1 >/dev/null || need+=(xmlsec1)
command -v dnsmasq >/dev/null || need+=(dnsmasq-base)
command -v iptables-restore >/dev/null || need+=(iptables)
command -v openssl >/dev/null || need+=(openssl)
command -v sqlite3 >/dev/null || need+=(sqlite3)
# A headless browser opens the exported incident report (tests/xenon_tui/test_timeline.py).
command -v chromium-headless-shell >/dev/null || command -v chromium >/dev/null || need+=(chromium-headless-shell)
# A real PostgreSQL server for the enterprise store's tests (started by the tests, as nobody).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "sysdeps: cannot install ${need[*]} (not root or no apt-get)"; exit 1
fi
export DEBIAN_FRONTEND=noninteractive
timeout 300 apt-get update -qq >/dev/null 2>&1 || true
timeout 600 apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1

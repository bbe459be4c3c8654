#!/usr/bin/env bash
# Makes sure the system programs the tests need are installed: redis-server and chromium.
# As root on Debian/Ubuntu it installs what is missing with apt-get; otherwise it names what to install.
set -euo pipefail

declare -A binary_of=([redis-server]=redis-server [chromium]=chromium)
missing=()
for package in "$@"; do
  command -v "${binary_of[$package]:-$package}" >/dev/null 2>&1 || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing missing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The Debian package starts a redis service on port 6379; the tests start their own servers.
  if [[ " ${missing[*]} " == *" redis-server "* ]]; then
    (service redis-server stop || systemctl stop redis-server) >/dev/null 2>&1 || true
  fi
  exit 0
fi

echo "Missing system packages: ${missing[*]}" >&2
echo "Install them first, e.g.: sudo apt-get install -y ${missing[*]}" >&2
echo "(or set REDIS_SERVER_BIN / CHROMIUM_PATH to existing binaries)" >&2
exit 1

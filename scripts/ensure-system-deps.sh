#!/usr/bin/env bash
# Makes sure the system programs the tests need are installed: redis-server, chromium, nginx.
# As root on Debian/Ubuntu it installs what is missing with apt-get; otherwise it names what to install.
set -euo pipefail

declare -A binary_of=([redis-server]=redis-server [chromium]=chromium [nginx]=nginx)
missing=()
for package in "$@"; do
  binary=${binary_of[$package]:-$package}
  # /usr/sbin is not on a non-root PATH on Debian (nginx lives there).
  command -v "$binary" >/dev/null 2>&1 || [ -x "/usr/sbin/$binary" ] || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing missing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The Debian packages start services (redis on 6379, nginx on 80); the tests start their own servers.
  for service in redis-server nginx; do
    if [[ " ${missing[*]} " == *" $service "* ]]; then
      (service "$service" stop || systemctl stop "$service") >/dev/null 2>&1 || true
    fi
  done
  exit 0
fi

echo "Missing system packages: ${missing[*]}" >&2
echo "Install them first, e.g.: sudo apt-get install -y ${missing[*]}" >&2
echo "(or set REDIS_SERVER_BIN / CHROMIUM_PATH / NGINX_BIN to existing binaries)" >&2
exit 1

#!/usr/bin/env bash
# Installs the npm dependencies from package-lock.json when they are missing or older than the lockfile.
set -euo pipefail
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> Installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi

#!/usr/bin/env bash
# The whole test suite, from a fresh clone: system packages, npm dependencies, build, typecheck, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> [1/4] System packages (redis-server, chromium)"
bash scripts/ensure-system-deps.sh redis-server chromium
echo "==> [2/4] npm dependencies"
bash scripts/ensure-node-modules.sh
echo "==> [3/4] Build and typecheck"
npx turbo run build typecheck --output-logs=errors-only
echo "==> [4/4] Tests"
npx turbo run test --concurrency=2 --log-order=grouped

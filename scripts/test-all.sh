#!/usr/bin/env bash
# The whole test suite, from a fresh clone: system packages, npm dependencies, build, typecheck, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> [1/4] System packages (redis-server, chromium, nginx)"
bash scripts/ensure-system-deps.sh redis-server chromium nginx
echo "==> [2/4] npm dependencies"
bash scripts/ensure-node-modules.sh
echo "==> [3/4] Build and typecheck"
npx turbo run build typecheck --output-logs=errors-only
# What the published packages point at (exports, types, files) exists in their tarballs.
npm run --silent check:packages
echo "==> [4/4] Tests"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
npx turbo run test --concurrency=2 --log-order=grouped 2>&1 | tee "$log" || status=$?
# The product's size budget: SDK and React bindings together, as an app ships them.
node scripts/size.mjs || status=$?
# One closing line for every runner together (Vitest per package, Playwright for e2e).
sed 's/\x1b\[[0-9;]*m//g' "$log" | awk '
  /Tests +[0-9]/ || /^@partyline\/e2e:test: +[0-9]+ (passed|failed)/ {
    line = $0
    while (match(line, /[0-9]+ (passed|failed)/)) {
      split(substr(line, RSTART, RLENGTH), part, " ")
      if (part[2] == "passed") passed += part[1]; else failed += part[1]
      line = substr(line, RSTART + RLENGTH)
    }
  }
  END { printf "tests: %d passed, %d failed\n", passed, failed }'
exit "$status"

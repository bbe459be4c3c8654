#!/usr/bin/env bash
# The main job: one relay on the embedded in-memory store (no Redis needed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-node-modules.sh
npx turbo run build --output-logs=errors-only
export TOKEN_SECRET="${TOKEN_SECRET:-partyline-dev-secret-change-me-in-production}"
exec node packages/relay/dist/cli.js "$@"

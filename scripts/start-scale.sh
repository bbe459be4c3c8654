#!/usr/bin/env bash
# Scale-out demo: redis-server (free port, AOF) + two relay processes + the party planner pointed at
# both (the SDK fails over between them). Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system-deps.sh redis-server
bash scripts/ensure-node-modules.sh
npx turbo run build --filter=@partyline/party-planner... --output-logs=errors-only
exec node scripts/start-scale.mjs "$@"

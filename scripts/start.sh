#!/usr/bin/env bash
# The main job: build and start the party planner with one embedded relay on the in-memory store
# (no Redis needed). Prints the URL to open. PORT / HOST / TOKEN_SECRET override the defaults;
# extra arguments go to the app server (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-node-modules.sh
npx turbo run build --filter=@partyline/party-planner... --output-logs=errors-only
export TOKEN_SECRET="${TOKEN_SECRET:-partyline-dev-secret-change-me-in-production}"
export PORT="${PORT:-8080}"
exec node apps/party-planner/dist/server/cli.js "$@"

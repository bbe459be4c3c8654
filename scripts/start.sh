#!/usr/bin/env bash
# The main job: build and start the party planner with one embedded relay on the in-memory store
# (no Redis needed). Prints the URL to open. PORT / HOST / TOKEN_SECRET override the defaults;
# extra arguments go to the app server (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-node-modules.sh
npx turbo run build --filter=@partyline/party-planner... --output-logs=errors-only
# No public default secret: a fresh random one per run, unless TOKEN_SECRET is set (e.g. to share it
# with other processes). The relay is embedded, so nothing else needs to know it.
export TOKEN_SECRET="${TOKEN_SECRET:-$(node -e "process.stdout.write(require('node:crypto').randomBytes(32).toString('base64url'))")}"
export PORT="${PORT:-8080}"
exec node apps/party-planner/dist/server/cli.js "$@"

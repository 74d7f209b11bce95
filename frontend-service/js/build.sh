#!/bin/sh
# Reproducible build of the browser bundle (docs/browser-crypto.md).
#   frontend-service/js/build.sh [OUT_DIR]
# Installs exactly the locked dependencies (no install scripts run), then writes
# OUT_DIR/securevote.js and OUT_DIR/securevote.js.sri
# (default OUT_DIR: frontend-service/src/frontend_service/static/js).
set -eu

cd "$(dirname "$0")"

command -v node >/dev/null 2>&1 || { echo "build.sh: node is required" >&2; exit 1; }
command -v npm >/dev/null 2>&1 || { echo "build.sh: npm is required" >&2; exit 1; }

npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
node build.mjs "$@"

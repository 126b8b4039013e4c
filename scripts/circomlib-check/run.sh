#!/usr/bin/env bash
# Installs circomlibjs (pinned by package-lock.json) if needed, then checks the test vectors.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules/circomlibjs ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
node check.js "$@"

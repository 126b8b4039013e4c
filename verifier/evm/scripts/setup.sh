#!/usr/bin/env bash
# Installs the pinned npm tools (solc-js 0.8.19) from package-lock.json; a no-op when present.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f node_modules/solc/package.json ]; then
  npm ci --no-audit --no-fund >&2
fi

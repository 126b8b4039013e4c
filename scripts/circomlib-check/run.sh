#!/usr/bin/env bash
# Outside reference check of the BN254 test vectors against circomlibjs (pinned to 0.1.7 by
# package.json and package-lock.json). Needs only node and npm: installs the locked
# dependencies on first use, then runs check.js with the given files (default: ../../testvectors).
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules/circomlibjs ]; then
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
exec node check.js "$@"

#!/usr/bin/env bash
# Installs snarkjs (pinned by package-lock.json) for prover/tests/params_import.rs and for checking
# .ptau files by hand (params/README.md); a no-op when it is present.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -f node_modules/snarkjs/package.json ]; then
  npm ci --no-audit --no-fund >&2
fi

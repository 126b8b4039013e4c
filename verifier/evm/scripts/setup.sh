#!/usr/bin/env bash
# Installs the pinned npm tools (solc-js 0.8.19, circomlibjs, ganache, ethers,
# OpenZeppelin Contracts 4.9.6) from
# package-lock.json; a no-op when all are present.
set -euo pipefail
cd "$(dirname "$0")/.."
for pkg in solc circomlibjs ganache ethers @openzeppelin/contracts; do
  if [ ! -f "node_modules/$pkg/package.json" ]; then
    npm ci --no-audit --no-fund >&2
    break
  fi
done

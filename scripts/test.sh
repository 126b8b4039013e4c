#!/usr/bin/env bash
# The project's test command (README, CI): every Rust test, then the outside reference check of
# the BN254 hash and commitments against circomlibjs, then the settlement contracts on a local
# chain node.
set -euo pipefail
cd "$(dirname "$0")/.."
# The EVM tools (solc-js, circomlibjs, ganache, ethers: npm ci from the lock file) before the
# Rust tests that call them.
bash verifier/evm/scripts/setup.sh
# `zkattr-verify evm` sits behind the verifier's off-by-default `evm` feature; enabling it here
# (one build) also runs its test, verifier/tests/evm_cli.rs.
cargo test --workspace --locked --features zkattr-verifier/evm
bash scripts/circomlib-check/run.sh
# The settlement contracts on a real local chain node (ganache, in-process) with ethers.
node verifier/evm/scripts/chain-test.js

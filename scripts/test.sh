#!/usr/bin/env bash
# The project's test command (README, CI): every Rust test, then the outside reference check of
# the BN254 hash and commitments against circomlibjs, then the settlement contracts on a local
# chain node.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked
# `zkattr-verify evm` sits behind the verifier's off-by-default `evm` feature.
cargo test -p zkattr-verifier --features evm --test evm_cli --locked
bash scripts/circomlib-check/run.sh
# The settlement contracts on a real local chain node (ganache, in-process) with ethers.
bash verifier/evm/scripts/setup.sh
node verifier/evm/scripts/chain-test.js

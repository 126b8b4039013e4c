#!/usr/bin/env bash
# The project's test command (README, CI): every Rust test, then the outside reference check of
# the BN254 hash and commitments against circomlibjs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked
# `zkattr-verify evm` sits behind the verifier's off-by-default `evm` feature.
cargo test -p zkattr-verifier --features evm --test evm_cli --locked
bash scripts/circomlib-check/run.sh

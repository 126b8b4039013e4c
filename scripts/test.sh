#!/usr/bin/env bash
# The project's test command (README, CI): every Rust test, then the outside reference check of
# the BN254 hash and commitments against circomlibjs, then the settlement contracts on a local
# chain node.
set -euo pipefail
cd "$(dirname "$0")/.."
# The EVM tools (solc-js, circomlibjs, ganache, ethers: npm ci from the lock file) before the
# Rust tests that call them.
bash verifier/evm/scripts/setup.sh
# snarkjs, which prover/tests/params_import.rs uses to make a small Powers of Tau file.
bash scripts/ptau/setup.sh
# `zkattr-verify evm` sits behind the verifier's off-by-default `evm` feature; enabling it here
# (one build) also runs its test, verifier/tests/evm_cli.rs.
cargo test --workspace --locked --features zkattr-verifier/evm
# The SPEC cases' switches (test-only `mutation` features) and, with them compiled in, the same
# pinned keys. `--workspace` keeps the main run's feature resolution, so only our circuit crates
# compile again (a `-p` run would rebuild every dependency whose features it resolves apart).
cargo test --workspace --locked --features zkattr-verifier/evm,zkattr-plonky2/mutation,zkattr-halo2/mutation \
    --test mutation --test vk_digest
bash scripts/circomlib-check/run.sh
# The Goldilocks hash, its round constants and commitments, recomputed in Python (stdlib only).
python3 scripts/goldilocks-check/check.py
# The settlement contracts on a real local chain node (ganache, in-process) with ethers.
node verifier/evm/scripts/chain-test.js

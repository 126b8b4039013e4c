//! Shared set-up of the benchmarks: synthetic epochs sized by the environment.

use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::Epoch;

/// Queries per benchmarked epoch: `ZKATTR_BENCH_QUERIES`, default one million.
pub fn bench_queries() -> u64 {
    std::env::var("ZKATTR_BENCH_QUERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// The benchmarks' epoch: `n` synthetic queries over 10,000 adapters, seed 1.
pub fn bench_epoch(n: u64) -> Epoch {
    generate(&SynthConfig::new(n, 10_000, 1))
}

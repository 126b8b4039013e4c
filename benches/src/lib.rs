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

/// Ladder sizes (queries per circuit) of the proving benchmarks: `ZKATTR_BENCH_SIZES`, a
/// comma-separated list of 16, 64, 256, 1024; default `16,64`.
pub fn bench_sizes() -> Vec<usize> {
    std::env::var("ZKATTR_BENCH_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .filter(|sizes: &Vec<usize>| !sizes.is_empty())
        .unwrap_or_else(|| vec![16, 64])
}

/// An epoch that fills a ladder circuit of `queries` queries: every slot of the circuit's
/// query capacity used, payees within its payee capacity (a quarter as many adapters as
/// queries, at least 4), seed 1.
pub fn ladder_epoch(queries: usize) -> Epoch {
    let adapters = u32::try_from(queries / 4).unwrap_or(u32::MAX).max(4);
    generate(&SynthConfig::new(queries as u64, adapters, 1))
}

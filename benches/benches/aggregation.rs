//! The aggregation steps of the plonky2 pipeline: one batch proof, one merge of two batch
//! proofs, the final layer over the root. Circuits are built once, outside the timed part.
//!
//! `cargo bench -p zkattr-benches --bench aggregation` uses batches of 4 queries (an epoch of
//! two batches, one merge level, 8 payees); `ZKATTR_BENCH_BATCH=2048` measures the production
//! batch (2^17 rows, about 29 s and 4.8 GB a proof on 2 cores; merges and the final layer do
//! not depend on the batch size). A 1M-query epoch is 489 such batches and 492 merges: measured
//! end to end in docs/aggregation.md (about 4.2 hours against the one-hour target).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::Duration;
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_plonky2::epoch_prover::{AggregationCircuits, AggregationShape};

fn batch_size() -> usize {
    std::env::var("ZKATTR_BENCH_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|b: &usize| b.is_power_of_two())
        .unwrap_or(4)
}

fn aggregation(c: &mut Criterion) {
    let batch = batch_size();
    // Two full batches, payees within the final layer's smallest list.
    let epoch = generate(&SynthConfig::new(2 * batch as u64, 6, 1));
    let settlement = zkattr_model::Settlement::compute(&epoch).expect("valid");
    let shape = AggregationShape::for_epoch(epoch.queries.len(), settlement.payouts.len(), batch)
        .expect("a two-batch shape");
    let quiet = |_: &_| {};
    let circuits = AggregationCircuits::build(shape, &quiet).expect("circuits build");
    let prepared = circuits.prepare(&epoch).expect("the epoch fits");
    let (first, second) = epoch.queries.split_at(batch);
    let prove_batch = |index: u64, queries| {
        circuits
            .batch
            .prove(epoch.params, prepared.challenges, index, queries)
            .expect("batch proves")
    };
    let left = prove_batch(0, first);
    let right = prove_batch(1, second);
    let merge = &circuits.merges[0];
    let root = merge.prove(&left, &right).expect("merge proves");

    let mut group = c.benchmark_group("aggregation");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(1));
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(batch as u64));
    group.bench_function(BenchmarkId::new("batch", batch), |b| {
        b.iter(|| prove_batch(0, first))
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("merge", |b| {
        b.iter(|| merge.prove(&left, &right).expect("merge proves"))
    });
    group.bench_function("merge_with_empty_right", |b| {
        b.iter(|| {
            merge
                .prove_with_empty_right(&left)
                .expect("padding merge proves")
        })
    });
    group.bench_function(BenchmarkId::new("final", shape.payee_capacity), |b| {
        b.iter(|| {
            circuits
                .prove_final(&root, &prepared.payees)
                .expect("final proves")
        })
    });
    group.finish();
}

criterion_group!(benches, aggregation);
criterion_main!(benches);

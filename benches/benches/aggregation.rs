//! The aggregation steps of the plonky2 pipeline: one batch proof, one merge of two batch
//! proofs, the final layer over the root. Circuits are built once, outside the timed part.
//!
//! `cargo bench -p zkattr-benches --bench aggregation` uses batches of 4 queries (an epoch of
//! two batches, one merge level, 8 payees); `ZKATTR_BENCH_BATCH=2048` measures the production
//! batch (2^16 rows, about 29 s a proof two at a time on 2 cores; a merge's cost follows the
//! size of the proofs it verifies, so small batches make merges cheaper too). A 1M-query epoch
//! is 489 such batches and 492 merges: before the timed part the bench prints the 1M projection
//! from its own batch and merge proofs against the one-hour target (production batches only);
//! the measured run is in docs/aggregation.md (2 h 27 min 53 s).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::{Duration, Instant};
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_plonky2::aggregation::{AggregationCircuits, AggregationShape, Resume};

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
            .tree
            .batch
            .prove(epoch.params, prepared.challenges, index, queries)
            .expect("batch proves")
    };
    let started = Instant::now();
    let left = prove_batch(0, first);
    let right = prove_batch(1, second);
    let batch_seconds = started.elapsed().as_secs_f64() / 2.0;
    let merge = &circuits.tree.merges[0];
    let started = Instant::now();
    let root = merge.prove(&left, &right).expect("merge proves");
    let merge_seconds = started.elapsed().as_secs_f64();
    project_one_million(batch, batch_seconds, merge_seconds);

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
                .prove_final(&root, &prepared.payees, Resume::none(), &|_| {})
                .expect("final proves")
        })
    });
    group.finish();
}

/// Issue 5's target: a 1M-query epoch in at most an hour on this machine. Projected from this
/// run's first two batch proofs and first merge (one sample each, before criterion's): batches
/// and merges are both about `N / batch`, and the pipeline keeps both cores busy with them, so
/// their sum is the wall time within about 10% (the measured 1M run: docs/aggregation.md).
/// Every merge is costed as the first level's (all levels are 2^14-row circuits); the final and
/// shrink layers, about a minute, are left out.
fn project_one_million(batch: usize, batch_seconds: f64, merge_seconds: f64) {
    const QUERIES: usize = 1_000_000;
    const TARGET_SECONDS: f64 = 3600.0;
    if batch < 1024 {
        println!(
            "1M-query projection: needs production batches (ZKATTR_BENCH_BATCH=2048); \
             batches of {batch} pay merges per query that batches of 2,048 do not"
        );
        return;
    }
    // The pipeline's own counts (padding merges included); payees do not change them.
    let shape = AggregationShape::for_epoch(QUERIES, 0, batch).expect("a 1M-query shape");
    let (batches, merges) = (shape.batch_count(QUERIES), shape.merge_count(QUERIES));
    let seconds = batches as f64 * batch_seconds + merges as f64 * merge_seconds;
    println!(
        "1M-query projection: {batches} batches x {batch_seconds:.1} s + {merges} merges x \
         {merge_seconds:.1} s = {:.2} h against the 1 h target: {}",
        seconds / 3600.0,
        if seconds <= TARGET_SECONDS {
            "met"
        } else {
            "NOT met"
        }
    );
}

criterion_group!(benches, aggregation);
criterion_main!(benches);

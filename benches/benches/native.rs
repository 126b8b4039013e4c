//! The native path: the reference rule and both commitment families over a whole epoch.
//!
//! `cargo bench -p zkattr-benches --bench native` (one million queries by default; set
//! `ZKATTR_BENCH_QUERIES` for another size). Throughput is reported in queries per second.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::time::Duration;
use zkattr_benches::{bench_epoch, bench_queries};
use zkattr_halo2::Bn254Family;
use zkattr_model::commit::commit_epoch;
use zkattr_model::Settlement;
use zkattr_plonky2::GoldilocksFamily;
use zkattr_verifier::ArkBn254Family;

fn native(c: &mut Criterion) {
    let n = bench_queries();
    let epoch = bench_epoch(n);
    let settlement = Settlement::compute(&epoch).expect("synthetic epochs are valid");

    let mut group = c.benchmark_group(format!("native/{n}"));
    group.throughput(Throughput::Elements(n));
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(1));
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("rule", |b| {
        b.iter(|| Settlement::compute(&epoch).expect("valid"))
    });
    group.bench_function("commit/goldilocks", |b| {
        b.iter(|| commit_epoch(&GoldilocksFamily, &epoch, &settlement).expect("fits"))
    });
    group.bench_function("commit/bn254", |b| {
        b.iter(|| commit_epoch(&Bn254Family, &epoch, &settlement).expect("fits"))
    });
    group.bench_function("commit/bn254-ark", |b| {
        b.iter(|| commit_epoch(&ArkBn254Family, &epoch, &settlement).expect("fits"))
    });
    group.finish();
}

fn permutations(c: &mut Criterion) {
    use zkattr_halo2::poseidon::{permute, Fr};
    let mut group = c.benchmark_group("permutation");
    group.throughput(Throughput::Elements(1));
    let mut state = [Fr::from(1), Fr::from(2), Fr::from(3)];
    group.bench_function("bn254/halo2curves", |b| b.iter(|| permute(&mut state)));
    let ark = zkattr_verifier::poseidon::params();
    let mut ark_state = [ark_bn254::Fr::from(1u64), 2u64.into(), 3u64.into()];
    group.bench_function("bn254/ark", |b| b.iter(|| ark.permute(&mut ark_state)));
    group.finish();
}

criterion_group!(benches, native, permutations);
criterion_main!(benches);

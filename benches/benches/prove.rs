//! Proving and verifying per backend and circuit size. Key generation (plonky2's circuit
//! build, halo2's keygen and KZG parameters) runs once per size, outside the timed part.
//!
//! `cargo bench -p zkattr-benches --bench prove` measures the 16- and 64-query circuits of both
//! backends; `ZKATTR_BENCH_SIZES=16,64,256,1024` adds the larger ones (1024 needs about 9 GB
//! for halo2 and minutes per sample on 2 cores). halo2 uses `params/` (UNSAFE development
//! parameters when it holds no ceremony file: fine for timing, never for settlement).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::path::PathBuf;
use std::time::Duration;
use zkattr_benches::{bench_sizes, ladder_epoch};
use zkattr_halo2::keys::{verify, KzgParams};
use zkattr_halo2::prover::{shape_for as halo2_shape, witness_for, Halo2Keys, Layout};
use zkattr_halo2::Bn254Family;
use zkattr_model::commit::commit_epoch;
use zkattr_model::Settlement;
use zkattr_plonky2::prover::{shape_for as plonky2_shape, StatementCircuit};

fn params_dir() -> PathBuf {
    std::env::var_os("ZKATTR_PARAMS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../params")))
}

fn plonky2(c: &mut Criterion) {
    let mut group = c.benchmark_group("plonky2");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(1));
    for size in bench_sizes() {
        let epoch = ladder_epoch(size);
        let settlement = Settlement::compute(&epoch).expect("synthetic epochs are valid");
        let shape = plonky2_shape(epoch.queries.len(), settlement.payouts.len())
            .expect("the epoch fits the ladder");
        let circuit = StatementCircuit::build(shape);
        let prove = || {
            let mut witness = plonky2::iop::witness::PartialWitness::new();
            circuit
                .targets
                .set(&mut witness, &epoch, &settlement)
                .expect("witness");
            circuit.data.prove(witness).expect("proves")
        };
        let proof = prove();
        group.throughput(Throughput::Elements(size as u64));
        group.measurement_time(Duration::from_secs(20));
        group.bench_function(BenchmarkId::new("prove", size), |b| b.iter(prove));
        group.bench_function(BenchmarkId::new("verify", size), |b| {
            b.iter(|| circuit.data.verify(proof.clone()).expect("verifies"))
        });
    }
    group.finish();
}

fn halo2(c: &mut Criterion) {
    let mut group = c.benchmark_group("halo2");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(1));
    for size in bench_sizes() {
        let epoch = ladder_epoch(size);
        let settlement = Settlement::compute(&epoch).expect("synthetic epochs are valid");
        let commitments = commit_epoch(&Bn254Family, &epoch, &settlement).expect("fits");
        let shape = halo2_shape(epoch.queries.len(), settlement.payouts.len())
            .expect("the epoch fits the ladder");
        let layout = Layout::for_shape(shape);
        let params = match KzgParams::load(&params_dir(), layout.k).expect("readable parameters") {
            Some(ceremony) => ceremony,
            None => KzgParams::dev_unsafe(&params_dir(), layout.k).expect("dev parameters"),
        };
        let keys = Halo2Keys::generate(&layout, &params.params).expect("keygen");
        let (witness, instances) =
            witness_for(shape, &epoch, &settlement, &commitments).expect("witness");
        let proof = keys
            .prove(&params.params, &witness, &instances)
            .expect("proves");
        group.throughput(Throughput::Elements(size as u64));
        group.measurement_time(Duration::from_secs(20));
        group.bench_function(BenchmarkId::new("prove", size), |b| {
            b.iter(|| {
                keys.prove(&params.params, &witness, &instances)
                    .expect("proves")
            })
        });
        group.bench_function(BenchmarkId::new("verify", size), |b| {
            b.iter(|| verify(&params.params, keys.vk(), &proof, &instances).expect("verifies"))
        });
    }
    group.finish();
}

criterion_group!(benches, plonky2, halo2);
criterion_main!(benches);

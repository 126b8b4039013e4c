//! EVM gas of verify, settle and claim, measured in revm on the committed 16x16 halo2 bundle
//! (verifier/evm/fixtures/halo2-16x16), with criterion reporting gas instead of time.
//!
//! `cargo bench -p zkattr-benches --bench evm_gas` (installs the pinned npm tools on first
//! use). Each payee of the fixture gets one real run of `zkattr-verify evm`'s flow (compile,
//! deploy, register, settle, claim that payee); the samples rotate over those runs, since gas
//! is deterministic and a run takes seconds. Figures are whole-transaction gas, intrinsic and
//! calldata included; the spread across claims comes from the payees' amounts and paths.
//! Plots are off: criterion's density plots need a spread that verify and settle do not have.

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use std::path::PathBuf;
use std::time::Duration;
use zkattr_verifier::evm::{run_evm, EvmRun};

/// Gas as a criterion measurement: the routine reports it through `iter_custom`.
struct Gas;

struct GasFormatter;

impl ValueFormatter for GasFormatter {
    fn scale_values(&self, _typical: f64, _values: &mut [f64]) -> &'static str {
        "gas"
    }
    fn scale_throughputs(
        &self,
        _typical: f64,
        _throughput: &Throughput,
        _values: &mut [f64],
    ) -> &'static str {
        "gas"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "gas"
    }
}

impl Measurement for Gas {
    type Intermediate = ();
    type Value = u64;
    fn start(&self) -> Self::Intermediate {}
    fn end(&self, _: Self::Intermediate) -> Self::Value {
        0
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, value: &u64) -> f64 {
        *value as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &GasFormatter
    }
}

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn payees(bundle: &std::path::Path) -> Vec<u32> {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("bundle.json")).expect("fixture"))
            .expect("manifest");
    manifest["payouts"]["payouts"]
        .as_array()
        .expect("payout table")
        .iter()
        .map(|p| p["adapter_id"].as_u64().expect("adapter") as u32)
        .collect()
}

fn evm_gas(c: &mut Criterion<Gas>) {
    let bundle = root().join("verifier/evm/fixtures/halo2-16x16");
    let params = std::env::var_os("ZKATTR_PARAMS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("params"));
    // The fixture is proved under development parameters: measured, never settled on.
    let dev = zkattr_verifier::VerifyOptions::strict().allow_unsafe_setup(true);
    let runs: Vec<EvmRun> = payees(&bundle)
        .into_iter()
        .map(|adapter| {
            run_evm(&bundle, &params, Some(adapter), &dev).expect("the fixture settles and claims")
        })
        .collect();
    let settle_gas = runs[0].settle_gas;
    eprintln!(
        "16x16 verifier: {} bytes deployed (EIP-170 limit 24,576); {} payees",
        runs[0].verifier_code_size,
        runs.len()
    );
    let mut next = 0usize;
    let mut run = move || -> EvmRun {
        next += 1;
        runs[next % runs.len()].clone()
    };

    let mut group = c.benchmark_group("evm/16x16");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    // Criterion budgets in the measurement's unit: about one run per sample.
    group.warm_up_time(Duration::from_nanos(1));
    group.measurement_time(Duration::from_nanos(10 * settle_gas));
    for (name, pick) in [
        ("verify", (|r: &EvmRun| r.verify_gas) as fn(&EvmRun) -> u64),
        ("settle", |r: &EvmRun| r.settle_gas),
        ("claim", |r: &EvmRun| r.claim_gas),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| (0..iters).map(|_| pick(&run())).sum())
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(Gas).without_plots();
    targets = evm_gas
}
criterion_main!(benches);

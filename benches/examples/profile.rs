//! Where one proof's time goes.
//!
//! ```sh
//! cargo run --release -p zkattr-benches --example profile -- plonky2 256
//! cargo run --release -p zkattr-benches --features profile --example profile -- halo2 256
//! ```
//!
//! plonky2: its own timing tree (witness generators, wire commitments = LDE/FFT plus Merkle
//! hashing, partial products, quotient polynomials, FRI openings), printed in full.
//! halo2: our phases (parameters, keygen, witness layout) timed here; with `--features profile`
//! halo2-axiom's own timers split `create_proof` into witness + MSM commitments, FFTs,
//! evaluating h(X) and the openings.

use log::{Level, LevelFilter, Log, Metadata, Record};
use std::path::PathBuf;
use std::time::Instant;
use zkattr_benches::ladder_epoch;
use zkattr_model::commit::commit_epoch;
use zkattr_model::Settlement;

/// Prints plonky2's timing tree (it logs through the `log` crate) to stderr.
struct StderrLog;

impl Log for StderrLog {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= Level::Debug
    }
    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            eprintln!("{}", record.args());
        }
    }
    fn flush(&self) {}
}

static LOGGER: StderrLog = StderrLog;

fn main() {
    let mut args = std::env::args().skip(1);
    let backend = args.next().unwrap_or_else(|| "plonky2".into());
    let queries: usize = args
        .next()
        .map(|q| q.parse().expect("queries: 16, 64, 256 or 1024"))
        .unwrap_or(256);
    let epoch = ladder_epoch(queries);
    let settlement = Settlement::compute(&epoch).expect("synthetic epochs are valid");
    let step = |name: &str, started: Instant| {
        eprintln!("{name}: {:.2} s", started.elapsed().as_secs_f64());
    };
    match backend.as_str() {
        "plonky2" => {
            log::set_logger(&LOGGER).expect("one logger");
            log::set_max_level(LevelFilter::Debug);
            use plonky2::util::timing::TimingTree;
            use zkattr_plonky2::prover::{shape_for, StatementCircuit};
            let t = Instant::now();
            let commitments =
                commit_epoch(&zkattr_plonky2::GoldilocksFamily, &epoch, &settlement).expect("fits");
            step("native commitments", t);
            let _ = commitments;
            let shape = shape_for(epoch.queries.len(), settlement.payouts.len()).expect("fits");
            let t = Instant::now();
            let circuit = StatementCircuit::build(shape);
            step(
                &format!(
                    "circuit build (keygen), 2^{} rows",
                    circuit.data.common.degree_bits()
                ),
                t,
            );
            let mut witness = plonky2::iop::witness::PartialWitness::new();
            let t = Instant::now();
            circuit
                .targets
                .set(&mut witness, &epoch, &settlement)
                .expect("witness");
            step("witness assignment (targets)", t);
            let mut timing = TimingTree::new("prove", Level::Info);
            let t = Instant::now();
            plonky2::plonk::prover::prove::<_, _, 2>(
                &circuit.data.prover_only,
                &circuit.data.common,
                witness,
                &mut timing,
            )
            .expect("proves");
            step("prove", t);
            timing.print();
        }
        "halo2" => {
            use zkattr_halo2::keys::KzgParams;
            use zkattr_halo2::prover::{shape_for, witness_for, Halo2Keys, Layout};
            let params_dir = std::env::var_os("ZKATTR_PARAMS_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../params"))
                });
            let t = Instant::now();
            let commitments =
                commit_epoch(&zkattr_halo2::Bn254Family, &epoch, &settlement).expect("fits");
            step("native commitments", t);
            let shape = shape_for(epoch.queries.len(), settlement.payouts.len()).expect("fits");
            let layout = Layout::for_shape(shape);
            let t = Instant::now();
            let params = match KzgParams::load(&params_dir, layout.k).expect("readable") {
                Some(ceremony) => ceremony,
                None => KzgParams::dev_unsafe(&params_dir, layout.k).expect("dev parameters"),
            };
            step(&format!("KZG parameters 2^{}", layout.k), t);
            let t = Instant::now();
            let keys = Halo2Keys::generate(&layout, &params.params).expect("keygen");
            step("keygen", t);
            let t = Instant::now();
            let (witness, instances) =
                witness_for(shape, &epoch, &settlement, &commitments).expect("witness");
            step("witness (native values)", t);
            let t = Instant::now();
            keys.prove(&params.params, &witness, &instances)
                .expect("proves");
            step(
                "prove (layout + create_proof; halo2-axiom's phases above with --features profile)",
                t,
            );
        }
        other => panic!("backend {other:?}: plonky2 or halo2"),
    }
}

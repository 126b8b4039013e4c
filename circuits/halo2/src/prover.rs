//! Keys, KZG parameters, proofs and bundles for the halo2 backend.
//!
//! A circuit is fixed by its [`Halo2Shape`]: [`Layout::for_shape`] picks the number of rows `k`
//! (the smallest that holds the chip's permutations and halo2-base's cells in at most
//! [`max_base_advice`] columns) and halo2-base's column counts. Proofs use SHPLONK over KZG with
//! a Keccak transcript (snark-verifier's `EvmTranscript`, so the same proof verifies natively and
//! in the generated Solidity verifier).

#[cfg(feature = "mutation")]
use crate::checks::Check;
use crate::checks::{Attribution, CheckLayout, CheckLog, Refusal};
use crate::chip::ROWS_PER_PERMUTATION;
use crate::circuit::{usable_rows, AttributionCircuit, UNUSABLE_ROWS};
pub use crate::keys::*;
use crate::poseidon::Fr;
use crate::statement::{
    build_checked, build_statement, public_inputs, Halo2Shape, StatementWitness,
};
use crate::Bn254Family;
use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
use halo2_base::gates::circuit::{BaseCircuitParams, CircuitBuilderStage};
use halo2_base::gates::flex_gate::MultiPhaseThreadBreakPoints;
use halo2_base::halo2_proofs::dev::{MockProver, VerifyFailure};
use halo2_base::halo2_proofs::halo2curves::bn256::{Bn256, G1Affine};
use halo2_base::halo2_proofs::plonk::{
    create_proof, keygen_pk, keygen_vk, Error, ProvingKey, VerifyingKey,
};
use halo2_base::halo2_proofs::poly::kzg::commitment::{KZGCommitmentScheme, ParamsKZG};
use halo2_base::halo2_proofs::poly::kzg::multiopen::ProverSHPLONK;
use halo2_base::halo2_proofs::transcript::TranscriptWriterBuffer;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use snark_verifier::loader::native::NativeLoader;
use snark_verifier::system::halo2::transcript::evm::{ChallengeEvm, EvmTranscript};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;
use zkattr_model::bundle::{
    BundleManifest, BundleShape, Halo2Section, PublicStatement, BUNDLE_VERSION, MANIFEST,
};
use zkattr_model::commit::EpochCommitments;
use zkattr_model::{payout_report, Epoch, Settlement};

/// halo2-base advice columns a layout may use before it takes more rows instead: with the
/// chip's 6 columns and the lookup column, 3 keeps every ladder shape's generated EVM verifier
/// under EIP-170's 24,576 bytes (4 does not, from 256 queries up).
pub const MAX_BASE_ADVICE: usize = 3;

/// Below this many rows (`2^k`) a layout uses one halo2-base column: such circuits prove in
/// seconds either way, and every advice column costs on-chain verify gas (about 29k each).
pub const SINGLE_COLUMN_BELOW_K: usize = 15;

/// The halo2-base advice columns a layout of `2^k` rows may use.
pub fn max_base_advice(k: usize) -> usize {
    if k < SINGLE_COLUMN_BELOW_K {
        1
    } else {
        MAX_BASE_ADVICE
    }
}

/// The circuit sizes the prover picks from (query capacity; payee capacity is the same).
pub const HALO2_LADDER: [usize; 5] = [16, 64, 256, 1024, 2048];

/// A shape's row count and halo2-base column layout.
#[derive(Clone, Debug)]
pub struct Layout {
    pub shape: Halo2Shape,
    pub k: usize,
    pub permutations: usize,
    pub base_cells: usize,
    /// Cells copied into halo2-base's lookup columns (one per range-checked limb).
    pub lookup_cells: usize,
    pub params: BaseCircuitParams,
}

/// halo2-base's lookup table size for a circuit of `2^k` rows: 16 bits (so the statement's 16-,
/// 32-, 48- and 64-bit range checks split into whole limbs with no leftover-bit check), or `k - 1`
/// in circuits too small for a 2^16-row table.
pub fn lookup_bits(k: usize) -> usize {
    (k - 1).min(16)
}

fn virtual_build(
    stage: CircuitBuilderStage,
    witness: &StatementWitness,
    k: usize,
) -> AttributionCircuit {
    virtual_build_checked(stage, witness, k, CheckLog::off()).0
}

/// [`virtual_build`] through `log` ([`build_checked`]).
fn virtual_build_checked(
    stage: CircuitBuilderStage,
    witness: &StatementWitness,
    k: usize,
    log: CheckLog,
) -> (AttributionCircuit, Option<CheckLayout>) {
    let mut builder = BaseCircuitBuilder::from_stage(stage)
        .use_k(k)
        .use_lookup_bits(lookup_bits(k))
        .use_instance_columns(1);
    let (permutations, checks) = build_checked(&mut builder, witness, log);
    let circuit = AttributionCircuit {
        builder,
        permutations,
    };
    (circuit, checks)
}

impl Layout {
    /// Lays out an empty witness of `shape` and picks the smallest `k` that holds it.
    pub fn for_shape(shape: Halo2Shape) -> Self {
        let witness = StatementWitness::empty(shape);
        let mut k = 12;
        loop {
            let mut circuit = virtual_build(CircuitBuilderStage::Mock, &witness, k);
            let chip_rows = circuit.permutations.len() * ROWS_PER_PERMUTATION;
            let stats = circuit.builder.statistics();
            let base_cells = stats.gate.total_advice_per_phase[0];
            let lookups = stats.total_lookup_advice_per_phase[0];
            let rows = usable_rows(k);
            let fits = chip_rows <= rows
                && base_cells.div_ceil(rows) <= max_base_advice(k)
                && lookups.div_ceil(rows) <= max_base_advice(k);
            // The chip's rows do not depend on `k`: skip straight to the first size that holds them.
            let chip_k = (chip_rows + UNUSABLE_ROWS)
                .next_power_of_two()
                .trailing_zeros() as usize;
            if !fits && chip_k > k + 1 && k < 26 {
                k = chip_k.min(26);
                continue;
            }
            if fits || k >= 26 {
                let params = circuit.builder.calculate_params(Some(UNUSABLE_ROWS));
                return Layout {
                    shape,
                    k,
                    permutations: circuit.permutations.len(),
                    base_cells,
                    lookup_cells: lookups,
                    params,
                };
            }
            k += 1;
        }
    }
}

/// The smallest ladder shape that holds `queries` queries and `payees` payees.
pub fn shape_for(queries: usize, payees: usize) -> Result<Halo2Shape, Halo2Error> {
    let Some(&capacity) = HALO2_LADDER.iter().find(|&&c| c >= queries && c >= payees) else {
        return Err(Halo2Error::Shape(format!(
            "an epoch of {queries} queries and {payees} payees exceeds the largest halo2 circuit ({} queries); halo2 aggregation (the EVM path for large epochs) is not built yet: prove it with the plonky2 backend (`zkattr prove --backend plonky2`), which aggregates batches",
            HALO2_LADDER[HALO2_LADDER.len() - 1]
        )));
    };
    Halo2Shape::new(capacity, capacity).map_err(Halo2Error::Shape)
}

/// Why MockProver refused a witness.
#[derive(Debug)]
pub enum MockError {
    /// Synthesis failed before any constraint was checked.
    Synthesis(Error),
    /// The constraints MockProver found unsatisfied, and the named checks (or custom gates) they
    /// belong to ([`crate::checks`]).
    Unsatisfied {
        /// Every failure MockProver reports.
        failures: Vec<VerifyFailure>,
        /// The named checks (or custom gates) those failures belong to.
        refused: BTreeSet<Refusal>,
    },
}

impl MockError {
    /// The named checks that refused, if synthesis succeeded.
    pub fn refused(&self) -> Option<&BTreeSet<Refusal>> {
        match self {
            MockError::Synthesis(_) => None,
            MockError::Unsatisfied { refused, .. } => Some(refused),
        }
    }
}

impl std::fmt::Display for MockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MockError::Synthesis(e) => write!(f, "synthesis failed: {e:?}"),
            MockError::Unsatisfied { failures, refused } => {
                let names: Vec<String> = refused.iter().map(|r| r.to_string()).collect();
                let first: Vec<String> = failures.iter().take(3).map(|f| f.to_string()).collect();
                write!(
                    f,
                    "{} failures in {}; first: {}",
                    failures.len(),
                    names.join(", "),
                    first.join("; ")
                )
            }
        }
    }
}

impl std::error::Error for MockError {}

/// A synthesized mock run: the prover and the circuit it laid out, with where each named
/// check sits.
#[derive(Debug)]
pub struct MockRun {
    /// MockProver after synthesis (its permutation holds the copy cycles).
    pub prover: MockProver<Fr>,
    /// The circuit synthesized (its builder knows where each virtual cell landed).
    pub circuit: AttributionCircuit,
    /// Where each named check sits.
    pub checks: CheckLayout,
    /// The public inputs the run was checked against.
    pub instances: Vec<Fr>,
}

impl MockRun {
    /// Lays out `witness` through `log` (which must record) and synthesizes it in MockProver.
    pub fn new(
        layout: &Layout,
        witness: &StatementWitness,
        instances: &[Fr],
        log: CheckLog,
    ) -> Result<Self, MockError> {
        let (mut circuit, checks) =
            virtual_build_checked(CircuitBuilderStage::Mock, witness, layout.k, log);
        // A log that does not record returns no layout: nothing to attribute failures to.
        let checks = checks.ok_or(MockError::Synthesis(Error::Synthesis))?;
        circuit.builder.calculate_params(Some(UNUSABLE_ROWS));
        let prover = MockProver::run(layout.k as u32, &circuit, vec![instances.to_vec()])
            .map_err(MockError::Synthesis)?;
        Ok(MockRun {
            prover,
            circuit,
            checks,
            instances: instances.to_vec(),
        })
    }

    /// Maps this run's failures to the named checks ([`crate::checks::Attribution`]).
    pub fn attribution(&self) -> Attribution<'_> {
        Attribution::new(
            &self.prover,
            &self.circuit.builder,
            &self.checks,
            &self.instances,
        )
    }

    /// MockProver's verdict, with each failure attributed to its named check.
    pub fn verify(&self) -> Result<(), MockError> {
        let failures = match self.prover.verify() {
            Ok(()) => return Ok(()),
            Err(failures) => failures,
        };
        let attribution = self.attribution();
        let refused = failures
            .iter()
            .flat_map(|f| attribution.refusals(f))
            .collect();
        Err(MockError::Unsatisfied { failures, refused })
    }
}

/// Runs halo2's MockProver on `witness` against `instances`; `Err` holds halo2's failures and
/// the named checks they belong to.
pub fn mock_prove(
    layout: &Layout,
    witness: &StatementWitness,
    instances: &[Fr],
) -> Result<(), MockError> {
    MockRun::new(layout, witness, instances, CheckLog::recording())?.verify()
}

/// [`mock_prove`] on a circuit without the checks `off` (feature `mutation`, tests only): a
/// public input whose binding is off takes its published value unconstrained.
#[cfg(feature = "mutation")]
pub fn mock_prove_mutated(
    layout: &Layout,
    witness: &StatementWitness,
    instances: &[Fr],
    off: &[Check],
) -> Result<(), MockError> {
    MockRun::new(
        layout,
        witness,
        instances,
        CheckLog::mutated(off, instances),
    )?
    .verify()
}

/// A proving key with what the prover needs to lay out witnesses the same way.
#[derive(Debug)]
pub struct Halo2Keys {
    pub layout: Layout,
    pub pk: ProvingKey<G1Affine>,
    pub break_points: MultiPhaseThreadBreakPoints,
}

impl Halo2Keys {
    /// Key generation for `layout` under `params` (which must be for `2^layout.k` rows).
    pub fn generate(layout: &Layout, params: &ParamsKZG<Bn256>) -> Result<Self, Halo2Error> {
        let witness = StatementWitness::empty(layout.shape);
        let mut circuit = virtual_build(CircuitBuilderStage::Keygen, &witness, layout.k);
        let computed = circuit.builder.calculate_params(Some(UNUSABLE_ROWS));
        if format!("{computed:?}") != format!("{:?}", layout.params) {
            return Err(Halo2Error::Keygen("layout drifted between runs".into()));
        }
        let vk = keygen_vk(params, &circuit).map_err(|e| Halo2Error::Keygen(format!("{e:?}")))?;
        let pk =
            keygen_pk(params, vk, &circuit).map_err(|e| Halo2Error::Keygen(format!("{e:?}")))?;
        Ok(Halo2Keys {
            layout: layout.clone(),
            pk,
            break_points: circuit.builder.break_points(),
        })
    }

    pub fn vk(&self) -> &VerifyingKey<G1Affine> {
        self.pk.get_vk()
    }

    /// Proves `witness` with public inputs `instances`. Constraints are not checked here (halo2's
    /// prover does not): a bad witness yields a proof that [`verify`] rejects.
    pub fn prove(
        &self,
        params: &ParamsKZG<Bn256>,
        witness: &StatementWitness,
        instances: &[Fr],
    ) -> Result<Vec<u8>, Halo2Error> {
        let mut builder =
            BaseCircuitBuilder::prover(self.layout.params.clone(), self.break_points.clone());
        let permutations = build_statement(&mut builder, witness);
        let circuit = AttributionCircuit {
            builder,
            permutations,
        };
        let mut transcript =
            <EvmTranscript<G1Affine, NativeLoader, _, Vec<u8>> as TranscriptWriterBuffer<
                _,
                _,
                _,
            >>::init(vec![]);
        create_proof::<
            KZGCommitmentScheme<Bn256>,
            ProverSHPLONK<'_, Bn256>,
            ChallengeEvm<G1Affine>,
            _,
            EvmTranscript<G1Affine, NativeLoader, Vec<u8>, Vec<u8>>,
            _,
        >(
            params,
            &self.pk,
            &[circuit],
            &[&[instances]],
            ChaCha20Rng::from_entropy(),
            &mut transcript,
        )
        .map_err(|e| Halo2Error::Prove(format!("{e:?}")))?;
        Ok(transcript.finalize())
    }
}

/// The witness and SPEC's public inputs of a validated epoch in `shape`.
pub fn witness_for(
    shape: Halo2Shape,
    epoch: &Epoch,
    settlement: &Settlement,
    commitments: &EpochCommitments<Fr>,
) -> Result<(StatementWitness, Vec<Fr>), Halo2Error> {
    let witness = StatementWitness::new(shape, epoch, settlement).map_err(Halo2Error::Shape)?;
    Ok((witness, public_inputs(epoch, settlement, commitments)))
}

/// The family the halo2 backend commits with.
pub const FAMILY: Bn254Family = Bn254Family;

/// Proves `epoch` in the smallest ladder circuit that fits it and writes the bundle into `out`:
/// `bundle.json`, `proof.bin` and `vk.bin`. KZG parameters come from `params_dir` (a ceremony
/// file `kzg_bn254_{k}.srs`, or a larger one cut down); when there is none, deterministic
/// development parameters are generated and the bundle says `dev-unsafe`. `progress` receives
/// one line per stage.
pub fn prove_epoch(
    epoch: &Epoch,
    out: &Path,
    params_dir: &Path,
    mut progress: impl FnMut(&str),
) -> Result<BundleManifest, Halo2Error> {
    let (settlement, commitments, report) =
        payout_report(&Bn254Family, epoch).map_err(|e| Halo2Error::Shape(e.to_string()))?;
    let shape = shape_for(epoch.queries.len(), settlement.payouts.len())?;
    let layout = Layout::for_shape(shape);
    progress(&format!(
        "circuit for {} queries and {} payees: 2^{} rows, {} permutations, {} halo2-base cells",
        shape.queries, shape.payees, layout.k, layout.permutations, layout.base_cells
    ));
    let params = match KzgParams::load(params_dir, layout.k)? {
        Some(params) => params,
        None => {
            progress(&format!(
                "no KZG parameters for 2^{} rows in {}: using UNSAFE development parameters (never settle with them)",
                layout.k,
                params_dir.display()
            ));
            KzgParams::dev_unsafe(params_dir, layout.k)?
        }
    };
    let start = Instant::now();
    let keys = Halo2Keys::generate(&layout, &params.params)?;
    progress(&format!(
        "keys ready ({:.1} s); proving",
        start.elapsed().as_secs_f64()
    ));
    let (witness, instances) = witness_for(shape, epoch, &settlement, &commitments)?;
    let start = Instant::now();
    let proof = keys.prove(&params.params, &witness, &instances)?;
    let prove_seconds = start.elapsed().as_secs_f64();
    verify(&params.params, keys.vk(), &proof, &instances).map_err(|e| {
        Halo2Error::Prove(format!(
            "internal error: the fresh proof does not verify: {e}"
        ))
    })?;
    progress(&format!(
        "proved in {prove_seconds:.1} s ({} bytes); writing {}",
        proof.len(),
        out.display()
    ));

    std::fs::create_dir_all(out)?;
    let manifest = BundleManifest {
        version: BUNDLE_VERSION,
        backend: "halo2".into(),
        shape: BundleShape::single(shape.queries as u64, shape.payees as u64),
        verifying_key_digest: halo2_key_digest(keys.vk()),
        proof_file: "proof.bin".into(),
        verifying_key_file: "vk.bin".into(),
        public_inputs: PublicStatement::from_report(&report),
        payouts: report,
        prove_seconds,
        halo2: Some(Halo2Section {
            circuit_params: serde_json::to_value(&layout.params)
                .map_err(|e| Halo2Error::Keygen(e.to_string()))?,
            kzg_k: layout.k as u32,
            kzg_source: params.source.clone(),
            kzg_sha256: params.sha256.clone(),
        }),
    };
    std::fs::write(out.join(&manifest.proof_file), &proof)?;
    std::fs::write(
        out.join(&manifest.verifying_key_file),
        verifying_key_bytes(keys.vk()),
    )?;
    let text =
        serde_json::to_string_pretty(&manifest).map_err(|e| Halo2Error::Keygen(e.to_string()))?;
    std::fs::write(out.join(MANIFEST), text + "\n")?;
    Ok(manifest)
}

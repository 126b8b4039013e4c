//! Proving a whole epoch in one plonky2 proof and writing the bundle.

use crate::native::F;
use crate::statement::{
    build_statement, StatementPublicInputs, StatementShape, StatementTargets, D,
};
use crate::GoldilocksFamily;
use anyhow::{bail, Context, Result};
use plonky2::iop::witness::PartialWitness;
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{CircuitConfig, CircuitData};
use plonky2::plonk::config::PoseidonGoldilocksConfig;
use std::path::Path;
use std::time::Instant;
use zkattr_model::bundle::{
    BundleManifest, BundleShape, PublicStatement, BUNDLE_VERSION, MANIFEST,
};
use zkattr_model::{payout_report, CommitmentFamily, Epoch};
use zkattr_plonky2_gates::AttributionGateSerializer;

/// The plonky2 configuration of every statement proof.
pub type Config = PoseidonGoldilocksConfig;

/// Query capacities of the single-proof circuits, smallest first; payee capacity equals the
/// query capacity. A fixed ladder keeps the set of verifying keys small enough to pin. It stops
/// at 1024 (2^17 rows since range checks pack into `RangeCheckGate` rows: about 28 s and
/// 4.4 GB on the 2-core machine); larger epochs are proved in aggregated batches
/// ([`crate::aggregation`]), whose batch circuit has no sorted copy and no blinding and holds
/// 2048 queries in 2^16 rows.
pub const SHAPE_LADDER: [usize; 4] = [16, 64, 256, 1024];

/// The smallest ladder shape that holds `queries` queries and `payees` payees.
pub fn shape_for(queries: usize, payees: usize) -> Result<StatementShape> {
    let Some(&capacity) = SHAPE_LADDER.iter().find(|&&c| c >= queries && c >= payees) else {
        bail!(
            "an epoch of {queries} queries and {payees} payees exceeds the largest single-proof circuit ({} queries); prove it in aggregated batches (`aggregation`, `zkattr prove --backend plonky2`)",
            SHAPE_LADDER[SHAPE_LADDER.len() - 1]
        );
    };
    StatementShape::new(capacity, capacity)
}

/// A built statement circuit: keys and the targets to assign.
#[derive(Debug)]
pub struct StatementCircuit {
    pub shape: StatementShape,
    pub data: CircuitData<F, Config, D>,
    pub targets: StatementTargets,
}

impl StatementCircuit {
    /// Builds the circuit (key generation) for `shape`, zero-knowledge on.
    pub fn build(shape: StatementShape) -> Self {
        let mut builder =
            CircuitBuilder::<F, D>::new(CircuitConfig::standard_recursion_zk_config());
        let targets = build_statement(&mut builder, shape);
        StatementCircuit {
            shape,
            data: builder.build::<Config>(),
            targets,
        }
    }

    /// The serialised verifying key: plonky2's verifier-only and common data.
    pub fn verifying_key_bytes(&self) -> Result<Vec<u8>> {
        self.data
            .verifier_data()
            .to_bytes(&AttributionGateSerializer)
            .map_err(|e| anyhow::anyhow!("serialising the verifier data: {e:?}"))
    }

    /// The digest pinned for this circuit: of the whole verifying key, not plonky2's
    /// `circuit_digest`, which covers the constants and degree but not the gates or the FRI
    /// configuration in the common data.
    pub fn digest_hex(&self) -> Result<String> {
        Ok(verifying_key_digest(&self.verifying_key_bytes()?))
    }
}

/// The pinned digest of a serialised verifying key, computed exactly as the verifier does.
pub use zkattr_plonky2_gates::verifying_key_digest;

/// Proves `epoch` in the smallest circuit that fits it and writes the bundle into `out`:
/// `bundle.json`, `proof.bin` and `verifier.bin` (plonky2's verifier-only and common data,
/// nothing of the prover's). `progress` receives one line per stage.
pub fn prove_epoch(
    epoch: &Epoch,
    out: &Path,
    mut progress: impl FnMut(&str),
) -> Result<BundleManifest> {
    let shape = required_shape(epoch)?;
    progress(&format!(
        "building the circuit for {} queries and {} payees",
        shape.queries, shape.payees
    ));
    let start = Instant::now();
    let circuit = StatementCircuit::build(shape);
    progress(&format!(
        "circuit ready: 2^{} rows ({:.1} s)",
        circuit.data.common.degree_bits(),
        start.elapsed().as_secs_f64()
    ));
    circuit.prove_into(epoch, out, progress)
}

/// The ladder shape `epoch` needs (its queries and its payees), or an error if none holds it.
pub fn required_shape(epoch: &Epoch) -> Result<StatementShape> {
    let settlement = zkattr_model::rule::Settlement::compute(epoch)?;
    shape_for(epoch.queries.len(), settlement.payouts.len())
}

impl StatementCircuit {
    /// Proves `epoch` with this (already built, possibly cached) circuit and writes the bundle
    /// into `out`. The circuit must be exactly the ladder shape `epoch` needs, so a bundle's shape
    /// always names the smallest circuit and the pinned key set stays small.
    pub fn prove_into(
        &self,
        epoch: &Epoch,
        out: &Path,
        mut progress: impl FnMut(&str),
    ) -> Result<BundleManifest> {
        let circuit = self;
        let (settlement, commitments, report) = payout_report(&GoldilocksFamily, epoch)?;
        let shape = shape_for(epoch.queries.len(), settlement.payouts.len())?;
        if shape != self.shape {
            bail!(
                "this epoch needs the {}x{} circuit, not {}x{}",
                shape.queries,
                shape.payees,
                self.shape.queries,
                self.shape.payees
            );
        }
        progress("proving");
        let mut witness = PartialWitness::new();
        circuit.targets.set(&mut witness, epoch, &settlement)?;
        let start = Instant::now();
        let proof = circuit
            .data
            .prove(witness)
            .context("the prover rejected the witness")?;
        let prove_seconds = start.elapsed().as_secs_f64();
        let expected = StatementPublicInputs::new(epoch, &settlement, &commitments).to_fields();
        if proof.public_inputs != expected {
            bail!("internal error: the proof's public inputs differ from the reference model's");
        }
        circuit
            .data
            .verify(proof.clone())
            .context("internal error: the fresh proof does not verify")?;
        progress(&format!(
            "proved in {prove_seconds:.1} s; writing {}",
            out.display()
        ));

        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
        let verifier_bytes = circuit.verifying_key_bytes()?;
        let manifest = BundleManifest {
            version: BUNDLE_VERSION,
            backend: "plonky2".into(),
            shape: BundleShape::single(shape.queries as u64, shape.payees as u64),
            verifying_key_digest: verifying_key_digest(&verifier_bytes),
            proof_file: "proof.bin".into(),
            verifying_key_file: "verifier.bin".into(),
            public_inputs: PublicStatement::from_report(&report),
            payouts: report,
            prove_seconds,
            halo2: None,
        };
        debug_assert_eq!(
            manifest.public_inputs.payout_commitment,
            GoldilocksFamily::to_hex(&commitments.payout)
        );
        std::fs::write(out.join(&manifest.proof_file), proof.to_bytes())?;
        std::fs::write(out.join(&manifest.verifying_key_file), verifier_bytes)?;
        std::fs::write(
            out.join(MANIFEST),
            serde_json::to_string_pretty(&manifest)? + "\n",
        )?;
        Ok(manifest)
    }
}

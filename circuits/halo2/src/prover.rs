//! Keys, KZG parameters, proofs and bundles for the halo2 backend.
//!
//! A circuit is fixed by its [`Halo2Shape`]: [`Layout::for_shape`] picks the number of rows `k`
//! (the smallest that holds the chip's permutations and halo2-base's cells in at most
//! [`MAX_BASE_ADVICE`] columns) and halo2-base's column counts. Proofs use SHPLONK over KZG with
//! a Blake2b transcript.

use crate::chip::ROWS_PER_PERMUTATION;
use crate::circuit::{usable_rows, AttributionCircuit, KeyLayout, UNUSABLE_ROWS};
use crate::poseidon::Fr;
use crate::statement::{build_statement, public_inputs, Halo2Shape, StatementWitness};
use crate::Bn254Family;
use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
use halo2_base::gates::circuit::{BaseCircuitParams, CircuitBuilderStage};
use halo2_base::gates::flex_gate::MultiPhaseThreadBreakPoints;
use halo2_base::halo2_proofs::dev::MockProver;
use halo2_base::halo2_proofs::halo2curves::bn256::{Bn256, G1Affine};
use halo2_base::halo2_proofs::plonk::{
    create_proof, keygen_pk, keygen_vk, verify_proof, ProvingKey, VerifyingKey,
};
use halo2_base::halo2_proofs::poly::commitment::{Params, ParamsProver};
use halo2_base::halo2_proofs::poly::kzg::commitment::{KZGCommitmentScheme, ParamsKZG};
use halo2_base::halo2_proofs::poly::kzg::multiopen::{ProverSHPLONK, VerifierSHPLONK};
use halo2_base::halo2_proofs::poly::kzg::strategy::SingleStrategy;
use halo2_base::halo2_proofs::transcript::{
    Blake2bRead, Blake2bWrite, Challenge255, TranscriptReadBuffer, TranscriptWriterBuffer,
};
use halo2_base::halo2_proofs::SerdeFormat;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};
use zkattr_model::commit::EpochCommitments;
use zkattr_model::{Epoch, Settlement};

/// halo2-base advice columns a layout may use before it takes more rows instead.
pub const MAX_BASE_ADVICE: usize = 4;

/// The circuit sizes the prover picks from (query capacity; payee capacity is the same).
pub const HALO2_LADDER: [usize; 4] = [16, 64, 256, 1024];

/// Errors of the halo2 backend.
#[derive(Debug, thiserror::Error)]
pub enum Halo2Error {
    #[error("{0}")]
    Shape(String),
    #[error("the KZG parameters at {path}: {reason}")]
    Params { path: PathBuf, reason: String },
    #[error("key generation failed: {0}")]
    Keygen(String),
    #[error("the prover failed: {0}")]
    Prove(String),
    #[error("the proof does not verify: {0}")]
    Verify(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A shape's row count and halo2-base column layout.
#[derive(Clone, Debug)]
pub struct Layout {
    pub shape: Halo2Shape,
    pub k: usize,
    pub permutations: usize,
    pub base_cells: usize,
    pub params: BaseCircuitParams,
}

fn virtual_build(
    stage: CircuitBuilderStage,
    witness: &StatementWitness,
    k: usize,
) -> AttributionCircuit {
    let mut builder = BaseCircuitBuilder::from_stage(stage)
        .use_k(k)
        .use_lookup_bits(k - 1)
        .use_instance_columns(1);
    let permutations = build_statement(&mut builder, witness);
    AttributionCircuit {
        builder,
        permutations,
    }
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
                && base_cells.div_ceil(rows) <= MAX_BASE_ADVICE
                && lookups.div_ceil(rows) <= MAX_BASE_ADVICE;
            if fits || k >= 26 {
                let params = circuit.builder.calculate_params(Some(UNUSABLE_ROWS));
                return Layout {
                    shape,
                    k,
                    permutations: circuit.permutations.len(),
                    base_cells,
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
            "an epoch of {queries} queries and {payees} payees exceeds the largest halo2 circuit ({} queries); aggregation for the EVM path is not built yet",
            HALO2_LADDER[HALO2_LADDER.len() - 1]
        )));
    };
    Halo2Shape::new(capacity, capacity).map_err(Halo2Error::Shape)
}

/// Runs halo2's MockProver on `witness` against `instances`; `Err` lists what failed.
pub fn mock_prove(
    layout: &Layout,
    witness: &StatementWitness,
    instances: &[Fr],
) -> Result<(), String> {
    let mut circuit = virtual_build(CircuitBuilderStage::Mock, witness, layout.k);
    circuit.builder.calculate_params(Some(UNUSABLE_ROWS));
    let prover = MockProver::run(layout.k as u32, &circuit, vec![instances.to_vec()])
        .map_err(|e| format!("synthesis failed: {e:?}"))?;
    prover.verify().map_err(|failures| {
        let shown: Vec<String> = failures.iter().take(3).map(|f| format!("{f}")).collect();
        format!("{} failures, first: {}", failures.len(), shown.join("; "))
    })
}

/// KZG parameters and where they came from.
#[derive(Debug)]
pub struct KzgParams {
    pub params: ParamsKZG<Bn256>,
    /// `dev-unsafe` (generated from a public seed: anyone can forge proofs) or `file`.
    pub source: String,
    pub path: PathBuf,
    /// SHA-256 of the serialised parameters at this `k`.
    pub sha256: String,
}

/// The seed of development parameters. Public, so their toxic waste is known: never settle
/// anything proved with them.
const DEV_SEED: [u8; 32] = *b"zkattr dev params: UNSAFE, known";

/// The file name of parameters for `2^k` rows, in halo2's format.
pub fn params_file_name(k: usize) -> String {
    format!("kzg_bn254_{k}.srs")
}

fn read_params(path: &Path) -> Result<ParamsKZG<Bn256>, Halo2Error> {
    let bad = |reason: String| Halo2Error::Params {
        path: path.to_path_buf(),
        reason,
    };
    let mut file = std::io::BufReader::new(
        std::fs::File::open(path).map_err(|e| bad(format!("cannot open: {e}")))?,
    );
    ParamsKZG::<Bn256>::read(&mut file).map_err(|e| bad(format!("not halo2 KZG parameters: {e}")))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl KzgParams {
    /// Parameters for `2^k` rows from `dir`: `dir/kzg_bn254_{k}.srs`, or a larger file there cut
    /// down to `k` (real ceremony parameters, e.g. the Perpetual Powers of Tau in halo2 format).
    pub fn load(dir: &Path, k: usize) -> Result<Self, Halo2Error> {
        for bigger in k..=28 {
            let path = dir.join(params_file_name(bigger));
            if !path.exists() {
                continue;
            }
            let mut params = read_params(&path)?;
            if (params.k() as usize) < k {
                return Err(Halo2Error::Params {
                    path,
                    reason: format!("holds 2^{} rows, not 2^{k}", params.k()),
                });
            }
            params.downsize(k as u32);
            let mut bytes = Vec::new();
            params.write(&mut bytes)?;
            return Ok(KzgParams {
                params,
                source: "file".into(),
                path,
                sha256: sha256_hex(&bytes),
            });
        }
        Err(Halo2Error::Params {
            path: dir.join(params_file_name(k)),
            reason: "missing (put ceremony parameters there, or use development parameters)".into(),
        })
    }

    /// Deterministic development parameters for `2^k` rows, cached in `dir/dev-unsafe/`.
    /// UNSAFE: generated from a public seed.
    pub fn dev_unsafe(dir: &Path, k: usize) -> Result<Self, Halo2Error> {
        let dev_dir = dir.join("dev-unsafe");
        let path = dev_dir.join(params_file_name(k));
        let params = if path.exists() {
            read_params(&path)?
        } else {
            std::fs::create_dir_all(&dev_dir)?;
            let params = ParamsKZG::<Bn256>::setup(k as u32, ChaCha20Rng::from_seed(DEV_SEED));
            let temporary = path.with_extension(format!("tmp{}", std::process::id()));
            let mut file = std::io::BufWriter::new(std::fs::File::create(&temporary)?);
            params.write(&mut file)?;
            drop(file);
            std::fs::rename(&temporary, &path)?;
            params
        };
        let mut bytes = Vec::new();
        params.write(&mut bytes)?;
        Ok(KzgParams {
            params,
            source: "dev-unsafe".into(),
            path,
            sha256: sha256_hex(&bytes),
        })
    }
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
        let mut transcript = Blake2bWrite::<_, G1Affine, Challenge255<_>>::init(vec![]);
        create_proof::<
            KZGCommitmentScheme<Bn256>,
            ProverSHPLONK<'_, Bn256>,
            Challenge255<_>,
            _,
            Blake2bWrite<Vec<u8>, G1Affine, _>,
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

/// Checks a SHPLONK/Blake2b proof against a verifying key and SPEC's public inputs.
pub fn verify(
    params: &ParamsKZG<Bn256>,
    vk: &VerifyingKey<G1Affine>,
    proof: &[u8],
    instances: &[Fr],
) -> Result<(), Halo2Error> {
    let mut transcript = Blake2bRead::<_, G1Affine, Challenge255<_>>::init(proof);
    verify_proof::<
        KZGCommitmentScheme<Bn256>,
        VerifierSHPLONK<'_, Bn256>,
        Challenge255<G1Affine>,
        Blake2bRead<&[u8], G1Affine, Challenge255<G1Affine>>,
        SingleStrategy<'_, Bn256>,
    >(
        params.verifier_params(),
        vk,
        SingleStrategy::new(params),
        &[&[instances]],
        &mut transcript,
    )
    .map_err(|e| Halo2Error::Verify(format!("{e:?}")))
}

/// The serialised verifying key.
pub fn verifying_key_bytes(vk: &VerifyingKey<G1Affine>) -> Vec<u8> {
    vk.to_bytes(SerdeFormat::RawBytes)
}

/// Reads a verifying key written by [`verifying_key_bytes`] for a circuit laid out with `params`.
pub fn read_verifying_key(
    bytes: &[u8],
    params: BaseCircuitParams,
) -> std::io::Result<VerifyingKey<G1Affine>> {
    VerifyingKey::read::<_, KeyLayout>(&mut &bytes[..], SerdeFormat::RawBytes, params)
}

/// The pinned digest of a verifying key: SHA-256 over a domain string, the key's bytes and
/// halo2's transcript representation of it (which hashes the whole constraint system, gates
/// included, with the fixed commitments).
pub fn halo2_key_digest(vk: &VerifyingKey<G1Affine>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"zkattr-halo2-vk-v1");
    hasher.update(verifying_key_bytes(vk));
    hasher.update(format!("{:?}", vk.transcript_repr()).as_bytes());
    hex::encode(hasher.finalize())
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

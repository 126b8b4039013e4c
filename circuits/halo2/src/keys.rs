//! What both the prover and a verifier need of the halo2 backend, and nothing of the prover's:
//! KZG parameters (loading ceremony files, generating development ones), verifying-key
//! serialisation and digests, and proof verification (SHPLONK over KZG, Keccak EVM transcript).

use crate::circuit::KeyLayout;
use crate::poseidon::Fr;
use halo2_base::gates::circuit::BaseCircuitParams;
use halo2_base::halo2_proofs::halo2curves::bn256::{Bn256, G1Affine};
use halo2_base::halo2_proofs::plonk::{verify_proof, VerifyingKey};
use halo2_base::halo2_proofs::poly::commitment::{Params, ParamsProver};
use halo2_base::halo2_proofs::poly::kzg::commitment::{KZGCommitmentScheme, ParamsKZG};
use halo2_base::halo2_proofs::poly::kzg::multiopen::VerifierSHPLONK;
use halo2_base::halo2_proofs::poly::kzg::strategy::SingleStrategy;
use halo2_base::halo2_proofs::transcript::TranscriptReadBuffer;
use halo2_base::halo2_proofs::SerdeFormat;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sha2::{Digest as _, Sha256};
use snark_verifier::loader::native::NativeLoader;
use snark_verifier::system::halo2::transcript::evm::{ChallengeEvm, EvmTranscript};
use std::io::{Read as _, Seek as _};
use std::path::{Path, PathBuf};

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

/// The `kzg_source` of parameters read from a file (a ceremony's, e.g. imported from a `.ptau`
/// by `zkattr params import`), as opposed to `dev-unsafe`.
pub const FILE_SOURCE: &str = "file";

/// The source of development parameters: generated from a public seed, anyone can forge.
pub const DEV_UNSAFE_SOURCE: &str = "dev-unsafe";

/// The file in a parameter folder that lists each parameter file's sha256 and its source.
pub const MANIFEST_FILE: &str = "manifest.json";

/// The file in a parameter folder that pins the verifying-key digests of the project's circuits
/// under that folder's parameters: `{source: {shape: digest}}` (the project's
/// `params/halo2_vk_digests.json` has the same layout and is compiled into the verifier).
pub const PINS_FILE: &str = "halo2_vk_digests.json";

/// The seed of development parameters. Public, so their toxic waste is known: never settle
/// anything proved with them.
const DEV_SEED: [u8; 32] = *b"zkattr dev params: UNSAFE, known";

/// The file name of parameters for `2^k` rows, in halo2's format.
pub fn params_file_name(k: usize) -> String {
    format!("kzg_bn254_{k}.srs")
}

/// The length of halo2's raw parameter file for `2^k` rows: `k`, `2^k` G1 powers and their
/// Lagrange form (64 bytes each), then two G2 points (128 bytes each).
pub fn params_file_len(k: u32) -> u64 {
    4 + (2u64 << k) * 64 + 2 * 128
}

fn read_params(path: &Path) -> Result<ParamsKZG<Bn256>, Halo2Error> {
    let bad = |reason: String| Halo2Error::Params {
        path: path.to_path_buf(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| bad(format!("cannot open: {e}")))?;
    // halo2 reads the points unchecked and panics on a short file: check the length its `k`
    // implies first (which also bounds what a forged `k` would allocate).
    let len = file
        .metadata()
        .map_err(|e| bad(format!("cannot read its length: {e}")))?
        .len();
    let mut header = [0u8; 4];
    (&file)
        .read_exact(&mut header)
        .map_err(|e| bad(format!("no header: {e}")))?;
    let k = u32::from_le_bytes(header);
    if k > 28 || len != params_file_len(k) {
        return Err(bad(format!(
            "{len} bytes is not a halo2 parameter file for the 2^{k} rows its header states"
        )));
    }
    let mut file = std::io::BufReader::new(file);
    file.seek(std::io::SeekFrom::Start(0))?;
    ParamsKZG::<Bn256>::read(&mut file).map_err(|e| bad(format!("not halo2 KZG parameters: {e}")))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl KzgParams {
    /// Parameters for `2^k` rows from `dir`: `dir/kzg_bn254_{k}.srs`, or a larger file there cut
    /// down to `k` (real ceremony parameters, e.g. the Perpetual Powers of Tau in halo2 format).
    /// `Ok(None)` when there is no such file.
    pub fn load(dir: &Path, k: usize) -> Result<Option<Self>, Halo2Error> {
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
            return Ok(Some(KzgParams {
                params,
                source: FILE_SOURCE.into(),
                path,
                sha256: sha256_hex(&bytes),
            }));
        }
        Ok(None)
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
            source: DEV_UNSAFE_SOURCE.into(),
            path,
            sha256: sha256_hex(&bytes),
        })
    }
}

/// Checks a SHPLONK proof with the Keccak (EVM) transcript against a verifying key and SPEC's public inputs.
pub fn verify(
    params: &ParamsKZG<Bn256>,
    vk: &VerifyingKey<G1Affine>,
    proof: &[u8],
    instances: &[Fr],
) -> Result<(), Halo2Error> {
    let mut transcript =
        <EvmTranscript<G1Affine, NativeLoader, _, Vec<u8>> as TranscriptReadBuffer<_, _, _>>::init(
            proof,
        );
    verify_proof::<
        KZGCommitmentScheme<Bn256>,
        VerifierSHPLONK<'_, Bn256>,
        ChallengeEvm<G1Affine>,
        EvmTranscript<G1Affine, NativeLoader, &[u8], Vec<u8>>,
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

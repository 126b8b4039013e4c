//! Checking a halo2 bundle: the manifest's halo2 section, the verifying key against the pinned
//! digest, the payout table against the proven commitment (with the independent ark-bn254
//! implementation), the KZG parameters against the recorded hash, then the proof.

use crate::bn254::ArkBn254Family;
use crate::bundle::{check_table, guarded, read, BundleError, Verified, MAX_PROOF_FILE_BYTES};
use halo2_base::gates::circuit::BaseCircuitParams;
use halo2_base::halo2_proofs::halo2curves::bn256::G1Affine;
use halo2_base::halo2_proofs::plonk::VerifyingKey;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use zkattr_halo2::keys::{halo2_key_digest, read_verifying_key, verify, KzgParams};
use zkattr_halo2::poseidon::Fr;
use zkattr_halo2::Bn254Family;
use zkattr_model::bundle::{BundleManifest, PublicStatement};
use zkattr_model::CommitmentFamily;

/// SPEC's public inputs: one instance column of nine.
pub const BN254_PUBLIC_INPUTS: usize = 9;

/// The pinned verifying-key digests of the halo2 circuits, by parameter source and shape.
const PINNED_HALO2: &str = include_str!("../../params/halo2_vk_digests.json");

/// The pinned digest of the halo2 circuit of `shape` (e.g. `16x16`) under parameters from
/// `source` (`dev-unsafe`; ceremony parameters get their own entries once chosen).
pub fn pinned_halo2_digest(source: &str, shape: &str) -> Option<String> {
    let pinned: BTreeMap<String, BTreeMap<String, String>> =
        serde_json::from_str(PINNED_HALO2).ok()?;
    pinned.get(source)?.get(shape).cloned()
}

/// Where KZG parameters are read from: `ZKATTR_PARAMS_DIR`, else `./params`.
pub fn params_dir() -> PathBuf {
    std::env::var_os("ZKATTR_PARAMS_DIR").map_or_else(|| PathBuf::from("params"), PathBuf::from)
}

fn instances(statement: &PublicStatement) -> Result<Vec<Fr>, BundleError> {
    let digest = |name: &'static str, hex: &str| {
        Bn254Family::from_hex(hex).ok_or_else(|| {
            BundleError::Manifest(format!("{name} {hex:?} is not a BN254 field element"))
        })
    };
    Ok(vec![
        Fr::from(statement.epoch_id),
        Fr::from(u64::from(statement.rate_bps)),
        digest("activation_commitment", &statement.activation_commitment)?,
        digest("influence_commitment", &statement.influence_commitment)?,
        Fr::from(statement.n_queries),
        Fr::from(statement.total_pool),
        Fr::from(statement.total_paid),
        Fr::from(statement.treasury),
        digest("payout_commitment", &statement.payout_commitment)?,
    ])
}

/// Sizes no circuit of this statement comes near; above them halo2-base asserts (more than 3
/// phases, a lookup table above 2^28 or the circuit) or allocates without bound. The pinned key
/// digest fixes the real values; these bounds only keep a forged manifest from crashing the
/// verifier before that check.
fn check_circuit_params(params: &BaseCircuitParams) -> Result<(), String> {
    const PHASES: usize = 3;
    const COLUMNS: usize = 256;
    if !(MIN_K..=MAX_K).contains(&params.k) {
        return Err(format!("k = {} is outside {MIN_K}..={MAX_K}", params.k));
    }
    if params.num_instance_columns != 1 {
        return Err(format!(
            "{} instance columns (the statement has one)",
            params.num_instance_columns
        ));
    }
    let advice = &params.num_advice_per_phase;
    if advice.is_empty() || advice.len() > PHASES || advice.iter().any(|&n| n > COLUMNS) {
        return Err(format!(
            "advice columns per phase {advice:?} (1 to {PHASES} phases of at most {COLUMNS})"
        ));
    }
    let lookup = &params.num_lookup_advice_per_phase;
    if lookup.len() > PHASES || lookup.iter().any(|&n| n > COLUMNS) {
        return Err(format!(
            "lookup columns per phase {lookup:?} (at most {PHASES} phases of at most {COLUMNS})"
        ));
    }
    if params.num_fixed > COLUMNS {
        return Err(format!("{} fixed columns", params.num_fixed));
    }
    if let Some(bits) = params.lookup_bits {
        if bits == 0 || bits >= params.k {
            return Err(format!(
                "lookup_bits = {bits} (a lookup table needs 1 to k - 1 = {} bits)",
                params.k - 1
            ));
        }
    }
    Ok(())
}

/// The smallest and largest `k` accepted (the statement's layouts start at 2^12 rows; BN254's
/// two-adicity and the published ceremonies end near 2^26).
const MIN_K: usize = 8;
const MAX_K: usize = 26;

/// halo2's key header (version 2, `k` as u32 little-endian, the selector-compression flag) read
/// before the key itself: `VerifyingKey::read` builds a domain of `2^k` from the file's `k`
/// before anything is checked, and with compressed selectors allocates `2^k` per selector, so a
/// forged header would assert or allocate without bound.
fn check_key_header(bytes: &[u8], kzg_k: u32) -> Result<(), String> {
    let header = bytes
        .get(..6)
        .ok_or_else(|| format!("{} bytes is shorter than a key header", bytes.len()))?;
    if header[0] != 2 {
        return Err(format!("key format version {} (expected 2)", header[0]));
    }
    let k = u32::from_le_bytes([header[1], header[2], header[3], header[4]]);
    if k != kzg_k {
        return Err(format!(
            "the key is for 2^{k} rows, the bundle's kzg_k is {kzg_k}"
        ));
    }
    // With compression, halo2 allocates 2^k booleans per selector before reading any of them;
    // this statement's keys are written without it.
    if header[5] != 0 {
        return Err(format!(
            "selector compression flag {} (this statement's keys are written uncompressed: 0)",
            header[5]
        ));
    }
    Ok(())
}

/// A halo2 bundle whose manifest, verifying key (against the pinned digest), payout table and
/// KZG parameters have been checked; the proof itself has not.
pub struct Halo2Bundle {
    pub manifest: BundleManifest,
    pub vk: VerifyingKey<G1Affine>,
    pub proof: Vec<u8>,
    /// SPEC's nine public inputs, in order.
    pub instances: Vec<Fr>,
    pub params: KzgParams,
    pub n_payees: u64,
}

impl std::fmt::Debug for Halo2Bundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Halo2Bundle")
            .field("shape", &self.manifest.shape)
            .field("proof_len", &self.proof.len())
            .field("n_payees", &self.n_payees)
            .finish_non_exhaustive()
    }
}

/// Checks everything in a halo2 bundle but the proof, and returns what verifying it needs.
pub fn load_halo2_bundle(
    dir: &Path,
    params_dir: &Path,
    manifest: BundleManifest,
) -> Result<Halo2Bundle, BundleError> {
    if manifest.backend != "halo2" {
        return Err(BundleError::Backend(format!(
            "{} (a halo2 bundle is needed here)",
            manifest.backend
        )));
    }
    let section = manifest.halo2.clone().ok_or_else(|| {
        BundleError::Manifest("a halo2 bundle needs its \"halo2\" section".into())
    })?;
    let shape = manifest.shape.key();
    let pinned = pinned_halo2_digest(&section.kzg_source, &shape).ok_or_else(|| {
        BundleError::UnknownShape {
            backend: format!("halo2 ({} parameters)", section.kzg_source),
            shape: shape.clone(),
        }
    })?;
    if manifest.verifying_key_digest != pinned {
        return Err(BundleError::KeyDigest {
            shape,
            pinned,
            found: manifest.verifying_key_digest.clone(),
        });
    }
    let circuit_params: BaseCircuitParams = serde_json::from_value(section.circuit_params)
        .map_err(|e| BundleError::Manifest(format!("halo2.circuit_params: {e}")))?;
    if circuit_params.k != section.kzg_k as usize {
        return Err(BundleError::Manifest(format!(
            "halo2.circuit_params.k is {}, but kzg_k is {}",
            circuit_params.k, section.kzg_k
        )));
    }
    check_circuit_params(&circuit_params).map_err(|problem| {
        BundleError::Manifest(format!(
            "halo2.circuit_params do not describe this statement's circuit: {problem}"
        ))
    })?;
    let key_bytes = read(dir, &manifest.verifying_key_file, MAX_PROOF_FILE_BYTES)?;
    check_key_header(&key_bytes, section.kzg_k).map_err(BundleError::KeyFile)?;
    // Reading a key configures the circuit (halo2-base asserts on its parameters), so it runs
    // guarded even after the checks above.
    let vk = guarded("reading the verifying key", || {
        read_verifying_key(&key_bytes, circuit_params).map_err(|e| e.to_string())
    })
    .map_err(BundleError::KeyFile)?;
    let found = halo2_key_digest(&vk);
    if found != pinned {
        return Err(BundleError::KeyDigest {
            shape,
            pinned,
            found,
        });
    }
    let proof = read(dir, &manifest.proof_file, MAX_PROOF_FILE_BYTES)?;
    if proof.is_empty() || proof.len() > 1 << 20 {
        return Err(BundleError::ProofFile(format!(
            "{} bytes is not a halo2 proof of this circuit",
            proof.len()
        )));
    }
    let statement = manifest.public_inputs.clone();
    let instances = instances(&statement)?;
    debug_assert_eq!(instances.len(), BN254_PUBLIC_INPUTS);
    let n_payees = check_table(&ArkBn254Family, &manifest, &statement)?;

    let k = section.kzg_k as usize;
    let params = match section.kzg_source.as_str() {
        "dev-unsafe" => KzgParams::dev_unsafe(params_dir, k),
        "file" => KzgParams::load(params_dir, k).and_then(|p| {
            p.ok_or_else(|| zkattr_halo2::keys::Halo2Error::Params {
                path: params_dir.to_path_buf(),
                reason: format!("no kzg_bn254_{k}.srs (or larger) here"),
            })
        }),
        other => {
            return Err(BundleError::Params(format!(
                "unknown parameter source {other:?}"
            )))
        }
    }
    .map_err(|e| BundleError::Params(e.to_string()))?;
    if params.sha256 != section.kzg_sha256 {
        return Err(BundleError::Params(format!(
            "{} hashes to {}, but the proof was made with {}",
            params.path.display(),
            params.sha256,
            section.kzg_sha256
        )));
    }
    Ok(Halo2Bundle {
        manifest,
        vk,
        proof,
        instances,
        params,
        n_payees,
    })
}

/// Verifies a halo2 bundle whose manifest has been read.
pub fn verify_halo2_bundle(
    dir: &Path,
    params_dir: &Path,
    manifest: BundleManifest,
) -> Result<Verified, BundleError> {
    let b = load_halo2_bundle(dir, params_dir, manifest)?;
    guarded("verifying the proof", || {
        verify(&b.params.params, &b.vk, &b.proof, &b.instances).map_err(|e| e.to_string())
    })
    .map_err(BundleError::Proof)?;
    let section = b.manifest.halo2.as_ref();
    Ok(Verified {
        backend: b.manifest.backend.clone(),
        shape: b.manifest.shape.key(),
        statement: b.manifest.public_inputs.clone(),
        n_payees: b.n_payees,
        unsafe_params: section.is_some_and(|s| s.kzg_source == "dev-unsafe"),
    })
}

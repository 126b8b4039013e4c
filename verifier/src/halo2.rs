//! Checking a halo2 bundle: the declared setup against the caller's options, the manifest's
//! halo2 section, the verifying key against the pinned digest in its one accepted encoding,
//! the proof's length and encoding against the circuit, the payout table against the proven
//! commitment (with the independent ark-bn254 implementation), the KZG parameters against the
//! recorded hash, then the proof.

use crate::bn254::ArkBn254Family;
use crate::error::BundleError;
use crate::files::{guarded, read, MAX_PROOF_FILE_BYTES};
use crate::options::{Setup, VerifyOptions, DEV_UNSAFE_KZG, FILE_KZG};
use crate::statement::{check_table, Verified};
use halo2_base::gates::circuit::BaseCircuitParams;
use halo2_base::halo2_proofs::arithmetic::CurveAffine;
use halo2_base::halo2_proofs::halo2curves::bn256::{Fq, G1Affine};
use halo2_base::halo2_proofs::halo2curves::ff::PrimeField;
use halo2_base::halo2_proofs::plonk::VerifyingKey;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use zkattr_halo2::keys::{
    halo2_key_digest, read_verifying_key, verify, verifying_key_bytes, KzgParams, PINS_FILE,
};
use zkattr_halo2::poseidon::Fr;
use zkattr_halo2::Bn254Family;
use zkattr_model::bundle::{BundleManifest, PublicStatement};
use zkattr_model::CommitmentFamily;

/// SPEC's public inputs: one instance column of nine.
pub const BN254_PUBLIC_INPUTS: usize = 9;

/// The pinned verifying-key digests of the halo2 circuits, by parameter source and shape.
const PINNED_HALO2: &str = include_str!("../../params/halo2_vk_digests.json");

/// The pinned digest of the halo2 circuit of `shape` (e.g. `16x16`) under parameters from
/// `source`, compiled in (`dev-unsafe`; see [`pinned_halo2_digest_in`] for ceremony parameters).
pub fn pinned_halo2_digest(source: &str, shape: &str) -> Option<String> {
    let pinned: BTreeMap<String, BTreeMap<String, String>> =
        serde_json::from_str(PINNED_HALO2).ok()?;
    pinned.get(source)?.get(shape).cloned()
}

/// Pins files are a few lines per shape.
const MAX_PINS_FILE_BYTES: u64 = 1 << 20;

/// The pinned digest of the halo2 circuit of `shape` for a bundle whose parameters from `source`
/// are read from `params_dir`. Ceremony (`file`) parameters are pinned beside themselves, in
/// `params_dir/halo2_vk_digests.json` (written by `zkattr params import`), when that file
/// exists: the folder that supplies the parameters is already trusted for the setup. Otherwise,
/// and always for `dev-unsafe`, the compiled-in pins apply.
pub fn pinned_halo2_digest_in(
    params_dir: &Path,
    source: &str,
    shape: &str,
) -> Result<Option<String>, BundleError> {
    if source == FILE_KZG && std::fs::symlink_metadata(params_dir.join(PINS_FILE)).is_ok() {
        let bytes = read(params_dir, PINS_FILE, MAX_PINS_FILE_BYTES)?;
        let pinned: BTreeMap<String, BTreeMap<String, String>> = serde_json::from_slice(&bytes)
            .map_err(|e| {
                BundleError::Params(format!(
                    "{}: not a pins file ({{source: {{shape: digest}}}}): {e}",
                    params_dir.join(PINS_FILE).display()
                ))
            })?;
        return Ok(pinned.get(source).and_then(|s| s.get(shape)).cloned());
    }
    Ok(pinned_halo2_digest(source, shape))
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

/// Bytes of one G1 point in the Keccak (EVM) transcript: x then y, 32 bytes big-endian each.
const POINT_BYTES: usize = 64;
/// Bytes of one scalar in that transcript: 32 bytes big-endian.
const SCALAR_BYTES: usize = 32;

/// Where a SHPLONK proof of one circuit (one proof, instances not committed: KZG) holds its
/// points and scalars, in the order halo2's verifier reads them: the commitments (advice
/// columns, each lookup's permuted input and table, the permutation products, each lookup's
/// product, the vanishing argument's random polynomial and quotient pieces), the evaluations
/// (advice and fixed queries, the random polynomial, the permutation columns, each permutation
/// product at x and ωx and all but the last at the last row, five per lookup), then SHPLONK's
/// two points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProofLayout {
    /// Points before the evaluations.
    pub commitments: usize,
    /// Scalars after them.
    pub evaluations: usize,
    /// Points at the end (the multi-opening argument).
    pub opening: usize,
}

impl ProofLayout {
    /// The layout of a proof for `vk`.
    pub fn of(vk: &VerifyingKey<G1Affine>) -> Self {
        let cs = vk.cs();
        let lookups = cs.lookups().len();
        let permuted = vk.permutation().commitments().len();
        // Permutation columns are grouped so that each product's constraint stays within the
        // circuit's degree (halo2: chunks of degree - 2 columns).
        let products = permuted.div_ceil(cs.degree().saturating_sub(2).max(1));
        ProofLayout {
            commitments: cs.num_advice_columns()
                + 2 * lookups
                + products
                + lookups
                + 1
                + vk.get_domain().get_quotient_poly_degree(),
            evaluations: cs.advice_queries().len()
                + cs.fixed_queries().len()
                + 1
                + permuted
                + (3 * products).saturating_sub(1)
                + 5 * lookups,
            opening: 2,
        }
    }

    /// The proof's length in bytes: every proof of the circuit has exactly this many.
    pub fn byte_len(&self) -> usize {
        (self.commitments + self.opening) * POINT_BYTES + self.evaluations * SCALAR_BYTES
    }

    /// Checks the length, then that every point and scalar has its one encoding: coordinates
    /// and scalars below their moduli, points on the curve (the identity as (0, 0)). Runs
    /// before any cryptography.
    pub fn check(&self, proof: &[u8]) -> Result<(), BundleError> {
        if proof.len() != self.byte_len() {
            return Err(BundleError::ProofLength {
                found: proof.len(),
                expected: self.byte_len(),
            });
        }
        let (commitments, rest) = proof.split_at(self.commitments * POINT_BYTES);
        let (evaluations, opening) = rest.split_at(self.evaluations * SCALAR_BYTES);
        let points = commitments.chunks_exact(POINT_BYTES).enumerate().chain(
            opening
                .chunks_exact(POINT_BYTES)
                .enumerate()
                .map(|(i, p)| (self.commitments + i, p)),
        );
        for (i, point) in points {
            check_point(point).map_err(|problem| {
                BundleError::ProofFile(format!(
                    "point {i} (byte {}) {problem}",
                    point_offset(self, i)
                ))
            })?;
        }
        for (i, scalar) in evaluations.chunks_exact(SCALAR_BYTES).enumerate() {
            if canonical::<Fr>(scalar).is_none() {
                return Err(BundleError::ProofFile(format!(
                    "scalar {i} (byte {}) is not below the BN254 scalar field modulus",
                    self.commitments * POINT_BYTES + i * SCALAR_BYTES
                )));
            }
        }
        Ok(())
    }
}

/// The byte offset of point `i` (commitments first, then the opening after the evaluations).
fn point_offset(layout: &ProofLayout, i: usize) -> usize {
    if i < layout.commitments {
        i * POINT_BYTES
    } else {
        i * POINT_BYTES + layout.evaluations * SCALAR_BYTES
    }
}

/// The field element whose 32 big-endian bytes are `bytes`, if below the modulus.
fn canonical<P: PrimeField<Repr = [u8; 32]>>(bytes: &[u8]) -> Option<P> {
    let mut repr: [u8; 32] = bytes.try_into().ok()?;
    repr.reverse();
    Option::from(P::from_repr(repr))
}

fn check_point(bytes: &[u8]) -> Result<(), &'static str> {
    let x = canonical::<Fq>(&bytes[..32]).ok_or("has x not below the base field modulus")?;
    let y = canonical::<Fq>(&bytes[32..]).ok_or("has y not below the base field modulus")?;
    Option::<G1Affine>::from(G1Affine::from_xy(x, y))
        .map(|_| ())
        .ok_or("is not on the curve")
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
    /// The setup the proof was made under (unsafe only if the options allowed it).
    pub setup: Setup,
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

/// Checks everything in a halo2 bundle but the proof's cryptography (its setup against
/// `options` first), and returns what verifying it needs.
pub fn load_halo2_bundle(
    dir: &Path,
    params_dir: &Path,
    manifest: BundleManifest,
    options: &VerifyOptions,
) -> Result<Halo2Bundle, BundleError> {
    if manifest.backend != "halo2" {
        return Err(BundleError::Backend(format!(
            "{} (a halo2 bundle is needed here)",
            manifest.backend
        )));
    }
    let setup = options.check_setup(&manifest)?;
    let section = manifest.halo2.clone().ok_or_else(|| {
        BundleError::Manifest("a halo2 bundle needs its \"halo2\" section".into())
    })?;
    let shape = manifest.shape.key();
    let pinned =
        pinned_halo2_digest_in(params_dir, &section.kzg_source, &shape)?.ok_or_else(|| {
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
    // One encoding per key: halo2 stops reading where the key ends (bytes appended to the
    // file would go unread), and the digest is of the key as read.
    if verifying_key_bytes(&vk) != key_bytes {
        return Err(BundleError::KeyFile(
            "not in canonical encoding (bytes after the key, or a value written otherwise than \
             halo2 writes it)"
                .into(),
        ));
    }
    let found = halo2_key_digest(&vk);
    if found != pinned {
        return Err(BundleError::KeyDigest {
            shape,
            pinned,
            found,
        });
    }
    let proof = read(dir, &manifest.proof_file, MAX_PROOF_FILE_BYTES)?;
    // One encoding per proof: the transcript stops reading where the proof ends, so the
    // length is fixed by the circuit and checked here, with every element's encoding.
    ProofLayout::of(&vk).check(&proof)?;
    let statement = manifest.public_inputs.clone();
    let instances = instances(&statement)?;
    debug_assert_eq!(instances.len(), BN254_PUBLIC_INPUTS);
    let n_payees = check_table(&ArkBn254Family, &manifest, &statement)?;

    let k = section.kzg_k as usize;
    let params = match section.kzg_source.as_str() {
        DEV_UNSAFE_KZG => KzgParams::dev_unsafe(params_dir, k),
        FILE_KZG => KzgParams::load(params_dir, k).and_then(|p| {
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
        setup,
    })
}

/// Verifies a halo2 bundle whose manifest has been read, under `options`.
pub fn verify_halo2_bundle(
    dir: &Path,
    params_dir: &Path,
    manifest: BundleManifest,
    options: &VerifyOptions,
) -> Result<Verified, BundleError> {
    let b = load_halo2_bundle(dir, params_dir, manifest, options)?;
    guarded("verifying the proof", || {
        verify(&b.params.params, &b.vk, &b.proof, &b.instances).map_err(|e| e.to_string())
    })
    .map_err(BundleError::Proof)?;
    Ok(Verified {
        backend: b.manifest.backend.clone(),
        shape: b.manifest.shape.key(),
        statement: b.manifest.public_inputs.clone(),
        n_payees: b.n_payees,
        setup: b.setup,
    })
}

//! Checking a proof bundle: shape first (manifest, key digest against the pinned one, public
//! input count and values, payout table against the claimed commitment and totals), then the
//! proof itself.

use crate::goldilocks::GoldilocksTwin;
use plonky2::field::goldilocks_field::GoldilocksField as F;
use plonky2::field::types::PrimeField64;
use plonky2::plonk::circuit_data::VerifierCircuitData;
use plonky2::plonk::config::PoseidonGoldilocksConfig;
use plonky2::plonk::proof::ProofWithPublicInputs;
use std::collections::BTreeMap;
use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Component, Path};
use thiserror::Error;
use zkattr_model::bundle::{BundleManifest, PublicStatement, BUNDLE_VERSION};
use zkattr_model::commit::payout_commitment;
use zkattr_model::CommitmentFamily;
use zkattr_plonky2_gates::AttributionGateSerializer;

const D: usize = 2;
type C = PoseidonGoldilocksConfig;
/// SPEC's public inputs in the Goldilocks encoding.
pub const GOLDILOCKS_PUBLIC_INPUTS: usize = 22;
/// Largest `bundle.json` read: a payout table of 2^20 entries is about 100 MB.
pub const MAX_MANIFEST_BYTES: u64 = 256 << 20;
/// Largest proof or verifying-key file read (the bundles here hold proofs under 1 MB; a halo2
/// key of 2^26 rows with its selectors is the largest key).
pub const MAX_PROOF_FILE_BYTES: u64 = 64 << 20;

/// The pinned verifying-key digests of the plonky2 statement circuits, by shape.
const PINNED_PLONKY2: &str = include_str!("../../params/plonky2_vk_digests.json");

/// Why a bundle was not accepted. Each names what is wrong.
#[derive(Debug, Error)]
pub enum BundleError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is larger than the {limit} bytes a bundle file may have")]
    FileTooLarge { path: String, limit: u64 },
    #[error("bundle.json is malformed: {0}")]
    Manifest(String),
    #[error("bundle version {0} is not supported (this verifier reads version {BUNDLE_VERSION})")]
    Version(u32),
    #[error("backend {0:?} is not supported by this verifier")]
    Backend(String),
    #[error("no pinned verifying key for a {backend} circuit of shape {shape}")]
    UnknownShape { backend: String, shape: String },
    #[error("verifying key digest {found} is not the pinned {pinned} for shape {shape}")]
    KeyDigest {
        shape: String,
        pinned: String,
        found: String,
    },
    #[error("the verifying key file is malformed: {0}")]
    KeyFile(String),
    #[error("the circuit has {0} public inputs; the statement has {GOLDILOCKS_PUBLIC_INPUTS}")]
    PublicInputCount(usize),
    #[error("public input {index} of the proof is {value}, out of range for {what}")]
    PublicInputRange {
        index: usize,
        value: u64,
        what: &'static str,
    },
    #[error("the proof file is malformed: {0}")]
    ProofFile(String),
    #[error("public input {name} is {proven} in the proof but {claimed} in bundle.json")]
    PublicInput {
        name: &'static str,
        proven: String,
        claimed: String,
    },
    #[error("payout table: {0}")]
    PayoutTable(String),
    #[error("the proof does not verify: {0}")]
    Proof(String),
    #[error("KZG parameters: {0}")]
    Params(String),
}

/// What a verified bundle proves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub backend: String,
    pub shape: String,
    pub statement: PublicStatement,
    pub n_payees: u64,
    /// The proof was made with development KZG parameters (public toxic waste): it proves
    /// nothing to anyone else. Never settle on it.
    pub unsafe_params: bool,
}

/// Reads the bundle file `name` of `dir`: a plain file name (the manifest names files, and a
/// path could leave the folder), a regular file, at most `limit` bytes.
pub(crate) fn read(dir: &Path, name: &str, limit: u64) -> Result<Vec<u8>, BundleError> {
    let mut components = Path::new(name).components();
    if !matches!(
        (components.next(), components.next()),
        (Some(Component::Normal(_)), None)
    ) {
        return Err(BundleError::Manifest(format!(
            "{name:?} is not the name of a file in the bundle folder"
        )));
    }
    let path = dir.join(name);
    let failed = |source| BundleError::Read {
        path: path.display().to_string(),
        source,
    };
    // Checked before opening: opening a FIFO blocks, and a symbolic link could lead out of
    // the folder. (The prover writes regular files only.)
    let kind = std::fs::symlink_metadata(&path)
        .map_err(failed)?
        .file_type();
    if !kind.is_file() {
        let what = if kind.is_symlink() {
            "a symbolic link, not a regular file"
        } else {
            "not a regular file"
        };
        return Err(failed(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            what,
        )));
    }
    let file = std::fs::File::open(&path).map_err(failed)?;
    let metadata = file.metadata().map_err(failed)?;
    let too_large = || BundleError::FileTooLarge {
        path: path.display().to_string(),
        limit,
    };
    if metadata.len() > limit {
        return Err(too_large());
    }
    // The size can change between the check and the read: the read is bounded too.
    read_at_most(file, limit)
        .map_err(failed)?
        .ok_or_else(too_large)
}

/// All of `reader` if it holds at most `limit` bytes, `None` if more (never reading past
/// `limit + 1`).
pub(crate) fn read_at_most(reader: impl Read, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    reader.take(limit + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

/// Runs a deserializer or verifier of a dependency on untrusted bytes: some of their checks are
/// assertions (plonky2 reads field elements with a `debug_assert!` that they are canonical), so
/// a panic is turned into `error` with its message instead of ending the process.
pub(crate) fn guarded<T>(what: &str, run: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(result) => result,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            Err(format!("{what} failed on malformed input: {message}"))
        }
    }
}

/// The digest pinned for a verifying key (the prover writes it with this same function):
/// Poseidon over the whole serialised key (its length,
/// then 7 bytes per element), so the gates and FRI configuration are pinned too, not only the
/// constants that plonky2's own `circuit_digest` covers.
pub fn verifying_key_digest(bytes: &[u8]) -> String {
    use plonky2::field::types::Field;
    use plonky2::plonk::config::Hasher;
    let mut message = vec![F::from_canonical_usize(bytes.len())];
    message.extend(bytes.chunks(7).map(|chunk| {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        F::from_canonical_u64(u64::from_le_bytes(word))
    }));
    GoldilocksTwin::to_hex(&plonky2::hash::poseidon::PoseidonHash::hash_no_pad(
        &message,
    ))
}

/// The pinned digest of a plonky2 statement circuit of `shape` (e.g. `64x64`).
pub fn pinned_plonky2_digest(shape: &str) -> Option<String> {
    let pinned: BTreeMap<String, String> = serde_json::from_str(PINNED_PLONKY2).ok()?;
    pinned.get(shape).cloned()
}

/// Reads the 22 public inputs back into SPEC's printed form.
fn statement_of(fields: &[F]) -> Result<PublicStatement, BundleError> {
    if fields.len() != GOLDILOCKS_PUBLIC_INPUTS {
        return Err(BundleError::PublicInputCount(fields.len()));
    }
    let v: Vec<u64> = fields.iter().map(|f| f.to_canonical_u64()).collect();
    let range = |index: usize, what| BundleError::PublicInputRange {
        index,
        value: v[index],
        what,
    };
    let u64_at = |i: usize| {
        for limb in [i, i + 1] {
            if v[limb] >> 32 != 0 {
                return Err(range(limb, "a 32-bit limb"));
            }
        }
        Ok(v[i] | v[i + 1] << 32)
    };
    let digest = |i: usize| {
        GoldilocksTwin::to_hex(&plonky2::hash::hash_types::HashOut {
            elements: [fields[i], fields[i + 1], fields[i + 2], fields[i + 3]],
        })
    };
    Ok(PublicStatement {
        epoch_id: u64_at(0)?,
        rate_bps: u16::try_from(v[2]).map_err(|_| range(2, "rate_bps"))?,
        activation_commitment: digest(3),
        influence_commitment: digest(7),
        n_queries: v[11],
        total_pool: u64_at(12)?,
        total_paid: u64_at(14)?,
        treasury: u64_at(16)?,
        payout_commitment: digest(18),
    })
}

pub(crate) fn compare(
    proven: &PublicStatement,
    claimed: &PublicStatement,
) -> Result<(), BundleError> {
    let fields: [(&'static str, String, String); 9] = [
        (
            "epoch_id",
            proven.epoch_id.to_string(),
            claimed.epoch_id.to_string(),
        ),
        (
            "rate_bps",
            proven.rate_bps.to_string(),
            claimed.rate_bps.to_string(),
        ),
        (
            "activation_commitment",
            proven.activation_commitment.clone(),
            claimed.activation_commitment.clone(),
        ),
        (
            "influence_commitment",
            proven.influence_commitment.clone(),
            claimed.influence_commitment.clone(),
        ),
        (
            "n_queries",
            proven.n_queries.to_string(),
            claimed.n_queries.to_string(),
        ),
        (
            "total_pool",
            proven.total_pool.to_string(),
            claimed.total_pool.to_string(),
        ),
        (
            "total_paid",
            proven.total_paid.to_string(),
            claimed.total_paid.to_string(),
        ),
        (
            "treasury",
            proven.treasury.to_string(),
            claimed.treasury.to_string(),
        ),
        (
            "payout_commitment",
            proven.payout_commitment.clone(),
            claimed.payout_commitment.clone(),
        ),
    ];
    for (name, proven, claimed) in fields {
        if proven != claimed {
            return Err(BundleError::PublicInput {
                name,
                proven,
                claimed,
            });
        }
    }
    Ok(())
}

/// Checks the payout table against the proven statement: same public values, amounts that add
/// up, payees in strictly increasing order, and a payout commitment that opens to the table.
pub(crate) fn check_table<Family: CommitmentFamily>(
    family: &Family,
    manifest: &BundleManifest,
    proven: &PublicStatement,
) -> Result<u64, BundleError> {
    let table = &manifest.payouts;
    compare(proven, &PublicStatement::from_report(table))?;
    let err = |m: String| Err(BundleError::PayoutTable(m));
    if table.family != Family::NAME {
        return err(format!(
            "family {} does not match the {} backend",
            table.family, manifest.backend
        ));
    }
    let mut paid: u128 = 0;
    let mut previous = 0u32;
    for (i, entry) in table.payouts.iter().enumerate() {
        if entry.adapter_id <= previous {
            return err(format!(
                "entry {i}: adapter {} does not follow adapter {previous} in increasing order",
                entry.adapter_id
            ));
        }
        previous = entry.adapter_id;
        paid += u128::from(entry.amount);
    }
    if paid != u128::from(table.total_paid) {
        return err(format!(
            "amounts add up to {paid}, not total_paid {}",
            table.total_paid
        ));
    }
    if u128::from(table.total_paid) + u128::from(table.treasury) != u128::from(table.total_pool) {
        return err("total_paid + treasury is not total_pool".into());
    }
    if table.n_payees != table.payouts.len() as u64 {
        return err(format!(
            "n_payees {} but {} entries",
            table.n_payees,
            table.payouts.len()
        ));
    }
    if table.n_payees > manifest.shape.payees {
        return err(format!(
            "{} payees, but the circuit of shape {} lists at most {}",
            table.n_payees,
            manifest.shape.key(),
            manifest.shape.payees
        ));
    }
    let payouts = table.payout_list();
    let commitment =
        payout_commitment(family, &payouts).map_err(|e| BundleError::PayoutTable(e.to_string()))?;
    let hex = Family::to_hex(&commitment);
    if hex != proven.payout_commitment {
        return err(format!(
            "the entries hash to {hex}, not the proven payout commitment {}",
            proven.payout_commitment
        ));
    }
    Ok(table.n_payees)
}

/// Verifies the bundle in `dir`; a halo2 bundle's KZG parameters come from
/// [`crate::halo2::params_dir`].
pub fn verify_bundle(dir: &Path) -> Result<Verified, BundleError> {
    verify_bundle_with_params(dir, &crate::halo2::params_dir())
}

/// Verifies the bundle in `dir`, reading halo2 KZG parameters from `params_dir`.
pub fn verify_bundle_with_params(dir: &Path, params_dir: &Path) -> Result<Verified, BundleError> {
    let manifest = crate::audit::read_manifest(dir)?;
    match manifest.backend.as_str() {
        "plonky2" => {}
        "halo2" => return crate::halo2::verify_halo2_bundle(dir, params_dir, manifest),
        _ => return Err(BundleError::Backend(manifest.backend)),
    }
    let shape = manifest.shape.key();
    // An aggregated proof's capacity follows from its layout; a manifest claiming another
    // is inconsistent (the key, hence the pinned digest, only names the layout).
    if let Some(layout) = manifest.shape.aggregation {
        let capacity = 1u64
            .checked_shl(layout.levels)
            .and_then(|n| n.checked_mul(layout.batch));
        if capacity != Some(manifest.shape.queries) {
            return Err(BundleError::Manifest(format!(
                "shape {shape} holds batch·2^levels queries, not {}",
                manifest.shape.queries
            )));
        }
    }
    let pinned = pinned_plonky2_digest(&shape).ok_or_else(|| BundleError::UnknownShape {
        backend: manifest.backend.clone(),
        shape: shape.clone(),
    })?;
    let key_bytes = read(dir, &manifest.verifying_key_file, MAX_PROOF_FILE_BYTES)?;
    let found = verifying_key_digest(&key_bytes);
    if found != pinned || manifest.verifying_key_digest != pinned {
        return Err(BundleError::KeyDigest {
            shape,
            pinned,
            found,
        });
    }
    // The key is the pinned one, byte for byte: parsing it cannot fail unless this build's
    // gate serializer disagrees with the prover's.
    let key = guarded("reading the verifying key", || {
        VerifierCircuitData::<F, C, D>::from_bytes(key_bytes, &AttributionGateSerializer)
            .map_err(|e| format!("{e:?}"))
    })
    .map_err(BundleError::KeyFile)?;
    if key.common.num_public_inputs != GOLDILOCKS_PUBLIC_INPUTS {
        return Err(BundleError::PublicInputCount(key.common.num_public_inputs));
    }
    let proof_bytes = read(dir, &manifest.proof_file, MAX_PROOF_FILE_BYTES)?;
    let proof = guarded("reading the proof", || {
        ProofWithPublicInputs::<F, C, D>::from_bytes(proof_bytes.clone(), &key.common)
            .map_err(|e| format!("{e:?}"))
    })
    .map_err(BundleError::ProofFile)?;
    // One encoding per proof: plonky2's reader accepts trailing bytes and, in release builds,
    // field elements at or above p, which would make proof bytes malleable.
    if proof.to_bytes() != proof_bytes {
        return Err(BundleError::ProofFile(
            "not in canonical encoding (trailing bytes, or a field element at or above the \
             Goldilocks modulus)"
                .into(),
        ));
    }
    let proven = statement_of(&proof.public_inputs)?;
    compare(&proven, &manifest.public_inputs)?;
    let n_payees = check_table(&GoldilocksTwin, &manifest, &proven)?;
    guarded("verifying the proof", || {
        key.verify(proof).map_err(|e| e.to_string())
    })
    .map_err(BundleError::Proof)?;
    Ok(Verified {
        backend: manifest.backend,
        shape,
        statement: proven,
        n_payees,
        unsafe_params: false,
    })
}

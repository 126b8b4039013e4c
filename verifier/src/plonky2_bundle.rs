//! Checking a plonky2 bundle: the verifying key against the pinned digest, the proof's
//! encoding and public inputs, the payout table against the proven commitment (with the
//! verifier's Goldilocks twin), then the proof.

use crate::error::BundleError;
use crate::files::{guarded, read, MAX_PROOF_FILE_BYTES};
use crate::goldilocks::GoldilocksTwin;
use crate::options::Setup;
use crate::statement::{check_table, compare, Verified};
use plonky2::field::goldilocks_field::GoldilocksField as F;
use plonky2::field::types::PrimeField64;
use plonky2::plonk::circuit_data::VerifierCircuitData;
use plonky2::plonk::config::PoseidonGoldilocksConfig;
use plonky2::plonk::proof::ProofWithPublicInputs;
use std::collections::BTreeMap;
use std::path::Path;
use zkattr_model::bundle::{BundleManifest, PublicStatement};
use zkattr_model::CommitmentFamily;
use zkattr_plonky2_gates::{verifying_key_digest, AttributionGateSerializer};

const D: usize = 2;
type C = PoseidonGoldilocksConfig;
/// SPEC's public inputs in the Goldilocks encoding.
pub const GOLDILOCKS_PUBLIC_INPUTS: usize = 22;

/// The pinned verifying-key digests of the plonky2 statement circuits, by shape.
const PINNED_PLONKY2: &str = include_str!("../../params/plonky2_vk_digests.json");

/// The pinned digest of a plonky2 statement circuit of `shape` (e.g. `64x64`).
pub fn pinned_plonky2_digest(shape: &str) -> Option<String> {
    let pinned: BTreeMap<String, String> = serde_json::from_str(PINNED_PLONKY2).ok()?;
    pinned.get(shape).cloned()
}

/// Reads the 22 public inputs back into SPEC's printed form.
fn statement_of(fields: &[F]) -> Result<PublicStatement, BundleError> {
    if fields.len() != GOLDILOCKS_PUBLIC_INPUTS {
        return Err(BundleError::PublicInputCount {
            found: fields.len(),
            expected: GOLDILOCKS_PUBLIC_INPUTS,
        });
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

/// Verifies a plonky2 bundle whose manifest has been read.
pub fn verify_plonky2_bundle(
    dir: &Path,
    manifest: BundleManifest,
) -> Result<Verified, BundleError> {
    if manifest.backend != "plonky2" {
        return Err(BundleError::Backend(format!(
            "{} (a plonky2 bundle is needed here)",
            manifest.backend
        )));
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
    // The digest covers the file's bytes and its length: a key with bytes appended or changed
    // is not the pinned one.
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
        return Err(BundleError::PublicInputCount {
            found: key.common.num_public_inputs,
            expected: GOLDILOCKS_PUBLIC_INPUTS,
        });
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
        setup: Setup::Transparent,
    })
}

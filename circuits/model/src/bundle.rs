//! The proof bundle's manifest: what `zkattr prove` writes beside the proof, and what the
//! verifier reads first. Backend-neutral and free of proof-system types, so the verifier can
//! check a bundle's shape before it touches any cryptography.

use crate::report::PayoutReport;
use serde::{Deserialize, Serialize};

/// The manifest's file name in a bundle folder.
pub const MANIFEST: &str = "bundle.json";
/// The current manifest version.
pub const BUNDLE_VERSION: u32 = 1;

/// `bundle.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleManifest {
    pub version: u32,
    /// `plonky2` or `halo2`.
    pub backend: String,
    /// The circuit's capacities.
    pub shape: BundleShape,
    /// Digest of the verifying key (plonky2: the circuit digest), 0x-hex.
    pub verifying_key_digest: String,
    /// File names inside the bundle folder.
    pub proof_file: String,
    pub verifying_key_file: String,
    /// SPEC's public inputs, as the payout table prints them.
    pub public_inputs: PublicStatement,
    /// The payout table the proof's payout commitment opens to.
    pub payouts: PayoutReport,
    /// Seconds spent proving, for the record.
    pub prove_seconds: f64,
    /// halo2 bundles only: what reading the key and checking the proof needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub halo2: Option<Halo2Section>,
}

/// The halo2-specific part of a bundle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Halo2Section {
    /// halo2-base's column layout (`BaseCircuitParams`) the verifying key was made for.
    pub circuit_params: serde_json::Value,
    /// The KZG parameters: rows `2^k`, where they came from (`dev-unsafe`: generated from a
    /// public seed, so anyone can forge proofs; `file`: read from a ceremony file), and the
    /// SHA-256 of their serialised form.
    pub kzg_k: u32,
    pub kzg_source: String,
    pub kzg_sha256: String,
}

/// A circuit's capacities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleShape {
    /// Queries the proof can hold (for an aggregated proof: `batch · 2^levels`).
    pub queries: u64,
    pub payees: u64,
    /// Aggregated plonky2 proofs only: how the final proof was built from batches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregation: Option<AggregationLayout>,
}

/// The tree of an aggregated proof: batch proofs of `batch` queries merged over `levels`
/// levels, and the payout list either in the final circuit or, with `chunk`, in chunk proofs
/// of `chunk` entries each that the final circuit verifies. The final circuit pins every
/// circuit below it, so one digest per layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregationLayout {
    pub batch: u64,
    pub levels: u32,
    /// Entries per payout-list chunk proof; absent when the final circuit holds the list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk: Option<u64>,
}

impl BundleShape {
    /// A single-proof circuit's shape.
    pub fn single(queries: u64, payees: u64) -> Self {
        BundleShape {
            queries,
            payees,
            aggregation: None,
        }
    }

    /// The key used for pinned verifying-key digests: `64x64` for a single-proof circuit,
    /// `agg-b4-t2-p8` for batches of 4 merged over 2 levels with room for 8 payees,
    /// `agg-b2048-t9-p65536-c16384` when that list is proved in chunks of 16,384.
    pub fn key(&self) -> String {
        match self.aggregation {
            None => format!("{}x{}", self.queries, self.payees),
            Some(a) => {
                let chunks = a.chunk.map(|c| format!("-c{c}")).unwrap_or_default();
                format!("agg-b{}-t{}-p{}{chunks}", a.batch, a.levels, self.payees)
            }
        }
    }
}

/// SPEC's public inputs in their printed form (commitments as the family's hex).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicStatement {
    pub epoch_id: u64,
    pub rate_bps: u16,
    pub activation_commitment: String,
    pub influence_commitment: String,
    pub n_queries: u64,
    pub total_pool: u64,
    pub total_paid: u64,
    pub treasury: u64,
    pub payout_commitment: String,
}

impl PublicStatement {
    /// The public inputs a payout table claims.
    pub fn from_report(report: &PayoutReport) -> Self {
        PublicStatement {
            epoch_id: report.epoch_id,
            rate_bps: report.rate_bps,
            activation_commitment: report.activation_commitment.clone(),
            influence_commitment: report.influence_commitment.clone(),
            n_queries: report.n_queries,
            total_pool: report.total_pool,
            total_paid: report.total_paid,
            treasury: report.treasury,
            payout_commitment: report.payout_commitment.clone(),
        }
    }
}

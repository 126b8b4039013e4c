//! The commitment structure SPEC defines, generic over a hash family.
//!
//! A family (BN254 Poseidon, Goldilocks Poseidon, or the verifier's independent twin) says how a
//! leaf and a commitment hash; this module owns the trees, their depths and the order of leaves,
//! so every family commits to the same structure.

use crate::merkle::{self, MerkleError, MerklePath, MerkleTree, TreeHasher};
use crate::rule::{Payout, Settlement};
use crate::types::{Epoch, Query, LOG_TREE_DEPTH, PAYOUT_TREE_DEPTH};
use rayon::prelude::*;

/// Domain tags of SPEC's leaves and commitments.
pub mod tag {
    pub const ACTIVATION_LEAF: u64 = 1;
    pub const INFLUENCE_LEAF: u64 = 2;
    pub const PAYOUT_COMMITMENT: u64 = 3;
    pub const LOG_COMMITMENT: u64 = 4;
}

/// A hash family: how SPEC's leaves and commitments are hashed in one field.
pub trait CommitmentFamily: TreeHasher {
    /// The name used on the command line and in reports (`bn254`, `goldilocks`).
    const NAME: &'static str;
    fn activation_leaf(&self, query: &Query) -> Self::Digest;
    fn influence_leaf(&self, query: &Query) -> Self::Digest;
    fn payout_leaf(&self, payout: &Payout) -> Self::Digest;
    /// `H(tag, root, count)`: a log commitment (tag 4) or the payout commitment (tag 3).
    fn commitment(&self, tag: u64, root: &Self::Digest, count: u64) -> Self::Digest;
    /// SPEC's printed form: 0x-prefixed big-endian hex (Goldilocks: the 4 elements in order).
    fn to_hex(digest: &Self::Digest) -> String;
    /// Parses [`Self::to_hex`]'s form; `None` when it is not a canonical digest.
    fn from_hex(text: &str) -> Option<Self::Digest>;
}

/// Which log a leaf or commitment belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Log {
    Activation,
    Influence,
}

/// The three public commitments of an epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpochCommitments<D> {
    pub activation: D,
    pub influence: D,
    pub payout: D,
}

fn log_leaves<F: CommitmentFamily>(family: &F, queries: &[Query], log: Log) -> Vec<F::Digest> {
    queries
        .par_iter()
        .with_min_len(256)
        .map(|q| match log {
            Log::Activation => family.activation_leaf(q),
            Log::Influence => family.influence_leaf(q),
        })
        .collect()
}

fn payout_leaves<F: CommitmentFamily>(family: &F, payouts: &[Payout]) -> Vec<F::Digest> {
    payouts
        .par_iter()
        .with_min_len(256)
        .map(|p| family.payout_leaf(p))
        .collect()
}

/// The published commitment of one log: `H(4, root, n_queries)` over the depth-32 tree.
pub fn log_commitment<F: CommitmentFamily>(
    family: &F,
    queries: &[Query],
    log: Log,
) -> Result<F::Digest, MerkleError> {
    let root = merkle::root(family, LOG_TREE_DEPTH, log_leaves(family, queries, log))?;
    Ok(family.commitment(tag::LOG_COMMITMENT, &root, queries.len() as u64))
}

/// The payout commitment: `H(3, root, n_payees)` over the depth-20 tree of payouts in ascending
/// adapter order.
pub fn payout_commitment<F: CommitmentFamily>(
    family: &F,
    payouts: &[Payout],
) -> Result<F::Digest, MerkleError> {
    let root = merkle::root(family, PAYOUT_TREE_DEPTH, payout_leaves(family, payouts))?;
    Ok(family.commitment(tag::PAYOUT_COMMITMENT, &root, payouts.len() as u64))
}

/// All three commitments of an epoch whose rule has been applied.
pub fn commit_epoch<F: CommitmentFamily>(
    family: &F,
    epoch: &Epoch,
    settlement: &Settlement,
) -> Result<EpochCommitments<F::Digest>, MerkleError> {
    let (logs, payout) = rayon::join(
        || {
            rayon::join(
                || log_commitment(family, &epoch.queries, Log::Activation),
                || log_commitment(family, &epoch.queries, Log::Influence),
            )
        },
        || payout_commitment(family, &settlement.payouts),
    );
    Ok(EpochCommitments {
        activation: logs.0?,
        influence: logs.1?,
        payout: payout?,
    })
}

/// A log tree kept whole, to hand out inclusion paths for query records.
pub fn log_tree<F: CommitmentFamily>(
    family: &F,
    queries: &[Query],
    log: Log,
) -> Result<MerkleTree<F::Digest>, MerkleError> {
    MerkleTree::build(family, LOG_TREE_DEPTH, log_leaves(family, queries, log))
}

/// The payout tree kept whole, to hand out claim paths.
pub fn payout_tree<F: CommitmentFamily>(
    family: &F,
    payouts: &[Payout],
) -> Result<MerkleTree<F::Digest>, MerkleError> {
    MerkleTree::build(family, PAYOUT_TREE_DEPTH, payout_leaves(family, payouts))
}

/// Checks a query record against a published log commitment (the log has `n_queries` records).
pub fn verify_query_inclusion<F: CommitmentFamily>(
    family: &F,
    commitment: &F::Digest,
    n_queries: u64,
    log: Log,
    query: &Query,
    path: &MerklePath<F::Digest>,
) -> Result<bool, MerkleError> {
    if path.index >= n_queries {
        return Ok(false);
    }
    let leaf = match log {
        Log::Activation => family.activation_leaf(query),
        Log::Influence => family.influence_leaf(query),
    };
    let root = path.root_from(family, leaf, LOG_TREE_DEPTH)?;
    Ok(family.commitment(tag::LOG_COMMITMENT, &root, n_queries) == *commitment)
}

/// Checks one payee's claim against a published payout commitment (with `n_payees` payees).
pub fn verify_payout_claim<F: CommitmentFamily>(
    family: &F,
    commitment: &F::Digest,
    n_payees: u64,
    payout: &Payout,
    path: &MerklePath<F::Digest>,
) -> Result<bool, MerkleError> {
    if path.index >= n_payees {
        return Ok(false);
    }
    let root = path.root_from(family, family.payout_leaf(payout), PAYOUT_TREE_DEPTH)?;
    Ok(family.commitment(tag::PAYOUT_COMMITMENT, &root, n_payees) == *commitment)
}

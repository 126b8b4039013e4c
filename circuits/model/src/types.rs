//! The statement's data: epochs, queries and activation slots, in canonical form.

use serde::{Deserialize, Serialize};

/// Activation slots per query (SPEC: `K = 8`).
pub const SLOTS: usize = 8;
/// Fees are below this bound (SPEC: `fee < 2^48`).
pub const FEE_BOUND: u64 = 1 << 48;
/// Largest royalty rate, in basis points.
pub const MAX_RATE_BPS: u16 = 10_000;
/// Depth of each log's Merkle tree; bounds the number of queries in an epoch.
pub const LOG_TREE_DEPTH: usize = 32;
/// Depth of the payout Merkle tree; bounds the number of payees in an epoch.
pub const PAYOUT_TREE_DEPTH: usize = 20;
/// Most queries one epoch can hold (`2^LOG_TREE_DEPTH`).
pub const MAX_QUERIES: u64 = 1 << LOG_TREE_DEPTH;
/// Most payees one epoch can pay (`2^PAYOUT_TREE_DEPTH`).
pub const MAX_PAYEES: usize = 1 << PAYOUT_TREE_DEPTH;

/// One activation slot: which adapter answered, with what gate weight, and its influence score.
///
/// A used slot has `adapter_id != 0`; an unused slot is all zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slot {
    pub adapter_id: u32,
    /// Gate weight in Q0.16.
    pub gate: u16,
    /// Influence score in Q16.16, signed; negative influence earns nothing.
    pub score: i32,
}

impl Slot {
    pub const UNUSED: Slot = Slot {
        adapter_id: 0,
        gate: 0,
        score: 0,
    };

    pub fn is_used(&self) -> bool {
        self.adapter_id != 0
    }

    /// The score clipped at zero (`s⁺` in SPEC).
    pub fn positive_score(&self) -> u64 {
        self.score.max(0) as u64
    }

    /// The slot's weight `w = gate * s⁺` (below 2^47).
    pub fn weight(&self) -> u64 {
        u64::from(self.gate) * self.positive_score()
    }
}

/// One query record with its eight slots, used slots first in increasing `adapter_id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Query {
    pub query_id: u64,
    /// Fee paid, in the smallest currency unit (below 2^48).
    pub fee: u64,
    pub slots: [Slot; SLOTS],
}

impl Query {
    /// The used slots (a prefix of `slots` in canonical form).
    pub fn used_slots(&self) -> impl Iterator<Item = &Slot> {
        self.slots.iter().filter(|s| s.is_used())
    }

    /// Number of used slots.
    pub fn used_count(&self) -> usize {
        self.used_slots().count()
    }
}

/// Public epoch parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EpochParams {
    pub epoch_id: u64,
    /// Share of each fee that goes to royalties, in basis points (at most 10000).
    pub rate_bps: u16,
}

/// A whole epoch: parameters and the joined activation and influence logs.
///
/// Construct through [`Epoch::new`] (or the readers in [`crate::io`]) so that every rule of
/// SPEC's canonical form has been checked; the fields stay public for read access.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Epoch {
    pub params: EpochParams,
    pub queries: Vec<Query>,
}

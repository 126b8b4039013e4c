//! The reference royalty rule: exact integer arithmetic with floor division, as SPEC defines it.
//!
//! Circuits are checked against this module, never the reverse.

use crate::types::{Epoch, Query, MAX_PAYEES, SLOTS};
use crate::validate::StatementError;
use std::collections::HashMap;

/// The derivation of one query's shares, with every intermediate a circuit witnesses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueryShares {
    /// `floor(fee * rate_bps / 10000)`.
    pub pool: u64,
    /// Remainder of the pool division (`fee * rate_bps - pool * 10000`).
    pub pool_remainder: u64,
    /// `w_j = gate_j * max(0, score_j)` per slot (below 2^47).
    pub weights: [u64; SLOTS],
    /// `W = Σ w_j` (below 2^50).
    pub total_weight: u64,
    /// `share_j = floor(pool * w_j / W)`, or 0 when `W = 0`.
    pub shares: [u64; SLOTS],
    /// `pool * w_j - share_j * W` per slot; below `W` whenever `W > 0`.
    pub share_remainders: [u64; SLOTS],
    /// `pool - Σ share_j`, which goes to the treasury.
    pub residual: u64,
}

impl QueryShares {
    /// Applies SPEC's rule to one query.
    pub fn compute(query: &Query, rate_bps: u16) -> Self {
        let numerator = query.fee as u128 * u128::from(rate_bps);
        let pool = (numerator / 10_000) as u64;
        let pool_remainder = (numerator % 10_000) as u64;
        let weights = query.slots.map(|s| s.weight());
        let total_weight: u64 = weights.iter().sum();
        let mut shares = [0u64; SLOTS];
        let mut share_remainders = [0u64; SLOTS];
        if total_weight != 0 {
            for j in 0..SLOTS {
                let product = pool as u128 * weights[j] as u128;
                shares[j] = (product / total_weight as u128) as u64;
                share_remainders[j] = (product % total_weight as u128) as u64;
            }
        }
        let residual = pool - shares.iter().sum::<u64>();
        QueryShares {
            pool,
            pool_remainder,
            weights,
            total_weight,
            shares,
            share_remainders,
            residual,
        }
    }
}

/// One payee's total for the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Payout {
    pub adapter_id: u32,
    pub amount: u64,
}

/// The result of the rule over a whole epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settlement {
    pub per_query: Vec<QueryShares>,
    /// Every adapter that appears in at least one used slot, in ascending `adapter_id`.
    pub payouts: Vec<Payout>,
    pub total_pool: u64,
    pub total_paid: u64,
    pub treasury: u64,
}

impl Settlement {
    /// Runs the reference rule over a validated epoch.
    ///
    /// Fails when the total pool does not fit in `u64` or there are more payees than the payout
    /// tree holds.
    pub fn compute(epoch: &Epoch) -> Result<Self, StatementError> {
        let rate = epoch.params.rate_bps;
        let per_query: Vec<QueryShares> = epoch
            .queries
            .iter()
            .map(|q| QueryShares::compute(q, rate))
            .collect();
        let total_pool: u128 = per_query.iter().map(|s| s.pool as u128).sum();
        let total_pool =
            u64::try_from(total_pool).map_err(|_| StatementError::TotalPoolOverflow(total_pool))?;
        let treasury: u64 = per_query.iter().map(|s| s.residual).sum();

        let mut totals: HashMap<u32, u64> = HashMap::new();
        for (query, shares) in epoch.queries.iter().zip(&per_query) {
            for (slot, share) in query.slots.iter().zip(shares.shares) {
                if slot.is_used() {
                    // Bounded by total_pool, which fits in u64.
                    *totals.entry(slot.adapter_id).or_insert(0) += share;
                }
            }
        }
        if totals.len() > MAX_PAYEES {
            return Err(StatementError::TooManyPayees(totals.len()));
        }
        let mut payouts: Vec<Payout> = totals
            .into_iter()
            .map(|(adapter_id, amount)| Payout { adapter_id, amount })
            .collect();
        payouts.sort_unstable();
        let total_paid = payouts.iter().map(|p| p.amount).sum();
        Ok(Settlement {
            per_query,
            payouts,
            total_pool,
            total_paid,
            treasury,
        })
    }
}

//! The payout table as the tools print it (SPEC's `--json` shape).

use crate::commit::{CommitmentFamily, EpochCommitments};
use crate::rule::Settlement;
use crate::types::Epoch;
use serde::{Deserialize, Serialize};

/// One line of the payout table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayoutEntry {
    pub adapter_id: u32,
    pub amount: u64,
}

/// SPEC's payout table, plus the hash family and counts that make it self-describing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayoutReport {
    pub epoch_id: u64,
    pub total_pool: u64,
    pub total_paid: u64,
    pub treasury: u64,
    pub payouts: Vec<PayoutEntry>,
    pub activation_commitment: String,
    pub influence_commitment: String,
    pub payout_commitment: String,
    /// `bn254` or `goldilocks`.
    pub family: String,
    pub rate_bps: u16,
    pub n_queries: u64,
    pub n_payees: u64,
}

impl PayoutReport {
    pub fn new<F: CommitmentFamily>(
        epoch: &Epoch,
        settlement: &Settlement,
        commitments: &EpochCommitments<F::Digest>,
    ) -> Self {
        PayoutReport {
            epoch_id: epoch.params.epoch_id,
            total_pool: settlement.total_pool,
            total_paid: settlement.total_paid,
            treasury: settlement.treasury,
            payouts: settlement
                .payouts
                .iter()
                .map(|p| PayoutEntry {
                    adapter_id: p.adapter_id,
                    amount: p.amount,
                })
                .collect(),
            activation_commitment: F::to_hex(&commitments.activation),
            influence_commitment: F::to_hex(&commitments.influence),
            payout_commitment: F::to_hex(&commitments.payout),
            family: F::NAME.to_string(),
            rate_bps: epoch.params.rate_bps,
            n_queries: epoch.queries.len() as u64,
            n_payees: settlement.payouts.len() as u64,
        }
    }

    /// The table's payees as the commitment code takes them.
    pub fn payout_list(&self) -> Vec<crate::Payout> {
        self.payouts
            .iter()
            .map(|p| crate::Payout {
                adapter_id: p.adapter_id,
                amount: p.amount,
            })
            .collect()
    }
}

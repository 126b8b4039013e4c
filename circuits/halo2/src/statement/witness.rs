//! The values the prover supplies to the statement circuit: one record per query with its rule
//! values, the payout list and the public inputs, as field elements (so tests can tamper with
//! any of them, out-of-range values included). The constraints are in the parent module and
//! depend on the shape alone.

use super::Halo2Shape;
use crate::poseidon::Fr;
use halo2_base::halo2_proofs::halo2curves::ff::Field;
use zkattr_model::commit::EpochCommitments;
use zkattr_model::types::{Query, SLOTS};
use zkattr_model::{Epoch, QueryShares, Settlement};

/// One query record and its rule values, as the prover supplies them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryWitness {
    pub query_id: Fr,
    pub fee: Fr,
    pub adapter: [Fr; SLOTS],
    pub gate: [Fr; SLOTS],
    /// The score's 32-bit two's-complement pattern.
    pub score: [Fr; SLOTS],
    /// Bit 31 of the score pattern, and its low 31 bits.
    pub negative: [Fr; SLOTS],
    pub magnitude: [Fr; SLOTS],
    pub pool: Fr,
    pub pool_remainder: Fr,
    pub share: [Fr; SLOTS],
    pub share_remainder: [Fr; SLOTS],
    /// The adapter the influence leaf reads when a mutated build gives it a cell of its own
    /// ([`Check::LeavesShareAdapter`] off); the same as `adapter` otherwise.
    #[cfg(feature = "mutation")]
    pub influence_adapter: [Fr; SLOTS],
}

impl QueryWitness {
    /// The record and the reference rule's values for it.
    pub fn new(query: &Query, shares: &QueryShares) -> Self {
        let slot =
            |f: &dyn Fn(usize) -> u64| -> [Fr; SLOTS] { std::array::from_fn(|j| Fr::from(f(j))) };
        let pattern = |j: usize| u64::from(query.slots[j].score as u32);
        QueryWitness {
            query_id: Fr::from(query.query_id),
            fee: Fr::from(query.fee),
            adapter: slot(&|j| u64::from(query.slots[j].adapter_id)),
            gate: slot(&|j| u64::from(query.slots[j].gate)),
            score: slot(&pattern),
            negative: slot(&|j| pattern(j) >> 31),
            magnitude: slot(&|j| pattern(j) & 0x7fff_ffff),
            pool: Fr::from(shares.pool),
            pool_remainder: Fr::from(shares.pool_remainder),
            share: slot(&|j| shares.shares[j]),
            share_remainder: slot(&|j| shares.share_remainders[j]),
            #[cfg(feature = "mutation")]
            influence_adapter: slot(&|j| u64::from(query.slots[j].adapter_id)),
        }
    }

    fn empty() -> Self {
        let query = Query {
            query_id: 0,
            fee: 0,
            slots: [zkattr_model::Slot::UNUSED; SLOTS],
        };
        QueryWitness::new(&query, &QueryShares::compute(&query, 0))
    }
}

/// Everything the prover supplies for one batch, padded to the shape's capacities.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementWitness {
    pub shape: Halo2Shape,
    pub epoch_id: Fr,
    pub rate: Fr,
    pub queries: Vec<QueryWitness>,
    /// `real[i]` is 1 for the first `n_queries` records.
    pub real: Vec<Fr>,
    /// `(adapter, amount)` per payee, zeros after the last.
    pub payees: Vec<(Fr, Fr)>,
    pub payee_real: Vec<Fr>,
    /// Per payee, how many used slots name its adapter (0 past the last payee, though the circuit
    /// does not pin those: they only count toward the pole at adapter 0).
    pub payee_slots: Vec<Fr>,
    /// How many slots, padding records' included, are unused (adapter 0).
    pub unused_slots: Fr,
}

fn flags(capacity: usize, count: usize) -> Vec<Fr> {
    (0..capacity)
        .map(|i| Fr::from(u64::from(i < count)))
        .collect()
}

impl StatementWitness {
    /// The witness for a validated epoch that fits `shape`, from the reference rule.
    pub fn new(shape: Halo2Shape, epoch: &Epoch, settlement: &Settlement) -> Result<Self, String> {
        if epoch.queries.len() > shape.queries || settlement.payouts.len() > shape.payees {
            return Err(format!(
                "{} queries and {} payees do not fit a circuit for {} and {}",
                epoch.queries.len(),
                settlement.payouts.len(),
                shape.queries,
                shape.payees
            ));
        }
        let mut queries: Vec<QueryWitness> = epoch
            .queries
            .iter()
            .zip(&settlement.per_query)
            .map(|(q, s)| QueryWitness::new(q, s))
            .collect();
        queries.resize(shape.queries, QueryWitness::empty());
        let mut slots_of: std::collections::HashMap<u32, u64> = std::collections::HashMap::new();
        let mut used_slots = 0;
        for slot in epoch.queries.iter().flat_map(|q| &q.slots) {
            if slot.adapter_id != 0 {
                *slots_of.entry(slot.adapter_id).or_default() += 1;
                used_slots += 1;
            }
        }
        let mut payee_slots: Vec<Fr> = settlement
            .payouts
            .iter()
            .map(|p| Fr::from(slots_of.get(&p.adapter_id).copied().unwrap_or(0)))
            .collect();
        payee_slots.resize(shape.payees, Fr::ZERO);
        let mut payees: Vec<(Fr, Fr)> = settlement
            .payouts
            .iter()
            .map(|p| (Fr::from(u64::from(p.adapter_id)), Fr::from(p.amount)))
            .collect();
        payees.resize(shape.payees, (Fr::ZERO, Fr::ZERO));
        Ok(StatementWitness {
            shape,
            epoch_id: Fr::from(epoch.params.epoch_id),
            rate: Fr::from(u64::from(epoch.params.rate_bps)),
            queries,
            real: flags(shape.queries, epoch.queries.len()),
            payees,
            payee_real: flags(shape.payees, settlement.payouts.len()),
            payee_slots,
            unused_slots: Fr::from((shape.queries * SLOTS) as u64 - used_slots),
        })
    }

    /// The witness of an empty epoch: what key generation lays out.
    pub fn empty(shape: Halo2Shape) -> Self {
        let epoch = Epoch {
            params: zkattr_model::EpochParams {
                epoch_id: 0,
                rate_bps: 0,
            },
            queries: vec![],
        };
        let settlement = Settlement::compute(&epoch).expect("the empty epoch is valid");
        StatementWitness::new(shape, &epoch, &settlement).expect("the empty epoch fits")
    }
}

/// SPEC's public inputs for an epoch, in order.
pub fn public_inputs(epoch: &Epoch, settlement: &Settlement, c: &EpochCommitments<Fr>) -> Vec<Fr> {
    vec![
        Fr::from(epoch.params.epoch_id),
        Fr::from(u64::from(epoch.params.rate_bps)),
        c.activation,
        c.influence,
        Fr::from(epoch.queries.len() as u64),
        Fr::from(settlement.total_pool),
        Fr::from(settlement.total_paid),
        Fr::from(settlement.treasury),
        c.payout,
    ]
}

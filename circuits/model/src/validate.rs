//! SPEC's canonical-form rules, checked with errors that name the query and the rule.

use crate::types::{Epoch, EpochParams, Query, Slot, FEE_BOUND, MAX_QUERIES, MAX_RATE_BPS, SLOTS};
use thiserror::Error;

/// A rule of SPEC broken by one query record.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum QueryRule {
    #[error("fee {fee} is not below 2^48")]
    FeeTooLarge { fee: u64 },
    #[error("query_id is not above the previous query's id {previous} (the log must be sorted by query_id, strictly increasing)")]
    NotIncreasing { previous: u64 },
    #[error("{count} slots; a query has at most 8")]
    TooManySlots { count: usize },
    #[error("slot {slot} is listed as used but has adapter_id 0")]
    ZeroAdapterInUsedSlot { slot: usize },
    #[error("slots not in canonical form: adapter {adapter} in slot {slot} does not exceed adapter {previous} in slot {} (used slots need strictly increasing adapter_id)", slot - 1)]
    SlotsNotIncreasing {
        slot: usize,
        previous: u32,
        adapter: u32,
    },
    #[error("slots not in canonical form: slot {slot} is unused (adapter_id 0) but has gate {gate} and score {score}; unused slots are all zero")]
    UnusedSlotNotZero { slot: usize, gate: u16, score: i32 },
    #[error("slots not in canonical form: used slot {slot} (adapter {adapter}) follows an unused slot; used slots come first")]
    UsedAfterUnused { slot: usize, adapter: u32 },
    #[error("adapter ids differ between the activation and influence logs: activation has {activation:?}, influence has {influence:?}")]
    AdapterMismatch {
        activation: Vec<u32>,
        influence: Vec<u32>,
    },
}

/// Why an epoch is not a valid statement input.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum StatementError {
    #[error("rate_bps {0} is above 10000")]
    RateOutOfRange(u16),
    #[error("query {query_id} (record {index}): {rule}")]
    Query {
        query_id: u64,
        index: usize,
        rule: QueryRule,
    },
    #[error("{0} queries; a log tree of depth 32 holds at most 2^32")]
    TooManyQueries(u64),
    #[error("{0} payees; the payout tree of depth 20 holds at most 2^20")]
    TooManyPayees(usize),
    #[error("the epoch's total pool {0} does not fit in u64")]
    TotalPoolOverflow(u128),
    #[error(transparent)]
    Tree(#[from] crate::merkle::MerkleError),
}

impl StatementError {
    pub(crate) fn query(query_id: u64, index: usize, rule: QueryRule) -> Self {
        StatementError::Query {
            query_id,
            index,
            rule,
        }
    }
}

/// Checks the epoch parameters.
pub fn check_params(params: &EpochParams) -> Result<(), StatementError> {
    if params.rate_bps > MAX_RATE_BPS {
        return Err(StatementError::RateOutOfRange(params.rate_bps));
    }
    Ok(())
}

/// Checks one query's own rules (fee bound and canonical slots), not its order in the log.
pub fn check_query(query: &Query) -> Result<(), QueryRule> {
    if query.fee >= FEE_BOUND {
        return Err(QueryRule::FeeTooLarge { fee: query.fee });
    }
    let mut seen_unused = false;
    let mut previous: Option<u32> = None;
    for (slot, s) in query.slots.iter().enumerate() {
        if s.is_used() {
            if seen_unused {
                return Err(QueryRule::UsedAfterUnused {
                    slot,
                    adapter: s.adapter_id,
                });
            }
            if let Some(previous) = previous {
                if s.adapter_id <= previous {
                    return Err(QueryRule::SlotsNotIncreasing {
                        slot,
                        previous,
                        adapter: s.adapter_id,
                    });
                }
            }
            previous = Some(s.adapter_id);
        } else {
            seen_unused = true;
            if s.gate != 0 || s.score != 0 {
                return Err(QueryRule::UnusedSlotNotZero {
                    slot,
                    gate: s.gate,
                    score: s.score,
                });
            }
        }
    }
    Ok(())
}

/// Builds a query's canonical slot array from its used slots, as the interchange formats list
/// them (used slots only, in order). Rejects more than eight slots, a zero adapter id, and
/// adapter ids that are not strictly increasing.
pub fn canonical_slots(used: &[Slot]) -> Result<[Slot; SLOTS], QueryRule> {
    if used.len() > SLOTS {
        return Err(QueryRule::TooManySlots { count: used.len() });
    }
    let mut slots = [Slot::UNUSED; SLOTS];
    for (slot, s) in used.iter().enumerate() {
        if !s.is_used() {
            return Err(QueryRule::ZeroAdapterInUsedSlot { slot });
        }
        slots[slot] = *s;
    }
    Ok(slots)
}

/// Checks the query order of a log: strictly increasing ids, validated record by record.
#[derive(Debug, Default)]
pub struct OrderCheck {
    previous: Option<u64>,
    count: u64,
}

impl OrderCheck {
    /// Checks `query` as the next record of the log.
    pub fn push(&mut self, query: &Query) -> Result<(), StatementError> {
        let index = self.count as usize;
        if let Some(previous) = self.previous {
            if query.query_id <= previous {
                return Err(StatementError::query(
                    query.query_id,
                    index,
                    QueryRule::NotIncreasing { previous },
                ));
            }
        }
        check_query(query).map_err(|rule| StatementError::query(query.query_id, index, rule))?;
        self.count += 1;
        if self.count > MAX_QUERIES {
            return Err(StatementError::TooManyQueries(self.count));
        }
        self.previous = Some(query.query_id);
        Ok(())
    }
}

impl Epoch {
    /// Builds an epoch after checking every rule of SPEC's data section.
    pub fn new(params: EpochParams, queries: Vec<Query>) -> Result<Self, StatementError> {
        check_params(&params)?;
        let mut order = OrderCheck::default();
        for query in &queries {
            order.push(query)?;
        }
        Ok(Epoch { params, queries })
    }

    /// Re-checks every rule; for values built or mutated by hand.
    pub fn validate(&self) -> Result<(), StatementError> {
        check_params(&self.params)?;
        let mut order = OrderCheck::default();
        self.queries.iter().try_for_each(|q| order.push(q))
    }
}

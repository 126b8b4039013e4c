//! Property tests of the reference rule and the canonical-form checks.

use proptest::prelude::*;
use zkattr_model::types::{FEE_BOUND, SLOTS};
use zkattr_model::{Epoch, EpochParams, Query, QueryShares, Settlement, Slot, StatementError};

fn canonical_query(query_id: u64) -> impl Strategy<Value = Query> {
    (
        0..FEE_BOUND,
        proptest::collection::btree_set(1u32..=u32::MAX, 0..=SLOTS),
        proptest::collection::vec((any::<u16>(), any::<i32>()), SLOTS),
    )
        .prop_map(move |(fee, adapters, values)| {
            let mut slots = [Slot::UNUSED; SLOTS];
            for (j, (adapter_id, (gate, score))) in adapters.into_iter().zip(values).enumerate() {
                slots[j] = Slot {
                    adapter_id,
                    gate,
                    score,
                };
            }
            Query {
                query_id,
                fee,
                slots,
            }
        })
}

fn epoch() -> impl Strategy<Value = Epoch> {
    (0u16..=10_000, proptest::collection::vec(1u64..1000, 0..40))
        .prop_flat_map(|(rate_bps, gaps)| {
            let mut id = 0u64;
            let ids: Vec<u64> = gaps
                .into_iter()
                .map(|g| {
                    id += g;
                    id
                })
                .collect();
            let queries: Vec<_> = ids.into_iter().map(canonical_query).collect();
            (Just(rate_bps), queries)
        })
        .prop_map(|(rate_bps, queries)| Epoch {
            params: EpochParams {
                epoch_id: 1,
                rate_bps,
            },
            queries,
        })
}

fn is_query_error(r: &Result<Epoch, StatementError>, at: Option<usize>) -> bool {
    match r {
        Err(StatementError::Query { index, .. }) => at.is_none_or(|i| i == *index),
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn conservation_and_bounds(epoch in epoch()) {
        prop_assert!(epoch.validate().is_ok());
        let s = Settlement::compute(&epoch).unwrap();
        prop_assert_eq!(s.total_paid + s.treasury, s.total_pool);
        for (q, shares) in epoch.queries.iter().zip(&s.per_query) {
            let paid: u64 = shares.shares.iter().sum();
            prop_assert!(paid <= shares.pool);
            prop_assert_eq!(paid + shares.residual, shares.pool);
            for j in 0..SLOTS {
                prop_assert!(shares.shares[j] <= shares.pool);
                if q.slots[j].score <= 0 {
                    prop_assert_eq!(shares.shares[j], 0);
                }
                if shares.total_weight > 0 {
                    prop_assert!(shares.share_remainders[j] < shares.total_weight);
                    prop_assert_eq!(
                        shares.shares[j] as u128 * shares.total_weight as u128
                            + shares.share_remainders[j] as u128,
                        shares.pool as u128 * shares.weights[j] as u128
                    );
                }
            }
            // At most one unit per paid slot is lost to flooring.
            let paid_slots = shares.weights.iter().filter(|&&w| w > 0).count() as u64;
            prop_assert!(shares.residual <= paid_slots.max(1) || shares.total_weight == 0);
        }
        // Payees are exactly the adapters of used slots, ascending.
        let mut ids: Vec<u32> = epoch.queries.iter().flat_map(|q| q.used_slots().map(|s| s.adapter_id)).collect();
        ids.sort_unstable();
        ids.dedup();
        prop_assert_eq!(ids, s.payouts.iter().map(|p| p.adapter_id).collect::<Vec<_>>());
    }

    #[test]
    fn shares_are_monotone_in_weight(q in canonical_query(1), rate in 0u16..=10_000) {
        let s = QueryShares::compute(&q, rate);
        for a in 0..SLOTS {
            for b in 0..SLOTS {
                if s.weights[a] <= s.weights[b] {
                    prop_assert!(s.shares[a] <= s.shares[b]);
                }
            }
        }
    }

    #[test]
    fn fee_at_or_above_bound_is_rejected(q in canonical_query(1), excess in 0u64..u64::MAX - FEE_BOUND) {
        let mut q = q;
        q.fee = FEE_BOUND + excess;
        let r = Epoch::new(EpochParams { epoch_id: 1, rate_bps: 1 }, vec![q]);
        prop_assert!(is_query_error(&r, None), "{:?}", r);
    }

    #[test]
    fn rate_above_10000_is_rejected(rate in 10_001u16..) {
        let r = Epoch::new(EpochParams { epoch_id: 1, rate_bps: rate }, vec![]);
        prop_assert_eq!(r, Err(StatementError::RateOutOfRange(rate)));
    }

    #[test]
    fn any_swap_of_distinct_used_slots_is_rejected(q in canonical_query(1), a in 0..SLOTS, b in 0..SLOTS) {
        prop_assume!(a != b && (q.slots[a] != q.slots[b]));
        let mut bad = q;
        bad.slots.swap(a, b);
        let r = Epoch::new(EpochParams { epoch_id: 1, rate_bps: 1 }, vec![bad]);
        prop_assert!(is_query_error(&r, None), "{:?}", r);
    }

    #[test]
    fn any_nonzero_value_in_an_unused_slot_is_rejected(
        q in canonical_query(1), gate in 1u16.., score in any::<i32>(), which in 0..2u8
    ) {
        let used = q.used_count();
        prop_assume!(used < SLOTS);
        let mut bad = q;
        if which == 0 { bad.slots[used].gate = gate } else { bad.slots[used].score = score | 1 }
        let r = Epoch::new(EpochParams { epoch_id: 1, rate_bps: 1 }, vec![bad]);
        prop_assert!(is_query_error(&r, None), "{:?}", r);
    }

    #[test]
    fn out_of_order_queries_are_rejected(a in canonical_query(5), b in canonical_query(5), smaller in 0u64..=5) {
        let mut b = b;
        b.query_id = smaller;
        let r = Epoch::new(EpochParams { epoch_id: 1, rate_bps: 1 }, vec![a, b]);
        prop_assert!(is_query_error(&r, Some(1)), "{:?}", r);
    }
}

//! The native twin of batch aggregation: honest batches of several sizes merge into exactly
//! the single-proof public inputs, and every cheat the merge and final circuits must stop
//! (tampered, swapped, dropped batches, holes, altered payouts) is rejected with its error.

use plonky2::field::extension::quadratic::QuadraticExtension;
use plonky2::field::types::{Field, Field64, PrimeField64};
use zkattr_model::commit::commit_epoch;
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::{Epoch, Payout, Settlement};
use zkattr_plonky2::aggregation::native::{
    aggregate_epoch, finalize, listed_payees, listed_slot_counts, merge_all, slot_count_digest,
    AggregateError, BatchSummary, Challenges, Ext, ListedPayee,
};
use zkattr_plonky2::native::F;
use zkattr_plonky2::statement::StatementPublicInputs;
use zkattr_plonky2::GoldilocksFamily;

fn epoch(queries: u64) -> Epoch {
    generate(&SynthConfig::new(queries, 6, 11))
}

fn published(epoch: &Epoch) -> (Settlement, StatementPublicInputs, Challenges) {
    let settlement = Settlement::compute(epoch).unwrap();
    let c = commit_epoch(&GoldilocksFamily, epoch, &settlement).unwrap();
    let challenges = Challenges::derive(
        &epoch.params,
        &c,
        &listed_slot_counts(&listed_payees(epoch, &settlement)),
    )
    .unwrap();
    (
        settlement.clone(),
        StatementPublicInputs::new(epoch, &settlement, &c),
        challenges,
    )
}

/// Honest batch summaries of `size` queries each.
fn batches(epoch: &Epoch, size: usize, ch: Challenges) -> Vec<BatchSummary> {
    let height = size.trailing_zeros();
    epoch
        .queries
        .chunks(size)
        .enumerate()
        .map(|(b, q)| BatchSummary::of_batch(epoch.params, ch, height, b as u64, q).unwrap())
        .collect()
}

#[test]
fn several_batch_sizes_give_the_single_proof_statement() {
    for queries in [1u64, 5, 16, 21] {
        let e = epoch(queries);
        let (settlement, expected, _) = published(&e);
        assert!(settlement.payouts.len() > 1 || queries == 1);
        for size in [1usize, 4, 8, 32] {
            let got = aggregate_epoch(&e, size).unwrap();
            assert_eq!(got, expected, "{queries} queries in batches of {size}");
        }
    }
}

#[test]
fn a_batch_size_that_is_not_a_power_of_two_is_refused() {
    let err = aggregate_epoch(&epoch(5), 3).unwrap_err();
    assert!(err.to_string().contains("not a power of two"), "{err}");
}

#[test]
fn a_tampered_batch_changes_the_commitments_and_is_caught() {
    let e = epoch(12);
    let (settlement, _, ch) = published(&e);
    let mut forged = e.clone();
    // Batch 1 (queries 4..8) is proved over a different record than the published log.
    forged.queries[5].slots[0].score = forged.queries[5].slots[0].score.wrapping_add(1 << 16);
    let root = merge_all(batches(&forged, 4, ch)).unwrap();
    let err = finalize(&root, &listed_payees(&e, &settlement)).unwrap_err();
    assert_eq!(err, AggregateError::ChallengeMismatch);

    // A batch summary whose totals were edited does not match the payout list.
    let mut parts = batches(&e, 4, ch);
    parts[1].total_paid += 1;
    parts[1].total_pool += 1;
    let root = merge_all(parts).unwrap();
    let err = finalize(&root, &listed_payees(&e, &settlement)).unwrap_err();
    assert!(
        matches!(err, AggregateError::TotalPaidMismatch { .. }),
        "{err}"
    );

    let mut parts = batches(&e, 4, ch);
    let first = parts[0].accumulator;
    parts[2].accumulator += first;
    let err = finalize(&merge_all(parts).unwrap(), &listed_payees(&e, &settlement));
    assert_eq!(err.unwrap_err(), AggregateError::AccumulatorMismatch);
}

#[test]
fn swapped_batches_are_rejected() {
    let e = epoch(12);
    let (_, _, ch) = published(&e);
    let mut parts = batches(&e, 4, ch);
    parts.swap(0, 1);
    assert_eq!(
        merge_all(parts).unwrap_err(),
        AggregateError::NotSiblings { left: 1, right: 0 }
    );

    // Swapped contents proved at each other's positions break the order across the seam.
    let a = BatchSummary::of_batch(e.params, ch, 2, 0, &e.queries[4..8]).unwrap();
    let b = BatchSummary::of_batch(e.params, ch, 2, 1, &e.queries[0..4]).unwrap();
    let err = BatchSummary::merge(&a, &b).unwrap_err();
    assert!(matches!(err, AggregateError::QueryOrder { .. }), "{err}");
}

#[test]
fn a_dropped_batch_is_rejected() {
    let e = epoch(12);
    let (settlement, _, ch) = published(&e);
    let parts = batches(&e, 4, ch);
    let err = merge_all(vec![parts[0], parts[2]]).unwrap_err();
    assert_eq!(err, AggregateError::NotSiblings { left: 0, right: 2 });

    // Re-proving batch 2 at index 1 gives a shorter log: not the published commitments.
    let moved = BatchSummary::of_batch(e.params, ch, 2, 1, &e.queries[8..12]).unwrap();
    let root = merge_all(vec![parts[0], moved]).unwrap();
    let err = finalize(&root, &listed_payees(&e, &settlement)).unwrap_err();
    assert_eq!(err, AggregateError::ChallengeMismatch);

    // Leaving the last batch out altogether is also caught.
    let root = merge_all(parts[..2].to_vec()).unwrap();
    let err = finalize(&root, &listed_payees(&e, &settlement)).unwrap_err();
    assert_eq!(err, AggregateError::ChallengeMismatch);
}

#[test]
fn a_hole_in_the_prefix_is_rejected() {
    let e = epoch(8);
    let (_, _, ch) = published(&e);
    let left = BatchSummary::of_batch(e.params, ch, 2, 0, &e.queries[0..3]).unwrap();
    let right = BatchSummary::of_batch(e.params, ch, 2, 1, &e.queries[4..8]).unwrap();
    assert_eq!(
        BatchSummary::merge(&left, &right).unwrap_err(),
        AggregateError::HoleInPrefix {
            index: 0,
            queries: 3,
            capacity: 4
        }
    );
}

/// A cheating prover that publishes `payees` (its own payout list), derives the challenges from
/// that list's commitment, and proves every batch honestly with them.
fn finalize_with_list(e: &Epoch, payees: &[ListedPayee]) -> Result<(), AggregateError> {
    let settlement = Settlement::compute(e).unwrap();
    let mut c = commit_epoch(&GoldilocksFamily, e, &settlement).unwrap();
    let list: Vec<Payout> = payees.iter().map(|p| p.payout).collect();
    c.payout = zkattr_model::commit::payout_commitment(&GoldilocksFamily, &list).unwrap();
    let ch = Challenges::derive(&e.params, &c, &listed_slot_counts(payees)).unwrap();
    finalize(&merge_all(batches(e, 4, ch)).unwrap(), payees).map(|_| ())
}

#[test]
fn an_altered_merged_payout_list_is_rejected() {
    let e = epoch(21);
    let settlement = Settlement::compute(&e).unwrap();
    let honest = listed_payees(&e, &settlement);
    assert!(honest.len() >= 3);
    finalize_with_list(&e, &honest).unwrap();

    // Moving one unit between two payees keeps every total.
    let mut moved = honest.clone();
    let from = moved.iter().position(|p| p.payout.amount > 0).unwrap();
    let to = (from + 1) % moved.len();
    moved[from].payout.amount -= 1;
    moved[to].payout.amount += 1;
    assert_eq!(
        finalize_with_list(&e, &moved).unwrap_err(),
        AggregateError::AccumulatorMismatch
    );

    // A payee left off (its amount given to another), or an extra payee with nothing.
    let mut dropped = honest.clone();
    let gone = dropped.remove(0);
    dropped[0].payout.amount += gone.payout.amount;
    assert_eq!(
        finalize_with_list(&e, &dropped).unwrap_err(),
        AggregateError::AccumulatorMismatch
    );
    let mut extra = honest.clone();
    extra.push(ListedPayee {
        payout: Payout {
            adapter_id: 1_000_000,
            amount: 0,
        },
        slots: 1,
    });
    assert_eq!(
        finalize_with_list(&e, &extra).unwrap_err(),
        AggregateError::AccumulatorMismatch
    );

    // The wrong slot count alone is caught too.
    let mut counted = honest.clone();
    counted[0].slots += 1;
    assert_eq!(
        finalize_with_list(&e, &counted).unwrap_err(),
        AggregateError::AccumulatorMismatch
    );

    // Counts chosen after the challenges: the batches proved under the honest counts'
    // challenges, and a root accumulator that (as if solved for) matches the recounted list.
    // The counts' digest in the challenges refuses it.
    let mut late = honest.clone();
    late[0].slots += 1;
    let (_, _, ch) = published(&e);
    let mut root = merge_all(batches(&e, 4, ch)).unwrap();
    root.accumulator = late
        .iter()
        .map(|p| {
            let value = ext(F::from_canonical_u64(p.payout.amount))
                + ch.beta * ext(F::from_canonical_u64(p.slots));
            value * (ch.alpha - ext(F::from_canonical_u32(p.payout.adapter_id))).inverse()
        })
        .fold(Ext::ZERO, |sum, term| sum + term);
    assert_eq!(
        finalize(&root, &late).unwrap_err(),
        AggregateError::ChallengeMismatch
    );

    // A total paid of p or more is refused before anything else (its amounts could wrap).
    let mut huge = merge_all(batches(&e, 4, ch)).unwrap();
    huge.total_paid = F::ORDER;
    assert_eq!(
        finalize(&huge, &honest).unwrap_err(),
        AggregateError::PaidAboveModulus(F::ORDER)
    );
    // The pipeline's own check (service submission, `zkattr prove`) has the same threshold.
    use zkattr_plonky2::aggregation::{check_total_paid, EpochProverError};
    assert!(check_total_paid(F::ORDER - 1).is_ok());
    for paid in [F::ORDER, u64::MAX] {
        assert!(matches!(
            check_total_paid(paid),
            Err(EpochProverError::PaidAboveModulus(p)) if p == paid
        ));
    }

    let mut zero = honest.clone();
    zero[0].slots = 0;
    assert!(matches!(
        finalize_with_list(&e, &zero).unwrap_err(),
        AggregateError::PayoutList { position: 0, .. }
    ));

    let mut unsorted = honest.clone();
    unsorted.swap(0, 1);
    assert!(matches!(
        finalize_with_list(&e, &unsorted).unwrap_err(),
        AggregateError::PayoutList { position: 1, .. }
    ));
}

#[test]
fn merges_of_mismatched_children_are_rejected() {
    let e = epoch(8);
    let (_, _, ch) = published(&e);
    let parts = batches(&e, 4, ch);
    let mut other = parts[1];
    other.params.epoch_id += 1;
    assert_eq!(
        BatchSummary::merge(&parts[0], &other).unwrap_err(),
        AggregateError::ParameterMismatch
    );
    let small = BatchSummary::of_batch(e.params, ch, 1, 1, &e.queries[4..6]).unwrap();
    assert_eq!(
        BatchSummary::merge(&parts[0], &small).unwrap_err(),
        AggregateError::HeightMismatch { left: 2, right: 1 }
    );
    assert_eq!(
        BatchSummary::of_batch(e.params, ch, 1, 0, &e.queries[0..3]).unwrap_err(),
        AggregateError::BatchTooLarge {
            height: 1,
            queries: 3
        }
    );
    assert_eq!(
        BatchSummary::of_batch(e.params, ch, 30, 4, &e.queries[0..3]).unwrap_err(),
        AggregateError::IndexOutOfRange {
            height: 30,
            index: 4
        }
    );
    let root = merge_all(parts.clone()).unwrap();
    let err = finalize(&parts[1], &[]).unwrap_err();
    assert_eq!(err, AggregateError::NotTheRoot { index: 1 });
    assert_eq!(root.index, 0);
}

#[test]
fn summary_layout_constants_name_the_challenges() {
    let e = epoch(5);
    let (_, _, ch) = published(&e);
    let summary = &batches(&e, 4, ch)[1];
    let fields = summary.to_fields();
    assert_eq!(fields.len(), BatchSummary::LEN);
    let at = BatchSummary::CHALLENGES_AT;
    assert_eq!(fields[at..at + 2], ch.alpha.0);
    assert_eq!(fields[at + 2..at + 4], ch.beta.0);
}

fn ext(x: F) -> Ext {
    QuadraticExtension([x, F::ZERO])
}

/// The slot-count digest: a fixed vector (Poseidon over Goldilocks, chunks of four, the last
/// zero-padded), and every count matters.
#[test]
fn slot_count_digest_vector_and_sensitivity() {
    let counts: Vec<F> = (1..=5).map(F::from_canonical_u64).collect();
    let digest = slot_count_digest(&counts);
    let hex: Vec<String> = digest
        .elements
        .iter()
        .map(|x| format!("{:016x}", x.to_canonical_u64()))
        .collect();
    assert_eq!(
        hex,
        [
            "1607e50c425ff38a",
            "a0884ad286185b41",
            "4b629b982f76bb7c",
            "78a2d2a46333100e"
        ]
    );
    assert_eq!(
        slot_count_digest(&[]).elements,
        [F::ZERO; 4],
        "an empty list chains nothing"
    );
    for i in 0..counts.len() {
        let mut other = counts.clone();
        other[i] += F::ONE;
        assert_ne!(slot_count_digest(&other), digest, "count {i}");
    }
    assert_ne!(slot_count_digest(&counts[..4]), digest, "a dropped count");
}

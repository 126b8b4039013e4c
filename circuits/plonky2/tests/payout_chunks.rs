//! The native twin of a payout list proved in chunks (circuits not built): an honest list cut
//! into chunks gives exactly the whole-list statement, and every cross-chunk cheat a final layer
//! over chunk proofs must stop is refused, each isolated from the others.

use plonky2::field::types::Field;
use zkattr_model::commit::commit_epoch;
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::{Epoch, Settlement};
use zkattr_plonky2::aggregate::{
    aggregate_epoch, finalize, listed_payees, listed_slot_counts, merge_all, AggregateError,
    BatchSummary, Challenges, Ext, ListedPayee,
};
use zkattr_plonky2::payout_chunks::{
    chunk_list, finalize_chunked, ChunkError, ChunkSummary, ListState, CHUNK_HEIGHT,
};
use zkattr_plonky2::GoldilocksFamily;

/// An epoch, its root summary (batches of 8) and its payout list with slot counts.
fn setup(queries: u64, adapters: u32) -> (Epoch, BatchSummary, Vec<ListedPayee>) {
    let epoch = generate(&SynthConfig::new(queries, adapters, 3));
    let settlement = Settlement::compute(&epoch).unwrap();
    let c = commit_epoch(&GoldilocksFamily, &epoch, &settlement).unwrap();
    let payees = listed_payees(&epoch, &settlement);
    let ch = Challenges::derive(&epoch.params, &c, &listed_slot_counts(&payees)).unwrap();
    let summaries = epoch
        .queries
        .chunks(8)
        .enumerate()
        .map(|(b, q)| BatchSummary::of_batch(epoch.params, ch, 3, b as u64, q).unwrap())
        .collect();
    let root = merge_all(summaries).unwrap();
    (epoch, root, payees)
}

/// 40 queries over 60 adapters: 31 payees at seed 3, so four chunks of 8 hold the list with the
/// last one partly filled (asserted: the tests below cut the list at these seams).
fn standard() -> (Epoch, BatchSummary, Vec<ListedPayee>) {
    let (epoch, root, payees) = setup(40, 60);
    assert_eq!(payees.len(), 31);
    (epoch, root, payees)
}

#[test]
fn chunked_lists_give_the_whole_list_statement() {
    for (queries, adapters) in [(1u64, 4u32), (12, 20), (40, 60), (64, 300)] {
        let (epoch, root, payees) = setup(queries, adapters);
        let expected = aggregate_epoch(&epoch, 8).unwrap();
        assert_eq!(finalize(&root, &payees).unwrap(), expected);
        for height in [2u32, 3, 5] {
            for chunks in [1usize, 2, 4, 8, 16, 64] {
                if payees.len() > chunks << height {
                    assert!(matches!(
                        chunk_list(root.challenges, height, chunks, &payees),
                        Err(ChunkError::ListTooLong { .. })
                    ));
                    continue;
                }
                let split = chunk_list(root.challenges, height, chunks, &payees).unwrap();
                assert_eq!(
                    finalize_chunked(&root, &split).unwrap(),
                    expected,
                    "{queries} queries, {} payees, {chunks} chunks of 2^{height}",
                    payees.len()
                );
            }
        }
    }
}

#[test]
fn chunks_past_the_list_are_identical_padding() {
    let (_, root, payees) = standard();
    let split = chunk_list(root.challenges, 3, 8, &payees).unwrap();
    let real_chunks = payees.len().div_ceil(8);
    let last_real = split[real_chunks - 1];
    assert_eq!(last_real.n_payees, 7);
    let padding: Vec<ChunkSummary> = split[real_chunks..]
        .iter()
        .map(|c| ChunkSummary { index: 0, ..*c })
        .collect();
    assert!(padding.len() >= 2);
    assert!(padding.iter().all(|c| *c == padding[0]));
    assert_eq!(padding[0].n_payees, 0);
    assert_eq!(padding[0].start, last_real.end);
    assert_eq!(padding[0].end, last_real.end);
    assert_eq!(padding[0].accumulator, Ext::ZERO);
}

#[test]
fn the_design_size_fits_the_payout_tree() {
    let (_, root, payees) = standard();
    assert!(chunk_list(root.challenges, CHUNK_HEIGHT, 64, &payees).is_ok());
    assert!(matches!(
        chunk_list(root.challenges, CHUNK_HEIGHT, 128, &payees),
        Err(ChunkError::ChunkCount { chunks: 128, .. })
    ));
    assert!(matches!(
        chunk_list(root.challenges, 2, 3, &payees),
        Err(ChunkError::ChunkCount { chunks: 3, .. })
    ));
    // Below four entries a chunk would split a slot-count group.
    assert!(matches!(
        chunk_list(root.challenges, 1, 16, &payees),
        Err(ChunkError::Height { height: 1 })
    ));
}

#[test]
fn swapped_or_dropped_chunks_are_refused() {
    let (_, root, payees) = standard();
    let split = chunk_list(root.challenges, 3, 4, &payees).unwrap();
    assert!(finalize_chunked(&root, &split).is_ok());

    let mut swapped = split.clone();
    swapped.swap(1, 2);
    assert_eq!(
        finalize_chunked(&root, &swapped),
        Err(ChunkError::Index {
            position: 1,
            index: 2
        })
    );
    // Swapped and re-indexed: the seams give it away.
    for (i, c) in swapped.iter_mut().enumerate() {
        c.index = i as u64;
    }
    assert_eq!(
        finalize_chunked(&root, &swapped),
        Err(ChunkError::Seam { index: 1 })
    );

    // Chunk 1 dropped, the rest moved up and a padding chunk appended.
    let mut dropped = vec![split[0], split[2], split[3], split[3]];
    for (i, c) in dropped.iter_mut().enumerate() {
        c.index = i as u64;
    }
    assert_eq!(
        finalize_chunked(&root, &dropped),
        Err(ChunkError::Seam { index: 1 })
    );
    // Three chunks are not a tree of chunks at all.
    assert!(matches!(
        finalize_chunked(&root, &split[..3]),
        Err(ChunkError::ChunkCount { chunks: 3, .. })
    ));
}

#[test]
fn a_seam_out_of_order_or_off_the_digest_chain_is_refused() {
    let (_, root, payees) = standard();
    let ch = root.challenges;
    let split = chunk_list(ch, 3, 4, &payees).unwrap();

    // Chunk 1 proved from adapter 0: its own entries are in order, the seam is not checked by
    // it, only by the final layer.
    let mut from_zero = split.clone();
    let start = ListState {
        previous: 0,
        ..split[1].start
    };
    from_zero[1] = ChunkSummary::of_chunk(ch, 3, 1, start, &payees[8..16]).unwrap();
    assert_eq!(
        finalize_chunked(&root, &from_zero),
        Err(ChunkError::Seam { index: 1 })
    );

    // Chunk 2 restarts the slot-count chain: same entries, digest off the chain.
    let mut restarted = split.clone();
    let start = ListState {
        slot_counts: ListState::start().slot_counts,
        ..split[2].start
    };
    restarted[2] = ChunkSummary::of_chunk(ch, 3, 2, start, &payees[16..24]).unwrap();
    restarted[3] = ChunkSummary::of_chunk(ch, 3, 3, restarted[2].end, &payees[24..]).unwrap();
    assert_eq!(
        finalize_chunked(&root, &restarted),
        Err(ChunkError::Seam { index: 2 })
    );

    // Chunk 0 claiming a start other than the empty state.
    let mut shifted = split.clone();
    shifted[0].start.previous = 1;
    assert_eq!(
        finalize_chunked(&root, &shifted),
        Err(ChunkError::Seam { index: 0 })
    );

    // Inside a chunk, order and slot counts are the chunk circuit's own checks.
    let mut unordered = payees[8..16].to_vec();
    unordered.swap(0, 1); // entry 9 now comes before entry 8
    assert!(matches!(
        ChunkSummary::of_chunk(ch, 3, 1, split[1].start, &unordered),
        Err(ChunkError::Aggregate(AggregateError::PayoutList {
            position: 9,
            ..
        }))
    ));
    let mut uncounted = payees[8..16].to_vec();
    uncounted[2].slots = 0;
    assert!(matches!(
        ChunkSummary::of_chunk(ch, 3, 1, split[1].start, &uncounted),
        Err(ChunkError::Aggregate(AggregateError::PayoutList {
            position: 10,
            ..
        }))
    ));
}

#[test]
fn a_hole_in_the_prefix_across_chunks_is_refused() {
    let (_, root, payees) = standard();
    let ch = root.challenges;
    let split = chunk_list(ch, 3, 4, &payees).unwrap();
    // Chunk 0 stops one entry short; chunk 1 continues from its end (so the seam holds) and
    // holds the rest of the list as before.
    let mut holed = split.clone();
    holed[0] = ChunkSummary::of_chunk(ch, 3, 0, ListState::start(), &payees[..7]).unwrap();
    let mut state = holed[0].end;
    for (i, range) in [(1, 7..15), (2, 15..23), (3, 23..payees.len())] {
        holed[i] = ChunkSummary::of_chunk(ch, 3, i as u64, state, &payees[range]).unwrap();
        state = holed[i].end;
    }
    assert_eq!(
        finalize_chunked(&root, &holed),
        Err(ChunkError::HoleInPrefix {
            index: 1,
            previous: 0
        })
    );
}

#[test]
fn altered_chunk_values_are_refused() {
    let (_, root, payees) = standard();
    let split = chunk_list(root.challenges, 3, 4, &payees).unwrap();
    let refuse = |change: &dyn Fn(&mut ChunkSummary), expected: ChunkError| {
        let mut cheat = split.clone();
        change(&mut cheat[1]);
        assert_eq!(finalize_chunked(&root, &cheat), Err(expected));
    };
    refuse(
        &|c| c.accumulator += Ext::ONE,
        AggregateError::AccumulatorMismatch.into(),
    );
    refuse(
        &|c| c.low_sum += 1,
        AggregateError::TotalPaidMismatch {
            listed: root.total_paid + 1,
            accumulated: root.total_paid,
        }
        .into(),
    );
    refuse(
        &|c| c.high_sum += 1,
        AggregateError::TotalPaidMismatch {
            listed: root.total_paid + (1 << 32),
            accumulated: root.total_paid,
        }
        .into(),
    );
    refuse(
        &|c| c.low_sum = 1 << (3 + 32),
        ChunkError::ColumnSum { index: 1 },
    );
    refuse(
        &|c| c.n_payees = 9,
        ChunkError::Count {
            index: 1,
            payees: 9,
            height: 3,
        },
    );
    // One more payee claimed in the last real chunk (in a full chunk it would break the count
    // bound, fewer would open a hole).
    let mut counted = split.clone();
    counted[3].n_payees += 1;
    assert_eq!(
        finalize_chunked(&root, &counted),
        Err(AggregateError::ChallengeMismatch.into())
    );
    // Another subtree root: the payout commitment moves and with it the challenges.
    refuse(
        &|c| c.root = split[2].root,
        AggregateError::ChallengeMismatch.into(),
    );
    // Chunks proved under other challenges.
    let mut foreign = root.challenges;
    foreign.beta += Ext::ONE;
    refuse(
        &|c| c.challenges = foreign,
        ChunkError::Challenges { index: 1 },
    );
}

#[test]
fn the_root_summary_must_be_the_root() {
    let (_, root, payees) = standard();
    let split = chunk_list(root.challenges, 3, 4, &payees).unwrap();
    let not_root = BatchSummary { index: 1, ..root };
    assert_eq!(
        finalize_chunked(&not_root, &split),
        Err(AggregateError::NotTheRoot { index: 1 }.into())
    );
    assert!(matches!(
        finalize_chunked(&root, &[]),
        Err(ChunkError::ChunkCount { chunks: 0, .. })
    ));
}

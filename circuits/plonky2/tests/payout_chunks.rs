//! The native twin of a payout list proved in chunks: an honest list cut into chunks gives
//! exactly the whole-list statement, and every cross-chunk cheat a final layer over chunk proofs
//! must stop is refused (the same cheats in real proofs: tests/chunked_final.rs). Each cheat
//! comes with a root summary consistent with it (tests/common/chunk_cheats.rs), so only the
//! check it aims at can refuse it.

use plonky2::field::goldilocks_field::GoldilocksField;
use plonky2::field::types::Field;
use zkattr_model::merkle::empty_subtrees;
use zkattr_model::Epoch;
use zkattr_plonky2::aggregation::chunks::native::{
    chunk_list, finalize_chunked, ChunkError, ChunkSummary, ListState, MAX_CHUNK_HEIGHT,
};
use zkattr_plonky2::aggregation::native::{
    aggregate_epoch, finalize, AggregateError, BatchSummary, Ext, ListedPayee,
};
use zkattr_plonky2::aggregation::SMALL_CHUNK_HEIGHT;
use zkattr_plonky2::GoldilocksFamily;

#[path = "common/chunk_cheats.rs"]
mod chunk_cheats;
use chunk_cheats::{chunks_of, chunks_restarted, consistent, pieces, setup, split_across_seam};

/// 40 queries over 60 adapters: 31 payees at seed 3, so four chunks of 8 hold the list with the
/// last one partly filled (asserted: the tests below cut the list at these seams).
fn standard() -> (Epoch, BatchSummary, Vec<ListedPayee>) {
    let (epoch, root, payees) = setup(40, 60);
    assert_eq!(payees.len(), 31);
    (epoch, root, payees)
}

#[test]
fn chunked_lists_give_the_whole_list_statement() {
    for (queries, adapters, payee_count) in [
        (1u64, 4u32, 3usize),
        (12, 20, 15),
        (40, 60, 31),
        (64, 300, 71),
    ] {
        let (epoch, root, payees) = setup(queries, adapters);
        assert_eq!(payees.len(), payee_count);
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
                    "{queries} queries, {payee_count} payees, {chunks} chunks of 2^{height}",
                );
            }
        }
        // The design's sizes: 16,384 and 32,768 entries a chunk, 4 and 32 chunks (32 of
        // 32,768 are the whole depth-20 tree, no lifting).
        for height in [SMALL_CHUNK_HEIGHT, MAX_CHUNK_HEIGHT] {
            for chunks in [4usize, 32] {
                let split = chunk_list(root.challenges, height, chunks, &payees).unwrap();
                assert_eq!(finalize_chunked(&root, &split).unwrap(), expected);
            }
        }
    }
}

#[test]
fn chunks_past_the_list_are_identical_empty_chunks() {
    let (_, root, payees) = standard();
    let split = chunk_list(root.challenges, 3, 8, &payees).unwrap();
    let last_real = split[3];
    assert_eq!(last_real.n_payees, 7);
    let empty_root = empty_subtrees(&GoldilocksFamily, 3)[3];
    for c in &split[4..] {
        // Identical public inputs: one proof serves them all.
        assert_eq!(c.to_fields(), split[4].to_fields());
        assert_eq!(c.n_payees, 0);
        assert_eq!((c.start, c.end), (last_real.end, last_real.end));
        assert_eq!(c.root, empty_root);
        assert_eq!((c.accumulator, c.low_sum, c.high_sum), (Ext::ZERO, 0, 0));
    }
}

#[test]
fn the_design_size_fits_the_payout_tree() {
    let (_, root, payees) = standard();
    assert!(chunk_list(root.challenges, MAX_CHUNK_HEIGHT, 32, &payees).is_ok());
    assert!(matches!(
        chunk_list(root.challenges, MAX_CHUNK_HEIGHT, 64, &payees),
        Err(ChunkError::ChunkCount { chunks: 64, .. })
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
        Err(ChunkError::Seam { position: 1 })
    );
    // Chunk 1 dropped, the rest moved up and an empty chunk appended.
    let dropped = [split[0], split[2], split[3], split[3]];
    assert_eq!(
        finalize_chunked(&root, &dropped),
        Err(ChunkError::Seam { position: 1 })
    );
    // Three chunks are not a tree of chunks at all.
    assert!(matches!(
        finalize_chunked(&root, &split[..3]),
        Err(ChunkError::ChunkCount { chunks: 3, .. })
    ));
    // A chunk of another circuit (height).
    let other = chunk_list(root.challenges, 2, 8, &payees).unwrap();
    let mixed = [split[0], other[2], split[2], split[3]];
    assert_eq!(
        finalize_chunked(&root, &mixed),
        Err(ChunkError::HeightMismatch {
            position: 1,
            height: 2,
            expected: 3
        })
    );
}

/// One adapter's entry split across a seam into two entries whose amounts and slot counts add
/// up: the accumulator, the total and (with the cheat's own challenges) everything else hold;
/// only the seam's order check refuses it.
#[test]
fn an_adapter_listed_on_both_sides_of_a_seam_is_refused() {
    let (epoch, root, payees) = standard();
    let (cheat, seam, below_split) = split_across_seam(&payees, 4);
    assert_eq!(cheat.len(), 32);
    let (root_c, chunks) = consistent(&epoch, root.challenges, |ch| {
        // The second half is proved from just below its own adapter, as a cheat would.
        chunks_restarted(ch, 2, &pieces(&cheat, 4, 8), seam, |state| ListState {
            previous: below_split,
            ..state
        })
    });
    assert_eq!(
        finalize_chunked(&root_c, &chunks),
        Err(ChunkError::Seam { position: seam })
    );
    // Control: the honest list in chunks of the same size is accepted.
    let honest = chunk_list(root.challenges, 2, 8, &payees).unwrap();
    assert!(finalize_chunked(&root, &honest).is_ok());
}

#[test]
fn a_chunk_off_the_digest_chain_is_refused() {
    let (epoch, root, payees) = standard();
    // Chunk 2 restarts the slot-count chain; the cheat's challenges use its own end digest.
    let (root_c, chunks) = consistent(&epoch, root.challenges, |ch| {
        chunks_restarted(ch, 3, &pieces(&payees, 8, 4), 2, |state| ListState {
            slot_counts: ListState::start().slot_counts,
            ..state
        })
    });
    assert_eq!(
        finalize_chunked(&root_c, &chunks),
        Err(ChunkError::Seam { position: 2 })
    );
    // Chunk 0 starting from another digest than zero.
    let (root_c, chunks) = consistent(&epoch, root.challenges, |ch| {
        chunks_restarted(ch, 3, &pieces(&payees, 8, 4), 0, |mut state| {
            state.slot_counts.elements[0] = GoldilocksField::ONE;
            state
        })
    });
    assert_eq!(
        finalize_chunked(&root_c, &chunks),
        Err(ChunkError::Seam { position: 0 })
    );

    // Inside a chunk, order and slot counts are the chunk circuit's own checks.
    let ch = root.challenges;
    let split = chunk_list(ch, 3, 4, &payees).unwrap();
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

/// Chunk 0 stops one entry short and the rest shift by one: a list with an empty leaf inside
/// it, whose commitment is not SPEC's; with its own challenges only the prefix check refuses it.
#[test]
fn a_hole_in_the_prefix_across_chunks_is_refused() {
    let (epoch, root, payees) = standard();
    let holed = vec![
        payees[..7].to_vec(),
        payees[7..15].to_vec(),
        payees[15..23].to_vec(),
        payees[23..].to_vec(),
    ];
    let (root_c, chunks) = consistent(&epoch, root.challenges, |ch| chunks_of(ch, 3, &holed));
    assert_eq!(
        finalize_chunked(&root_c, &chunks),
        Err(ChunkError::HoleInPrefix { position: 1 })
    );
}

/// A trailing chunk with no payees that moves the slot-count digest: it would let a prover pick
/// the digest (and so the challenges) freely; only the empty-chunk check refuses it.
#[test]
fn a_chunk_without_payees_must_be_the_empty_chunk() {
    let (epoch, root, payees) = standard();
    let (root_c, chunks) = consistent(&epoch, root.challenges, |ch| {
        let mut chunks = chunk_list(ch, 3, 8, &payees).unwrap();
        chunks[5].end.slot_counts.elements[0] += GoldilocksField::ONE;
        let moved = chunks[5].end;
        for c in &mut chunks[6..] {
            c.start = moved;
            c.end = moved;
        }
        chunks
    });
    assert_eq!(
        finalize_chunked(&root_c, &chunks),
        Err(ChunkError::PaddingChunk { position: 5 })
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
        ChunkError::ColumnSum { position: 1 },
    );
    refuse(
        &|c| c.n_payees = 9,
        ChunkError::Count {
            position: 1,
            payees: 9,
            height: 3,
        },
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
        ChunkError::Challenges { position: 1 },
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

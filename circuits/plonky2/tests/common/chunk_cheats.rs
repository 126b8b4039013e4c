//! Payout lists cut into chunks and the cross-chunk cheats built from them, shared by the
//! native twin's tests (tests/payout_chunks.rs) and the final layer over chunk proofs
//! (tests/chunked_final.rs). Each cheat comes with a root summary consistent with it
//! (challenges hashed from the cheat's own payout commitment and slot-count digest, the batches
//! accumulated under them), so only the check it aims at can refuse it.
#![allow(dead_code)]

use zkattr_model::commit::{commit_epoch, EpochCommitments};
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::{Epoch, Payout, Settlement};
use zkattr_plonky2::aggregation::chunks::native::{
    chunked_payout_commitment, ChunkSummary, ListState,
};
use zkattr_plonky2::aggregation::native::{
    listed_payees, listed_slot_counts, merge_all, BatchSummary, Challenges, ListedPayee,
};
use zkattr_plonky2::GoldilocksFamily;

/// The epoch's root summary (batches of 8) with the accumulator under `ch`.
pub fn root_under(epoch: &Epoch, ch: Challenges) -> BatchSummary {
    let summaries = epoch
        .queries
        .chunks(8)
        .enumerate()
        .map(|(b, q)| BatchSummary::of_batch(epoch.params, ch, 3, b as u64, q).unwrap())
        .collect();
    merge_all(summaries).unwrap()
}

/// An epoch, its honest root summary and its payout list with slot counts.
pub fn setup(queries: u64, adapters: u32) -> (Epoch, BatchSummary, Vec<ListedPayee>) {
    setup_epoch(generate(&SynthConfig::new(queries, adapters, 3)))
}

/// [`setup`] for a given epoch.
pub fn setup_epoch(epoch: Epoch) -> (Epoch, BatchSummary, Vec<ListedPayee>) {
    let settlement = Settlement::compute(&epoch).unwrap();
    let c = commit_epoch(&GoldilocksFamily, &epoch, &settlement).unwrap();
    let payees = listed_payees(&epoch, &settlement);
    let ch = Challenges::derive(&epoch.params, &c, &listed_slot_counts(&payees)).unwrap();
    let root = root_under(&epoch, ch);
    (epoch, root, payees)
}

/// A cheating prover's chunks `build(ch)` with the root summary it would pair them with: the
/// challenges hashed from the chunks' own payout commitment and end digest (neither depends on
/// the challenges), the epoch's batches accumulated under them.
pub fn consistent(
    epoch: &Epoch,
    honest: Challenges,
    build: impl Fn(Challenges) -> Vec<ChunkSummary>,
) -> (BatchSummary, Vec<ChunkSummary>) {
    let draft = build(honest);
    let settlement = Settlement::compute(epoch).unwrap();
    let logs = commit_epoch(&GoldilocksFamily, epoch, &settlement).unwrap();
    let commitments = EpochCommitments {
        payout: chunked_payout_commitment(&draft).unwrap(),
        ..logs
    };
    let digest = draft.last().unwrap().end.slot_counts;
    let ch = Challenges::derive(&epoch.params, &commitments, &digest).unwrap();
    (root_under(epoch, ch), build(ch))
}

/// Chunks of `2^height` from explicit pieces of a list, each continuing from the one before.
pub fn chunks_of(ch: Challenges, height: u32, pieces: &[Vec<ListedPayee>]) -> Vec<ChunkSummary> {
    chunks_restarted(ch, height, pieces, usize::MAX, |state| state)
}

/// [`chunks_of`], chunk `position` proved from `change(the state it should start from)`
/// instead, as a cheat would (the chunks after it continue from where it ends).
pub fn chunks_restarted(
    ch: Challenges,
    height: u32,
    pieces: &[Vec<ListedPayee>],
    position: usize,
    change: impl Fn(ListState) -> ListState,
) -> Vec<ChunkSummary> {
    let mut state = ListState::start();
    let mut out = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        let start = if i == position { change(state) } else { state };
        let c = ChunkSummary::of_chunk(ch, height, i as u64, start, piece).unwrap();
        state = c.end;
        out.push(c);
    }
    out
}

/// `list` cut into `chunks` pieces of `size` (the last ones possibly short or empty).
pub fn pieces(list: &[ListedPayee], size: usize, chunks: usize) -> Vec<Vec<ListedPayee>> {
    (0..chunks)
        .map(|i| list[(i * size).min(list.len())..((i + 1) * size).min(list.len())].to_vec())
        .collect()
}

/// One adapter's entry split into two across a seam of chunks of `size`: the first part (one
/// slot, half the amount) closes a chunk, the rest opens the next, so amounts and slot counts
/// add up and the accumulator and total hold. Returns the cheat list, the chunk the second part
/// opens, and the start state a cheat proves that chunk from: just below the split adapter.
pub fn split_across_seam(payees: &[ListedPayee], size: usize) -> (Vec<ListedPayee>, usize, u32) {
    let k = (size - 1..payees.len())
        .step_by(size)
        .find(|&k| payees[k].slots >= 2 && payees[k].payout.amount >= 2)
        .expect("a payee with two slots at a seam");
    let a = payees[k];
    let first = ListedPayee {
        payout: Payout {
            amount: a.payout.amount / 2,
            ..a.payout
        },
        slots: 1,
    };
    let second = ListedPayee {
        payout: Payout {
            amount: a.payout.amount - first.payout.amount,
            ..a.payout
        },
        slots: a.slots - 1,
    };
    let mut cheat = payees[..k].to_vec();
    cheat.extend([first, second]);
    cheat.extend_from_slice(&payees[k + 1..]);
    (cheat, (k + 1) / size, a.payout.adapter_id - 1)
}

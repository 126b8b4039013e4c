//! The native twin of a payout list proved in chunks (docs/aggregation.md, "Payout lists above
//! 32,768 payees"): what each chunk proof exposes and what the final layer over `K` chunk
//! proofs checks: the reference the circuits ([`super::circuit`] and [`super::final_layer`]) are
//! checked against. Its tests pin the split: an honest list cut into chunks gives exactly
//! [`crate::aggregation::native::finalize`]'s statement, and the cross-chunk cheats (seams, prefix, empty chunks, sums) are refused here.
//! Within a chunk, [`ChunkSummary::of_chunk`] stands for the chunk circuit.
//!
//! A chunk is an aligned subtree of the depth-20 payout tree, so the list splits into
//! independent pieces linked only at their seams: the previous adapter (order), the slot-count
//! digest chain (which splits exactly there because a chunk's capacity is a multiple of
//! [`SLOT_COUNT_CHUNK`]) and the prefix of real entries.

use crate::aggregation::native::{
    close_statement, continue_slot_counts, log_commitments, AggregateError, BatchSummary,
    Challenges, Ext, ListedPayee, SLOT_COUNT_CHUNK,
};
use crate::native::{Digest, F};
use crate::statement::StatementPublicInputs;
use crate::GoldilocksFamily;
use plonky2::field::types::Field;
use thiserror::Error;
use zkattr_model::commit::{tag, CommitmentFamily, EpochCommitments};
use zkattr_model::merkle::{self, empty_subtrees, TreeHasher};
use zkattr_model::types::PAYOUT_TREE_DEPTH;

/// Entries the largest chunk of the design holds: 2^15 = 32,768 (a 2^18-row chunk circuit),
/// SPEC's largest list in 32 chunks; smaller lists use smaller chunks
/// ([`crate::aggregation::chunk_height_for`]).
pub const MAX_CHUNK_HEIGHT: u32 = 15;

/// Why a chunked payout list is refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ChunkError {
    #[error("a chunk of height {height} must be at least {SLOT_COUNT_CHUNK} entries and fit the depth-20 payout tree")]
    Height { height: u32 },
    #[error("{chunks} chunks of 2^{height} entries: the count must be a power of two and the chunks must fit the depth-20 payout tree")]
    ChunkCount { chunks: usize, height: u32 },
    #[error("{payees} payees do not fit {chunks} chunks of 2^{height} entries")]
    ListTooLong {
        payees: usize,
        chunks: usize,
        height: u32,
    },
    #[error("chunk {position} has height {height}, chunk 0 has {expected}: one chunk circuit proves them all")]
    HeightMismatch {
        position: usize,
        height: u32,
        expected: u32,
    },
    #[error("chunk {position} was proved with other challenges than the root summary's")]
    Challenges { position: usize },
    #[error("chunk {position} does not start where the chunk before it ends (previous adapter or slot-count digest; chunk 0 starts from adapter 0 and the zero digest)")]
    Seam { position: usize },
    #[error("chunk {position} holds payees after a chunk that was not full: real entries must be a prefix")]
    HoleInPrefix { position: usize },
    #[error("chunk {position} claims {payees} payees, more than its 2^{height} entries")]
    Count {
        position: usize,
        payees: u64,
        height: u32,
    },
    #[error("a column sum of chunk {position} exceeds the bound its entries allow")]
    ColumnSum { position: usize },
    #[error("chunk {position} has no payees but is not the empty chunk (end state, root or sums)")]
    PaddingChunk { position: usize },
    #[error(transparent)]
    Aggregate(#[from] AggregateError),
}

/// The state a chunk continues from and hands on: the last real adapter so far (0 before the
/// first) and the slot-count digest chain so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListState {
    pub previous: u32,
    pub slot_counts: Digest,
}

impl ListState {
    /// Before the first entry.
    pub fn start() -> Self {
        ListState {
            previous: 0,
            slot_counts: Digest {
                elements: [F::ZERO; 4],
            },
        }
    }
}

/// What a chunk proof exposes about entries `index·2^height .. (index+1)·2^height` of the list
/// (the public inputs are [`Self::to_fields`]; `index` and `height` are not among them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkSummary {
    /// Where the honest split put the chunk (error messages only: a chunk proof holds for any
    /// position, and the final layer places chunks by the order it verifies them in).
    pub index: u64,
    /// A constant of the chunk circuit.
    pub height: u32,
    pub challenges: Challenges,
    pub start: ListState,
    pub end: ListState,
    /// Real entries in the chunk (a prefix of it).
    pub n_payees: u64,
    /// Root of the chunk's aligned subtree of the payout tree (padding leaves empty).
    pub root: Digest,
    /// `Σ (amount + β·slots) / (α − adapter)` over the chunk's real entries.
    pub accumulator: Ext,
    /// Sums of the amounts' low and high 32-bit limbs (each below `2^(height + 32)`).
    pub low_sum: u64,
    pub high_sum: u64,
}

impl ChunkSummary {
    /// Length of [`Self::to_fields`].
    pub const LEN: usize = 23;

    /// The chunk circuit's public inputs, in this order: α, β (two limbs each), the start
    /// state (previous adapter, slot-count digest), the end state (the same), the real-entry
    /// count, the subtree root, the accumulator (two limbs), the low and high column sums. The
    /// index is not among them: a chunk proof holds for any position, and the final layer
    /// places it by the order in which it verifies the chunks.
    pub fn to_fields(&self) -> Vec<F> {
        let mut out = Vec::with_capacity(Self::LEN);
        out.extend(self.challenges.to_fields());
        for state in [self.start, self.end] {
            out.push(F::from_canonical_u32(state.previous));
            out.extend(state.slot_counts.elements);
        }
        out.push(F::from_canonical_u64(self.n_payees));
        out.extend(self.root.elements);
        out.extend(self.accumulator.0);
        out.push(F::from_canonical_u64(self.low_sum));
        out.push(F::from_canonical_u64(self.high_sum));
        out
    }
}

fn check_height(height: u32) -> Result<(), ChunkError> {
    let fits = (height as usize) <= PAYOUT_TREE_DEPTH;
    if !fits || (1u64 << height) < SLOT_COUNT_CHUNK as u64 {
        return Err(ChunkError::Height { height });
    }
    Ok(())
}

impl ChunkSummary {
    /// What the chunk circuit would prove for `payees` (at most `2^height` of them) continuing
    /// from `start`. Refuses what its per-entry constraints refuse on real data: an adapter not
    /// above the previous one (zero included) and an entry in no slot. (It does not check two
    /// things the circuit also refuses and no honest list has: a slot count above 2^32, and
    /// `α` equal to an adapter id, which `Challenges::derive` rules out.)
    pub fn of_chunk(
        challenges: Challenges,
        height: u32,
        index: u64,
        start: ListState,
        payees: &[ListedPayee],
    ) -> Result<Self, ChunkError> {
        check_height(height)?;
        let capacity = 1usize << height;
        if payees.len() > capacity {
            return Err(ChunkError::ListTooLong {
                payees: payees.len(),
                chunks: 1,
                height,
            });
        }
        let family = GoldilocksFamily;
        let mut previous = start.previous;
        let mut accumulator = Ext::ZERO;
        let (mut low_sum, mut high_sum) = (0u64, 0u64);
        for (offset, p) in payees.iter().enumerate() {
            let problem = |problem| AggregateError::PayoutList {
                position: index as usize * capacity + offset,
                adapter_id: p.payout.adapter_id,
                problem,
            };
            if p.payout.adapter_id <= previous {
                return Err(problem("adapter ids must be non-zero and strictly increasing").into());
            }
            if p.slots == 0 {
                return Err(problem("a listed adapter must appear in at least one slot").into());
            }
            previous = p.payout.adapter_id;
            accumulator += challenges.term(p.payout.adapter_id, p.payout.amount, p.slots);
            // At most 2^20 limbs below 2^32: no overflow of u64.
            low_sum += p.payout.amount & 0xffff_ffff;
            high_sum += p.payout.amount >> 32;
        }
        let leaves = payees
            .iter()
            .map(|p| family.payout_leaf(&p.payout))
            .collect();
        let root = merkle::root(&family, height as usize, leaves).map_err(AggregateError::from)?;
        let counts: Vec<F> = payees
            .iter()
            .map(|p| F::from_canonical_u64(p.slots))
            .collect();
        let end = ListState {
            previous,
            slot_counts: continue_slot_counts(start.slot_counts, &counts),
        };
        Ok(ChunkSummary {
            index,
            height,
            challenges,
            start,
            end,
            n_payees: payees.len() as u64,
            root,
            accumulator,
            low_sum,
            high_sum,
        })
    }
}

fn check_chunk_count(chunks: usize, height: u32) -> Result<(), ChunkError> {
    check_height(height)?;
    let fits = chunks.is_power_of_two()
        && height as usize + chunks.trailing_zeros() as usize <= PAYOUT_TREE_DEPTH;
    if !fits {
        return Err(ChunkError::ChunkCount { chunks, height });
    }
    Ok(())
}

/// The honest prover's split: `chunks` summaries of `2^height` entries, the ones past the list
/// all padding (they continue from the last real entry and are identical).
pub fn chunk_list(
    challenges: Challenges,
    height: u32,
    chunks: usize,
    payees: &[ListedPayee],
) -> Result<Vec<ChunkSummary>, ChunkError> {
    check_chunk_count(chunks, height)?;
    let capacity = 1usize << height;
    if payees.len() > chunks * capacity {
        return Err(ChunkError::ListTooLong {
            payees: payees.len(),
            chunks,
            height,
        });
    }
    let mut state = ListState::start();
    let mut out = Vec::with_capacity(chunks);
    for index in 0..chunks {
        let from = (index * capacity).min(payees.len());
        let to = ((index + 1) * capacity).min(payees.len());
        let summary =
            ChunkSummary::of_chunk(challenges, height, index as u64, state, &payees[from..to])?;
        state = summary.end;
        out.push(summary);
    }
    Ok(out)
}

/// The payout commitment `H(3, root, n)` of a list given by its chunks: the tree over the
/// chunk roots, lifted with empty siblings to depth 20, and the real entries' count. Only
/// meaningful for chunks [`finalize_chunked`] accepts.
pub fn chunked_payout_commitment(chunks: &[ChunkSummary]) -> Result<Digest, ChunkError> {
    let height = chunks.first().map_or(MAX_CHUNK_HEIGHT, |c| c.height);
    check_chunk_count(chunks.len(), height)?;
    let family = GoldilocksFamily;
    let mut level: Vec<Digest> = chunks.iter().map(|c| c.root).collect();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| family.hash_children(&pair[0], &pair[1]))
            .collect();
    }
    let top = height as usize + chunks.len().trailing_zeros() as usize;
    let empty = empty_subtrees(&family, PAYOUT_TREE_DEPTH);
    let root = empty[top..PAYOUT_TREE_DEPTH]
        .iter()
        .fold(level[0], |node, sibling| {
            family.hash_children(&node, sibling)
        });
    let n_payees = chunks.iter().map(|c| c.n_payees).sum();
    Ok(family.commitment(tag::PAYOUT_COMMITMENT, &root, n_payees))
}

/// What the final layer over `chunks.len()` chunk proofs checks and exposes: the same statement
/// as [`crate::aggregation::native::finalize`] over the whole list. Chunks are placed by their
/// order here (a chunk proof holds for any position; [`ChunkSummary::index`] is not checked). Checks every
/// chunk's height and challenges against the root summary's, each seam (chunk 0 starts empty,
/// chunk `i + 1` where chunk `i` ends: previous adapter and slot-count digest), the prefix of
/// real entries across chunks, and that a chunk without real entries is the empty chunk (end
/// equal to start, empty subtree, zero sums: the chunk circuit implies it, the final layer can
/// afford to say it); then the payout commitment from the chunk roots
/// ([`chunked_payout_commitment`]) and the checks [`crate::aggregation::native::finalize`] makes
/// after the list, over the summed accumulators and column sums.
pub fn finalize_chunked(
    root: &BatchSummary,
    chunks: &[ChunkSummary],
) -> Result<StatementPublicInputs, ChunkError> {
    let (activation, influence) = log_commitments(root)?;
    let height = chunks.first().map_or(MAX_CHUNK_HEIGHT, |c| c.height);
    check_chunk_count(chunks.len(), height)?;
    let capacity = 1u64 << height;
    let empty_subtree = empty_subtrees(&GoldilocksFamily, height as usize)[height as usize];
    let mut state = ListState::start();
    let mut n_payees = 0u64;
    let mut accumulator = Ext::ZERO;
    let (mut low_sum, mut high_sum) = (0u64, 0u64);
    for (position, c) in chunks.iter().enumerate() {
        if c.height != height {
            return Err(ChunkError::HeightMismatch {
                position,
                height: c.height,
                expected: height,
            });
        }
        if c.challenges != root.challenges {
            return Err(ChunkError::Challenges { position });
        }
        if c.start != state {
            return Err(ChunkError::Seam { position });
        }
        // The two bounds below follow from the chunk circuit (a prefix count, 32-bit limbs);
        // the twin checks them so that its sums cannot overflow.
        if c.n_payees > capacity {
            return Err(ChunkError::Count {
                position,
                payees: c.n_payees,
                height,
            });
        }
        let bound = 1u64 << (height + 32);
        if c.low_sum >= bound || c.high_sum >= bound {
            return Err(ChunkError::ColumnSum { position });
        }
        if c.n_payees > 0 && n_payees < position as u64 * capacity {
            return Err(ChunkError::HoleInPrefix { position });
        }
        let empty_chunk = c.end == c.start
            && c.root == empty_subtree
            && c.accumulator == Ext::ZERO
            && c.low_sum == 0
            && c.high_sum == 0;
        if c.n_payees == 0 && !empty_chunk {
            return Err(ChunkError::PaddingChunk { position });
        }
        state = c.end;
        n_payees += c.n_payees;
        accumulator += c.accumulator;
        low_sum += c.low_sum;
        high_sum += c.high_sum;
    }
    let commitments = EpochCommitments {
        activation,
        influence,
        payout: chunked_payout_commitment(chunks)?,
    };
    // The listed total from the column sums (below 2^52 each), as the circuit splits them.
    let listed = u128::from(low_sum) + (u128::from(high_sum) << 32);
    Ok(close_statement(
        root,
        &commitments,
        &state.slot_counts,
        accumulator,
        listed,
    )?)
}

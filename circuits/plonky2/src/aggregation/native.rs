//! The native twin of batch aggregation (docs/aggregation.md): what a batch proof, a merge
//! proof and the final layer each establish, computed in plain Rust over the same Goldilocks
//! values the circuits expose ([`crate::aggregation::batch`], [`super::merge`], [`super::final_layer`]);
//! their tests compare public inputs with [`BatchSummary`] and [`finalize`].
//!
//! Per-adapter payouts aggregate additively: each batch contributes
//! `acc = Σ_{used slots} (share + β) / (α − adapter)` in `F_p^2`, merges add, and the final layer
//! checks `Σ_payees (payout + β·count) / (α − adapter) = acc` against the payout list, with
//! `α, β` a hash of the three commitments and of the list's slot counts (so fixed after the
//! logs, the list and the counts). See [`finalize`] for why that is sound.

use crate::native::{limbs, Digest, F};
use crate::statement::StatementPublicInputs;
use crate::GoldilocksFamily;
use plonky2::field::extension::quadratic::QuadraticExtension;
use plonky2::field::types::{Field, Field64};
use plonky2::hash::poseidon::PoseidonHash;
use plonky2::plonk::config::Hasher;
use std::collections::BTreeMap;
use thiserror::Error;
use zkattr_model::commit::{tag, CommitmentFamily, EpochCommitments};
use zkattr_model::merkle::{self, empty_subtrees, MerkleError, TreeHasher};
use zkattr_model::types::{EpochParams, LOG_TREE_DEPTH, PAYOUT_TREE_DEPTH};
use zkattr_model::{Epoch, Payout, Query, QueryShares, Settlement};

/// The challenge field.
pub type Ext = QuadraticExtension<F>;

/// Why an aggregation step rejects its inputs.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum AggregateError {
    #[error("a batch of height {height} holds at most 2^{height} queries, got {queries}")]
    BatchTooLarge { height: u32, queries: usize },
    #[error("batch index {index} does not fit a subtree of height {height} in the depth-32 tree")]
    IndexOutOfRange { height: u32, index: u64 },
    #[error("query {current} follows query {previous}: query ids must strictly increase")]
    QueryOrder { previous: u64, current: u64 },
    #[error("the children disagree on the epoch parameters or the challenges")]
    ParameterMismatch,
    #[error("children at heights {left} and {right}: a merge needs equal heights")]
    HeightMismatch { left: u32, right: u32 },
    #[error("children at indices {left} and {right} are not a left and right sibling")]
    NotSiblings { left: u64, right: u64 },
    #[error("the left child at index {index} holds {queries} of {capacity} queries but the right one is not empty: real queries must be a prefix")]
    HoleInPrefix {
        index: u64,
        queries: u64,
        capacity: u64,
    },
    #[error("a sum ({what}) exceeds u64")]
    Overflow { what: &'static str },
    #[error("the root summary is at index {index}; only index 0 can be lifted to the epoch")]
    NotTheRoot { index: u64 },
    #[error("the summaries' challenges differ from the hash of the resulting commitments")]
    ChallengeMismatch,
    #[error("the challenge α lies in the base field; this epoch cannot use the accumulator")]
    DegenerateChallenge,
    #[error("payee {position} (adapter {adapter_id}): {problem}")]
    PayoutList {
        position: usize,
        adapter_id: u32,
        problem: &'static str,
    },
    #[error("the payout list's total {listed} differs from the batches' total paid {accumulated}")]
    TotalPaidMismatch { listed: u64, accumulated: u64 },
    #[error("total paid {paid} plus treasury {treasury} is not the total pool {pool}")]
    Conservation { paid: u64, treasury: u64, pool: u64 },
    #[error("the payout list does not match the per-slot shares of the batches (accumulator)")]
    AccumulatorMismatch,
    #[error("total paid {0} is at least the Goldilocks modulus 2^64 - 2^32 + 1: the plonky2 aggregation checks payouts in that field and cannot prove it (SPEC allows totals up to 2^64 - 1): split the epoch so each pays less")]
    PaidAboveModulus(u64),
    #[error("no batches to aggregate")]
    NoBatches,
    #[error("batch size {0} is not a power of two")]
    BatchSize(usize),
    #[error(transparent)]
    Merkle(#[from] MerkleError),
}

/// A base-field element in `F_p^2`.
fn base(x: F) -> Ext {
    QuadraticExtension([x, F::ZERO])
}

/// `α, β` of the payout accumulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Challenges {
    pub alpha: Ext,
    pub beta: Ext,
}

/// Slot counts hashed into the challenges this many at a time (with the running digest, one
/// Poseidon permutation a link).
pub const SLOT_COUNT_CHUNK: usize = 4;

/// The payout list's slot counts in list order, chained: `d_0 = 0`,
/// `d_{i+1} = H(d_i ‖ counts[4i .. 4i+4])`, the last chunk padded with zeros (the final
/// layer's padding entries hold zero counts, so its chain over the whole capacity, extended
/// only by groups of four that hold a listed payee, ends at the same digest).
pub fn slot_count_digest(counts: &[F]) -> Digest {
    let start = Digest {
        elements: [F::ZERO; 4],
    };
    continue_slot_counts(start, counts)
}

/// [`slot_count_digest`]'s chain continued from `digest`: one chain over a list split into
/// pieces of multiples of [`SLOT_COUNT_CHUNK`] counts gives the whole list's digest.
pub(crate) fn continue_slot_counts(mut digest: Digest, counts: &[F]) -> Digest {
    for chunk in counts.chunks(SLOT_COUNT_CHUNK) {
        let mut input = [F::ZERO; 4 + SLOT_COUNT_CHUNK];
        input[..4].copy_from_slice(&digest.elements);
        input[4..4 + chunk.len()].copy_from_slice(chunk);
        digest = PoseidonHash::hash_no_pad(&input);
    }
    digest
}

/// [`slot_count_digest`] of a payout list with counts.
pub fn listed_slot_counts(payees: &[ListedPayee]) -> Digest {
    let counts: Vec<F> = payees
        .iter()
        .map(|p| F::from_canonical_u64(p.slots))
        .collect();
    slot_count_digest(&counts)
}

impl Challenges {
    /// `H(act, inf, payout, epoch_id_lo, epoch_id_hi, rate, slot_counts)`, split into `α` and
    /// `β`. A prover fixes the logs, the payout list and the list's slot counts
    /// ([`slot_count_digest`]) before it learns them. The counts must be in the hash: they are
    /// the final layer's witness, and a prover who chose them after seeing `α, β` would face
    /// two linear equations mod p in as many 32-bit unknowns as it has payees, which lattice
    /// reduction solves for a handful of them.
    pub fn derive(
        params: &EpochParams,
        commitments: &EpochCommitments<Digest>,
        slot_counts: &Digest,
    ) -> Result<Self, AggregateError> {
        let mut message = Vec::with_capacity(19);
        message.extend(commitments.activation.elements);
        message.extend(commitments.influence.elements);
        message.extend(commitments.payout.elements);
        message.extend(limbs(params.epoch_id));
        message.push(F::from_canonical_u16(params.rate_bps));
        message.extend(slot_counts.elements);
        let e = PoseidonHash::hash_no_pad(&message).elements;
        // α outside F_p: no adapter id (a base-field element) can zero a denominator.
        if e[1] == F::ZERO {
            return Err(AggregateError::DegenerateChallenge);
        }
        Ok(Challenges {
            alpha: QuadraticExtension([e[0], e[1]]),
            beta: QuadraticExtension([e[2], e[3]]),
        })
    }

    /// `α` then `β`, two limbs each: the order of every public input layout that carries them.
    pub fn to_fields(&self) -> [F; 4] {
        let [a0, a1] = self.alpha.0;
        let [b0, b1] = self.beta.0;
        [a0, a1, b0, b1]
    }

    /// The inverse of [`Self::to_fields`].
    pub fn from_fields([a0, a1, b0, b1]: [F; 4]) -> Self {
        Challenges {
            alpha: QuadraticExtension([a0, a1]),
            beta: QuadraticExtension([b0, b1]),
        }
    }

    /// `(value + β·weight) / (α − adapter)`.
    pub(crate) fn term(&self, adapter: u32, value: u64, weight: u64) -> Ext {
        let numerator =
            base(F::from_canonical_u64(value)) + self.beta * base(F::from_canonical_u64(weight));
        let denominator = self.alpha - base(F::from_canonical_u32(adapter));
        // Non-zero: α is not in the base field (checked in `derive`).
        numerator * denominator.inverse()
    }
}

/// What a batch or merge proof exposes about the subtree at (`height`, `index`) of both logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchSummary {
    pub params: EpochParams,
    pub challenges: Challenges,
    pub height: u32,
    pub index: u64,
    pub activation_root: Digest,
    pub influence_root: Digest,
    /// First and last real query id; `None` for an empty subtree.
    pub first_query: Option<u64>,
    pub last_query: Option<u64>,
    pub n_queries: u64,
    pub total_pool: u64,
    pub total_paid: u64,
    pub treasury: u64,
    pub accumulator: Ext,
}

fn check_position(height: u32, index: u64) -> Result<(), AggregateError> {
    let depth = LOG_TREE_DEPTH as u32;
    if height > depth || (height < depth && index >= 1u64 << (depth - height)) {
        return Err(AggregateError::IndexOutOfRange { height, index });
    }
    Ok(())
}

impl BatchSummary {
    /// Length of [`Self::to_fields`].
    pub const LEN: usize = 30;
    /// Where α (two limbs) and then β (two limbs) sit in [`Self::to_fields`].
    pub const CHALLENGES_AT: usize = 24;
    /// The leading fields that name a node: epoch_id (2 limbs), rate, height, index.
    pub const NODE_NAME_LEN: usize = 5;

    /// The public inputs of a batch or merge proof, in this order: epoch_id (2 limbs), rate,
    /// height, index, activation root (4), influence root (4), first and last query id (2 limbs
    /// each, zero when empty), n_queries, total_pool, total_paid, treasury (2 limbs each),
    /// α, β, accumulator (2 each).
    pub fn to_fields(&self) -> Vec<F> {
        let mut out = Vec::with_capacity(Self::LEN);
        out.extend(limbs(self.params.epoch_id));
        out.push(F::from_canonical_u16(self.params.rate_bps));
        out.push(F::from_canonical_u32(self.height));
        out.push(F::from_canonical_u64(self.index));
        out.extend(self.activation_root.elements);
        out.extend(self.influence_root.elements);
        out.extend(limbs(self.first_query.unwrap_or(0)));
        out.extend(limbs(self.last_query.unwrap_or(0)));
        out.push(F::from_canonical_u64(self.n_queries));
        for total in [self.total_pool, self.total_paid, self.treasury] {
            out.extend(limbs(total));
        }
        out.extend(self.challenges.to_fields());
        out.extend(self.accumulator.0);
        out
    }

    /// The constant summary of an empty subtree: padding to the right of the last batch.
    pub fn empty(params: EpochParams, challenges: Challenges, height: u32, index: u64) -> Self {
        let empty = empty_subtrees(&GoldilocksFamily, height as usize)[height as usize];
        BatchSummary {
            params,
            challenges,
            height,
            index,
            activation_root: empty,
            influence_root: empty,
            first_query: None,
            last_query: None,
            n_queries: 0,
            total_pool: 0,
            total_paid: 0,
            treasury: 0,
            accumulator: Ext::ZERO,
        }
    }

    /// What the batch circuit proves for `queries` placed at subtree `index` of height `height`
    /// (the queries must already be in SPEC's canonical form; the circuit enforces it).
    pub fn of_batch(
        params: EpochParams,
        challenges: Challenges,
        height: u32,
        index: u64,
        queries: &[Query],
    ) -> Result<Self, AggregateError> {
        check_position(height, index)?;
        if height >= usize::BITS || queries.len() > 1usize << height {
            return Err(AggregateError::BatchTooLarge {
                height,
                queries: queries.len(),
            });
        }
        for pair in queries.windows(2) {
            if pair[1].query_id <= pair[0].query_id {
                return Err(AggregateError::QueryOrder {
                    previous: pair[0].query_id,
                    current: pair[1].query_id,
                });
            }
        }
        let family = GoldilocksFamily;
        let leaves = |f: fn(&GoldilocksFamily, &Query) -> Digest| -> Vec<Digest> {
            queries.iter().map(|q| f(&family, q)).collect()
        };
        let activation_root = merkle::root(
            &family,
            height as usize,
            leaves(GoldilocksFamily::activation_leaf),
        )?;
        let influence_root = merkle::root(
            &family,
            height as usize,
            leaves(GoldilocksFamily::influence_leaf),
        )?;
        let mut summary = BatchSummary {
            activation_root,
            influence_root,
            first_query: queries.first().map(|q| q.query_id),
            last_query: queries.last().map(|q| q.query_id),
            n_queries: queries.len() as u64,
            ..Self::empty(params, challenges, height, index)
        };
        for query in queries {
            let shares = QueryShares::compute(query, params.rate_bps);
            summary.total_pool = add(summary.total_pool, shares.pool, "total pool")?;
            summary.treasury = add(summary.treasury, shares.residual, "treasury")?;
            for (slot, share) in query.slots.iter().zip(shares.shares) {
                if slot.is_used() {
                    summary.total_paid = add(summary.total_paid, share, "total paid")?;
                    summary.accumulator += challenges.term(slot.adapter_id, share, 1);
                }
            }
        }
        Ok(summary)
    }

    /// What the merge circuit checks and exposes for two sibling subtrees.
    pub fn merge(left: &Self, right: &Self) -> Result<Self, AggregateError> {
        if left.params != right.params || left.challenges != right.challenges {
            return Err(AggregateError::ParameterMismatch);
        }
        if left.height != right.height {
            return Err(AggregateError::HeightMismatch {
                left: left.height,
                right: right.height,
            });
        }
        if !left.index.is_multiple_of(2) || right.index != left.index + 1 {
            return Err(AggregateError::NotSiblings {
                left: left.index,
                right: right.index,
            });
        }
        let capacity = 1u64 << left.height;
        if left.n_queries < capacity && right.n_queries != 0 {
            return Err(AggregateError::HoleInPrefix {
                index: left.index,
                queries: left.n_queries,
                capacity,
            });
        }
        if let (Some(previous), Some(current)) = (left.last_query, right.first_query) {
            if current <= previous {
                return Err(AggregateError::QueryOrder { previous, current });
            }
        }
        let family = GoldilocksFamily;
        Ok(BatchSummary {
            params: left.params,
            challenges: left.challenges,
            height: left.height + 1,
            index: left.index / 2,
            activation_root: family.hash_children(&left.activation_root, &right.activation_root),
            influence_root: family.hash_children(&left.influence_root, &right.influence_root),
            first_query: left.first_query.or(right.first_query),
            last_query: right.last_query.or(left.last_query),
            n_queries: left.n_queries + right.n_queries,
            total_pool: add(left.total_pool, right.total_pool, "total pool")?,
            total_paid: add(left.total_paid, right.total_paid, "total paid")?,
            treasury: add(left.treasury, right.treasury, "treasury")?,
            accumulator: left.accumulator + right.accumulator,
        })
    }
}

fn add(a: u64, b: u64, what: &'static str) -> Result<u64, AggregateError> {
    a.checked_add(b).ok_or(AggregateError::Overflow { what })
}

/// A payee as the final layer witnesses it: SPEC's payout plus the number of used slots that
/// name the adapter (not published; it makes a zero payout count as listed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListedPayee {
    pub payout: Payout,
    pub slots: u64,
}

/// The payout list with slot counts, from the reference settlement.
pub fn listed_payees(epoch: &Epoch, settlement: &Settlement) -> Vec<ListedPayee> {
    let mut counts: BTreeMap<u32, u64> = BTreeMap::new();
    for query in &epoch.queries {
        for slot in query.used_slots() {
            *counts.entry(slot.adapter_id).or_insert(0) += 1;
        }
    }
    settlement
        .payouts
        .iter()
        .map(|p| ListedPayee {
            payout: *p,
            slots: counts.get(&p.adapter_id).copied().unwrap_or(0),
        })
        .collect()
}

/// What the final layer checks and exposes: SPEC's public inputs for the whole epoch.
///
/// Soundness of the payout check: with `α, β` hashed from the commitments, both sides of
/// `Σ_payees (payout + β·count)/(α − a) = Σ_slots (share + β)/(α − adapter)` are fixed before
/// `α` is known. As rational functions of `α` they are equal only if, for every adapter,
/// `payout + β·count` equals the sum over its slots of `share + β`; otherwise a random `α` is a
/// root of their difference with probability at most `(distinct adapters + payees) / p^2`.
/// For random `β` that in turn forces `count` and `payout` to equal the slot count and the share
/// sum modulo p. The counts are fixed before `α, β` only because they are hashed into them
/// ([`Challenges::derive`]). Equal modulo p means equal: counts are below 2^32 and an
/// adapter's share sum and listed amount are each at most the total paid, which must be below
/// p ([`AggregateError::PaidAboveModulus`]; SPEC allows totals up to 2^64 - 1, and above p an
/// amount listed as `S + p` beside another listed as `S' - p` would keep every sum).
/// `count ≥ 1` keeps adapters that appear in no slot off the list; an adapter that appears and
/// is missing leaves a pole. So the list is exactly SPEC's payee set with SPEC's amounts.
pub fn finalize(
    root: &BatchSummary,
    payees: &[ListedPayee],
) -> Result<StatementPublicInputs, AggregateError> {
    let (activation, influence) = log_commitments(root)?;
    let mut listed_total = 0u64;
    let mut listed_acc = Ext::ZERO;
    let mut previous = 0u32;
    for (position, p) in payees.iter().enumerate() {
        let problem = |problem| AggregateError::PayoutList {
            position,
            adapter_id: p.payout.adapter_id,
            problem,
        };
        if p.payout.adapter_id <= previous {
            return Err(problem(
                "adapter ids must be non-zero and strictly increasing",
            ));
        }
        if p.slots == 0 {
            return Err(problem("a listed adapter must appear in at least one slot"));
        }
        previous = p.payout.adapter_id;
        listed_total = add(listed_total, p.payout.amount, "listed payouts")?;
        listed_acc += root
            .challenges
            .term(p.payout.adapter_id, p.payout.amount, p.slots);
    }
    let payout_list: Vec<Payout> = payees.iter().map(|p| p.payout).collect();
    let payout = zkattr_model::commit::payout_commitment(&GoldilocksFamily, &payout_list)?;
    debug_assert!(payout_list.len() <= 1 << PAYOUT_TREE_DEPTH);
    let commitments = EpochCommitments {
        activation,
        influence,
        payout,
    };
    close_statement(
        root,
        &commitments,
        &listed_slot_counts(payees),
        listed_acc,
        u128::from(listed_total),
    )
}

/// Both log commitments of the epoch under `root`, which must be the summary at index 0: its
/// roots lifted to depth 32 with the empty siblings, then `H(4, root, n_queries)`.
pub(crate) fn log_commitments(root: &BatchSummary) -> Result<(Digest, Digest), AggregateError> {
    if root.index != 0 {
        return Err(AggregateError::NotTheRoot { index: root.index });
    }
    let family = GoldilocksFamily;
    let empty = empty_subtrees(&family, LOG_TREE_DEPTH);
    let lift = |mut node: Digest| {
        for sibling in &empty[root.height as usize..LOG_TREE_DEPTH] {
            node = family.hash_children(&node, sibling);
        }
        node
    };
    let activation = family.commitment(
        tag::LOG_COMMITMENT,
        &lift(root.activation_root),
        root.n_queries,
    );
    let influence = family.commitment(
        tag::LOG_COMMITMENT,
        &lift(root.influence_root),
        root.n_queries,
    );
    Ok((activation, influence))
}

/// The final layer's checks once a payout list is read (whole, or in chunks): total paid below
/// p, `α, β` re-derived from the commitments and the list's slot-count digest, the list's
/// accumulator and total equal to the root summary's, and conservation. Returns SPEC's
/// statement.
pub(crate) fn close_statement(
    root: &BatchSummary,
    commitments: &EpochCommitments<Digest>,
    slot_counts: &Digest,
    listed_acc: Ext,
    listed_total: u128,
) -> Result<StatementPublicInputs, AggregateError> {
    if root.total_paid >= F::ORDER {
        return Err(AggregateError::PaidAboveModulus(root.total_paid));
    }
    if Challenges::derive(&root.params, commitments, slot_counts)? != root.challenges {
        return Err(AggregateError::ChallengeMismatch);
    }
    if listed_acc != root.accumulator {
        return Err(AggregateError::AccumulatorMismatch);
    }
    if listed_total != u128::from(root.total_paid) {
        return Err(AggregateError::TotalPaidMismatch {
            listed: u64::try_from(listed_total).unwrap_or(u64::MAX),
            accumulated: root.total_paid,
        });
    }
    if root.total_paid.checked_add(root.treasury) != Some(root.total_pool) {
        return Err(AggregateError::Conservation {
            paid: root.total_paid,
            treasury: root.treasury,
            pool: root.total_pool,
        });
    }
    Ok(StatementPublicInputs {
        epoch_id: root.params.epoch_id,
        rate_bps: root.params.rate_bps,
        activation_commitment: commitments.activation,
        influence_commitment: commitments.influence,
        n_queries: root.n_queries,
        total_pool: root.total_pool,
        total_paid: root.total_paid,
        treasury: root.treasury,
        payout_commitment: commitments.payout,
    })
}

/// Merges summaries of consecutive batches `0..B` (all at one height) pairwise, padding each
/// level with empty subtrees, down to one summary at index 0.
pub fn merge_all(mut level: Vec<BatchSummary>) -> Result<BatchSummary, AggregateError> {
    while level.len() > 1 {
        if !level.len().is_multiple_of(2) {
            let last = level[level.len() - 1];
            level.push(BatchSummary::empty(
                last.params,
                last.challenges,
                last.height,
                last.index + 1,
            ));
        }
        level = level
            .chunks(2)
            .map(|pair| BatchSummary::merge(&pair[0], &pair[1]))
            .collect::<Result<_, _>>()?;
    }
    level.pop().ok_or(AggregateError::NoBatches)
}

/// The honest prover's whole pipeline natively: settlement and commitments, challenges, one
/// summary per batch of `batch_size` queries, merges, and the final layer.
pub fn aggregate_epoch(
    epoch: &Epoch,
    batch_size: usize,
) -> Result<StatementPublicInputs, Box<dyn std::error::Error + Send + Sync>> {
    if !batch_size.is_power_of_two() {
        return Err(AggregateError::BatchSize(batch_size).into());
    }
    let settlement = Settlement::compute(epoch)?;
    let commitments = zkattr_model::commit::commit_epoch(&GoldilocksFamily, epoch, &settlement)?;
    let payees = listed_payees(epoch, &settlement);
    let challenges = Challenges::derive(&epoch.params, &commitments, &listed_slot_counts(&payees))?;
    let height = batch_size.trailing_zeros();
    let summaries = if epoch.queries.is_empty() {
        vec![BatchSummary::empty(epoch.params, challenges, height, 0)]
    } else {
        epoch
            .queries
            .chunks(batch_size)
            .enumerate()
            .map(|(b, batch)| {
                BatchSummary::of_batch(epoch.params, challenges, height, b as u64, batch)
            })
            .collect::<Result<_, _>>()?
    };
    let root = merge_all(summaries)?;
    Ok(finalize(&root, &payees)?)
}

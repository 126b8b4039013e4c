//! The chunk circuit of a payout list proved in pieces (docs/aggregation.md, "Payout lists
//! above 32,768 payees"): one aligned subtree of the depth-20 payout tree, continuing the list
//! from a start state it takes as public input. Its public inputs are
//! [`ChunkSummary::to_fields`]; the final layer over chunk proofs that links them is
//! [`super::final_layer`], and the pipeline uses both for lists above 32,768 payees.

use crate::aggregation::chunks::native::ChunkSummary;
use crate::aggregation::final_layer::{
    payee_entry, set_payees, ListChallenges, PayeeLabels, PayeeTargets, PayeeWitness,
};
use crate::aggregation::native::{ListedPayee, SLOT_COUNT_CHUNK};
use crate::gadgets::{CommitmentInstructions, PrefixTargets};
use crate::native::F;
use crate::prover::Config;
use crate::statement::D;
use anyhow::{ensure, Result};
use plonky2::field::types::Field;
use plonky2::hash::hash_types::HashOutTarget;
use plonky2::hash::poseidon::PoseidonHash;
use plonky2::iop::ext_target::ExtensionTarget;
use plonky2::iop::target::Target;
use plonky2::iop::witness::{PartialWitness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{CircuitConfig, CircuitData};
use plonky2::plonk::proof::ProofWithPublicInputs;

/// The state a chunk starts from, as targets: previous adapter and slot-count digest.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StateTargets {
    pub(crate) previous: Target,
    pub(crate) slot_counts: HashOutTarget,
}

/// A chunk proof's public inputs as targets, in [`ChunkSummary::to_fields`]' layout (the final
/// layer over chunks reads them).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ChunkTargets {
    pub(crate) challenges: [Target; 4],
    pub(crate) start: StateTargets,
    pub(crate) end: StateTargets,
    pub(crate) count: Target,
    pub(crate) root: HashOutTarget,
    pub(crate) accumulated: ExtensionTarget<D>,
    pub(crate) column_sums: [Target; 2],
}

impl ChunkTargets {
    pub(crate) fn read(t: &[Target]) -> Self {
        assert_eq!(t.len(), ChunkSummary::LEN);
        let hash = |i: usize| HashOutTarget {
            elements: [t[i], t[i + 1], t[i + 2], t[i + 3]],
        };
        ChunkTargets {
            challenges: [t[0], t[1], t[2], t[3]],
            start: StateTargets {
                previous: t[4],
                slot_counts: hash(5),
            },
            end: StateTargets {
                previous: t[9],
                slot_counts: hash(10),
            },
            count: t[14],
            root: hash(15),
            accumulated: ExtensionTarget([t[19], t[20]]),
            column_sums: [t[21], t[22]],
        }
    }
}

/// A chunk of `2^height` payout-list entries.
#[derive(Debug)]
pub struct ChunkCircuit {
    pub data: CircuitData<F, Config, D>,
    height: u32,
    alpha: ExtensionTarget<D>,
    beta: ExtensionTarget<D>,
    start: StateTargets,
    payees: Vec<PayeeTargets>,
    prefix: PrefixTargets,
}

impl ChunkCircuit {
    /// The circuit for chunks of `2^height` entries (`2 <= height <= 20`: a chunk holds whole
    /// slot-count groups and fits the payout tree).
    ///
    /// Constrains, with `α, β` and the start state `(previous, d)` public: real entries a
    /// prefix of the chunk, each entry as the final layer's [`payee_entry`] (adapter and limbs
    /// below 2^32, padding all zero, a real adapter above the one before it, the first above
    /// `previous`, slot count at least 1, `(α − adapter)·inverse = 1`); and exposes the end
    /// state (the last real adapter, or `previous` for an empty chunk; the count digest
    /// continued from `d` over each group of four whose first entry is real), the real count,
    /// the root of the chunk's subtree with padding leaves empty, `Σ` of the real entries'
    /// accumulator terms, and the sums of the low and high limbs (below `2^(height + 32)`, so
    /// without wrap in the field). The start state is not range-checked: the final layer sets
    /// chunk 0's to zero and every other chunk's to the previous chunk's end, whose adapter is
    /// a range-checked entry's (or, through empty chunks, zero).
    pub fn build(height: u32) -> Self {
        assert!(
            height <= 20 && (1usize << height) >= SLOT_COUNT_CHUNK,
            "a chunk of height {height} does not hold whole slot-count groups in the payout tree"
        );
        let capacity = 1usize << height;
        // No zero knowledge: the final layer over the chunks is the zero-knowledge proof.
        let mut b = CircuitBuilder::<F, D>::new(CircuitConfig::standard_recursion_config());
        let alpha = b.add_virtual_extension_target();
        let beta = b.add_virtual_extension_target();
        let start = StateTargets {
            previous: b.add_virtual_target(),
            slot_counts: b.add_virtual_hash(),
        };
        let challenges = ListChallenges { alpha, beta };

        let prefix = b.prefix_flags(capacity);
        let zero = b.zero();
        let mut payees = Vec::with_capacity(capacity);
        let mut accumulated = b.zero_extension();
        let mut previous = start.previous;
        let mut last_real = start.previous;
        for real in &prefix.real {
            let (t, term) = payee_entry(&mut b, *real, previous, challenges);
            accumulated = b.add_extension(accumulated, term);
            previous = t.adapter;
            last_real = b.select(*real, t.adapter, last_real);
            payees.push(t);
        }
        let leaves: Vec<HashOutTarget> = payees
            .iter()
            .map(|t| b.payout_leaf(t.adapter, t.amount))
            .collect();
        let root = b.padded_root(&leaves, &prefix.real, height as usize);

        let mut slot_counts = start.slot_counts;
        for (group, reals) in payees
            .chunks(SLOT_COUNT_CHUNK)
            .zip(prefix.real.chunks(SLOT_COUNT_CHUNK))
        {
            let mut input = slot_counts.elements.to_vec();
            input.extend(group.iter().map(|t| t.slots));
            let next = b.hash_n_to_hash_no_pad::<PoseidonHash>(input);
            for (kept, new) in slot_counts.elements.iter_mut().zip(next.elements) {
                *kept = b.select(reals[0], new, *kept);
            }
        }
        let low_sum = payees.iter().fold(zero, |sum, t| b.add(sum, t.amount[0]));
        let high_sum = payees.iter().fold(zero, |sum, t| b.add(sum, t.amount[1]));

        // In ChunkSummary::to_fields's order.
        b.register_public_inputs(&alpha.0);
        b.register_public_inputs(&beta.0);
        b.register_public_input(start.previous);
        b.register_public_inputs(&start.slot_counts.elements);
        b.register_public_input(last_real);
        b.register_public_inputs(&slot_counts.elements);
        b.register_public_input(prefix.count);
        b.register_public_inputs(&root.elements);
        b.register_public_inputs(&accumulated.0);
        b.register_public_input(low_sum);
        b.register_public_input(high_sum);

        ChunkCircuit {
            data: b.build::<Config>(),
            height,
            alpha,
            beta,
            start,
            payees,
            prefix,
        }
    }

    /// Entries a chunk holds.
    pub fn capacity(&self) -> usize {
        1 << self.height
    }

    /// Proves the chunk `summary` describes, from its payees (at most [`Self::capacity`]).
    /// The proof's public inputs are `summary.to_fields()` when the summary is
    /// [`ChunkSummary::of_chunk`]'s for these payees.
    pub fn prove(
        &self,
        summary: &ChunkSummary,
        payees: &[ListedPayee],
    ) -> Result<ProofWithPublicInputs<F, Config, D>> {
        let entries: Vec<PayeeWitness> = payees.iter().map(PayeeWitness::from).collect();
        self.prove_entries(summary, &entries, payees.len())
    }

    /// Proves from raw entries with `summary`'s challenges and start state: the first `count`
    /// are real, any further ones fill padding positions. Honest chunks go through
    /// [`Self::prove`]; this form lets tests hand the circuit a cheat.
    pub fn prove_entries(
        &self,
        summary: &ChunkSummary,
        entries: &[PayeeWitness],
        count: usize,
    ) -> Result<ProofWithPublicInputs<F, Config, D>> {
        let pw = self.witness(summary, entries, count)?;
        self.data.prove(pw)
    }

    /// The targets of each entry's checks, by position.
    pub fn payee_labels(&self) -> Vec<PayeeLabels> {
        self.payees.iter().map(PayeeTargets::labels).collect()
    }

    /// The proving inputs of [`Self::prove_entries`].
    pub fn witness(
        &self,
        summary: &ChunkSummary,
        entries: &[PayeeWitness],
        count: usize,
    ) -> Result<PartialWitness<F>> {
        ensure!(
            entries.len() <= self.capacity() && count <= entries.len(),
            "{} entries ({count} payees) do not fit a chunk of {}",
            entries.len(),
            self.capacity()
        );
        let mut pw = PartialWitness::new();
        let alpha = summary.challenges.alpha;
        pw.set_extension_target(self.alpha, alpha)?;
        pw.set_extension_target(self.beta, summary.challenges.beta)?;
        pw.set_target(
            self.start.previous,
            F::from_canonical_u32(summary.start.previous),
        )?;
        pw.set_hash_target(self.start.slot_counts, summary.start.slot_counts)?;
        set_payees(&mut pw, &self.payees, entries, alpha)?;
        self.prefix.set(&mut pw, count)?;
        Ok(pw)
    }
}

//! The merge circuit (docs/aggregation.md): verifies two child proofs of one pinned circuit
//! whose public inputs are [`BatchSummary::to_fields`] and exposes their parent's summary.
//!
//! Children are proofs of one fixed circuit (its verifier data is a constant of this circuit,
//! so a prover cannot substitute another circuit), so there is one merge circuit per level.
//! Padding to the right of the last batch costs no proof: a flag replaces the right child's
//! summary by the constant summary of an empty subtree (`BatchSummary::empty`), and the prover
//! passes the left proof again in the right slot only so the verifier has a proof to check.
//! Setting the flag over a real right child cannot hide it: the parent's roots become those of
//! an empty subtree there, so the epoch's commitments are no longer the logs' (and the prefix
//! rule forbids queries after the padding).

use crate::aggregation::native::BatchSummary;
use crate::gadgets::{order_borrow, CommitmentInstructions, OrderInstructions};
use crate::native::F;
use crate::prover::Config;
use crate::statement::D;
use crate::GoldilocksFamily;
use anyhow::{Context, Result};
use plonky2::field::types::Field;
use plonky2::hash::hash_types::HashOutTarget;
use plonky2::iop::ext_target::ExtensionTarget;
use plonky2::iop::target::{BoolTarget, Target};
use plonky2::iop::witness::{PartialWitness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{CircuitConfig, CircuitData, VerifierCircuitData};
use plonky2::plonk::proof::{ProofWithPublicInputs, ProofWithPublicInputsTarget};
use zkattr_model::merkle::empty_subtrees;

/// A summary's public inputs as targets, in [`BatchSummary::to_fields`]' layout.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SummaryTargets {
    pub(crate) epoch: [Target; 3],
    pub(crate) height: Target,
    pub(crate) index: Target,
    pub(crate) activation: HashOutTarget,
    pub(crate) influence: HashOutTarget,
    pub(crate) first: [Target; 2],
    pub(crate) last: [Target; 2],
    pub(crate) n_queries: Target,
    pub(crate) totals: [[Target; 2]; 3],
    pub(crate) challenges: [Target; 4],
    pub(crate) accumulator: ExtensionTarget<D>,
}

impl SummaryTargets {
    pub(crate) fn read(t: &[Target]) -> Self {
        assert_eq!(t.len(), BatchSummary::LEN);
        let hash = |i: usize| HashOutTarget {
            elements: [t[i], t[i + 1], t[i + 2], t[i + 3]],
        };
        SummaryTargets {
            epoch: [t[0], t[1], t[2]],
            height: t[3],
            index: t[4],
            activation: hash(5),
            influence: hash(9),
            first: [t[13], t[14]],
            last: [t[15], t[16]],
            n_queries: t[17],
            totals: [[t[18], t[19]], [t[20], t[21]], [t[22], t[23]]],
            challenges: [t[24], t[25], t[26], t[27]],
            accumulator: ExtensionTarget([t[28], t[29]]),
        }
    }

    fn register(&self, b: &mut CircuitBuilder<F, D>) {
        b.register_public_inputs(&self.epoch);
        b.register_public_input(self.height);
        b.register_public_input(self.index);
        b.register_public_inputs(&self.activation.elements);
        b.register_public_inputs(&self.influence.elements);
        b.register_public_inputs(&self.first);
        b.register_public_inputs(&self.last);
        b.register_public_input(self.n_queries);
        for total in self.totals {
            b.register_public_inputs(&total);
        }
        b.register_public_inputs(&self.challenges);
        b.register_public_inputs(&self.accumulator.0);
    }
}

/// `a + b` over two 32-bit limbs each; the sum must fit in 64 bits (the high limb is
/// range-checked, so an overflow makes the proof fail).
pub(crate) fn add_u64(b: &mut CircuitBuilder<F, D>, x: [Target; 2], y: [Target; 2]) -> [Target; 2] {
    add_u64_with_low_sum(b, x, y).0
}

/// [`add_u64`], also returning the low limbs' sum before its split (a test's label for the
/// split's recomposition).
pub(crate) fn add_u64_with_low_sum(
    b: &mut CircuitBuilder<F, D>,
    x: [Target; 2],
    y: [Target; 2],
) -> ([Target; 2], Target) {
    let sum = b.add(x[0], y[0]);
    let (low, carry) = b.split_low_high(sum, 32, 33);
    let high = b.add(x[1], y[1]);
    let high = b.add(high, carry);
    b.range_check(high, 32);
    ([low, high], sum)
}

/// A merge circuit over children of one pinned circuit.
#[derive(Debug)]
pub struct MergeCircuit {
    /// The children's subtree height (the parent is one higher).
    pub child_height: u32,
    pub data: CircuitData<F, Config, D>,
    left: ProofWithPublicInputsTarget<D>,
    right: ProofWithPublicInputsTarget<D>,
    parent_index: Target,
    seam_borrow: BoolTarget,
    right_empty: BoolTarget,
}

impl MergeCircuit {
    /// Builds the merge of two proofs of `child`, a circuit whose summaries are at subtree
    /// height `child_height`. The child's verifier data becomes a constant of this circuit: a
    /// proof of any other circuit fails the recursive verification.
    pub fn build(child: &VerifierCircuitData<F, Config, D>, child_height: u32) -> Self {
        assert!(child_height < 32, "subtrees of the depth-32 logs");
        let mut b = CircuitBuilder::<F, D>::new(CircuitConfig::standard_recursion_config());
        let vd = b.constant_verifier_data(&child.verifier_only);
        let left = b.add_virtual_proof_with_pis(&child.common);
        let right = b.add_virtual_proof_with_pis(&child.common);
        b.verify_proof::<Config>(&left, &vd, &child.common);
        b.verify_proof::<Config>(&right, &vd, &child.common);
        let l = SummaryTargets::read(&left.public_inputs);
        let proven_right = SummaryTargets::read(&right.public_inputs);
        let zero = b.zero();
        let one = b.one();
        let child_height_target = b.constant(F::from_canonical_u32(child_height));
        b.connect(l.height, child_height_target);

        // The right child actually merged: the proven one, or the empty subtree at the same
        // height, index, epoch and challenges as the left's sibling.
        let right_empty = b.add_virtual_bool_target_safe();
        let empty_root =
            empty_subtrees(&GoldilocksFamily, child_height as usize)[child_height as usize];
        let empty_root = b.constant_hash(empty_root);
        let pick = |b: &mut CircuitBuilder<F, D>, padding: Target, proven: Target| {
            b.select(right_empty, padding, proven)
        };
        let pick_hash = |b: &mut CircuitBuilder<F, D>, proven: HashOutTarget| HashOutTarget {
            elements: [0, 1, 2, 3]
                .map(|i| b.select(right_empty, empty_root.elements[i], proven.elements[i])),
        };
        let r = SummaryTargets {
            epoch: [0, 1, 2].map(|i| pick(&mut b, l.epoch[i], proven_right.epoch[i])),
            height: pick(&mut b, l.height, proven_right.height),
            // Checked against the sibling index below, so the padding's index is any.
            index: proven_right.index,
            activation: pick_hash(&mut b, proven_right.activation),
            influence: pick_hash(&mut b, proven_right.influence),
            first: proven_right.first.map(|x| pick(&mut b, zero, x)),
            last: proven_right.last.map(|x| pick(&mut b, zero, x)),
            n_queries: pick(&mut b, zero, proven_right.n_queries),
            totals: proven_right
                .totals
                .map(|t| t.map(|x| pick(&mut b, zero, x))),
            challenges: [0, 1, 2, 3]
                .map(|i| pick(&mut b, l.challenges[i], proven_right.challenges[i])),
            accumulator: {
                let zero_ext = b.zero_extension();
                b.select_ext(right_empty, zero_ext, proven_right.accumulator)
            },
        };

        // Same epoch, rate, challenges and height.
        for (x, y) in l.epoch.iter().zip(&r.epoch) {
            b.connect(*x, *y);
        }
        for (x, y) in l.challenges.iter().zip(&r.challenges) {
            b.connect(*x, *y);
        }
        b.connect(l.height, r.height);

        // Siblings: left at 2p, right at 2p + 1; p below 2^32 keeps the indices unique.
        let parent_index = b.add_virtual_target();
        b.range_check(parent_index, 32);
        let two = b.two();
        let left_index = b.mul(parent_index, two);
        b.connect(l.index, left_index);
        let right_index = b.add(left_index, one);
        let right_index_checked = b.select(right_empty, right_index, r.index);
        b.connect(right_index_checked, right_index);
        let height = b.add(l.height, one);

        // Real queries are a prefix: a right child with queries needs a full left child.
        let capacity = b.constant(F::from_canonical_u64(1 << child_height));
        let full = b.is_equal(l.n_queries, capacity);
        let not_full = b.not(full);
        let hole = b.mul(not_full.target, r.n_queries);
        b.connect(hole, zero);

        // Order across the seam when the right child has queries: right.first - left.last - 1
        // is a 64-bit value, checked in 32-bit limbs with a witnessed borrow.
        let right_has_none = b.is_equal(r.n_queries, zero);
        let right_real = b.not(right_has_none);
        let seam_borrow = b.add_virtual_bool_target_safe();
        b.assert_increasing_if(l.last, r.first, seam_borrow, right_real.target);

        let activation = b.hash_children(l.activation, r.activation);
        let influence = b.hash_children(l.influence, r.influence);
        let last = [0, 1].map(|i| b.select(right_real, r.last[i], l.last[i]));
        let n_queries = b.add(l.n_queries, r.n_queries);
        let totals = [0, 1, 2].map(|i| add_u64(&mut b, l.totals[i], r.totals[i]));
        let accumulator = b.add_extension(l.accumulator, r.accumulator);

        SummaryTargets {
            epoch: l.epoch,
            height,
            index: parent_index,
            activation,
            influence,
            first: l.first,
            last,
            n_queries,
            totals,
            challenges: l.challenges,
            accumulator,
        }
        .register(&mut b);

        MergeCircuit {
            child_height,
            data: b.build::<Config>(),
            left,
            right,
            parent_index,
            seam_borrow,
            right_empty,
        }
    }

    /// Proves the merge of two child proofs. Fails (error or unverifiable proof) when the
    /// children are not adjacent, out of order, or not proofs of the pinned circuit.
    pub fn prove(
        &self,
        left: &ProofWithPublicInputs<F, Config, D>,
        right: &ProofWithPublicInputs<F, Config, D>,
    ) -> Result<ProofWithPublicInputs<F, Config, D>> {
        self.prove_inner(left, Some(right))
    }

    /// Proves the parent of `left` and the empty subtree to its right (padding after the
    /// epoch's last batch).
    pub fn prove_with_empty_right(
        &self,
        left: &ProofWithPublicInputs<F, Config, D>,
    ) -> Result<ProofWithPublicInputs<F, Config, D>> {
        self.prove_inner(left, None)
    }

    fn prove_inner(
        &self,
        left: &ProofWithPublicInputs<F, Config, D>,
        right: Option<&ProofWithPublicInputs<F, Config, D>>,
    ) -> Result<ProofWithPublicInputs<F, Config, D>> {
        use plonky2::field::types::PrimeField64;
        let mut pw = PartialWitness::new();
        pw.set_proof_with_pis_target(&self.left, left)?;
        // The padding's slot still needs some proof of the child circuit: the left one.
        pw.set_proof_with_pis_target(&self.right, right.unwrap_or(left))?;
        pw.set_bool_target(self.right_empty, right.is_none())?;
        let value = |p: &ProofWithPublicInputs<F, Config, D>, i: usize| {
            p.public_inputs
                .get(i)
                .map(|f| f.to_canonical_u64())
                .context("a child proof with too few public inputs")
        };
        pw.set_target(
            self.parent_index,
            F::from_canonical_u64(value(left, 4)? / 2),
        )?;
        let right_first_low = match right {
            Some(right) => value(right, 13)?,
            None => 0,
        };
        let left_last_low = value(left, 15)?;
        pw.set_bool_target(
            self.seam_borrow,
            order_borrow(left_last_low, right_first_low),
        )?;
        self.data.prove(pw)
    }
}

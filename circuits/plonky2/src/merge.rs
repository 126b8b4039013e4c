//! The merge circuit (docs/aggregation.md): verifies two child proofs of one pinned circuit
//! whose public inputs are [`BatchSummary::to_fields`] and exposes their parent's summary.
//!
//! Children are proofs of one fixed circuit (its verifier data is a constant of this circuit,
//! so a prover cannot substitute another circuit), so there is one merge circuit per level.
//! Not built yet: the empty right child as a constant (padding needs a proof of an empty batch).

use crate::aggregate::BatchSummary;
use crate::gadgets::CommitmentInstructions;
use crate::native::F;
use crate::prover::Config;
use crate::statement::D;
use anyhow::{Context, Result};
use plonky2::field::types::Field;
use plonky2::hash::hash_types::HashOutTarget;
use plonky2::iop::ext_target::ExtensionTarget;
use plonky2::iop::target::{BoolTarget, Target};
use plonky2::iop::witness::{PartialWitness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{CircuitConfig, CircuitData, VerifierCircuitData};
use plonky2::plonk::proof::{ProofWithPublicInputs, ProofWithPublicInputsTarget};

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
    let low = b.add(x[0], y[0]);
    let (low, carry) = b.split_low_high(low, 32, 33);
    let high = b.add(x[1], y[1]);
    let high = b.add(high, carry);
    b.range_check(high, 32);
    [low, high]
}

/// A merge circuit over children of one pinned circuit.
#[derive(Debug)]
pub struct MergeCircuit {
    pub data: CircuitData<F, Config, D>,
    left: ProofWithPublicInputsTarget<D>,
    right: ProofWithPublicInputsTarget<D>,
    parent_index: Target,
    seam_borrow: BoolTarget,
}

impl MergeCircuit {
    /// Builds the merge of two proofs of `child`. The child's verifier data becomes a constant
    /// of this circuit: a proof of any other circuit fails the recursive verification.
    pub fn build(child: &VerifierCircuitData<F, Config, D>) -> Self {
        let mut b = CircuitBuilder::<F, D>::new(CircuitConfig::standard_recursion_config());
        let vd = b.constant_verifier_data(&child.verifier_only);
        let left = b.add_virtual_proof_with_pis(&child.common);
        let right = b.add_virtual_proof_with_pis(&child.common);
        b.verify_proof::<Config>(&left, &vd, &child.common);
        b.verify_proof::<Config>(&right, &vd, &child.common);
        let l = SummaryTargets::read(&left.public_inputs);
        let r = SummaryTargets::read(&right.public_inputs);

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
        let one = b.one();
        let zero = b.zero();
        let left_index = b.mul(parent_index, two);
        b.connect(l.index, left_index);
        let right_index = b.add(left_index, one);
        b.connect(r.index, right_index);
        let height = b.add(l.height, one);
        b.range_check(l.height, 5);

        // Real queries are a prefix: a right child with queries needs a full left child.
        let capacity = b.exp(two, l.height, 5);
        let full = b.is_equal(l.n_queries, capacity);
        let not_full = b.not(full);
        let hole = b.mul(not_full.target, r.n_queries);
        b.connect(hole, zero);

        // Order across the seam when the right child has queries: right.first - left.last - 1
        // is a 64-bit value, checked in 32-bit limbs with a witnessed borrow.
        let right_empty = b.is_equal(r.n_queries, zero);
        let right_real = b.not(right_empty);
        let seam_borrow = b.add_virtual_bool_target_safe();
        let two_32 = b.constant(F::from_canonical_u64(1 << 32));
        let low = b.sub(r.first[0], l.last[0]);
        let low = b.sub(low, one);
        let low = b.mul_add(seam_borrow.target, two_32, low);
        let low = b.mul(low, right_real.target);
        b.range_check(low, 32);
        let high = b.sub(r.first[1], l.last[1]);
        let high = b.sub(high, seam_borrow.target);
        let high = b.mul(high, right_real.target);
        b.range_check(high, 32);

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
            data: b.build::<Config>(),
            left,
            right,
            parent_index,
            seam_borrow,
        }
    }

    /// Proves the merge of two child proofs. Fails (error or unverifiable proof) when the
    /// children are not adjacent, out of order, or not proofs of the pinned circuit.
    pub fn prove(
        &self,
        left: &ProofWithPublicInputs<F, Config, D>,
        right: &ProofWithPublicInputs<F, Config, D>,
    ) -> Result<ProofWithPublicInputs<F, Config, D>> {
        use plonky2::field::types::PrimeField64;
        let mut pw = PartialWitness::new();
        pw.set_proof_with_pis_target(&self.left, left)?;
        pw.set_proof_with_pis_target(&self.right, right)?;
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
        let (left_last_low, right_first_low) = (value(left, 15)?, value(right, 13)?);
        pw.set_bool_target(self.seam_borrow, right_first_low < left_last_low + 1)?;
        self.data.prove(pw)
    }
}

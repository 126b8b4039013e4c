//! The final layer of aggregation (docs/aggregation.md): verifies the root summary's proof
//! (pinned circuit, index 0), lifts both roots to depth 32, checks the payout list against the
//! accumulator with `α, β` recomputed from the commitments, and exposes exactly SPEC's 22
//! public inputs in the single-proof encoding.

use crate::aggregate::{BatchSummary, ListedPayee};
use crate::gadgets::{CommitmentInstructions, PrefixTargets};
use crate::merge::{add_u64, SummaryTargets};
use crate::native::{limbs, F};
use crate::prover::Config;
use crate::statement::D;
use crate::GoldilocksFamily;
use anyhow::{ensure, Context, Result};
use plonky2::field::extension::quadratic::QuadraticExtension;
use plonky2::field::types::Field;
use plonky2::hash::hash_types::HashOutTarget;
use plonky2::hash::poseidon::PoseidonHash;
use plonky2::iop::ext_target::ExtensionTarget;
use plonky2::iop::target::Target;
use plonky2::iop::witness::{PartialWitness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{CircuitConfig, CircuitData, VerifierCircuitData};
use plonky2::plonk::proof::{ProofWithPublicInputs, ProofWithPublicInputsTarget};
use zkattr_model::commit::tag;
use zkattr_model::merkle::empty_subtrees;
use zkattr_model::types::{LOG_TREE_DEPTH, PAYOUT_TREE_DEPTH};

/// A payee's targets: adapter, amount limbs, slot count.
#[derive(Clone, Copy, Debug)]
struct PayeeTargets {
    adapter: Target,
    amount: [Target; 2],
    slots: Target,
    inverse: ExtensionTarget<D>,
}

/// The final circuit over a root proof of one pinned circuit at a fixed height.
#[derive(Debug)]
pub struct FinalCircuit {
    pub data: CircuitData<F, Config, D>,
    child: ProofWithPublicInputsTarget<D>,
    payees: Vec<PayeeTargets>,
    prefix: PrefixTargets,
}

impl FinalCircuit {
    /// `height` is the root proof's subtree height (a constant of the pinned child circuit);
    /// `payee_capacity` a power of two up to 2^20.
    pub fn build(
        child: &VerifierCircuitData<F, Config, D>,
        height: u32,
        payee_capacity: usize,
    ) -> Self {
        assert!(payee_capacity.is_power_of_two() && payee_capacity <= 1 << PAYOUT_TREE_DEPTH);
        let mut b = CircuitBuilder::<F, D>::new(CircuitConfig::standard_recursion_zk_config());
        let vd = b.constant_verifier_data(&child.verifier_only);
        let proof = b.add_virtual_proof_with_pis(&child.common);
        b.verify_proof::<Config>(&proof, &vd, &child.common);
        let s = SummaryTargets::read(&proof.public_inputs);
        let zero = b.zero();
        let one = b.one();

        // The root of the whole tree of summaries.
        b.connect(s.index, zero);
        let h = b.constant(F::from_canonical_u32(height));
        b.connect(s.height, h);
        let empty = empty_subtrees(&GoldilocksFamily, LOG_TREE_DEPTH);
        let lift = |b: &mut CircuitBuilder<F, D>, mut node: HashOutTarget| {
            for sibling in &empty[height as usize..LOG_TREE_DEPTH] {
                let sibling = b.constant_hash(*sibling);
                node = b.hash_children(node, sibling);
            }
            node
        };
        let act_root = lift(&mut b, s.activation);
        let inf_root = lift(&mut b, s.influence);
        let activation = b.commitment(tag::LOG_COMMITMENT, act_root, s.n_queries);
        let influence = b.commitment(tag::LOG_COMMITMENT, inf_root, s.n_queries);

        // The payout list: strictly increasing non-zero adapters, each in at least one slot.
        let prefix = b.prefix_flags(payee_capacity);
        let mut payees = Vec::with_capacity(payee_capacity);
        let mut previous = zero;
        for real in &prefix.real {
            let t = PayeeTargets {
                adapter: b.add_virtual_target(),
                amount: [b.add_virtual_target(), b.add_virtual_target()],
                slots: b.add_virtual_target(),
                inverse: b.add_virtual_extension_target(),
            };
            b.range_check(t.amount[0], 32);
            b.range_check(t.amount[1], 32);
            let padding = b.not(*real);
            for value in [t.adapter, t.amount[0], t.amount[1], t.slots] {
                let stray = b.mul(value, padding.target);
                b.connect(stray, zero);
            }
            let step = b.sub(t.adapter, previous);
            let step = b.sub(step, one);
            let step = b.mul(step, real.target);
            b.range_check(step, 32);
            let extra = b.sub(t.slots, one);
            let extra = b.mul(extra, real.target);
            b.range_check(extra, 32);
            previous = t.adapter;
            payees.push(t);
        }
        let leaves: Vec<HashOutTarget> = payees
            .iter()
            .map(|t| b.payout_leaf(t.adapter, t.amount))
            .collect();
        let payout_root = b.padded_root(&leaves, &prefix.real, PAYOUT_TREE_DEPTH);
        let payout = b.commitment(tag::PAYOUT_COMMITMENT, payout_root, prefix.count);

        // α, β from the commitments, as `Challenges::derive` computes them.
        let mut message = Vec::with_capacity(15);
        message.extend(activation.elements);
        message.extend(influence.elements);
        message.extend(payout.elements);
        message.extend(&s.epoch);
        let challenges = b.hash_n_to_hash_no_pad::<PoseidonHash>(message);
        for (x, y) in challenges.elements.iter().zip(&s.challenges) {
            b.connect(*x, *y);
        }
        let alpha = ExtensionTarget([s.challenges[0], s.challenges[1]]);
        let beta = ExtensionTarget([s.challenges[2], s.challenges[3]]);

        // Σ_payees (amount + β·slots)/(α − adapter) must equal the batches' accumulator
        // (soundness: `aggregate::finalize`). Amounts enter the field as lo + 2^32·hi, which
        // wraps only for amounts >= p: such a listed amount is its true value plus p, so the
        // integer total (checked in limbs below against the accumulated total paid) would
        // exceed the truth unless every amount is exact.
        let one_ext = b.one_extension();
        let zero_ext = b.zero_extension();
        let two_32 = b.constant(F::from_canonical_u64(1 << 32));
        let mut listed = zero_ext;
        let mut listed_total = [zero, zero];
        for (t, real) in payees.iter().zip(&prefix.real) {
            let adapter = b.convert_to_ext(t.adapter);
            let denominator = b.sub_extension(alpha, adapter);
            let product = b.mul_extension(denominator, t.inverse);
            b.connect_extension(product, one_ext);
            let amount = b.mul_add(t.amount[1], two_32, t.amount[0]);
            let amount = b.convert_to_ext(amount);
            let numerator = b.scalar_mul_add_extension(t.slots, beta, amount);
            let term = b.mul_extension(numerator, t.inverse);
            let term = b.select_ext(*real, term, zero_ext);
            listed = b.add_extension(listed, term);
            listed_total = add_u64(&mut b, listed_total, t.amount);
        }
        b.connect_extension(listed, s.accumulator);
        let [pool, paid, treasury] = s.totals;
        for (x, y) in listed_total.iter().zip(&paid) {
            b.connect(*x, *y);
        }
        let accounted = add_u64(&mut b, paid, treasury);
        for (x, y) in accounted.iter().zip(&pool) {
            b.connect(*x, *y);
        }

        // SPEC's public inputs, in the single-proof order and encoding.
        b.register_public_inputs(&s.epoch);
        b.register_public_inputs(&activation.elements);
        b.register_public_inputs(&influence.elements);
        b.register_public_input(s.n_queries);
        for total in [pool, paid, treasury] {
            b.register_public_inputs(&total);
        }
        b.register_public_inputs(&payout.elements);

        FinalCircuit {
            data: b.build::<Config>(),
            child: proof,
            payees,
            prefix,
        }
    }

    /// Proves the epoch's statement from the root proof and the payout list with slot counts.
    pub fn prove(
        &self,
        root: &ProofWithPublicInputs<F, Config, D>,
        payees: &[ListedPayee],
    ) -> Result<ProofWithPublicInputs<F, Config, D>> {
        ensure!(
            payees.len() <= self.payees.len(),
            "{} payees do not fit a final layer for {}",
            payees.len(),
            self.payees.len()
        );
        let alpha = root
            .public_inputs
            .get(BatchSummary::CHALLENGES_AT..BatchSummary::CHALLENGES_AT + 2)
            .context("a root proof with too few public inputs")?;
        let alpha = QuadraticExtension([alpha[0], alpha[1]]);
        let mut pw = PartialWitness::new();
        pw.set_proof_with_pis_target(&self.child, root)?;
        for (m, t) in self.payees.iter().enumerate() {
            let (adapter, amount, slots) = payees.get(m).map_or((0, 0, 0), |p| {
                (p.payout.adapter_id, p.payout.amount, p.slots)
            });
            let [lo, hi] = limbs(amount);
            pw.set_target(t.adapter, F::from_canonical_u32(adapter))?;
            pw.set_target(t.amount[0], lo)?;
            pw.set_target(t.amount[1], hi)?;
            pw.set_target(t.slots, F::from_canonical_u64(slots))?;
            let inverse = (alpha - QuadraticExtension([F::from_canonical_u32(adapter), F::ZERO]))
                .try_inverse()
                .context("the challenge α equals an adapter id")?;
            pw.set_extension_target(t.inverse, inverse)?;
        }
        self.prefix.set(&mut pw, payees.len())?;
        self.data.prove(pw)
    }
}

//! The final layer of aggregation (docs/aggregation.md): verifies the root summary's proof
//! (pinned circuit, index 0), lifts both roots to depth 32, checks the payout list against the
//! accumulator with `α, β` recomputed from the commitments, and exposes exactly SPEC's 22
//! public inputs in the single-proof encoding.

use crate::aggregation::merge::{add_u64_with_low_sum, SummaryTargets};
use crate::aggregation::native::{BatchSummary, ListedPayee, SLOT_COUNT_CHUNK};
use crate::gadgets::{CommitmentInstructions, PrefixTargets};
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
use plonky2::iop::target::{BoolTarget, Target};
use plonky2::iop::witness::{PartialWitness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{CircuitConfig, CircuitData, VerifierCircuitData};
use plonky2::plonk::proof::{ProofWithPublicInputs, ProofWithPublicInputsTarget};
use zkattr_model::commit::tag;
use zkattr_model::merkle::empty_subtrees;
use zkattr_model::types::{LOG_TREE_DEPTH, PAYOUT_TREE_DEPTH};
use zkattr_plonky2_gates::RangeCheckInstructions;

/// One payout-list entry's targets: adapter, amount limbs, slot count, `1 / (α − adapter)`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PayeeTargets {
    pub(crate) adapter: Target,
    pub(crate) amount: [Target; 2],
    pub(crate) slots: Target,
    inverse: ExtensionTarget<D>,
    labels: PayeeLabels,
}

impl PayeeTargets {
    /// The targets of this entry's checks.
    pub(crate) fn labels(&self) -> PayeeLabels {
        self.labels
    }
}

/// The targets of one entry's checks in [`payee_entry`], one field a check, so a test can name
/// the check that refuses a witness (see `tests/common/constraints.rs`).
#[derive(Clone, Copy, Debug)]
pub struct PayeeLabels {
    /// The adapter, checked below 2^32.
    pub adapter: Target,
    /// The low and high amount limbs, each checked below 2^32.
    pub amount: [Target; 2],
    /// `value · (1 − real)` for adapter, low limb, high limb and slots, each connected to zero
    /// (a padding entry is all zero).
    pub padding: [Target; 4],
    /// `(adapter − previous − 1) · real`, checked below 2^32 (adapters strictly increase).
    pub step: Target,
    /// `(slots − 1) · real`, checked below 2^32 (each payee in at least one slot).
    pub extra: Target,
    /// `(α − adapter) · inverse`, connected to one.
    pub inverse: ExtensionTarget<D>,
}

/// One payout-list entry as the final circuit's witness holds it. [`ListedPayee`]s give the
/// canonical form (amount in two 32-bit limbs); any other value is a cheat the circuit refuses,
/// which is what tests build with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PayeeWitness {
    pub adapter: F,
    /// Low, then high limb of the amount.
    pub amount: [F; 2],
    pub slots: F,
}

impl From<&ListedPayee> for PayeeWitness {
    fn from(p: &ListedPayee) -> Self {
        PayeeWitness {
            adapter: F::from_canonical_u32(p.payout.adapter_id),
            amount: limbs(p.payout.amount),
            slots: F::from_canonical_u64(p.slots),
        }
    }
}

/// The challenges the per-entry constraints use, read from the root summary.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ListChallenges {
    pub(crate) alpha: ExtensionTarget<D>,
    pub(crate) beta: ExtensionTarget<D>,
}

/// One entry of the payout list (the part of the final layer that grows with the payee
/// capacity). Given the entry's prefix flag `real` and the previous entry's adapter,
/// constrains: the adapter and both amount limbs below 2^32; a padding entry (`real = 0`) all
/// zero; a real entry with `adapter - previous - 1` and `slots - 1` below 2^32 (strictly
/// increasing adapters, each in at least one slot); `(α − adapter) · inverse = 1`. Returns the entry's targets and its
/// accumulator term, `(amount + β·slots) · inverse` for a real entry and zero for padding. Range
/// checks are [`RangeCheckInstructions::check_bits`] ops (seven to a row), not plonky2's
/// row-per-value `range_check`.
pub(crate) fn payee_entry(
    b: &mut CircuitBuilder<F, D>,
    real: BoolTarget,
    previous: Target,
    challenges: ListChallenges,
) -> (PayeeTargets, ExtensionTarget<D>) {
    let zero = b.zero();
    let one = b.one();
    let adapter = b.add_virtual_target();
    let amount = [b.add_virtual_target(), b.add_virtual_target()];
    let slots = b.add_virtual_target();
    let inverse = b.add_virtual_extension_target();
    b.check_bits(adapter, 32);
    b.check_bits(amount[0], 32);
    b.check_bits(amount[1], 32);
    let padding = b.not(real);
    let strays = [adapter, amount[0], amount[1], slots].map(|value| {
        let stray = b.mul(value, padding.target);
        b.connect(stray, zero);
        stray
    });
    let step = b.sub(adapter, previous);
    let step = b.sub(step, one);
    let step = b.mul(step, real.target);
    b.check_bits(step, 32);
    let extra = b.sub(slots, one);
    let extra = b.mul(extra, real.target);
    b.check_bits(extra, 32);

    let one_ext = b.one_extension();
    let adapter_ext = b.convert_to_ext(adapter);
    let denominator = b.sub_extension(challenges.alpha, adapter_ext);
    let product = b.mul_extension(denominator, inverse);
    b.connect_extension(product, one_ext);
    let t = PayeeTargets {
        adapter,
        amount,
        slots,
        inverse,
        labels: PayeeLabels {
            adapter,
            amount,
            padding: strays,
            step,
            extra,
            inverse: product,
        },
    };
    let two_32 = b.constant(F::from_canonical_u64(1 << 32));
    let amount = b.mul_add(t.amount[1], two_32, t.amount[0]);
    let amount = b.convert_to_ext(amount);
    let numerator = b.scalar_mul_add_extension(t.slots, challenges.beta, amount);
    let term = b.mul_extension(numerator, t.inverse);
    let zero_ext = b.zero_extension();
    let term = b.select_ext(real, term, zero_ext);
    (t, term)
}

/// Assigns `entries` to the first payee targets and zero to the rest, with each entry's
/// `1 / (α − adapter)` (witness generation only).
pub(crate) fn set_payees(
    pw: &mut PartialWitness<F>,
    targets: &[PayeeTargets],
    entries: &[PayeeWitness],
    alpha: QuadraticExtension<F>,
) -> Result<()> {
    let padding = PayeeWitness {
        adapter: F::ZERO,
        amount: [F::ZERO; 2],
        slots: F::ZERO,
    };
    for (m, t) in targets.iter().enumerate() {
        let entry = entries.get(m).copied().unwrap_or(padding);
        pw.set_target(t.adapter, entry.adapter)?;
        pw.set_target(t.amount[0], entry.amount[0])?;
        pw.set_target(t.amount[1], entry.amount[1])?;
        pw.set_target(t.slots, entry.slots)?;
        let inverse = (alpha - QuadraticExtension([entry.adapter, F::ZERO]))
            .try_inverse()
            .context("the challenge α equals an adapter id")?;
        pw.set_extension_target(t.inverse, inverse)?;
    }
    Ok(())
}

/// The final layer's configuration: zero knowledge, since its witness (the payout list and the
/// root proof) is hidden only by this proof; the shrink layer above adds no blinding. One
/// function, so [`payout_list_gates`] measures the circuit the final layer builds.
pub(crate) fn final_config() -> CircuitConfig {
    CircuitConfig::standard_recursion_zk_config()
}

/// The payout list's targets and what the rest of the final layer checks them against.
struct PayoutListTargets {
    prefix: PrefixTargets,
    payees: Vec<PayeeTargets>,
    commitments: ListCommitments,
}

/// A payout list of `capacity` entries (a power of two): prefix flags for the real ones, each
/// entry's constraints ([`payee_entry`]), the sum of their accumulator terms, SPEC's payout
/// commitment over the leaves `H(adapter, lo, hi)` of the real entries (padding leaves empty),
/// and the digest of the real entries' slot counts: `d ← H(d ‖ four counts)` for each chunk of
/// four entries whose first is real (padding counts are zero, so a partly real chunk hashes as
/// the native zero-padded one).
fn payout_list(
    b: &mut CircuitBuilder<F, D>,
    capacity: usize,
    challenges: ListChallenges,
) -> PayoutListTargets {
    let prefix = b.prefix_flags(capacity);
    let mut payees = Vec::with_capacity(capacity);
    let mut accumulated = b.zero_extension();
    let mut previous = b.zero();
    for real in &prefix.real {
        let (t, term) = payee_entry(b, *real, previous, challenges);
        accumulated = b.add_extension(accumulated, term);
        previous = t.adapter;
        payees.push(t);
    }
    let leaves: Vec<HashOutTarget> = payees
        .iter()
        .map(|t| b.payout_leaf(t.adapter, t.amount))
        .collect();
    let root = b.padded_root(&leaves, &prefix.real, PAYOUT_TREE_DEPTH);
    let commitment = b.commitment(tag::PAYOUT_COMMITMENT, root, prefix.count);
    let zero = b.zero();
    let mut slot_counts = HashOutTarget::from([zero; 4]);
    for (chunk, reals) in payees
        .chunks(SLOT_COUNT_CHUNK)
        .zip(prefix.real.chunks(SLOT_COUNT_CHUNK))
    {
        let mut input = slot_counts.elements.to_vec();
        input.extend(chunk.iter().map(|t| t.slots));
        input.resize(4 + SLOT_COUNT_CHUNK, zero);
        let next = b.hash_n_to_hash_no_pad::<PoseidonHash>(input);
        let extends = reals[0];
        for (kept, new) in slot_counts.elements.iter_mut().zip(next.elements) {
            *kept = b.select(extends, new, *kept);
        }
    }
    PayoutListTargets {
        prefix,
        payees,
        commitments: ListCommitments {
            commitment,
            slot_counts,
            accumulated,
        },
    }
}

/// Gates a payout list of `capacity` entries takes in the final layer (entries, leaves, tree,
/// commitment, slot-count digest), for reports (`examples/rows.rs`): the part of the final layer that grows with
/// the payee capacity; the rest is the root proof's verification.
pub fn payout_list_gates(capacity: usize) -> usize {
    let mut b = CircuitBuilder::<F, D>::new(final_config());
    let challenges = ListChallenges {
        alpha: b.add_virtual_extension_target(),
        beta: b.add_virtual_extension_target(),
    };
    payout_list(&mut b, capacity, challenges);
    b.num_gates()
}

/// The targets of [`close_statement`]'s checks, one field a check, so a test can name the check
/// that refuses a witness (see `tests/common/constraints.rs`).
#[derive(Clone, Copy, Debug)]
pub struct StatementLabels {
    /// `α, β` hashed from the commitments, connected to the root summary's.
    pub challenges: [Target; 4],
    /// The list's accumulator, connected to the root summary's.
    pub accumulator: ExtensionTarget<D>,
    /// `paid_lo · [paid_hi = 2^32 − 1]`, connected to zero (total paid at most `p − 1`).
    pub paid_below_p: Target,
    /// The list's low and high limb-column sums.
    pub column_sums: [Target; 2],
    /// The low column sum's split `[paid_lo, carry]`, the first connected to the paid low
    /// limb.
    pub low_split: [Target; 2],
    /// `Σ hi + carry`, connected to the paid high limb.
    pub high_total: Target,
    /// `paid + treasury` in limbs, connected to the pool.
    pub accounted: [Target; 2],
    /// `paid_lo + treasury_lo` before its split into `accounted[0]` and a carry.
    pub accounted_low_sum: Target,
}

/// The root summary's proof as the final layer reads it: the proof target, its summary and
/// the epoch's two log commitments over the lifted roots.
pub(crate) struct RootTargets {
    pub(crate) proof: ProofWithPublicInputsTarget<D>,
    pub(crate) summary: SummaryTargets,
    activation: HashOutTarget,
    influence: HashOutTarget,
}

impl RootTargets {
    /// The challenges the per-entry constraints use: the root summary's `α, β`.
    pub(crate) fn list_challenges(&self) -> ListChallenges {
        let c = &self.summary.challenges;
        ListChallenges {
            alpha: ExtensionTarget([c[0], c[1]]),
            beta: ExtensionTarget([c[2], c[3]]),
        }
    }
}

/// Verifies a proof of `child` (its verifier data a constant of the circuit) as the root of
/// the whole tree of summaries: index 0 at subtree height `height`. Lifts both log roots to
/// depth 32 with empty siblings and constrains the log commitments `H(2, root, n_queries)`.
pub(crate) fn verify_root(
    b: &mut CircuitBuilder<F, D>,
    child: &VerifierCircuitData<F, Config, D>,
    height: u32,
) -> RootTargets {
    let vd = b.constant_verifier_data(&child.verifier_only);
    let proof = b.add_virtual_proof_with_pis(&child.common);
    b.verify_proof::<Config>(&proof, &vd, &child.common);
    let s = SummaryTargets::read(&proof.public_inputs);
    let zero = b.zero();
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
    let act_root = lift(b, s.activation);
    let inf_root = lift(b, s.influence);
    let activation = b.commitment(tag::LOG_COMMITMENT, act_root, s.n_queries);
    let influence = b.commitment(tag::LOG_COMMITMENT, inf_root, s.n_queries);
    RootTargets {
        proof,
        summary: s,
        activation,
        influence,
    }
}

/// What the payout list, however it was proved, hands to [`close_statement`].
pub(crate) struct ListCommitments {
    /// `H(3, root, count)` over the depth-20 payout tree of the real entries.
    pub(crate) commitment: HashOutTarget,
    /// The real entries' slot counts chained as `aggregate::slot_count_digest` does.
    pub(crate) slot_counts: HashOutTarget,
    /// `Σ` of the real entries' accumulator terms.
    pub(crate) accumulated: ExtensionTarget<D>,
}

/// The checks after the payout list, shared by the final layer and the final layer over
/// chunks (`aggregate::close_statement` natively): `α, β` re-derived from the three
/// commitments, the epoch and the slot-count digest and equal to the root summary's; the
/// list's accumulator equal to the batches'; the total paid at most `p − 1`; the list's two
/// limb-column sums (from `column_sums`, each below 2^52 so without wrap) equal to the total
/// paid over the integers; `pool = paid + treasury`. Registers SPEC's 22 public inputs in the
/// single-proof order and encoding.
pub(crate) fn close_statement(
    b: &mut CircuitBuilder<F, D>,
    root: &RootTargets,
    list: &ListCommitments,
    column_sums: impl FnOnce(&mut CircuitBuilder<F, D>) -> [Target; 2],
) -> StatementLabels {
    let s = &root.summary;
    let zero = b.zero();
    // α, β from the commitments, as `Challenges::derive` computes them.
    let mut message = Vec::with_capacity(19);
    message.extend(root.activation.elements);
    message.extend(root.influence.elements);
    message.extend(list.commitment.elements);
    message.extend(&s.epoch);
    message.extend(list.slot_counts.elements);
    let challenges = b.hash_n_to_hash_no_pad::<PoseidonHash>(message);
    for (x, y) in challenges.elements.iter().zip(&s.challenges) {
        b.connect(*x, *y);
    }

    // Σ_payees (amount + β·slots)/(α − adapter) must equal the batches' accumulator
    // (soundness: `aggregate::finalize`). That fixes each amount modulo p; it fixes the
    // integer only because the total paid is below p (checked next) and the listed amounts
    // sum to it over the integers (checked below), so each is below p too.
    b.connect_extension(list.accumulated, s.accumulator);
    let [pool, paid, treasury] = s.totals;
    // Total paid <= p - 1 = (2^32 - 1)·2^32: a high limb of 2^32 - 1 needs a low limb of 0.
    let high_max = b.constant(F::from_canonical_u32(u32::MAX));
    let at_high_max = b.is_equal(paid[1], high_max);
    let above = b.mul(paid[0], at_high_max.target);
    b.connect(above, zero);

    // The listed total equals the total paid over the integers: each limb column is summed
    // in the field (at most 2^20 entries below 2^32 each: below 2^52, no wrap), then
    // `Σ lo = paid_lo + 2^32·carry` with `carry < 2^20` and `Σ hi + carry = paid_hi`.
    let [low_sum, high_sum] = column_sums(b);
    let low_split = b.split_limbs(low_sum, &[32, PAYOUT_TREE_DEPTH]);
    b.connect(low_split[0], paid[0]);
    let high_total = b.add(high_sum, low_split[1]);
    b.connect(high_total, paid[1]);
    let (accounted, accounted_low_sum) = add_u64_with_low_sum(b, paid, treasury);
    for (x, y) in accounted.iter().zip(&pool) {
        b.connect(*x, *y);
    }

    // SPEC's public inputs, in the single-proof order and encoding.
    b.register_public_inputs(&s.epoch);
    b.register_public_inputs(&root.activation.elements);
    b.register_public_inputs(&root.influence.elements);
    b.register_public_input(s.n_queries);
    for total in [pool, paid, treasury] {
        b.register_public_inputs(&total);
    }
    b.register_public_inputs(&list.commitment.elements);
    StatementLabels {
        challenges: challenges.elements,
        accumulator: list.accumulated,
        paid_below_p: above,
        column_sums: [low_sum, high_sum],
        low_split: [low_split[0], low_split[1]],
        high_total,
        accounted,
        accounted_low_sum,
    }
}

/// The final circuit over a root proof of one pinned circuit at a fixed height.
#[derive(Debug)]
pub struct FinalCircuit {
    pub data: CircuitData<F, Config, D>,
    child: ProofWithPublicInputsTarget<D>,
    payees: Vec<PayeeTargets>,
    prefix: PrefixTargets,
    labels: StatementLabels,
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
        let mut b = CircuitBuilder::<F, D>::new(final_config());
        let root = verify_root(&mut b, child, height);

        // The payout list: strictly increasing non-zero adapters, each in at least one slot, and
        // the accumulator terms, with the α and β the root summary carries (their derivation
        // from the commitments is checked by `close_statement`).
        let list = payout_list(&mut b, payee_capacity, root.list_challenges());
        let payees = &list.payees;
        let labels = close_statement(&mut b, &root, &list.commitments, |b| {
            let zero = b.zero();
            let low_sum = payees.iter().fold(zero, |sum, t| b.add(sum, t.amount[0]));
            let high_sum = payees.iter().fold(zero, |sum, t| b.add(sum, t.amount[1]));
            [low_sum, high_sum]
        });

        FinalCircuit {
            data: b.build::<Config>(),
            child: root.proof,
            payees: list.payees,
            prefix: list.prefix,
            labels,
        }
    }

    /// The targets of each payout-list entry's checks, by position.
    pub fn payee_labels(&self) -> Vec<PayeeLabels> {
        self.payees.iter().map(PayeeTargets::labels).collect()
    }

    /// The targets of the checks after the payout list.
    pub fn statement_labels(&self) -> StatementLabels {
        self.labels
    }

    /// The proving inputs of [`Self::prove_entries`]: the root proof, the entries (the first
    /// `count` the list, further ones in padding positions, zero after) and the prefix flags.
    pub fn witness(
        &self,
        root: &ProofWithPublicInputs<F, Config, D>,
        entries: &[PayeeWitness],
        count: usize,
    ) -> Result<PartialWitness<F>> {
        ensure!(
            entries.len() <= self.payees.len() && count <= entries.len(),
            "{} entries ({count} payees) do not fit a final layer for {}",
            entries.len(),
            self.payees.len()
        );
        let alpha = root
            .public_inputs
            .get(BatchSummary::CHALLENGES_AT..BatchSummary::CHALLENGES_AT + 2)
            .context("a root proof with too few public inputs")?;
        let alpha = QuadraticExtension([alpha[0], alpha[1]]);
        let mut pw = PartialWitness::new();
        pw.set_proof_with_pis_target(&self.child, root)?;
        set_payees(&mut pw, &self.payees, entries, alpha)?;
        self.prefix.set(&mut pw, count)?;
        Ok(pw)
    }

    /// Proves the epoch's statement from the root proof and the payout list with slot counts.
    pub fn prove(
        &self,
        root: &ProofWithPublicInputs<F, Config, D>,
        payees: &[ListedPayee],
    ) -> Result<ProofWithPublicInputs<F, Config, D>> {
        let entries: Vec<PayeeWitness> = payees.iter().map(PayeeWitness::from).collect();
        self.prove_entries(root, &entries, payees.len())
    }

    /// Proves from raw entries: the first `count` are the list, any further ones fill padding
    /// positions, and the rest of the capacity is zero. Honest lists go through
    /// [`Self::prove`]; this form lets tests hand the circuit a cheat.
    pub fn prove_entries(
        &self,
        root: &ProofWithPublicInputs<F, Config, D>,
        entries: &[PayeeWitness],
        count: usize,
    ) -> Result<ProofWithPublicInputs<F, Config, D>> {
        let pw = self.witness(root, entries, count)?;
        self.data.prove(pw)
    }
}

//! In-circuit SPEC commitments over Goldilocks: query records, leaves, fixed-depth Merkle roots
//! over a batch padded with empty leaves, and `H(tag, root, count)`.
//!
//! Constraint-building (this module's [`CommitmentInstructions`] on the circuit builder) is kept
//! apart from witness assignment ([`QueryTargets::set`], [`PrefixTargets::set`]), so a verifier
//! or key generator builds the same circuit without any witness.

use crate::native::{limbs, F};
use anyhow::Result;
use plonky2::field::extension::Extendable;
use plonky2::field::types::Field;
use plonky2::hash::hash_types::HashOutTarget;
use plonky2::hash::poseidon::PoseidonHash;
use plonky2::iop::target::{BoolTarget, Target};
use plonky2::iop::witness::{PartialWitness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use zkattr_model::commit::tag;
use zkattr_model::merkle::empty_subtrees;
use zkattr_model::types::{Query, SLOTS};
use zkattr_plonky2_gates::cases::{removed, Case};
use zkattr_plonky2_gates::RangeCheckInstructions;

use crate::GoldilocksFamily;

/// One query record's targets, as both logs carry it.
///
/// The fields are private so that every record comes from [`QueryTargets::new`] and carries its
/// range checks: the rule's soundness leans on them (a score below 2^32 is what makes the
/// magnitude's one 32-bit check enough, the gate below 2^16 what makes the packed slot
/// injective), so a record without them cannot be built outside this module.
#[derive(Clone, Debug)]
pub struct QueryTargets {
    query_id: [Target; 2],
    fee: Target,
    adapter: [Target; SLOTS],
    gate: [Target; SLOTS],
    score: [Target; SLOTS],
}

impl QueryTargets {
    /// New targets, range-checked: `query_id` limbs and every `adapter` and `score` below 2^32,
    /// `fee` below 2^48, every `gate` below 2^16. These bounds make the packed activation slot
    /// value `adapter + gate * 2^32` (below 2^48) injective.
    pub fn new<const D: usize>(builder: &mut CircuitBuilder<F, D>) -> Self
    where
        F: Extendable<D>,
    {
        let mut checked = |bits: usize| {
            let t = builder.add_virtual_target();
            if !removed(Case::FieldWrap) {
                builder.check_bits(t, bits);
            }
            t
        };
        QueryTargets {
            query_id: [checked(32), checked(32)],
            fee: checked(48),
            adapter: [(); SLOTS].map(|()| checked(32)),
            gate: [(); SLOTS].map(|()| checked(16)),
            score: [(); SLOTS].map(|()| checked(32)),
        }
    }

    /// The same record with new adapter targets (range-checked below 2^32) in place of its
    /// own: what the influence log would hash if case 5's constraint, one adapter target for
    /// both logs, were removed (the `mutation` feature's switch).
    pub(crate) fn with_new_adapters<const D: usize>(
        &self,
        builder: &mut CircuitBuilder<F, D>,
    ) -> Self
    where
        F: Extendable<D>,
    {
        let adapter = [(); SLOTS].map(|()| {
            let t = builder.add_virtual_target();
            builder.check_bits(t, 32);
            t
        });
        QueryTargets {
            adapter,
            ..self.clone()
        }
    }

    /// `query_id` as 32-bit limbs, low first (each below 2^32).
    pub fn query_id(&self) -> [Target; 2] {
        self.query_id
    }

    /// The fee (below 2^48).
    pub fn fee(&self) -> Target {
        self.fee
    }

    /// The slots' adapter ids (each below 2^32).
    pub fn adapter(&self) -> [Target; SLOTS] {
        self.adapter
    }

    /// The slots' gate weights (each below 2^16).
    pub fn gate(&self) -> [Target; SLOTS] {
        self.gate
    }

    /// The slots' scores, each as its 32-bit two's-complement pattern (below 2^32).
    pub fn score(&self) -> [Target; SLOTS] {
        self.score
    }

    /// Assigns a query record (witness generation only; no constraint is added).
    pub fn set(&self, pw: &mut PartialWitness<F>, query: &Query) -> Result<()> {
        let [lo, hi] = limbs(query.query_id);
        pw.set_target(self.query_id[0], lo)?;
        pw.set_target(self.query_id[1], hi)?;
        pw.set_target(self.fee, F::from_canonical_u64(query.fee))?;
        for (j, slot) in query.slots.iter().enumerate() {
            pw.set_target(self.adapter[j], F::from_canonical_u32(slot.adapter_id))?;
            pw.set_target(self.gate[j], F::from_canonical_u16(slot.gate))?;
            pw.set_target(self.score[j], F::from_canonical_u32(slot.score as u32))?;
        }
        Ok(())
    }
}

/// Flags `real_i = (i < n)` for a batch of fixed capacity.
#[derive(Clone, Debug)]
pub struct PrefixTargets {
    pub count: Target,
    pub real: Vec<BoolTarget>,
}

impl PrefixTargets {
    /// Assigns the flags for `count` real records.
    pub fn set(&self, pw: &mut PartialWitness<F>, count: usize) -> Result<()> {
        pw.set_target(self.count, F::from_canonical_usize(count))?;
        for (i, flag) in self.real.iter().enumerate() {
            pw.set_bool_target(*flag, i < count)?;
        }
        Ok(())
    }
}

/// Strict order of 64-bit values kept as 32-bit limbs `[low, high]` (query ids).
pub trait OrderInstructions {
    /// When `enabled` is 1, constrains `previous < current`: `current - previous - 1`, with the
    /// witnessed `borrow` carried from the high limb into the low one, must be two 32-bit
    /// limbs. When `enabled` is 0 nothing is constrained. `borrow` must already be a boolean
    /// target (the caller allocates it, so its place in the circuit stays the caller's); its
    /// value is [`order_borrow`]'s. Returns the two range-checked limb targets.
    fn assert_increasing_if(
        &mut self,
        previous: [Target; 2],
        current: [Target; 2],
        borrow: BoolTarget,
        enabled: Target,
    ) -> [Target; 2];
}

impl<const D: usize> OrderInstructions for CircuitBuilder<F, D>
where
    F: Extendable<D>,
{
    fn assert_increasing_if(
        &mut self,
        previous: [Target; 2],
        current: [Target; 2],
        borrow: BoolTarget,
        enabled: Target,
    ) -> [Target; 2] {
        let one = self.one();
        let two_32 = self.constant(F::from_canonical_u64(1 << 32));
        let low = self.sub(current[0], previous[0]);
        let low = self.sub(low, one);
        let low = self.mul_add(borrow.target, two_32, low);
        let low = self.mul(low, enabled);
        self.check_bits(low, 32);
        let high = self.sub(current[1], previous[1]);
        let high = self.sub(high, borrow.target);
        let high = self.mul(high, enabled);
        self.check_bits(high, 32);
        [low, high]
    }
}

/// The borrow [`OrderInstructions::assert_increasing_if`] needs for `previous < current`:
/// whether the low limb of `current - previous - 1` goes below zero.
pub fn order_borrow(previous: u64, current: u64) -> bool {
    (current & 0xffff_ffff) < (previous & 0xffff_ffff) + 1
}

/// Sets the borrows of consecutive records `queries[i], queries[i + 1]`; borrows past the last
/// real record (whose checks are disabled) get an arbitrary consistent value.
pub fn set_order_borrows(
    pw: &mut PartialWitness<F>,
    borrows: &[BoolTarget],
    queries: &[Query],
) -> Result<()> {
    for (i, borrow) in borrows.iter().enumerate() {
        let (previous, current) = match (queries.get(i), queries.get(i + 1)) {
            (Some(p), Some(c)) => (p.query_id, c.query_id),
            _ => (0, 1),
        };
        pw.set_bool_target(*borrow, order_borrow(previous, current))?;
    }
    Ok(())
}

/// Building SPEC's commitments in a circuit.
pub trait CommitmentInstructions {
    /// The activation leaf `H(1, qid_lo, qid_hi, fee, act_0..act_7)` with
    /// `act_j = adapter_j + gate_j * 2^32`. Constrains only the hash and the packing; the
    /// ranges are [`QueryTargets::new`]'s.
    fn activation_leaf(&mut self, query: &QueryTargets) -> HashOutTarget;

    /// The influence leaf `H(2, qid_lo, qid_hi, adapter_0, score_0, ..., adapter_7, score_7)`.
    fn influence_leaf(&mut self, query: &QueryTargets) -> HashOutTarget;

    /// The payout leaf `H(adapter_id, amount_lo, amount_hi)`. Constrains only the hash.
    fn payout_leaf(&mut self, adapter: Target, amount: [Target; 2]) -> HashOutTarget;

    /// `H2(left, right)`, equal to plonky2's native `two_to_one`.
    fn hash_children(&mut self, left: HashOutTarget, right: HashOutTarget) -> HashOutTarget;

    /// Boolean flags `real_i`, constrained to be a prefix (`real_{i+1} <= real_i`) whose sum is
    /// the returned `count`; `count` is therefore at most `capacity`.
    fn prefix_flags(&mut self, capacity: usize) -> PrefixTargets;

    /// The root of a depth-`depth` tree whose leftmost subtrees of height `node_height` are
    /// `nodes` (a power of two of them, at most `2^(depth − node_height)`) and every later
    /// subtree empty. Constrains every hash above the nodes; the empty siblings are constants.
    fn lifted_root(
        &mut self,
        nodes: &[HashOutTarget],
        node_height: usize,
        depth: usize,
    ) -> HashOutTarget;

    /// The root of a depth-`depth` tree whose first `leaves.len()` positions hold `leaves`
    /// where `real` is set and the empty leaf (zero digest) elsewhere, all later positions
    /// empty. `leaves.len()` must be a power of two no larger than `2^depth`. Constrains every
    /// hash; the empty subtrees above the batch are constants.
    fn padded_root(
        &mut self,
        leaves: &[HashOutTarget],
        real: &[BoolTarget],
        depth: usize,
    ) -> HashOutTarget;

    /// `H(tag, root_0..root_3, count)`.
    fn commitment(&mut self, tag: u64, root: HashOutTarget, count: Target) -> HashOutTarget;
}

impl<const D: usize> CommitmentInstructions for CircuitBuilder<F, D>
where
    F: Extendable<D>,
{
    fn activation_leaf(&mut self, query: &QueryTargets) -> HashOutTarget {
        let shift = self.constant(F::from_canonical_u64(1 << 32));
        let mut message = vec![self.constant(F::from_canonical_u64(tag::ACTIVATION_LEAF))];
        message.extend(query.query_id);
        message.push(query.fee);
        for j in 0..SLOTS {
            message.push(self.mul_add(query.gate[j], shift, query.adapter[j]));
        }
        self.hash_n_to_hash_no_pad::<PoseidonHash>(message)
    }

    fn influence_leaf(&mut self, query: &QueryTargets) -> HashOutTarget {
        let mut message = vec![self.constant(F::from_canonical_u64(tag::INFLUENCE_LEAF))];
        message.extend(query.query_id);
        for j in 0..SLOTS {
            message.push(query.adapter[j]);
            message.push(query.score[j]);
        }
        self.hash_n_to_hash_no_pad::<PoseidonHash>(message)
    }

    fn payout_leaf(&mut self, adapter: Target, amount: [Target; 2]) -> HashOutTarget {
        self.hash_n_to_hash_no_pad::<PoseidonHash>(vec![adapter, amount[0], amount[1]])
    }

    fn hash_children(&mut self, left: HashOutTarget, right: HashOutTarget) -> HashOutTarget {
        // Overwrite-mode sponge over exactly one rate block: the same permutation input as
        // the native `two_to_one` (left in 0..4, right in 4..8, zero capacity).
        let message = left.elements.into_iter().chain(right.elements).collect();
        self.hash_n_to_hash_no_pad::<PoseidonHash>(message)
    }

    fn prefix_flags(&mut self, capacity: usize) -> PrefixTargets {
        let real: Vec<BoolTarget> = (0..capacity)
            .map(|_| self.add_virtual_bool_target_safe())
            .collect();
        for pair in real.windows(2) {
            // real_{i+1} * (1 - real_i) = 0
            let not_previous = self.not(pair[0]);
            let both = self.and(pair[1], not_previous);
            self.assert_zero(both.target);
        }
        let count = real
            .iter()
            .fold(self.zero(), |acc, flag| self.add(acc, flag.target));
        PrefixTargets { count, real }
    }

    fn padded_root(
        &mut self,
        leaves: &[HashOutTarget],
        real: &[BoolTarget],
        depth: usize,
    ) -> HashOutTarget {
        assert!(leaves.len().is_power_of_two() && leaves.len() == real.len());
        let height = leaves.len().trailing_zeros() as usize;
        assert!(height <= depth, "a batch larger than the tree");
        let zero = self.zero();
        let level: Vec<HashOutTarget> = leaves
            .iter()
            .zip(real)
            .map(|(leaf, flag)| HashOutTarget {
                elements: leaf.elements.map(|e| self.select(*flag, e, zero)),
            })
            .collect();
        self.lifted_root(&level, 0, depth)
    }

    fn lifted_root(
        &mut self,
        nodes: &[HashOutTarget],
        node_height: usize,
        depth: usize,
    ) -> HashOutTarget {
        assert!(nodes.len().is_power_of_two());
        let top = node_height + nodes.len().trailing_zeros() as usize;
        assert!(top <= depth, "nodes above the tree");
        let mut level = nodes.to_vec();
        while level.len() > 1 {
            level = level
                .chunks(2)
                .map(|pair| self.hash_children(pair[0], pair[1]))
                .collect();
        }
        let empty = empty_subtrees(&GoldilocksFamily, depth);
        let mut node = level[0];
        for sibling in &empty[top..depth] {
            let sibling = self.constant_hash(*sibling);
            node = self.hash_children(node, sibling);
        }
        node
    }

    fn commitment(&mut self, tag: u64, root: HashOutTarget, count: Target) -> HashOutTarget {
        let mut message = vec![self.constant(F::from_canonical_u64(tag))];
        message.extend(root.elements);
        message.push(count);
        self.hash_n_to_hash_no_pad::<PoseidonHash>(message)
    }
}

//! SPEC's attribution statement for one batch, over BN254 with halo2-base gates and the Poseidon
//! chip. [`StatementWitness`] holds every value the prover supplies (as field elements, so tests
//! can tamper with any of them, out-of-range values included); [`build_statement`] lays out the
//! constraints, which depend on the [`Halo2Shape`] alone, never on the witness.
//!
//! Per-adapter totals cost linear in slots and payees (about 13 cells a slot): the payout list,
//! strictly sorted by adapter, is the per-adapter table, and every slot is looked up in it by a
//! logarithmic-derivative argument with multiplicities. The prover supplies `c_m`, how many used
//! slots name payee `m`'s adapter `b_m`, and `u`, the number of unused slots; the circuit
//! constrains two sums:
//!
//! ```text
//! Σ_slots 1/(γ - a_j)   = Σ_m c_m/(γ - b_m) + u/γ        (counts)
//! Σ_slots s_j/(γ - a_j) = Σ_m p_m/(γ - b_m)              (shares)
//! ```
//!
//! Why it is sound: group each side's terms by pole. Both differences are `Σ_a e_a/(γ - a)` over
//! at most `D = 8C + P + 1` distinct `a`; unless every `e_a` is 0, multiplying by `Π (γ - a)`
//! leaves a non-zero polynomial of degree below `D`, which vanishes at `γ` with probability below
//! `D/p` when `γ` is drawn after the `e_a` are fixed. `γ` is a Poseidon hash, computed in the
//! circuit, of the rate, both log commitments, the payout commitment, `u` and every `c_m`: the
//! real slots `(a_j, s_j)` are a function of the committed logs and the rate (the floor division
//! is unique under its range checks), padding records' slots are all `(0, 0)` (their own
//! constraints: no fee, slot 0 unused, canonical form), the payout list is opened from its
//! commitment, and the multiplicities are hashed (each at most 2^32, packed in 33-bit fields, so
//! injectively). With Poseidon modelled as a random oracle, a prover that tries `Q` hash inputs
//! passes a false statement with probability below `2QD/p` (`D` below 2^21 at the largest
//! capacities, so below `Q · 2^-231`): the binding is computational, like the commitments'.
//! With every `e_a` zero in the field, the sums are equal as integers too (shares below 2^48,
//! amounts below 2^64, at most 2^18 slots: every sum is below 2^66, far from `p`). So for every
//! adapter `a ≠ 0`, the used slots naming it number `c_a` and their shares add to its amount:
//! each adapter of a used slot is listed (a pole on the slot side needs one on the payee side),
//! each listed adapter is used (`c_m >= 1`), and once (the list is strictly increasing, from
//! adapter 1). That is SPEC's per-adapter totals, with payouts of 0 listed. Padding payees
//! (adapter 0, amount 0; their counts are not pinned) only move count between the terms at the
//! pole 0, which carries no share (unused slots have none).
//!
//! No second-phase columns are needed, which keeps the circuit within what snark-verifier's EVM
//! verifier compiles.

use crate::checks::{Check, CheckLayout, CheckLog};
use crate::chip::{PermutationRequest, PoseidonChip, PoseidonInstructions};
use crate::poseidon::Fr;
use crate::Bn254Family;
use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
use halo2_base::gates::{GateChip, GateInstructions, RangeChip, RangeInstructions};
use halo2_base::halo2_proofs::halo2curves::ff::Field;
use halo2_base::QuantumCell::{Constant, Existing, Witness};
use halo2_base::{AssignedValue, Context};
use zkattr_model::commit::tag;
use zkattr_model::merkle::empty_subtrees;
use zkattr_model::types::{LOG_TREE_DEPTH, PAYOUT_TREE_DEPTH, SLOTS};

mod witness;
pub use witness::{public_inputs, QueryWitness, StatementWitness};

/// SPEC's public inputs, in order: epoch id, rate, activation commitment, influence commitment,
/// query count, total pool, total paid, treasury, payout commitment.
pub const PUBLIC_INPUTS: usize = 9;

/// Domain tags of the in-circuit challenge derivation (not part of SPEC's commitments).
const CHALLENGE_TAG: u64 = 5;

/// A batch circuit's capacities, both powers of two.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Halo2Shape {
    pub queries: usize,
    pub payees: usize,
}

impl Halo2Shape {
    /// Up to 2^15 queries: sums of shares stay below 2^66 and the payout tree (depth 20) holds
    /// every payee.
    pub const MAX_QUERIES: usize = 1 << 15;

    pub fn new(queries: usize, payees: usize) -> Result<Self, String> {
        if !(queries.is_power_of_two() && queries <= Self::MAX_QUERIES) {
            return Err(format!(
                "query capacity {queries} is not a power of two up to 2^15"
            ));
        }
        if !(payees.is_power_of_two() && payees <= 1 << PAYOUT_TREE_DEPTH) {
            return Err(format!(
                "payee capacity {payees} is not a power of two up to 2^20"
            ));
        }
        Ok(Halo2Shape { queries, payees })
    }
}

fn pow2(bits: u32) -> Fr {
    Fr::from(2u64).pow_vartime([u64::from(bits)])
}

/// The gadgets the statement is written with, and the log of its named checks.
struct Gadgets<'a> {
    range: &'a RangeChip<Fr>,
    poseidon: PoseidonChip,
    log: CheckLog,
}

impl Gadgets<'_> {
    fn gate(&self) -> &GateChip<Fr> {
        self.range.gate()
    }

    /// Lays `check`'s constraints with `f` as one named scope (skipped when a mutated build
    /// switches the check off).
    fn check(
        &mut self,
        ctx: &mut Context<Fr>,
        check: Check,
        f: impl FnOnce(&Self, &mut Context<Fr>),
    ) {
        if let Some(scope) = self.log.open(check, ctx) {
            f(self, ctx);
            self.log.close(scope, ctx);
        }
    }

    /// Loads `v` and constrains `v < 2^bits` (the check `check`).
    fn checked(
        &mut self,
        ctx: &mut Context<Fr>,
        v: Fr,
        bits: usize,
        check: Check,
    ) -> AssignedValue<Fr> {
        let cell = ctx.load_witness(v);
        self.check(ctx, check, |g, ctx| g.range.range_check(ctx, cell, bits));
        cell
    }

    /// Loads `v` and constrains it to be 0 or 1 (the check `check`).
    fn bit(&mut self, ctx: &mut Context<Fr>, v: Fr, check: Check) -> AssignedValue<Fr> {
        let cell = ctx.load_witness(v);
        self.check(ctx, check, |g, ctx| g.gate().assert_bit(ctx, cell));
        cell
    }

    fn assert_zero(&self, ctx: &mut Context<Fr>, v: AssignedValue<Fr>) {
        self.gate().assert_is_const(ctx, &v, &Fr::ZERO);
    }

    /// `Σ values_i · 2^(width·i)`.
    fn pack(
        &self,
        ctx: &mut Context<Fr>,
        values: &[AssignedValue<Fr>],
        width: u32,
    ) -> AssignedValue<Fr> {
        let weights = (0..values.len() as u32).map(|i| Constant(pow2(width * i)));
        self.gate()
            .inner_product(ctx, values.iter().copied(), weights)
    }

    /// Prefix flags: each a bit (`bits`), never 1 after a 0 (`prefix`). Returns their sum.
    fn prefix(
        &mut self,
        ctx: &mut Context<Fr>,
        real: &[Fr],
        [bits, prefix]: [Check; 2],
    ) -> (Vec<AssignedValue<Fr>>, AssignedValue<Fr>) {
        let flags: Vec<_> = real.iter().map(|v| self.bit(ctx, *v, bits)).collect();
        for pair in flags.windows(2) {
            self.check(ctx, prefix, |g, ctx| {
                let rise = g.gate().mul_not(ctx, pair[0], pair[1]);
                g.assert_zero(ctx, rise);
            });
        }
        let count = self.gate().sum(ctx, flags.iter().copied());
        (flags, count)
    }

    /// The root of a depth-`depth` tree whose first `leaves.len()` leaves are `leaves` (each
    /// zeroed where its flag is 0) and the rest empty.
    fn padded_root(
        &mut self,
        ctx: &mut Context<Fr>,
        leaves: &[AssignedValue<Fr>],
        real: &[AssignedValue<Fr>],
        depth: usize,
    ) -> AssignedValue<Fr> {
        let height = leaves.len().trailing_zeros() as usize;
        assert!(leaves.len().is_power_of_two() && height <= depth);
        let mut level: Vec<_> = leaves
            .iter()
            .zip(real)
            .map(|(leaf, flag)| self.gate().mul(ctx, *leaf, *flag))
            .collect();
        while level.len() > 1 {
            level = level
                .chunks(2)
                .map(|pair| self.hash(ctx, &[pair[0], pair[1]]))
                .collect();
        }
        let mut node = level[0];
        for sibling in &empty_subtrees(&Bn254Family, depth)[height..depth] {
            let sibling = ctx.load_constant(*sibling);
            node = self.hash(ctx, &[node, sibling]);
        }
        node
    }

    fn hash(&mut self, ctx: &mut Context<Fr>, inputs: &[AssignedValue<Fr>]) -> AssignedValue<Fr> {
        self.poseidon.hash(ctx, self.range.gate(), inputs)
    }

    /// `1 / (γ - a)`, given `-γ`: see [`assign_shift_inverse`].
    fn inverse_of_shift(
        &self,
        ctx: &mut Context<Fr>,
        neg_gamma: AssignedValue<Fr>,
        a: AssignedValue<Fr>,
    ) -> AssignedValue<Fr> {
        let shifted = -*neg_gamma.value() - *a.value();
        // No inverse only when `a = γ` (probability about 2^-220): the zero then fails the gate.
        let inverse = Option::<Fr>::from(shifted.invert()).unwrap_or(Fr::ZERO);
        assign_shift_inverse(ctx, neg_gamma, a, inverse)
    }
}

/// Assigns `inverse` and constrains `inverse · (γ - a) = 1` (so `a ≠ γ`), given `-γ`, in one
/// region of seven cells: `1 + a · inverse = x` and `x + (-γ) · inverse = 0`, the two copies of
/// `inverse` copy-constrained equal.
fn assign_shift_inverse(
    ctx: &mut Context<Fr>,
    neg_gamma: AssignedValue<Fr>,
    a: AssignedValue<Fr>,
    inverse: Fr,
) -> AssignedValue<Fr> {
    let x = Fr::ONE + *a.value() * inverse;
    ctx.assign_region(
        [
            Constant(Fr::ONE),
            Existing(a),
            Witness(inverse),
            Witness(x),
            Existing(neg_gamma),
            Witness(inverse),
            Constant(Fr::ZERO),
        ],
        [0, 3],
    );
    let (inverse, copy) = (ctx.get(-5), ctx.get(-2));
    ctx.constrain_equal(&inverse, &copy);
    inverse
}

/// The per-query values later stages need.
struct QueryCells {
    query_id: AssignedValue<Fr>,
    adapter: [AssignedValue<Fr>; SLOTS],
    share: [AssignedValue<Fr>; SLOTS],
    pool: AssignedValue<Fr>,
    residual: AssignedValue<Fr>,
    activation_leaf: AssignedValue<Fr>,
    influence_leaf: AssignedValue<Fr>,
}

/// One query's record, canonical form and rule. Constrains: `query_id < 2^64`, `fee < 2^48`,
/// `adapter < 2^32`, `gate < 2^16` per slot; `fee · rate = pool · 10000 + pr` with
/// `pool < 2^48`, `0 <= pr <= 9999`; `score = magnitude + negative · 2^31` with `negative` a bit
/// and `magnitude < 2^31` (so `score < 2^32`); `w_j = gate_j · (1 - negative_j) · magnitude_j`,
/// `W = Σ w_j`; `pool · w_j = share_j · W + r_j` with `share_j < 2^48`, `r_j < 2^64` and
/// `r_j < W`, or `share_j = r_j = 0`
/// when `W = 0`; `residual = pool - Σ share_j < 2^48`; used slots (adapter ≠ 0) first with
/// strictly increasing adapters, unused slots with gate and score 0; and both SPEC leaves.
/// Every product is below 2^100, so nothing wraps the 254-bit field.
fn query_rule(
    g: &mut Gadgets<'_>,
    ctx: &mut Context<Fr>,
    w: &QueryWitness,
    rate: AssignedValue<Fr>,
) -> QueryCells {
    let query_id = g.checked(ctx, w.query_id, 64, Check::QueryIdBits);
    let fee = g.checked(ctx, w.fee, 48, Check::FeeBits);
    let adapter = w
        .adapter
        .map(|v| g.checked(ctx, v, 32, Check::SlotAdapterBits));
    let gate_weight = w.gate.map(|v| g.checked(ctx, v, 16, Check::SlotGateBits));
    // Below 2^32 without a range check of its own: it equals `magnitude + negative · 2^31`.
    let score = w.score.map(|v| ctx.load_witness(v));
    let gate = g.gate().clone();

    let pool = g.checked(ctx, w.pool, 48, Check::PoolBits);
    let pool_remainder = g.checked(ctx, w.pool_remainder, 16, Check::PoolRemainderBits);
    g.check(ctx, Check::PoolRemainderAtMost9999, |g, ctx| {
        let slack = g.gate().sub(ctx, Constant(Fr::from(9_999)), pool_remainder);
        g.range.range_check(ctx, slack, 16);
    });
    g.check(ctx, Check::PoolDivision, |g, ctx| {
        let paid_in = g.gate().mul(ctx, fee, rate);
        let split = g
            .gate()
            .mul_add(ctx, pool, Constant(Fr::from(10_000)), pool_remainder);
        ctx.constrain_equal(&paid_in, &split);
    });

    let mut weight = Vec::with_capacity(SLOTS);
    for j in 0..SLOTS {
        let negative = g.bit(ctx, w.negative[j], Check::ScoreSignBit);
        let magnitude = g.checked(ctx, w.magnitude[j], 31, Check::MagnitudeBits);
        g.check(ctx, Check::ScoreSplit, |g, ctx| {
            let pattern = g
                .gate()
                .mul_add(ctx, negative, Constant(pow2(31)), magnitude);
            ctx.constrain_equal(&pattern, &score[j]);
        });
        let clipped = gate.mul_not(ctx, negative, magnitude);
        weight.push(gate.mul(ctx, gate_weight[j], clipped));
    }
    let total_weight = gate.sum(ctx, weight.iter().copied());
    let weight_zero = gate.is_zero(ctx, total_weight);
    // W - 1 + [W = 0]: every remainder must be at most this (r < W, or r = 0 when W = 0).
    let remainder_cap = gate.add(ctx, total_weight, weight_zero);
    let remainder_cap = gate.sub(ctx, remainder_cap, Constant(Fr::ONE));

    let mut share = Vec::with_capacity(SLOTS);
    for (j, &weight_j) in weight.iter().enumerate() {
        let s = g.checked(ctx, w.share[j], 48, Check::ShareBits);
        // r >= 0 as well as r < W: without the first, r = r_true - W and share + 1 pass.
        let r = g.checked(ctx, w.share_remainder[j], 64, Check::ShareRemainderBits);
        g.check(ctx, Check::ShareDivision, |g, ctx| {
            let lhs = g.gate().mul(ctx, pool, weight_j);
            let rhs = g.gate().mul_add(ctx, s, total_weight, r);
            ctx.constrain_equal(&lhs, &rhs);
        });
        g.check(ctx, Check::ShareRemainderBelowWeight, |g, ctx| {
            let bound = g.gate().sub(ctx, remainder_cap, r);
            g.range.range_check(ctx, bound, 64);
        });
        g.check(ctx, Check::NoShareWithoutWeight, |g, ctx| {
            let stray = g.gate().mul(ctx, s, weight_zero);
            g.assert_zero(ctx, stray);
        });
        share.push(s);
    }
    let paid = gate.sum(ctx, share.iter().copied());
    let residual = gate.sub(ctx, pool, paid);
    g.check(ctx, Check::ResidualBits, |g, ctx| {
        g.range.range_check(ctx, residual, 48)
    });

    // Canonical slots: an unused slot (adapter 0) has gate and score 0 and only unused slots
    // after it; used slots have strictly increasing adapters.
    let unused: Vec<_> = adapter.iter().map(|a| gate.is_zero(ctx, *a)).collect();
    for j in 0..SLOTS {
        g.check(ctx, Check::UnusedSlotGateZero, |g, ctx| {
            let stray_gate = g.gate().mul(ctx, unused[j], gate_weight[j]);
            g.assert_zero(ctx, stray_gate);
        });
        g.check(ctx, Check::UnusedSlotScoreZero, |g, ctx| {
            let stray_score = g.gate().mul(ctx, unused[j], score[j]);
            g.assert_zero(ctx, stray_score);
        });
        if j + 1 < SLOTS {
            g.check(ctx, Check::UsedSlotsFirst, |g, ctx| {
                let gap = g.gate().mul_not(ctx, unused[j + 1], unused[j]);
                g.assert_zero(ctx, gap);
            });
            g.check(ctx, Check::SlotAdaptersIncrease, |g, ctx| {
                let step = g.gate().sub(ctx, adapter[j + 1], adapter[j]);
                let step = g.gate().sub(ctx, step, Constant(Fr::ONE));
                let step = g.gate().mul_not(ctx, unused[j + 1], step);
                g.range.range_check(ctx, step, 32);
            });
        }
    }

    // SPEC's leaves. One adapter cell feeds both (SPEC's case 5 holds by construction): each
    // leaf's packing gate reads a copy of it (`mul_add` lays `c, a, b, a·b + c`).
    let mut act = Vec::with_capacity(SLOTS);
    let mut act_adapter = Vec::with_capacity(SLOTS);
    for j in 0..SLOTS {
        act.push(gate.mul_add(ctx, gate_weight[j], Constant(pow2(32)), adapter[j]));
        act_adapter.push(ctx.get(-4));
    }
    #[cfg(feature = "mutation")]
    let influence_adapter = if g.log.enforced(Check::LeavesShareAdapter) {
        adapter
    } else {
        w.influence_adapter.map(|v| ctx.load_witness(v))
    };
    #[cfg(not(feature = "mutation"))]
    let influence_adapter = adapter;
    let mut inf = Vec::with_capacity(SLOTS);
    for j in 0..SLOTS {
        inf.push(gate.mul_add(ctx, score[j], Constant(pow2(32)), influence_adapter[j]));
        g.log
            .leaf_adapter([adapter[j], act_adapter[j], ctx.get(-4)]);
    }
    let id_fee = g.pack(ctx, &[query_id, fee], 64);
    let act_low = g.pack(ctx, &act[..5], 48);
    let act_high = g.pack(ctx, &act[5..], 48);
    let activation_tag = ctx.load_constant(Fr::from(tag::ACTIVATION_LEAF));
    let activation_leaf = g.hash(ctx, &[activation_tag, id_fee, act_low, act_high]);
    let inf_packed: Vec<_> = [&inf[..3], &inf[3..6], &inf[6..]]
        .iter()
        .map(|part| g.pack(ctx, part, 64))
        .collect();
    let influence_tag = ctx.load_constant(Fr::from(tag::INFLUENCE_LEAF));
    let influence_leaf = g.hash(
        ctx,
        &[
            influence_tag,
            query_id,
            inf_packed[0],
            inf_packed[1],
            inf_packed[2],
        ],
    );

    QueryCells {
        query_id,
        adapter,
        share: share.try_into().expect("SLOTS shares"),
        pool,
        residual,
        activation_leaf,
        influence_leaf,
    }
}

/// Lays out the whole statement for `witness.shape` into `builder` (its main context), exposes
/// SPEC's public inputs in order, and returns the permutations the Poseidon chip must lay out.
/// `builder` must have its lookup bits set.
pub fn build_statement(
    builder: &mut BaseCircuitBuilder<Fr>,
    witness: &StatementWitness,
) -> Vec<PermutationRequest> {
    build_checked(builder, witness, CheckLog::off()).0
}

/// [`build_statement`], laying each named check through `log`: a recording log also returns
/// where each check sits (for [`crate::checks::Attribution`]); a mutated one (feature
/// `mutation`) leaves out the checks it switches off. With [`CheckLog::off`] or
/// [`CheckLog::recording`] the circuit is exactly [`build_statement`]'s.
pub fn build_checked(
    builder: &mut BaseCircuitBuilder<Fr>,
    witness: &StatementWitness,
    log: CheckLog,
) -> (Vec<PermutationRequest>, Option<CheckLayout>) {
    let shape = witness.shape;
    assert_eq!(witness.queries.len(), shape.queries, "witness not padded");
    assert_eq!(witness.payees.len(), shape.payees, "witness not padded");
    let range = builder.range_chip();
    let mut g = Gadgets {
        range: &range,
        poseidon: PoseidonChip::default(),
        log,
    };
    let gate = range.gate().clone();
    let ctx = builder.main(0);

    let epoch_id = g.checked(ctx, witness.epoch_id, 64, Check::EpochIdBits);
    let rate = g.checked(ctx, witness.rate, 16, Check::RateBits);
    g.check(ctx, Check::RateAtMost10000, |g, ctx| {
        let rate_slack = g.gate().sub(ctx, Constant(Fr::from(10_000)), rate);
        g.range.range_check(ctx, rate_slack, 16);
    });

    let queries: Vec<QueryCells> = witness
        .queries
        .iter()
        .map(|q| query_rule(&mut g, ctx, q, rate))
        .collect();
    let (real, n_queries) = g.prefix(
        ctx,
        &witness.real,
        [Check::QueryFlagBits, Check::QueryFlagsPrefix],
    );

    // Padding records carry nothing: no fee (so no pool) and no adapter (so no slot, no payee).
    // Slot 0 unused leaves every slot unused (the canonical-slot constraints).
    for (i, q) in queries.iter().enumerate() {
        g.check(ctx, Check::PaddingRecordNoPool, |g, ctx| {
            let stray_pool = g.gate().mul_not(ctx, real[i], q.pool);
            g.assert_zero(ctx, stray_pool);
        });
        g.check(ctx, Check::PaddingRecordNoSlot, |g, ctx| {
            let stray = g.gate().mul_not(ctx, real[i], q.adapter[0]);
            g.assert_zero(ctx, stray);
        });
    }

    // Strictly increasing query ids over the real records.
    for i in 1..shape.queries {
        g.check(ctx, Check::QueryIdsIncrease, |g, ctx| {
            let step = g
                .gate()
                .sub(ctx, queries[i].query_id, queries[i - 1].query_id);
            let step = g.gate().sub(ctx, step, Constant(Fr::ONE));
            let step = g.gate().mul(ctx, step, real[i]);
            g.range.range_check(ctx, step, 64);
        });
    }

    // Log commitments.
    let act: Vec<_> = queries.iter().map(|q| q.activation_leaf).collect();
    let inf: Vec<_> = queries.iter().map(|q| q.influence_leaf).collect();
    let log_tag = ctx.load_constant(Fr::from(tag::LOG_COMMITMENT));
    let act_root = g.padded_root(ctx, &act, &real, LOG_TREE_DEPTH);
    let activation = g.hash(ctx, &[log_tag, act_root, n_queries]);
    let inf_root = g.padded_root(ctx, &inf, &real, LOG_TREE_DEPTH);
    let influence = g.hash(ctx, &[log_tag, inf_root, n_queries]);

    // The payout list: strictly increasing non-zero adapters, u64 amounts, zeros past the count.
    let payees: Vec<_> = witness
        .payees
        .iter()
        .map(|&(a, v)| {
            (
                g.checked(ctx, a, 32, Check::PayeeAdapterBits),
                g.checked(ctx, v, 64, Check::PayeeAmountBits),
            )
        })
        .collect();
    let (payee_real, n_payees) = g.prefix(
        ctx,
        &witness.payee_real,
        [Check::PayeeFlagBits, Check::PayeeFlagsPrefix],
    );
    let zero = ctx.load_zero();
    for (m, &(adapter, amount)) in payees.iter().enumerate() {
        g.check(ctx, Check::PaddingPayeeEmpty, |g, ctx| {
            for value in [adapter, amount] {
                let stray = g.gate().mul_not(ctx, payee_real[m], value);
                g.assert_zero(ctx, stray);
            }
        });
        let previous = if m == 0 { zero } else { payees[m - 1].0 };
        g.check(ctx, Check::PayeeAdaptersIncrease, |g, ctx| {
            let step = g.gate().sub(ctx, adapter, previous);
            let step = g.gate().sub(ctx, step, Constant(Fr::ONE));
            let step = g.gate().mul(ctx, step, payee_real[m]);
            g.range.range_check(ctx, step, 32);
        });
    }
    let payee_leaves: Vec<_> = payees
        .iter()
        .map(|&(adapter, amount)| g.hash(ctx, &[adapter, amount]))
        .collect();
    let payout_root = g.padded_root(ctx, &payee_leaves, &payee_real, PAYOUT_TREE_DEPTH);
    let payout_tag = ctx.load_constant(Fr::from(tag::PAYOUT_COMMITMENT));
    let payout = g.hash(ctx, &[payout_tag, payout_root, n_payees]);

    // Per-adapter totals by a logarithmic-derivative lookup of every slot into the payout list
    // (see the module doc): Σ_slots 1/(γ - a) = Σ_payees count/(γ - b) + unused/γ and
    // Σ_slots share/(γ - a) = Σ_payees amount/(γ - b). Each real payee's count is at least 1 (it
    // appears in a used slot); counts, like every share and amount, are far below p (no wrap).
    let counts: Vec<_> = witness
        .payee_slots
        .iter()
        .map(|&c| ctx.load_witness(c))
        .collect();
    for (count, flag) in counts.iter().zip(&payee_real) {
        g.check(ctx, Check::PayeeCountAtLeastFlag, |g, ctx| {
            let surplus = g.gate().sub(ctx, *count, *flag);
            g.range.range_check(ctx, surplus, 32);
        });
    }
    let unused_slots = g.checked(ctx, witness.unused_slots, 32, Check::UnusedSlotCountBits);

    // γ after every list is fixed: the slots are a function of the committed logs and the rate,
    // the payout list is opened from its commitment, and the counts are hashed here (packed seven
    // to an element in 33-bit fields; each count is at most 2^32, so the packing is injective).
    let mut transcript = vec![
        ctx.load_constant(Fr::from(CHALLENGE_TAG)),
        rate,
        activation,
        influence,
        payout,
        unused_slots,
    ];
    for chunk in counts.chunks(7) {
        transcript.push(g.pack(ctx, chunk, 33));
    }
    let gamma = g.hash(ctx, &transcript);
    let neg_gamma = gate.neg(ctx, gamma);

    let mut slot_inverses = Vec::with_capacity(shape.queries * SLOTS);
    let mut slot_shares = Vec::with_capacity(shape.queries * SLOTS);
    for q in &queries {
        for j in 0..SLOTS {
            slot_inverses.push(g.inverse_of_shift(ctx, neg_gamma, q.adapter[j]));
            slot_shares.push(q.share[j]);
        }
    }
    let payee_inverses: Vec<_> = payees
        .iter()
        .map(|&(adapter, _)| g.inverse_of_shift(ctx, neg_gamma, adapter))
        .collect();
    let zero_inverse = g.inverse_of_shift(ctx, neg_gamma, zero);

    g.check(ctx, Check::SlotCounts, |g, ctx| {
        let slot_count_side = g.gate().sum(ctx, slot_inverses.iter().copied());
        let payee_count_side = g.gate().inner_product(
            ctx,
            counts.iter().copied().chain([unused_slots]),
            payee_inverses
                .iter()
                .chain([&zero_inverse])
                .map(|v| Existing(*v)),
        );
        ctx.constrain_equal(&slot_count_side, &payee_count_side);
    });
    g.check(ctx, Check::SlotShares, |g, ctx| {
        let slot_share_side =
            g.gate()
                .inner_product(ctx, slot_shares, slot_inverses.iter().map(|v| Existing(*v)));
        let payee_share_side = g.gate().inner_product(
            ctx,
            payees.iter().map(|p| p.1),
            payee_inverses.iter().map(|v| Existing(*v)),
        );
        ctx.constrain_equal(&slot_share_side, &payee_share_side);
    });

    // Totals: conservation, and the pool fits in u64 (so the others, no larger, do too).
    let total_pool = gate.sum(ctx, queries.iter().map(|q| q.pool));
    g.check(ctx, Check::TotalPoolBits, |g, ctx| {
        g.range.range_check(ctx, total_pool, 64)
    });
    let treasury = gate.sum(ctx, queries.iter().map(|q| q.residual));
    let total_paid = gate.sum(ctx, payees.iter().map(|p| p.1));
    g.check(ctx, Check::Conservation, |g, ctx| {
        let accounted = g.gate().add(ctx, total_paid, treasury);
        ctx.constrain_equal(&accounted, &total_pool);
    });

    #[allow(unused_mut)]
    let mut exposed = [
        epoch_id, rate, activation, influence, n_queries, total_pool, total_paid, treasury, payout,
    ];
    // A mutated build may unbind a public input: its row then takes the published value.
    #[cfg(feature = "mutation")]
    for (i, cell) in exposed.iter_mut().enumerate() {
        if !g.log.enforced(Check::PublicInput(i)) {
            *cell = ctx.load_witness(g.log.published(i));
        }
    }
    let requests = std::mem::take(&mut g.poseidon.requests);
    let layout = g.log.finish(ctx);
    builder.assigned_instances[0].extend(exposed);
    (requests, layout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use halo2_base::halo2_proofs::dev::MockProver;

    /// MockProver on a bare halo2-base circuit holding one [`assign_shift_inverse`] region.
    fn shift_inverse_holds(gamma: Fr, a: Fr, inverse: Fr) -> bool {
        let k = 8;
        let mut builder = BaseCircuitBuilder::<Fr>::new(false)
            .use_k(k)
            .use_instance_columns(1);
        let ctx = builder.main(0);
        let neg_gamma = ctx.load_witness(-gamma);
        let a = ctx.load_witness(a);
        assign_shift_inverse(ctx, neg_gamma, a, inverse);
        builder.calculate_params(Some(9));
        MockProver::run(k as u32, &builder, vec![vec![]])
            .unwrap()
            .verify()
            .is_ok()
    }

    #[test]
    fn the_shift_inverse_region_accepts_only_the_inverse() {
        let (gamma, a) = (Fr::from(1_000_003), Fr::from(7));
        let inverse = (gamma - a).invert().unwrap();
        assert!(shift_inverse_holds(gamma, a, inverse));
        assert!(!shift_inverse_holds(gamma, a, inverse + Fr::ONE));
        assert!(!shift_inverse_holds(gamma, a, Fr::ZERO));
        // a = γ has no inverse: nothing satisfies the region.
        assert!(!shift_inverse_holds(gamma, gamma, Fr::ZERO));
        assert!(!shift_inverse_holds(gamma, gamma, Fr::ONE));
    }
}

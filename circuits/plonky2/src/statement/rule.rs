//! SPEC's royalty rule for one query, in circuit: the pool, clipped scores, weights, floor-divided
//! shares and the residual, with canonical slots. Every value is range-checked so that no
//! intermediate can wrap the 64-bit field.
//!
//! The one product that does not fit the field, `pool * w_j < 2^95`, is checked by a
//! [`ShareDivisionGate`](zkattr_plonky2_gates::ShareDivisionGate) row per slot:
//! `pool * w_j = share_j * W + r_j` holds modulo `p` and modulo `2^48` (the two low 24-bit limb
//! columns), hence over the integers.
//!
//! Range checks use [`RangeCheckGate`](zkattr_plonky2_gates::RangeCheckGate) rows (several
//! checks a row) instead of plonky2's one-row-per-value `range_check`.
//!
//! Each constraint's targets are labeled with the SPEC case it rules out
//! ([`QueryRuleTargets::checks`]); each case's constraint sits behind
//! [`removed`](zkattr_plonky2_gates::cases::removed), constant `false` unless the test-only
//! `mutation` feature is on and a test has switched that case off.

use crate::gadgets::QueryTargets;
use crate::native::F;
use anyhow::Result;
use plonky2::field::extension::Extendable;
use plonky2::field::types::Field;
use plonky2::iop::target::{BoolTarget, Target};
use plonky2::iop::witness::{PartialWitness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use zkattr_model::types::{Query, SLOTS};
use zkattr_model::QueryShares;
use zkattr_plonky2_gates::cases::{removed, Case};
use zkattr_plonky2_gates::{
    RangeCheckInstructions, ShareDivisionInputs, ShareDivisionInstructions,
};

/// Limb width of the pool and total-weight limbs the share division takes.
const LIMB_BITS: usize = zkattr_plonky2_gates::division::LIMB_BITS;

/// The values the prover supplies for one query's rule (the rest is computed by gates).
#[derive(Clone, Debug)]
pub struct QueryRuleTargets {
    /// `floor(fee * rate / 10000)`, below 2^48.
    pub pool: Target,
    pub pool_remainder: Target,
    /// `used_j = (adapter_j != 0)`.
    pub used: [BoolTarget; SLOTS],
    /// `1 / adapter_j` for used slots, anything for unused ones.
    pub adapter_inverse: [Target; SLOTS],
    /// Bit 31 of the score pattern.
    pub negative: [BoolTarget; SLOTS],
    /// The low 31 bits of the score pattern.
    pub magnitude: [Target; SLOTS],
    pub share: [Target; SLOTS],
    /// `W == 0`.
    pub weight_zero: BoolTarget,
    /// `1 / W` when `W != 0`.
    pub total_weight_inverse: Target,
    /// Computed: `w_j = gate_j * max(0, score_j)`.
    pub weight: [Target; SLOTS],
    /// Computed: `W = Σ w_j`.
    pub total_weight: Target,
    /// Computed: `pool - Σ share_j`, range-checked below 2^48.
    pub residual: Target,
    /// The targets of this query's constraints, each labeled with the SPEC case it rules out,
    /// so a negative test can tell which check refused a witness (a constraint belongs to a
    /// label when its gate operation outputs or checks a target in the label's copy class).
    pub checks: Vec<(Case, Target)>,
}

/// Splits `x` (known below `2^bits`) into 24-bit limbs, low first; the last limb takes the rest.
/// Each limb is range-checked, so `x < 2^bits` is also constrained.
fn limbs24<const D: usize>(b: &mut CircuitBuilder<F, D>, x: Target, bits: usize) -> Vec<Target>
where
    F: Extendable<D>,
{
    let count = bits.div_ceil(LIMB_BITS);
    let mut widths = vec![LIMB_BITS; count];
    widths[count - 1] = bits - LIMB_BITS * (count - 1);
    b.split_limbs(x, &widths)
}

/// Asserts `0 <= x < 2^bits` where `x` is an expression that is negative exactly when a bound
/// is broken: a negative value is a field element near `p`, far above `2^bits`.
fn assert_nonnegative<const D: usize>(b: &mut CircuitBuilder<F, D>, x: Target, bits: usize)
where
    F: Extendable<D>,
{
    b.check_bits(x, bits);
}

/// Constrains that `rate_bps <= 10000`: `rate` and `10000 - rate` are both below 2^16 (a native
/// width), so neither wrapped. Returns `10000 - rate`, the target of the upper bound's check.
pub fn check_rate<const D: usize>(b: &mut CircuitBuilder<F, D>, rate: Target) -> Target
where
    F: Extendable<D>,
{
    b.check_bits(rate, 16);
    let max = b.constant(F::from_canonical_u64(10_000));
    let slack = b.sub(max, rate);
    if !removed(Case::FieldWrap) {
        assert_nonnegative(b, slack, 16);
    }
    slack
}

/// Builds the rule for one query. `rate` must be checked with [`check_rate`] once per circuit;
/// `query` carries [`QueryTargets::new`]'s range checks (its fields are private, so every
/// record does).
///
/// Constrains: `fee * rate = pool * 10000 + pool_remainder` with `pool < 2^48`,
/// `pool_remainder <= 9999`; canonical slots (used slots first, strictly increasing adapters,
/// unused slots all zero); `score = magnitude + negative * 2^31` with `magnitude < 2^31`;
/// `w_j = gate_j * (1 - negative_j) * magnitude_j`; `W = Σ w_j`; for every slot
/// `pool * w_j = share_j * W + r_j` over the integers with `share_j < 2^48`, and `r_j < W`
/// unless `W = 0`, in which case `share_j = 0`; `residual = pool - Σ share_j < 2^48`.
pub fn query_rule<const D: usize>(
    b: &mut CircuitBuilder<F, D>,
    query: &QueryTargets,
    rate: Target,
) -> QueryRuleTargets
where
    F: Extendable<D>,
{
    let zero = b.zero();
    let one = b.one();
    let mut checks = Vec::new();

    // Pool: fee * rate < 2^62 and pool * 10000 + remainder < 2^62: no wrap.
    let pool = b.add_virtual_target();
    let pool_remainder = b.add_virtual_target();
    b.check_bits(pool, 48);
    b.check_bits(pool_remainder, 16);
    let max_remainder = b.constant(F::from_canonical_u64(9_999));
    let slack = b.sub(max_remainder, pool_remainder);
    if !removed(Case::RemainderBound) {
        assert_nonnegative(b, slack, 16);
    }
    checks.push((Case::RemainderBound, slack));
    checks.extend([pool, pool_remainder].map(|t| (Case::FieldWrap, t)));
    let fee_rate = b.mul(query.fee(), rate);
    let ten_thousand = b.constant(F::from_canonical_u64(10_000));
    let pool_total = b.mul_add(pool, ten_thousand, pool_remainder);
    b.connect(fee_rate, pool_total);

    // Canonical slots.
    let used = [(); SLOTS].map(|()| b.add_virtual_bool_target_safe());
    let adapter_inverse = [(); SLOTS].map(|()| b.add_virtual_target());
    let canonical = !removed(Case::CanonicalSlots);
    for j in 0..SLOTS {
        // adapter * inverse = used, adapter * (1 - used) = 0: used is exactly (adapter != 0).
        let product = b.mul(query.adapter()[j], adapter_inverse[j]);
        let unused = b.not(used[j]);
        let leftover = b.mul(query.adapter()[j], unused.target);
        // Unused slots are all zero.
        let gate_left = b.mul(query.gate()[j], unused.target);
        let score_left = b.mul(query.score()[j], unused.target);
        if canonical {
            b.connect(product, used[j].target);
            for left in [leftover, gate_left, score_left] {
                b.connect(left, zero);
            }
        }
        checks
            .extend([product, leftover, gate_left, score_left].map(|t| (Case::CanonicalSlots, t)));
    }
    for j in 0..SLOTS - 1 {
        // Used slots first: used_{j+1} implies used_j.
        let not_previous = b.not(used[j]);
        let hole = b.and(used[j + 1], not_previous);
        // Strictly increasing: used_{j+1} * (adapter_{j+1} - adapter_j - 1) in [0, 2^32).
        let step = b.sub(query.adapter()[j + 1], query.adapter()[j]);
        let step = b.sub(step, one);
        let gap = b.mul(step, used[j + 1].target);
        if canonical {
            b.connect(hole.target, zero);
            assert_nonnegative(b, gap, 32);
        }
        checks.extend([hole.target, gap].map(|t| (Case::CanonicalSlots, t)));
    }

    // Clipped scores and weights: gate < 2^16, magnitude < 2^31, so w < 2^47 and W < 2^50.
    let negative = [(); SLOTS].map(|()| b.add_virtual_bool_target_safe());
    let magnitude = [(); SLOTS].map(|()| b.add_virtual_target());
    let sign_bit = b.constant(F::from_canonical_u64(1 << 31));
    let mut weight = [zero; SLOTS];
    let two = F::TWO;
    for j in 0..SLOTS {
        // magnitude < 2^31 in one 32-bit check of 2 · magnitude: with the record's score below
        // 2^32 and score = magnitude + negative · 2^31, magnitude lies in [-2^31, 2^32) as an
        // integer, so doubling it cannot wrap into range (a negative one lands near p).
        let doubled = b.mul_const(two, magnitude[j]);
        if !removed(Case::NegativeScore) {
            b.check_bits(doubled, 32);
        }
        checks.push((Case::NegativeScore, doubled));
        let pattern = b.mul_add(negative[j].target, sign_bit, magnitude[j]);
        b.connect(pattern, query.score()[j]);
        let positive = b.not(negative[j]);
        let clipped = b.mul(positive.target, magnitude[j]);
        weight[j] = b.mul(query.gate()[j], clipped);
    }
    let total_weight = b.add_many(weight);

    // W == 0 flag: W * inverse = 1 - zero_flag, W * zero_flag = 0.
    let weight_zero = b.add_virtual_bool_target_safe();
    let total_weight_inverse = b.add_virtual_target();
    let nonzero = b.not(weight_zero);
    let w_times_inverse = b.mul(total_weight, total_weight_inverse);
    b.connect(w_times_inverse, nonzero.target);
    let w_times_flag = b.mul(total_weight, weight_zero.target);
    b.connect(w_times_flag, zero);

    // Shares: pool * w_j = share_j * W + r_j, r_j < W (or share_j = 0 when W = 0), one row a
    // slot.
    let pool_limbs = limbs24(b, pool, 48);
    let total_limbs = limbs24(b, total_weight, 50);
    let share = [(); SLOTS].map(|()| b.add_virtual_target());
    for j in 0..SLOTS {
        b.divide_share(ShareDivisionInputs {
            pool_limbs: [pool_limbs[0], pool_limbs[1]],
            total_weight_limbs: [total_limbs[0], total_limbs[1], total_limbs[2]],
            weight: weight[j],
            weight_nonzero: nonzero,
            share: share[j],
        });
        checks.extend([Case::ShareFloor, Case::RemainderBound].map(|c| (c, share[j])));
    }
    let paid = b.add_many(share);
    let residual = b.sub(pool, paid);
    assert_nonnegative(b, residual, 48);
    checks.push((Case::FieldWrap, residual));

    QueryRuleTargets {
        pool,
        pool_remainder,
        used,
        adapter_inverse,
        negative,
        magnitude,
        share,
        weight_zero,
        total_weight_inverse,
        weight,
        total_weight,
        residual,
        checks,
    }
}

impl QueryRuleTargets {
    /// Assigns the prover's values from the reference rule (witness generation only).
    pub fn set(
        &self,
        pw: &mut PartialWitness<F>,
        query: &Query,
        shares: &QueryShares,
    ) -> Result<()> {
        pw.set_target(self.pool, F::from_canonical_u64(shares.pool))?;
        pw.set_target(
            self.pool_remainder,
            F::from_canonical_u64(shares.pool_remainder),
        )?;
        for (j, slot) in query.slots.iter().enumerate() {
            pw.set_bool_target(self.used[j], slot.is_used())?;
            let inverse = F::from_canonical_u32(slot.adapter_id)
                .try_inverse()
                .unwrap_or(F::ZERO);
            pw.set_target(self.adapter_inverse[j], inverse)?;
            let pattern = slot.score as u32;
            pw.set_bool_target(self.negative[j], pattern >> 31 == 1)?;
            pw.set_target(
                self.magnitude[j],
                F::from_canonical_u32(pattern & 0x7fff_ffff),
            )?;
            pw.set_target(self.share[j], F::from_canonical_u64(shares.shares[j]))?;
        }
        pw.set_bool_target(self.weight_zero, shares.total_weight == 0)?;
        let inverse = F::from_canonical_u64(shares.total_weight)
            .try_inverse()
            .unwrap_or(F::ZERO);
        pw.set_target(self.total_weight_inverse, inverse)?;
        Ok(())
    }
}

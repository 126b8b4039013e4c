//! SPEC's royalty rule for one query, in circuit: the pool, clipped scores, weights, floor-divided
//! shares and the residual, with canonical slots. Every value is range-checked so that no
//! intermediate can wrap the 64-bit field.
//!
//! The one product that does not fit the field, `pool * w_j < 2^95`, is checked in 24-bit limbs:
//! `pool * w_j = share_j * W + r_j` is split into four columns whose signed carries are
//! range-checked to `(-2^31, 2^31)`; every term of a column equation stays below 2^57 in
//! magnitude, far from `p / 2`, so the field equations imply the integer equation.
//!
//! Range checks use [`RangeCheckGate`](zkattr_plonky2_gates::RangeCheckGate) rows (several
//! checks a row) instead of plonky2's one-row-per-value `range_check`.

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
use zkattr_plonky2_gates::RangeCheckInstructions;

/// Limb width of the share product check.
const LIMB_BITS: usize = 24;
/// Honest carries lie in `(-2^27, 2^27)`; the check allows `(-2^31, 2^31)` (one native 32-bit
/// slot), which still keeps every column term far below `p / 2`.
const CARRY_OFFSET: u64 = 1 << 31;
const CARRY_BITS: usize = 32;

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
    pub share_remainder: [Target; SLOTS],
    pub carries: [[Target; 3]; SLOTS],
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
/// width), so neither wrapped.
pub fn check_rate<const D: usize>(b: &mut CircuitBuilder<F, D>, rate: Target)
where
    F: Extendable<D>,
{
    b.check_bits(rate, 16);
    let max = b.constant(F::from_canonical_u64(10_000));
    let slack = b.sub(max, rate);
    assert_nonnegative(b, slack, 16);
}

/// Builds the rule for one query. `rate` must be checked with [`check_rate`] once per circuit;
/// `query`'s ranges are [`QueryTargets::new`]'s.
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

    // Pool: fee * rate < 2^62 and pool * 10000 + remainder < 2^62: no wrap.
    let pool = b.add_virtual_target();
    let pool_remainder = b.add_virtual_target();
    b.check_bits(pool, 48);
    b.check_bits(pool_remainder, 16);
    let max_remainder = b.constant(F::from_canonical_u64(9_999));
    let slack = b.sub(max_remainder, pool_remainder);
    assert_nonnegative(b, slack, 16);
    let fee_rate = b.mul(query.fee, rate);
    let ten_thousand = b.constant(F::from_canonical_u64(10_000));
    let pool_total = b.mul_add(pool, ten_thousand, pool_remainder);
    b.connect(fee_rate, pool_total);

    // Canonical slots.
    let used = [(); SLOTS].map(|()| b.add_virtual_bool_target_safe());
    let adapter_inverse = [(); SLOTS].map(|()| b.add_virtual_target());
    for j in 0..SLOTS {
        // adapter * inverse = used, adapter * (1 - used) = 0: used is exactly (adapter != 0).
        let product = b.mul(query.adapter[j], adapter_inverse[j]);
        b.connect(product, used[j].target);
        let unused = b.not(used[j]);
        let leftover = b.mul(query.adapter[j], unused.target);
        b.connect(leftover, zero);
        // Unused slots are all zero.
        let gate_left = b.mul(query.gate[j], unused.target);
        b.connect(gate_left, zero);
        let score_left = b.mul(query.score[j], unused.target);
        b.connect(score_left, zero);
    }
    for j in 0..SLOTS - 1 {
        // Used slots first: used_{j+1} implies used_j.
        let not_previous = b.not(used[j]);
        let hole = b.and(used[j + 1], not_previous);
        b.connect(hole.target, zero);
        // Strictly increasing: used_{j+1} * (adapter_{j+1} - adapter_j - 1) in [0, 2^32).
        let step = b.sub(query.adapter[j + 1], query.adapter[j]);
        let step = b.sub(step, one);
        let gap = b.mul(step, used[j + 1].target);
        assert_nonnegative(b, gap, 32);
    }

    // Clipped scores and weights: gate < 2^16, magnitude < 2^31, so w < 2^47 and W < 2^50.
    let negative = [(); SLOTS].map(|()| b.add_virtual_bool_target_safe());
    let magnitude = [(); SLOTS].map(|()| b.add_virtual_target());
    let sign_bit = b.constant(F::from_canonical_u64(1 << 31));
    let mut weight = [zero; SLOTS];
    for j in 0..SLOTS {
        b.check_bits(magnitude[j], 31);
        let pattern = b.mul_add(negative[j].target, sign_bit, magnitude[j]);
        b.connect(pattern, query.score[j]);
        let positive = b.not(negative[j]);
        let clipped = b.mul(positive.target, magnitude[j]);
        weight[j] = b.mul(query.gate[j], clipped);
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

    // Shares: pool * w_j = share_j * W + r_j in 24-bit limbs.
    let pool_limbs = limbs24(b, pool, 48);
    let total_limbs = limbs24(b, total_weight, 50);
    let base = b.constant(F::from_canonical_u64(1 << LIMB_BITS));
    let offset = b.constant(F::from_canonical_u64(CARRY_OFFSET));
    let share = [(); SLOTS].map(|()| b.add_virtual_target());
    let share_remainder = [(); SLOTS].map(|()| b.add_virtual_target());
    let carries = [(); SLOTS].map(|()| [(); 3].map(|()| b.add_virtual_target()));
    for j in 0..SLOTS {
        let w = limbs24(b, weight[j], 48);
        let s = limbs24(b, share[j], 48);
        let r = limbs24(b, share_remainder[j], 50);
        // Columns of pool * w (L) and share * W + r (R), base 2^24.
        let l = [
            b.mul(pool_limbs[0], w[0]),
            {
                let t = b.mul(pool_limbs[0], w[1]);
                b.mul_add(pool_limbs[1], w[0], t)
            },
            b.mul(pool_limbs[1], w[1]),
            zero,
        ];
        let mut rcol = [zero; 4];
        for (i, si) in s.iter().enumerate() {
            for (k, wk) in total_limbs.iter().enumerate() {
                rcol[i + k] = b.mul_add(*si, *wk, rcol[i + k]);
            }
        }
        for (k, rk) in r.iter().enumerate() {
            rcol[k] = b.add(rcol[k], *rk);
        }
        // L_k - R_k + c_k = c_{k+1} * 2^24, with c_0 = 0 and c_4 = 0.
        let mut carry_in = zero;
        for k in 0..4 {
            let difference = b.sub(l[k], rcol[k]);
            let difference = b.add(difference, carry_in);
            let carry_out = if k < 3 { carries[j][k] } else { zero };
            let shifted = b.mul(carry_out, base);
            b.connect(difference, shifted);
            if k < 3 {
                let lifted = b.add(carry_out, offset);
                b.check_bits(lifted, CARRY_BITS);
            }
            carry_in = carry_out;
        }
        // r_j < W unless W = 0; then share_j = 0.
        let room = b.sub(total_weight, share_remainder[j]);
        let room = b.sub(room, one);
        let room = b.mul(room, nonzero.target);
        assert_nonnegative(b, room, 50);
        let stray = b.mul(share[j], weight_zero.target);
        b.connect(stray, zero);
    }
    let paid = b.add_many(share);
    let residual = b.sub(pool, paid);
    assert_nonnegative(b, residual, 48);

    QueryRuleTargets {
        pool,
        pool_remainder,
        used,
        adapter_inverse,
        negative,
        magnitude,
        share,
        share_remainder,
        carries,
        weight_zero,
        total_weight_inverse,
        weight,
        total_weight,
        residual,
    }
}

/// A signed integer as a field element.
fn signed(value: i128) -> F {
    let magnitude = F::from_canonical_u64(value.unsigned_abs() as u64);
    if value < 0 {
        -magnitude
    } else {
        magnitude
    }
}

/// The 24-bit limbs of `value`, low first, `count` of them.
fn native_limbs(value: u64, count: usize) -> Vec<i128> {
    (0..count)
        .map(|i| {
            let limb = value >> (LIMB_BITS * i);
            let limb = if i + 1 < count {
                limb & ((1 << LIMB_BITS) - 1)
            } else {
                limb
            };
            i128::from(limb)
        })
        .collect()
}

/// The carries of the limb check for one slot (what [`query_rule`] constrains).
fn native_carries(pool: u64, weight: u64, share: u64, total: u64, remainder: u64) -> [i128; 3] {
    let p = native_limbs(pool, 2);
    let w = native_limbs(weight, 2);
    let s = native_limbs(share, 2);
    let t = native_limbs(total, 3);
    let r = native_limbs(remainder, 3);
    let l = [p[0] * w[0], p[0] * w[1] + p[1] * w[0], p[1] * w[1], 0];
    let mut rcol = [0i128; 4];
    for (i, si) in s.iter().enumerate() {
        for (k, tk) in t.iter().enumerate() {
            rcol[i + k] += si * tk;
        }
    }
    for (k, rk) in r.iter().enumerate() {
        rcol[k] += rk;
    }
    let mut carries = [0i128; 3];
    let mut carry_in = 0i128;
    for k in 0..3 {
        carries[k] = (l[k] - rcol[k] + carry_in) >> LIMB_BITS;
        carry_in = carries[k];
    }
    carries
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
            pw.set_target(
                self.share_remainder[j],
                F::from_canonical_u64(shares.share_remainders[j]),
            )?;
            let carries = native_carries(
                shares.pool,
                shares.weights[j],
                shares.shares[j],
                shares.total_weight,
                shares.share_remainders[j],
            );
            for (target, carry) in self.carries[j].iter().zip(carries) {
                pw.set_target(*target, signed(carry))?;
            }
        }
        pw.set_bool_target(self.weight_zero, shares.total_weight == 0)?;
        let inverse = F::from_canonical_u64(shares.total_weight)
            .try_inverse()
            .unwrap_or(F::ZERO);
        pw.set_target(self.total_weight_inverse, inverse)?;
        Ok(())
    }
}

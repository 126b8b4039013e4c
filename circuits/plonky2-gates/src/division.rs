//! [`ShareDivisionGate`]: one slot's share division `pool · w = share · W + r` in one row, and
//! [`ShareDivisionInstructions`], the builder method that uses it.
//!
//! The product `pool · w` reaches 2^95, beyond the 64-bit field, so the rule cannot check the
//! division as one field equation. Built from plonky2's arithmetic and [`RangeCheckGate`] rows
//! it took four 24-bit limb columns, three carries and about ten range checks: 2.5 to 3.3 rows a
//! slot, 20 to 26 rows of a query's 8 slots. This gate checks the integer equation with two
//! congruences instead, and holds every range check of the slot in base-4 digits of its own row:
//!
//! - `A ≡ B (mod p)`: the field equation `pool · w − share · W − r = 0`;
//! - `A ≡ B (mod 2^48)`: the two low columns of the 24-bit limb equation and their carries.
//!
//! With `A = pool · w < 2^96` and `B = share · W + r < 2^99`, `|A − B| < 2^99 < p · 2^48`, and `p`
//! is odd, so the two congruences give `A = B` over the integers.
//!
//! [`RangeCheckGate`]: crate::RangeCheckGate

use std::ops::{Add, Mul, Range, Sub};

use crate::cases::{removed, Case};

use anyhow::Result;
use plonky2::field::extension::Extendable;
use plonky2::field::packed::PackedField;
use plonky2::field::types::Field;
use plonky2::gates::gate::Gate;
use plonky2::gates::packed_util::PackedEvaluableBase;
use plonky2::gates::util::StridedConstraintConsumer;
use plonky2::hash::hash_types::RichField;
use plonky2::iop::ext_target::ExtensionTarget;
use plonky2::iop::generator::{GeneratedValues, SimpleGenerator, WitnessGeneratorRef};
use plonky2::iop::target::{BoolTarget, Target};
use plonky2::iop::witness::{PartitionWitness, Witness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{CircuitConfig, CommonCircuitData};
use plonky2::plonk::vars::{
    EvaluationTargets, EvaluationVars, EvaluationVarsBase, EvaluationVarsBaseBatch,
    EvaluationVarsBasePacked,
};
use plonky2::util::serialization::{Buffer, IoError, IoResult, Read, Write};

/// Limb width of the column check (and of the pool and total-weight limbs the caller supplies).
pub const LIMB_BITS: usize = 24;
const LIMB: u64 = 1 << LIMB_BITS;

/// Input wires (routed: the caller connects to them).
pub const WIRE_POOL: [usize; 2] = [0, 1];
pub const WIRE_TOTAL_WEIGHT: [usize; 3] = [2, 3, 4];
pub const WIRE_WEIGHT: usize = 5;
pub const WIRE_SHARE: usize = 6;
pub const WIRE_WEIGHT_NONZERO: usize = 7;
const ROUTED_WIRES: usize = 8;

/// Base-4 digits, low first, of the values the row range-checks.
const WEIGHT_DIGITS: Range<usize> = 8..32; // w < 2^48: two limbs of 12 digits
const SHARE_DIGITS: Range<usize> = 32..56; // share < 2^48: two limbs of 12 digits
const REMAINDER_DIGITS: Range<usize> = 56..81; // r < 2^50: 12 + 12 + 1 digits
const CARRY_LOW_DIGITS: Range<usize> = 81..94; // c0 + 2^25 < 2^26
const CARRY_HIGH_DIGITS: Range<usize> = 94..108; // c1 + 2^26 < 2^28
const ROOM_DIGITS: Range<usize> = 108..133; // W − r − 1 < 2^50
const NUM_WIRES: usize = 133;
const DIGITS_PER_LIMB: usize = LIMB_BITS / 2;

/// Carry offsets: honest carries satisfy `|c0| < 2^24` and `|c1| < 2^25 + 2`.
const CARRY_LOW_OFFSET: u64 = 1 << 25;
const CARRY_HIGH_OFFSET: u64 = 1 << 26;

/// Constraints before the digit constraints (see [`ShareDivisionGate`]).
const EQUATIONS: usize = 7;

/// Constrains one slot's floor division, given the caller's inputs in the routed wires
/// [`WIRE_POOL`] (`pool = P0 + 2^24 P1`), [`WIRE_TOTAL_WEIGHT`] (`W = W0 + 2^24 W1 + 2^48 W2`),
/// [`WIRE_WEIGHT`] (`w`), [`WIRE_SHARE`] (`share`) and [`WIRE_WEIGHT_NONZERO`] (`n`).
///
/// The caller must constrain `P0, P1, W0, W1 < 2^24`, `W2 < 4` and `n = (W != 0)` boolean; then
/// the row constrains, over the integers: `w < 2^48`, `share < 2^48`, and for some `r` with
/// `0 <= r < 2^50`, `pool · w = share · W + r`; `r < W` when `n = 1`; `share = 0` when `n = 0`.
///
/// Constraints, in order (digits are base 4, `Σ` the digit sum of a wire range, low first):
/// 0. `w = Σ weight digits` (24 digits; `w_lo`, `w_hi` are the sums of the lower and upper 12)
/// 1. `share = Σ share digits` (24 digits; `s_lo`, `s_hi` likewise)
/// 2. `pool · w − share · W − r = 0` with `r = Σ remainder digits` (25 digits: `r0`, `r1` of
///    12, `r2` of one)
/// 3. `P0 · w_lo − s_lo · W0 − r0 − c0 · 2^24 = 0`, `c0 = Σ carry digits − 2^25` (13 digits)
/// 4. `P0 · w_hi + P1 · w_lo − s_lo · W1 − s_hi · W0 − r1 + c0 − c1 · 2^24 = 0`,
///    `c1 = Σ carry digits − 2^26` (14 digits)
/// 5. `n · (W − r − 1) − Σ room digits = 0` (25 digits)
/// 6. `share · (1 − n) = 0`
/// 7. and on: `d (d − 1) (d − 2) (d − 3) = 0` for each digit wire, in wire order.
///
/// Every term of 3 and 4 stays below 2^53 in magnitude, so those field equations are integer
/// equations, and together they say `A ≡ B (mod 2^48)`; 2 says `A ≡ B (mod p)`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct ShareDivisionGate;

impl ShareDivisionGate {
    /// # Panics
    /// If the config's rows are narrower than the gate (a programming error at circuit
    /// construction; the circuits use plonky2's standard 135 wires, 80 routed).
    pub fn new_from_config(config: &CircuitConfig) -> Self {
        assert!(
            Self::fits(config),
            "a share division needs {NUM_WIRES} wires, {ROUTED_WIRES} routed"
        );
        ShareDivisionGate
    }

    fn fits(config: &CircuitConfig) -> bool {
        config.num_wires >= NUM_WIRES && config.num_routed_wires >= ROUTED_WIRES
    }

    /// Digit wires: wire `8 + k` holds the digit of constraint `7 + k`.
    pub const fn num_digits() -> usize {
        NUM_WIRES - ROUTED_WIRES
    }

    /// The constraints that make `r` a non-negative integer below 2^50 (its digits and the two
    /// column equations that tie its limbs to the integer identity): a share above the floor
    /// makes `r` negative and breaks them (SPEC case 1).
    pub fn remainder_constraints() -> Vec<usize> {
        [3, 4]
            .into_iter()
            .chain(digit_constraints(REMAINDER_DIGITS))
            .collect()
    }

    /// The constraints of `r < W` (equation 5 and its room digits): a share below the floor
    /// breaks them (SPEC case 2).
    pub fn room_constraints() -> Vec<usize> {
        [5].into_iter()
            .chain(digit_constraints(ROOM_DIGITS))
            .collect()
    }
}

/// The digit constraints of the digit wires `wires`.
fn digit_constraints(wires: Range<usize>) -> Range<usize> {
    EQUATIONS + wires.start - ROUTED_WIRES..EQUATIONS + wires.end - ROUTED_WIRES
}

/// The operations the constraints need, so native, packed and recursive evaluation share one
/// definition of them.
trait Algebra {
    type Value: Copy;
    fn constant(&mut self, c: u64) -> Self::Value;
    fn add(&mut self, a: Self::Value, b: Self::Value) -> Self::Value;
    fn sub(&mut self, a: Self::Value, b: Self::Value) -> Self::Value;
    fn mul(&mut self, a: Self::Value, b: Self::Value) -> Self::Value;
    /// `a · c + b`.
    fn mul_const_add(&mut self, c: u64, a: Self::Value, b: Self::Value) -> Self::Value;
    /// `d (d − 1) (d − 2) (d − 3)`.
    fn digit_product(&mut self, d: Self::Value) -> Self::Value {
        let mut product = d;
        for i in 1..4 {
            let shifted = self.constant(i);
            let shifted = self.sub(d, shifted);
            product = self.mul(product, shifted);
        }
        product
    }
}

/// Field-like values: the extension field (verifier) and packed base fields (prover).
struct Native<T, C>(C, std::marker::PhantomData<T>);

impl<T, C> Algebra for Native<T, C>
where
    T: Copy + Add<Output = T> + Sub<Output = T> + Mul<Output = T>,
    C: Fn(u64) -> T,
{
    type Value = T;
    fn constant(&mut self, c: u64) -> T {
        (self.0)(c)
    }
    fn add(&mut self, a: T, b: T) -> T {
        a + b
    }
    fn sub(&mut self, a: T, b: T) -> T {
        a - b
    }
    fn mul(&mut self, a: T, b: T) -> T {
        a * b
    }
    fn mul_const_add(&mut self, c: u64, a: T, b: T) -> T {
        a * (self.0)(c) + b
    }
}

/// In-circuit evaluation (a recursive verifier of a proof that uses the gate).
struct Recursive<'a, F: RichField + Extendable<D>, const D: usize>(&'a mut CircuitBuilder<F, D>);

impl<F: RichField + Extendable<D>, const D: usize> Algebra for Recursive<'_, F, D> {
    type Value = ExtensionTarget<D>;
    fn constant(&mut self, c: u64) -> Self::Value {
        self.0
            .constant_extension(F::Extension::from_canonical_u64(c))
    }
    fn add(&mut self, a: Self::Value, b: Self::Value) -> Self::Value {
        self.0.add_extension(a, b)
    }
    fn sub(&mut self, a: Self::Value, b: Self::Value) -> Self::Value {
        self.0.sub_extension(a, b)
    }
    fn mul(&mut self, a: Self::Value, b: Self::Value) -> Self::Value {
        self.0.mul_extension(a, b)
    }
    fn mul_const_add(&mut self, c: u64, a: Self::Value, b: Self::Value) -> Self::Value {
        let one = self.0.one_extension();
        self.0
            .arithmetic_extension(F::from_canonical_u64(c), F::ONE, a, one, b)
    }
    fn digit_product(&mut self, d: Self::Value) -> Self::Value {
        // acc <- acc · (d − i): one arithmetic op per factor.
        let mut acc = self.0.one_extension();
        for i in 0..4 {
            acc = self
                .0
                .arithmetic_extension(F::ONE, -F::from_canonical_u64(i), acc, d, acc);
        }
        acc
    }
}

/// `Σ_k d_k · 4^k` over the digit wires `range`, low first.
fn digit_sum<A: Algebra>(alg: &mut A, wires: &[A::Value], range: Range<usize>) -> A::Value {
    let mut digits = range.rev();
    let top = wires[digits.next().expect("a digit range is not empty")];
    digits.fold(top, |acc, i| alg.mul_const_add(4, acc, wires[i]))
}

/// The low and high 24-bit limbs of a value whose digits start at `range.start`.
fn limb_pair<A: Algebra>(
    alg: &mut A,
    wires: &[A::Value],
    range: Range<usize>,
) -> (A::Value, A::Value) {
    let middle = range.start + DIGITS_PER_LIMB;
    let low = digit_sum(alg, wires, range.start..middle);
    let high = digit_sum(alg, wires, middle..middle + DIGITS_PER_LIMB);
    (low, high)
}

/// The gate's constraints on one row's wires, in [`ShareDivisionGate`]'s order.
fn constraints<A: Algebra>(alg: &mut A, wires: &[A::Value]) -> Vec<A::Value> {
    let [p0, p1] = WIRE_POOL.map(|i| wires[i]);
    let [t0, t1, t2] = WIRE_TOTAL_WEIGHT.map(|i| wires[i]);
    let weight = wires[WIRE_WEIGHT];
    let share = wires[WIRE_SHARE];
    let nonzero = wires[WIRE_WEIGHT_NONZERO];
    let one = alg.constant(1);

    let pool = alg.mul_const_add(LIMB, p1, p0);
    let total = alg.mul_const_add(LIMB, t2, t1);
    let total = alg.mul_const_add(LIMB, total, t0);

    let (w_lo, w_hi) = limb_pair(alg, wires, WEIGHT_DIGITS);
    let weight_sum = alg.mul_const_add(LIMB, w_hi, w_lo);
    let (s_lo, s_hi) = limb_pair(alg, wires, SHARE_DIGITS);
    let share_sum = alg.mul_const_add(LIMB, s_hi, s_lo);
    let (r0, r1) = limb_pair(alg, wires, REMAINDER_DIGITS);
    let r2 = wires[REMAINDER_DIGITS.end - 1];
    let remainder = alg.mul_const_add(LIMB, r2, r1);
    let remainder = alg.mul_const_add(LIMB, remainder, r0);
    let carry_low = digit_sum(alg, wires, CARRY_LOW_DIGITS);
    let offset = alg.constant(CARRY_LOW_OFFSET);
    let carry_low = alg.sub(carry_low, offset);
    let carry_high = digit_sum(alg, wires, CARRY_HIGH_DIGITS);
    let offset = alg.constant(CARRY_HIGH_OFFSET);
    let carry_high = alg.sub(carry_high, offset);
    let room = digit_sum(alg, wires, ROOM_DIGITS);

    let mut out = Vec::with_capacity(EQUATIONS + ShareDivisionGate::num_digits());
    out.push(alg.sub(weight, weight_sum));
    out.push(alg.sub(share, share_sum));
    // pool · w − share · W − r
    let a = alg.mul(pool, weight);
    let b = alg.mul(share, total);
    let field = alg.sub(a, b);
    out.push(alg.sub(field, remainder));
    // Column 0: P0 · w_lo − s_lo · W0 − r0 − c0 · 2^24.
    let l0 = alg.mul(p0, w_lo);
    let rhs0 = alg.mul(s_lo, t0);
    let rhs0 = alg.add(rhs0, r0);
    let rhs0 = alg.mul_const_add(LIMB, carry_low, rhs0);
    out.push(alg.sub(l0, rhs0));
    // Column 1: P0 · w_hi + P1 · w_lo − s_lo · W1 − s_hi · W0 − r1 + c0 − c1 · 2^24.
    let l1 = alg.mul(p0, w_hi);
    let l1b = alg.mul(p1, w_lo);
    let l1 = alg.add(l1, l1b);
    let l1 = alg.add(l1, carry_low);
    let rhs1 = alg.mul(s_lo, t1);
    let rhs1b = alg.mul(s_hi, t0);
    let rhs1 = alg.add(rhs1, rhs1b);
    let rhs1 = alg.add(rhs1, r1);
    let rhs1 = alg.mul_const_add(LIMB, carry_high, rhs1);
    out.push(alg.sub(l1, rhs1));
    // n · (W − r − 1) − room
    let slack = alg.sub(total, remainder);
    let slack = alg.sub(slack, one);
    let slack = alg.mul(nonzero, slack);
    out.push(alg.sub(slack, room));
    // share · (1 − n)
    let zero_weight = alg.sub(one, nonzero);
    out.push(alg.mul(share, zero_weight));
    for digit in &wires[ROUTED_WIRES..NUM_WIRES] {
        out.push(alg.digit_product(*digit));
    }
    // Test-only (the `mutation` feature): a removed case's constraints are left out.
    if removed(Case::ShareFloor) {
        for i in ShareDivisionGate::remainder_constraints() {
            out[i] = alg.constant(0);
        }
    }
    if removed(Case::RemainderBound) {
        for i in ShareDivisionGate::room_constraints() {
            out[i] = alg.constant(0);
        }
    }
    out
}

impl<F: RichField + Extendable<D>, const D: usize> Gate<F, D> for ShareDivisionGate {
    fn id(&self) -> String {
        format!("{self:?}")
    }

    fn serialize(&self, _dst: &mut Vec<u8>, _common: &CommonCircuitData<F, D>) -> IoResult<()> {
        Ok(())
    }

    fn deserialize(_src: &mut Buffer<'_>, common: &CommonCircuitData<F, D>) -> IoResult<Self> {
        // Verifier data may come from a file: a circuit whose rows cannot hold the gate is
        // refused here instead of indexing past its wires later.
        if Self::fits(&common.config) {
            Ok(ShareDivisionGate)
        } else {
            Err(IoError)
        }
    }

    fn eval_unfiltered(&self, vars: EvaluationVars<'_, F, D>) -> Vec<F::Extension> {
        let mut alg = Native(F::Extension::from_canonical_u64, std::marker::PhantomData);
        constraints(&mut alg, vars.local_wires)
    }

    fn eval_unfiltered_base_one(
        &self,
        _vars: EvaluationVarsBase<'_, F>,
        _yield_constr: StridedConstraintConsumer<'_, F>,
    ) {
        panic!("use eval_unfiltered_base_packed instead");
    }

    fn eval_unfiltered_base_batch(&self, vars_base: EvaluationVarsBaseBatch<'_, F>) -> Vec<F> {
        self.eval_unfiltered_base_batch_packed(vars_base)
    }

    fn eval_unfiltered_circuit(
        &self,
        builder: &mut CircuitBuilder<F, D>,
        vars: EvaluationTargets<'_, D>,
    ) -> Vec<ExtensionTarget<D>> {
        constraints(&mut Recursive(builder), vars.local_wires)
    }

    fn generators(&self, row: usize, _local_constants: &[F]) -> Vec<WitnessGeneratorRef<F, D>> {
        vec![WitnessGeneratorRef::new(
            ShareDivisionGenerator { row }.adapter(),
        )]
    }

    fn num_wires(&self) -> usize {
        NUM_WIRES
    }

    fn num_constants(&self) -> usize {
        0
    }

    fn degree(&self) -> usize {
        4
    }

    fn num_constraints(&self) -> usize {
        EQUATIONS + Self::num_digits()
    }
}

impl<F: RichField + Extendable<D>, const D: usize> PackedEvaluableBase<F, D> for ShareDivisionGate {
    fn eval_unfiltered_base_packed<P: PackedField<Scalar = F>>(
        &self,
        vars: EvaluationVarsBasePacked<'_, P>,
        mut yield_constr: StridedConstraintConsumer<'_, P>,
    ) {
        let mut alg = Native(
            |c| P::from(F::from_canonical_u64(c)),
            std::marker::PhantomData,
        );
        let wires: Vec<P> = (0..NUM_WIRES).map(|i| vars.local_wires[i]).collect();
        yield_constr.many(constraints(&mut alg, &wires));
    }
}

/// Writes `count` base-4 digits of `value`, low first; the top digit takes everything above the
/// others (reduced mod p), so a value out of range fails its digit or sum constraint (and the
/// proof), with no panic.
fn set_digits<F: RichField>(
    out: &mut GeneratedValues<F>,
    row: usize,
    wires: Range<usize>,
    value: u128,
) -> Result<()> {
    let top = wires.end - 1;
    for (k, wire) in wires.enumerate() {
        let rest = value.checked_shr(2 * k as u32).unwrap_or(0);
        let digit = if wire == top { rest } else { rest & 3 };
        out.set_target(Target::wire(row, wire), F::from_noncanonical_u128(digit))?;
    }
    Ok(())
}

/// Fills a row's digits from its routed inputs: the remainder is `pool · w − share · W` in the
/// field, the carries are floor divisions of the columns. Wrong inputs give digits that fail
/// the constraints (the proof is refused), never a panic.
#[derive(Debug)]
pub struct ShareDivisionGenerator {
    row: usize,
}

impl<F: RichField + Extendable<D>, const D: usize> SimpleGenerator<F, D>
    for ShareDivisionGenerator
{
    fn id(&self) -> String {
        "ShareDivisionGenerator".to_string()
    }

    fn dependencies(&self) -> Vec<Target> {
        (0..ROUTED_WIRES)
            .map(|i| Target::wire(self.row, i))
            .collect()
    }

    fn run_once(
        &self,
        witness: &PartitionWitness<'_, F>,
        out: &mut GeneratedValues<F>,
    ) -> Result<()> {
        let get = |i: usize| witness.get_target(Target::wire(self.row, i));
        let [p0, p1] = WIRE_POOL.map(get);
        let [t0, t1, t2] = WIRE_TOTAL_WEIGHT.map(get);
        let (weight, share, nonzero) =
            (get(WIRE_WEIGHT), get(WIRE_SHARE), get(WIRE_WEIGHT_NONZERO));
        let limb = F::from_canonical_u64(LIMB);
        let pool = p0 + p1 * limb;
        let total = t0 + (t1 + t2 * limb) * limb;
        let remainder = pool * weight - share * total;
        let room = nonzero * (total - remainder - F::ONE);

        // Columns over the integers (wrapping: only inputs that fail anyway can overflow).
        let int = |x: F| i128::from(x.to_canonical_u64());
        let low = |x: F| int(x) & i128::from(LIMB - 1);
        let high = |x: F| int(x) >> LIMB_BITS;
        let (p0, p1, t0, t1) = (int(p0), int(p1), int(t0), int(t1));
        let (w_lo, w_hi) = (low(weight), high(weight));
        let (s_lo, s_hi) = (low(share), high(share));
        let (r0, r1) = (low(remainder), high(remainder) & i128::from(LIMB - 1));
        let column0 = p0
            .wrapping_mul(w_lo)
            .wrapping_sub(s_lo.wrapping_mul(t0))
            .wrapping_sub(r0);
        let carry_low = column0 >> LIMB_BITS;
        let column1 = p0
            .wrapping_mul(w_hi)
            .wrapping_add(p1.wrapping_mul(w_lo))
            .wrapping_sub(s_lo.wrapping_mul(t1))
            .wrapping_sub(s_hi.wrapping_mul(t0))
            .wrapping_sub(r1)
            .wrapping_add(carry_low);
        let carry_high = column1 >> LIMB_BITS;

        let row = self.row;
        set_digits(out, row, WEIGHT_DIGITS, int(weight) as u128)?;
        set_digits(out, row, SHARE_DIGITS, int(share) as u128)?;
        set_digits(out, row, REMAINDER_DIGITS, int(remainder) as u128)?;
        let lifted = carry_low.wrapping_add(i128::from(CARRY_LOW_OFFSET));
        set_digits(out, row, CARRY_LOW_DIGITS, lifted as u128)?;
        let lifted = carry_high.wrapping_add(i128::from(CARRY_HIGH_OFFSET));
        set_digits(out, row, CARRY_HIGH_DIGITS, lifted as u128)?;
        set_digits(out, row, ROOM_DIGITS, int(room) as u128)
    }

    fn serialize(&self, dst: &mut Vec<u8>, _common: &CommonCircuitData<F, D>) -> IoResult<()> {
        dst.write_usize(self.row)
    }

    fn deserialize(src: &mut Buffer<'_>, _common: &CommonCircuitData<F, D>) -> IoResult<Self> {
        Ok(ShareDivisionGenerator {
            row: src.read_usize()?,
        })
    }
}

/// One slot's inputs to [`ShareDivisionInstructions::divide_share`].
#[derive(Clone, Copy, Debug)]
pub struct ShareDivisionInputs {
    /// `pool`'s 24-bit limbs, low first; the caller range-checks both below 2^24.
    pub pool_limbs: [Target; 2],
    /// `W`'s limbs, low first; the caller range-checks them below 2^24, 2^24 and 4.
    pub total_weight_limbs: [Target; 3],
    pub weight: Target,
    /// `W != 0`; the caller constrains it.
    pub weight_nonzero: BoolTarget,
    /// The prover's share (witnessed by the caller).
    pub share: Target,
}

/// Share divisions on the circuit builder, one [`ShareDivisionGate`] row each.
pub trait ShareDivisionInstructions {
    /// Constrains, under the input contract of [`ShareDivisionInputs`]: `weight < 2^48`,
    /// `share < 2^48`, and `pool · weight = share · W + r` over the integers for some
    /// `0 <= r < 2^50`, with `r < W` when `W != 0` and `share = 0` when `W = 0`. That is,
    /// `share = floor(pool · weight / W)` when `W != 0` (no witness exists if that floor is
    /// 2^48 or more); when `W = 0`, `share = 0` and `pool · weight = r < 2^50` (no witness
    /// unless `pool · weight` is that small, as it is 0 for the rule's zero weights).
    fn divide_share(&mut self, inputs: ShareDivisionInputs);
}

impl<F: RichField + Extendable<D>, const D: usize> ShareDivisionInstructions
    for CircuitBuilder<F, D>
{
    fn divide_share(&mut self, inputs: ShareDivisionInputs) {
        let gate = ShareDivisionGate::new_from_config(&self.config);
        let row = self.add_gate(gate, vec![]);
        let wire = |i| Target::wire(row, i);
        for (limb, i) in inputs.pool_limbs.into_iter().zip(WIRE_POOL) {
            self.connect(limb, wire(i));
        }
        for (limb, i) in inputs.total_weight_limbs.into_iter().zip(WIRE_TOTAL_WEIGHT) {
            self.connect(limb, wire(i));
        }
        self.connect(inputs.weight, wire(WIRE_WEIGHT));
        self.connect(inputs.share, wire(WIRE_SHARE));
        self.connect(inputs.weight_nonzero.target, wire(WIRE_WEIGHT_NONZERO));
    }
}

#[cfg(test)]
mod tests;

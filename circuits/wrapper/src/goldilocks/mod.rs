//! Goldilocks arithmetic (p = 2^64 - 2^32 + 1) in BN254 cells.
//!
//! An [`AssignedGoldilocks`] is one BN254 cell with a proven bit bound: after [`GoldilocksInstructions::load`]
//! or [`GoldilocksInstructions::reduce`] it holds the canonical representative (< p); the
//! `*_unreduced` operations return the exact integer result (no wrap in BN254, the bound says
//! how large it may be), so a sum of products is reduced once with one quotient.

pub mod extension;

use halo2_base::gates::{GateInstructions, RangeChip, RangeInstructions};
use halo2_base::halo2_proofs::halo2curves::bn256::Fr;
use halo2_base::halo2_proofs::halo2curves::ff::{Field as _, PrimeField as _};
use halo2_base::QuantumCell::{Constant, Existing};
use halo2_base::{AssignedValue, Context};
use plonky2::field::goldilocks_field::GoldilocksField;
use plonky2::field::types::{Field, PrimeField64};

/// The Goldilocks modulus.
pub const P: u64 = 0xFFFF_FFFF_0000_0001;

/// Largest bit bound an unreduced value may carry: its quotient by p then fits a range check and
/// `q * p + r` stays far below the BN254 modulus (~2^253.6).
pub const MAX_BITS: usize = 240;

/// A Goldilocks value in one BN254 cell, holding an integer `< 2^bits`; canonical (`< p`) when
/// `canonical` is set.
#[derive(Clone, Copy, Debug)]
pub struct AssignedGoldilocks {
    /// The cell.
    pub cell: AssignedValue<Fr>,
    /// The cell's integer is below `2^bits`.
    pub bits: usize,
    /// The cell's integer is below p.
    pub canonical: bool,
}

impl AssignedGoldilocks {
    /// The Goldilocks element this cell stands for (its integer mod p).
    pub fn native(&self) -> GoldilocksField {
        GoldilocksField::from_canonical_u64(div_rem_p(self.cell.value()).1)
    }
}

fn fr(x: u64) -> Fr {
    Fr::from(x)
}

/// The quotient and remainder of a cell's integer by p (long division over 64-bit limbs).
fn div_rem_p(v: &Fr) -> (Fr, u64) {
    let bytes = v.to_repr();
    let limbs: Vec<u64> = bytes
        .as_ref()
        .chunks(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8-byte chunk")))
        .collect();
    let mut q = Fr::ZERO;
    let mut rem = 0u128;
    let shift = Fr::from_u128(1u128 << 64);
    for &limb in limbs.iter().rev() {
        let cur = (rem << 64) | limb as u128;
        q = q * shift + Fr::from_u128(cur / P as u128);
        rem = cur % P as u128;
    }
    (q, rem as u64)
}

/// `p * 2^k`, the smallest multiple of p of this form that is at least `2^bits`.
fn p_multiple_above(bits: usize) -> (Fr, usize) {
    let k = bits.saturating_sub(63);
    (fr(P) * Fr::from(2).pow_vartime([k as u64]), 64 + k)
}

/// Goldilocks operations over BN254 cells. Each method's doc says what it constrains.
pub trait GoldilocksInstructions {
    /// Witnesses `a` (canonical) and constrains it `< p` (64-bit range check of `a` and of `p - 1 - a`).
    fn load(&self, ctx: &mut Context<Fr>, a: GoldilocksField) -> AssignedGoldilocks;
    /// A fixed cell holding the canonical `a`; no range check needed.
    fn constant(&self, ctx: &mut Context<Fr>, a: GoldilocksField) -> AssignedGoldilocks;
    /// Constrains an existing cell `< p` and marks it canonical.
    fn assert_canonical(&self, ctx: &mut Context<Fr>, a: AssignedValue<Fr>) -> AssignedGoldilocks;
    /// `a + b` as integers (bound `max + 1`); one gate, no range check.
    fn add_unreduced(
        &self,
        ctx: &mut Context<Fr>,
        a: &AssignedGoldilocks,
        b: &AssignedGoldilocks,
    ) -> AssignedGoldilocks;
    /// `a + m - b` for a multiple `m` of p at least `2^b.bits` (so the integer is non-negative).
    fn sub_unreduced(
        &self,
        ctx: &mut Context<Fr>,
        a: &AssignedGoldilocks,
        b: &AssignedGoldilocks,
    ) -> AssignedGoldilocks;
    /// `m - a` for a multiple `m` of p at least `2^a.bits`.
    fn neg_unreduced(&self, ctx: &mut Context<Fr>, a: &AssignedGoldilocks) -> AssignedGoldilocks;
    /// `a * b` as integers (bound `a.bits + b.bits`); one gate.
    fn mul_unreduced(
        &self,
        ctx: &mut Context<Fr>,
        a: &AssignedGoldilocks,
        b: &AssignedGoldilocks,
    ) -> AssignedGoldilocks;
    /// `a * b + c` as integers; one gate.
    fn mul_add_unreduced(
        &self,
        ctx: &mut Context<Fr>,
        a: &AssignedGoldilocks,
        b: &AssignedGoldilocks,
        c: &AssignedGoldilocks,
    ) -> AssignedGoldilocks;
    /// `sum c_i * a_i` as integers, for small constant coefficients `c_i`.
    fn linear_combination_unreduced(
        &self,
        ctx: &mut Context<Fr>,
        terms: &[(u64, AssignedGoldilocks)],
    ) -> AssignedGoldilocks;
    /// The canonical residue `r` of `a`: witnesses `q`, `r`, constrains `a = q * p + r`,
    /// `q < 2^(a.bits - 63)` (range check) and `r < p` (as [`Self::assert_canonical`]).
    /// Returns `a` itself when it is already canonical.
    fn reduce(&self, ctx: &mut Context<Fr>, a: &AssignedGoldilocks) -> AssignedGoldilocks;
    /// Canonical `a + b`.
    fn add(
        &self,
        ctx: &mut Context<Fr>,
        a: &AssignedGoldilocks,
        b: &AssignedGoldilocks,
    ) -> AssignedGoldilocks {
        let s = self.add_unreduced(ctx, a, b);
        self.reduce(ctx, &s)
    }
    /// Canonical `a - b`.
    fn sub(
        &self,
        ctx: &mut Context<Fr>,
        a: &AssignedGoldilocks,
        b: &AssignedGoldilocks,
    ) -> AssignedGoldilocks {
        let s = self.sub_unreduced(ctx, a, b);
        self.reduce(ctx, &s)
    }
    /// Canonical `-a`.
    fn neg(&self, ctx: &mut Context<Fr>, a: &AssignedGoldilocks) -> AssignedGoldilocks {
        let s = self.neg_unreduced(ctx, a);
        self.reduce(ctx, &s)
    }
    /// Canonical `a * b`.
    fn mul(
        &self,
        ctx: &mut Context<Fr>,
        a: &AssignedGoldilocks,
        b: &AssignedGoldilocks,
    ) -> AssignedGoldilocks {
        let s = self.mul_unreduced(ctx, a, b);
        self.reduce(ctx, &s)
    }
    /// Canonical `a * b + c`.
    fn mul_add(
        &self,
        ctx: &mut Context<Fr>,
        a: &AssignedGoldilocks,
        b: &AssignedGoldilocks,
        c: &AssignedGoldilocks,
    ) -> AssignedGoldilocks {
        let s = self.mul_add_unreduced(ctx, a, b, c);
        self.reduce(ctx, &s)
    }
    /// Canonical `sum c_i * a_i`, reduced once.
    fn linear_combination(
        &self,
        ctx: &mut Context<Fr>,
        terms: &[(u64, AssignedGoldilocks)],
    ) -> AssignedGoldilocks {
        let s = self.linear_combination_unreduced(ctx, terms);
        self.reduce(ctx, &s)
    }
    /// Constrains `a = b` in Goldilocks (both reduced, then their cells equal).
    fn assert_equal(&self, ctx: &mut Context<Fr>, a: &AssignedGoldilocks, b: &AssignedGoldilocks);
    /// `a` if `sel` else `b`; `sel` must be a constrained bit.
    fn select(
        &self,
        ctx: &mut Context<Fr>,
        a: &AssignedGoldilocks,
        b: &AssignedGoldilocks,
        sel: AssignedValue<Fr>,
    ) -> AssignedGoldilocks;
    /// A bit cell equal to 1 iff `a = 0` in Goldilocks (`a` reduced first).
    fn is_zero(&self, ctx: &mut Context<Fr>, a: &AssignedGoldilocks) -> AssignedValue<Fr>;
    /// Witnesses `a^-1` (canonical) and constrains `a * a^-1 = 1`; unsatisfiable for `a = 0`.
    fn inverse(&self, ctx: &mut Context<Fr>, a: &AssignedGoldilocks) -> AssignedGoldilocks;
    /// `a^e` for a known exponent, by square-and-multiply with one reduction per step.
    fn exp_u64(&self, ctx: &mut Context<Fr>, a: &AssignedGoldilocks, e: u64) -> AssignedGoldilocks;
    /// The `n` little-endian bits of the canonical `a`, constrained bits that recompose to `a`;
    /// `n <= 64` (for `n < 64`, `a < 2^n` is constrained).
    fn to_bits(
        &self,
        ctx: &mut Context<Fr>,
        a: &AssignedGoldilocks,
        n: usize,
    ) -> Vec<AssignedValue<Fr>>;
}

/// [`GoldilocksInstructions`] over halo2-base's [`RangeChip`] (its lookup table does the range checks).
#[derive(Clone, Debug)]
pub struct GoldilocksChip {
    /// The range chip.
    pub range: RangeChip<Fr>,
}

impl GoldilocksChip {
    /// A chip over `range`.
    pub fn new(range: RangeChip<Fr>) -> Self {
        Self { range }
    }

    fn unreduced(cell: AssignedValue<Fr>, bits: usize) -> AssignedGoldilocks {
        assert!(
            bits <= MAX_BITS,
            "unreduced Goldilocks bound {bits} bits exceeds {MAX_BITS}"
        );
        AssignedGoldilocks {
            cell,
            bits,
            canonical: false,
        }
    }

    /// [`GoldilocksInstructions::reduce`] with the quotient and remainder witnesses given: constrains
    /// `a = q * p + r`, `q < 2^(a.bits - 63)` and `r < p`. Tests use it to show a wrong witness is refused.
    pub fn reduce_with(
        &self,
        ctx: &mut Context<Fr>,
        a: &AssignedGoldilocks,
        q: Fr,
        r: Fr,
    ) -> AssignedGoldilocks {
        let q = ctx.load_witness(q);
        let r = ctx.load_witness(r);

        let recomposed = self.range.gate().mul_add(ctx, q, Constant(fr(P)), r);
        ctx.constrain_equal(&recomposed, &a.cell);
        // a < 2^bits and p > 2^63, so q < 2^(bits - 63).
        self.range
            .range_check(ctx, q, a.bits.saturating_sub(63).max(1));
        self.assert_canonical(ctx, r)
    }
}

impl GoldilocksInstructions for GoldilocksChip {
    fn load(&self, ctx: &mut Context<Fr>, a: GoldilocksField) -> AssignedGoldilocks {
        let cell = ctx.load_witness(fr(a.to_canonical_u64()));
        self.assert_canonical(ctx, cell)
    }

    fn constant(&self, ctx: &mut Context<Fr>, a: GoldilocksField) -> AssignedGoldilocks {
        let cell = ctx.load_constant(fr(a.to_canonical_u64()));
        AssignedGoldilocks {
            cell,
            bits: 64,
            canonical: true,
        }
    }

    fn assert_canonical(&self, ctx: &mut Context<Fr>, a: AssignedValue<Fr>) -> AssignedGoldilocks {
        self.range.range_check(ctx, a, 64);
        // p - 1 - a < 2^64 fails for a >= p: it wraps to a value near the BN254 modulus.
        let gap = self.range.gate().sub(ctx, Constant(fr(P - 1)), a);
        self.range.range_check(ctx, gap, 64);
        AssignedGoldilocks {
            cell: a,
            bits: 64,
            canonical: true,
        }
    }

    fn add_unreduced(
        &self,
        ctx: &mut Context<Fr>,
        a: &AssignedGoldilocks,
        b: &AssignedGoldilocks,
    ) -> AssignedGoldilocks {
        let cell = self.range.gate().add(ctx, a.cell, b.cell);
        Self::unreduced(cell, a.bits.max(b.bits) + 1)
    }

    fn sub_unreduced(
        &self,
        ctx: &mut Context<Fr>,
        a: &AssignedGoldilocks,
        b: &AssignedGoldilocks,
    ) -> AssignedGoldilocks {
        let (m, m_bits) = p_multiple_above(b.bits);
        // a + m - b in one gate: (m - b) + a.
        let gate = self.range.gate();
        let mb = gate.sub(ctx, Constant(m), b.cell);
        let cell = gate.add(ctx, mb, a.cell);
        Self::unreduced(cell, a.bits.max(m_bits) + 1)
    }

    fn neg_unreduced(&self, ctx: &mut Context<Fr>, a: &AssignedGoldilocks) -> AssignedGoldilocks {
        let (m, m_bits) = p_multiple_above(a.bits);
        let cell = self.range.gate().sub(ctx, Constant(m), a.cell);
        Self::unreduced(cell, m_bits)
    }

    fn mul_unreduced(
        &self,
        ctx: &mut Context<Fr>,
        a: &AssignedGoldilocks,
        b: &AssignedGoldilocks,
    ) -> AssignedGoldilocks {
        let cell = self.range.gate().mul(ctx, a.cell, b.cell);
        Self::unreduced(cell, a.bits + b.bits)
    }

    fn mul_add_unreduced(
        &self,
        ctx: &mut Context<Fr>,
        a: &AssignedGoldilocks,
        b: &AssignedGoldilocks,
        c: &AssignedGoldilocks,
    ) -> AssignedGoldilocks {
        let cell = self.range.gate().mul_add(ctx, a.cell, b.cell, c.cell);
        Self::unreduced(cell, (a.bits + b.bits).max(c.bits) + 1)
    }

    fn linear_combination_unreduced(
        &self,
        ctx: &mut Context<Fr>,
        terms: &[(u64, AssignedGoldilocks)],
    ) -> AssignedGoldilocks {
        // Each term is below 2^(bits(c) + a.bits); n terms add at most ceil(log2 n) bits.
        let widest = terms
            .iter()
            .map(|(c, a)| (64 - c.leading_zeros()) as usize + a.bits)
            .max()
            .unwrap_or(0);
        let carry = (usize::BITS - terms.len().saturating_sub(1).leading_zeros()) as usize;
        let cell = self.range.gate().inner_product(
            ctx,
            terms.iter().map(|(_, a)| Existing(a.cell)),
            terms.iter().map(|(c, _)| Constant(fr(*c))),
        );
        Self::unreduced(cell, widest + carry)
    }

    fn reduce(&self, ctx: &mut Context<Fr>, a: &AssignedGoldilocks) -> AssignedGoldilocks {
        if a.canonical {
            return *a;
        }
        let (q, r) = div_rem_p(a.cell.value());
        self.reduce_with(ctx, a, q, fr(r))
    }

    fn assert_equal(&self, ctx: &mut Context<Fr>, a: &AssignedGoldilocks, b: &AssignedGoldilocks) {
        let a = self.reduce(ctx, a);
        let b = self.reduce(ctx, b);
        ctx.constrain_equal(&a.cell, &b.cell);
    }

    fn select(
        &self,
        ctx: &mut Context<Fr>,
        a: &AssignedGoldilocks,
        b: &AssignedGoldilocks,
        sel: AssignedValue<Fr>,
    ) -> AssignedGoldilocks {
        let cell = self.range.gate().select(ctx, a.cell, b.cell, sel);
        AssignedGoldilocks {
            cell,
            bits: a.bits.max(b.bits),
            canonical: a.canonical && b.canonical,
        }
    }

    fn is_zero(&self, ctx: &mut Context<Fr>, a: &AssignedGoldilocks) -> AssignedValue<Fr> {
        let a = self.reduce(ctx, a);
        self.range.gate().is_zero(ctx, a.cell)
    }

    fn inverse(&self, ctx: &mut Context<Fr>, a: &AssignedGoldilocks) -> AssignedGoldilocks {
        let inv = a.native().try_inverse().unwrap_or(GoldilocksField::ZERO);
        let inv = self.load(ctx, inv);
        let one = self.constant(ctx, GoldilocksField::ONE);
        let product = self.mul(ctx, a, &inv);
        ctx.constrain_equal(&product.cell, &one.cell);
        inv
    }

    fn exp_u64(&self, ctx: &mut Context<Fr>, a: &AssignedGoldilocks, e: u64) -> AssignedGoldilocks {
        let base = self.reduce(ctx, a);
        let mut acc = self.constant(ctx, GoldilocksField::ONE);
        for i in (0..64 - e.leading_zeros()).rev() {
            acc = self.mul(ctx, &acc, &acc);
            if (e >> i) & 1 == 1 {
                acc = self.mul(ctx, &acc, &base);
            }
        }
        acc
    }

    fn to_bits(
        &self,
        ctx: &mut Context<Fr>,
        a: &AssignedGoldilocks,
        n: usize,
    ) -> Vec<AssignedValue<Fr>> {
        assert!(
            n <= 64,
            "a Goldilocks element has at most 64 bits, asked for {n}"
        );
        let a = self.reduce(ctx, a);
        self.range.gate().num_to_bits(ctx, a.cell, n)
    }
}

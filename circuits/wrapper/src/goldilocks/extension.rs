//! The quadratic extension F[X]/(X^2 - 7) of Goldilocks (plonky2's
//! `QuadraticExtension<GoldilocksField>`, D = 2), as pairs of [`AssignedGoldilocks`].

use halo2_base::halo2_proofs::halo2curves::bn256::Fr;
use halo2_base::Context;
use plonky2::field::extension::quadratic::QuadraticExtension;
use plonky2::field::extension::FieldExtension;
use plonky2::field::goldilocks_field::GoldilocksField;
use plonky2::field::types::Field;

use super::{AssignedGoldilocks, GoldilocksChip, GoldilocksInstructions};

/// plonky2's degree-2 extension of Goldilocks.
pub type GoldilocksExt = QuadraticExtension<GoldilocksField>;

/// `W` in `X^2 = W`.
pub const W: u64 = 7;

/// An extension element `c0 + c1 X`; each coordinate canonical or unreduced as its bound says.
#[derive(Clone, Copy, Debug)]
pub struct AssignedExt(pub [AssignedGoldilocks; 2]);

impl AssignedExt {
    /// The extension element the cells stand for.
    pub fn native(&self) -> GoldilocksExt {
        GoldilocksExt::from_basefield_array([self.0[0].native(), self.0[1].native()])
    }
}

/// Extension-field operations over a [`GoldilocksChip`]; each `*_unreduced` keeps exact integer
/// coordinates so that a sum of products is reduced once per coordinate.
#[derive(Clone, Debug)]
pub struct ExtensionChip {
    /// The base-field chip.
    pub base: GoldilocksChip,
}

impl ExtensionChip {
    /// A chip over `base`.
    pub fn new(base: GoldilocksChip) -> Self {
        Self { base }
    }

    /// Witnesses both coordinates, each constrained canonical.
    pub fn load(&self, ctx: &mut Context<Fr>, a: GoldilocksExt) -> AssignedExt {
        let [c0, c1] = a.to_basefield_array();
        AssignedExt([self.base.load(ctx, c0), self.base.load(ctx, c1)])
    }

    /// Fixed cells holding `a`.
    pub fn constant(&self, ctx: &mut Context<Fr>, a: GoldilocksExt) -> AssignedExt {
        let [c0, c1] = a.to_basefield_array();
        AssignedExt([self.base.constant(ctx, c0), self.base.constant(ctx, c1)])
    }

    /// The base element `a` as `a + 0 X` (the zero is a fixed cell).
    pub fn from_base(&self, ctx: &mut Context<Fr>, a: AssignedGoldilocks) -> AssignedExt {
        AssignedExt([a, self.base.constant(ctx, GoldilocksField::ZERO)])
    }

    /// Coordinate-wise `a + b`, unreduced.
    pub fn add_unreduced(
        &self,
        ctx: &mut Context<Fr>,
        a: &AssignedExt,
        b: &AssignedExt,
    ) -> AssignedExt {
        AssignedExt([0, 1].map(|i| self.base.add_unreduced(ctx, &a.0[i], &b.0[i])))
    }

    /// Coordinate-wise `a - b` (plus a multiple of p), unreduced.
    pub fn sub_unreduced(
        &self,
        ctx: &mut Context<Fr>,
        a: &AssignedExt,
        b: &AssignedExt,
    ) -> AssignedExt {
        AssignedExt([0, 1].map(|i| self.base.sub_unreduced(ctx, &a.0[i], &b.0[i])))
    }

    /// `a * b` unreduced: `(a0 b0 + 7 a1 b1) + (a0 b1 + a1 b0) X`, three multiplication gates and
    /// one multiply-add per coordinate.
    pub fn mul_unreduced(
        &self,
        ctx: &mut Context<Fr>,
        a: &AssignedExt,
        b: &AssignedExt,
    ) -> AssignedExt {
        let [a0, a1] = a.0;
        let [b0, b1] = b.0;
        let t00 = self.base.mul_unreduced(ctx, &a0, &b0);
        let t11 = self.base.mul_unreduced(ctx, &a1, &b1);
        let c0 = self
            .base
            .linear_combination_unreduced(ctx, &[(1, t00), (W, t11)]);
        let t01 = self.base.mul_unreduced(ctx, &a0, &b1);
        let c1 = self.base.mul_add_unreduced(ctx, &a1, &b0, &t01);
        AssignedExt([c0, c1])
    }

    /// `s * a` for a base element `s`, unreduced.
    pub fn scalar_mul_unreduced(
        &self,
        ctx: &mut Context<Fr>,
        s: &AssignedGoldilocks,
        a: &AssignedExt,
    ) -> AssignedExt {
        AssignedExt([0, 1].map(|i| self.base.mul_unreduced(ctx, s, &a.0[i])))
    }

    /// Reduces each coordinate once ([`GoldilocksInstructions::reduce`]).
    pub fn reduce(&self, ctx: &mut Context<Fr>, a: &AssignedExt) -> AssignedExt {
        AssignedExt([0, 1].map(|i| self.base.reduce(ctx, &a.0[i])))
    }

    /// Canonical `a + b`.
    pub fn add(&self, ctx: &mut Context<Fr>, a: &AssignedExt, b: &AssignedExt) -> AssignedExt {
        let s = self.add_unreduced(ctx, a, b);
        self.reduce(ctx, &s)
    }

    /// Canonical `a - b`.
    pub fn sub(&self, ctx: &mut Context<Fr>, a: &AssignedExt, b: &AssignedExt) -> AssignedExt {
        let s = self.sub_unreduced(ctx, a, b);
        self.reduce(ctx, &s)
    }

    /// Canonical `a * b`.
    pub fn mul(&self, ctx: &mut Context<Fr>, a: &AssignedExt, b: &AssignedExt) -> AssignedExt {
        let s = self.mul_unreduced(ctx, a, b);
        self.reduce(ctx, &s)
    }

    /// Canonical `s * a` for a base element `s`.
    pub fn scalar_mul(
        &self,
        ctx: &mut Context<Fr>,
        s: &AssignedGoldilocks,
        a: &AssignedExt,
    ) -> AssignedExt {
        let t = self.scalar_mul_unreduced(ctx, s, a);
        self.reduce(ctx, &t)
    }

    /// Canonical `a * b + c`, each coordinate reduced once.
    pub fn mul_add(
        &self,
        ctx: &mut Context<Fr>,
        a: &AssignedExt,
        b: &AssignedExt,
        c: &AssignedExt,
    ) -> AssignedExt {
        let t = self.mul_unreduced(ctx, a, b);
        let s = self.add_unreduced(ctx, &t, c);
        self.reduce(ctx, &s)
    }

    /// Witnesses `a^-1` (canonical coordinates) and constrains `a * a^-1 = 1`; unsatisfiable for
    /// `a = 0`.
    pub fn inverse(&self, ctx: &mut Context<Fr>, a: &AssignedExt) -> AssignedExt {
        let inv = a.native().try_inverse().unwrap_or(GoldilocksExt::ZERO);
        let inv = self.load(ctx, inv);
        let product = self.mul(ctx, a, &inv);
        let one = self.constant(ctx, GoldilocksExt::ONE);
        self.assert_equal(ctx, &product, &one);
        inv
    }

    /// Constrains `a = b` coordinate-wise in Goldilocks.
    pub fn assert_equal(&self, ctx: &mut Context<Fr>, a: &AssignedExt, b: &AssignedExt) {
        for i in 0..2 {
            self.base.assert_equal(ctx, &a.0[i], &b.0[i]);
        }
    }
}

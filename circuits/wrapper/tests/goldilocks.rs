//! Every `GoldilocksInstructions` method against plonky2's `GoldilocksField` on random and edge
//! values, and the checks that refuse non-canonical inputs and wrong reduction witnesses.

mod common;

use common::{edge_values, mock, random_base, rng};
use halo2_base::halo2_proofs::dev::VerifyFailure;
use halo2_base::halo2_proofs::halo2curves::bn256::Fr;
use halo2_base::halo2_proofs::halo2curves::ff::PrimeField;
use plonky2::field::goldilocks_field::GoldilocksField as F;
use plonky2::field::types::{Field, PrimeField64};
use zkattr_wrapper::goldilocks::{GoldilocksInstructions, P};

fn pairs() -> Vec<(F, F)> {
    let mut r = rng(1);
    let mut v: Vec<(F, F)> = (0..8)
        .map(|_| (random_base(&mut r), random_base(&mut r)))
        .collect();
    for a in edge_values() {
        for b in edge_values() {
            v.push((a, b));
        }
    }
    v
}

#[test]
fn arithmetic_matches_plonky2() {
    let cases = pairs();
    let run = mock(|chip, ctx| {
        let g = &chip.base;
        let mut got = Vec::new();
        for &(a, b) in &cases {
            let (x, y) = (g.load(ctx, a), g.load(ctx, b));
            let c = g.constant(ctx, a + b);
            got.push((g.add(ctx, &x, &y), a + b));
            got.push((g.sub(ctx, &x, &y), a - b));
            got.push((g.neg(ctx, &x), -a));
            got.push((g.mul(ctx, &x, &y), a * b));
            got.push((g.mul_add(ctx, &x, &y, &c), a * b + (a + b)));
            got.push((
                g.linear_combination(ctx, &[(3, x), (u32::MAX as u64, y), (1, c)]),
                a * F::from_canonical_u64(3) + b * F::from_canonical_u64(u32::MAX as u64) + a + b,
            ));
            got.push((g.exp_u64(ctx, &x, 0x1_0000_0007), a.exp_u64(0x1_0000_0007)));
            // A lazily unreduced chain reduced once: (a*b + a*a) * (b - a).
            let ab = g.mul_unreduced(ctx, &x, &y);
            let sum = g.mul_add_unreduced(ctx, &x, &x, &ab);
            let diff = g.sub_unreduced(ctx, &y, &x);
            let prod = g.mul_unreduced(ctx, &sum, &diff);
            got.push((g.reduce(ctx, &prod), (a * b + a * a) * (b - a)));
            let one = ctx.load_constant(Fr::one());
            let s = g.select(ctx, &x, &y, one);
            got.push((s, a));
        }
        got.into_iter()
            .map(|(cell, want)| (cell.native(), cell.canonical, want))
            .collect::<Vec<_>>()
    });
    assert!(run.failures.is_empty(), "{:?}", run.failures);
    for (i, (got, canonical, want)) in run.out.iter().enumerate() {
        assert_eq!(got, want, "operation {i}");
        assert!(canonical, "operation {i} returned an unreduced value");
    }
}

#[test]
fn inverse_is_zero_and_bits_match_plonky2() {
    let cases: Vec<F> = pairs().into_iter().map(|(a, _)| a).collect();
    let run = mock(|chip, ctx| {
        let g = &chip.base;
        let mut got = Vec::new();
        for &a in &cases {
            let x = g.load(ctx, a);
            let z = g.is_zero(ctx, &x);
            let inv = (!a.is_zero()).then(|| g.inverse(ctx, &x).native());
            let bits = g.to_bits(ctx, &x, 64);
            got.push((
                *z.value() == Fr::one(),
                inv,
                bits.iter()
                    .map(|b| *b.value() == Fr::one())
                    .collect::<Vec<_>>(),
            ));
        }
        got
    });
    assert!(run.failures.is_empty(), "{:?}", run.failures);
    for (&a, (zero, inv, bits)) in cases.iter().zip(&run.out) {
        assert_eq!(*zero, a.is_zero());
        assert_eq!(*inv, a.try_inverse());
        let n = a.to_canonical_u64();
        assert_eq!(
            *bits,
            (0..64).map(|i| (n >> i) & 1 == 1).collect::<Vec<_>>()
        );
    }
}

/// True when a range-check lookup refuses and no custom gate does: the failures are lookups and
/// the copies of the looked-up limbs into the lookup column.
fn refused_by_range_check(failures: &[VerifyFailure]) -> bool {
    failures
        .iter()
        .any(|f| matches!(f, VerifyFailure::Lookup { .. }))
        && failures.iter().all(|f| {
            matches!(
                f,
                VerifyFailure::Lookup { .. } | VerifyFailure::Permutation { .. }
            )
        })
}

/// A cell holding `v` passed to `assert_canonical` is refused by the range-check lookup.
fn non_canonical_refused_by_lookup(v: u128) {
    let run = mock(|chip, ctx| {
        let cell = ctx.load_witness(Fr::from_u128(v));
        chip.base.assert_canonical(ctx, cell);
    });
    assert!(!run.failures.is_empty(), "{v:#x} accepted as canonical");
    assert!(
        refused_by_range_check(&run.failures),
        "{v:#x}: refused by something other than the range-check lookup: {:?}",
        run.failures
    );
}

#[test]
fn non_canonical_inputs_are_refused_by_the_range_check() {
    for v in [P as u128, P as u128 + 1, u64::MAX as u128, 1u128 << 64] {
        non_canonical_refused_by_lookup(v);
    }
}

#[test]
fn inverse_of_zero_is_refused() {
    let run = mock(|chip, ctx| {
        let zero = chip.base.load(ctx, F::ZERO);
        chip.base.inverse(ctx, &zero);
    });
    // The product 0 * w reduces to 0, and its copy constraint to the constant 1 fails.
    assert!(!run.failures.is_empty());
    assert!(
        run.failures
            .iter()
            .all(|f| matches!(f, VerifyFailure::Permutation { .. })),
        "{:?}",
        run.failures
    );
}

/// `a * b` reduced with witnesses `(q + dq, r - dq * p)` or `(q, r + dr)`.
fn reduce_with_shift(dq: u64, dr: u64) -> Vec<VerifyFailure> {
    let (a, b) = (F::from_canonical_u64(P - 2), F::from_canonical_u64(P - 3));
    mock(|chip, ctx| {
        let g = &chip.base;
        let (x, y) = (g.load(ctx, a), g.load(ctx, b));
        let prod = g.mul_unreduced(ctx, &x, &y);
        let v = (P as u128 - 2) * (P as u128 - 3);
        let (q, r) = (v / P as u128, v % P as u128);
        let q = Fr::from_u128(q) + Fr::from(dq);
        let r = Fr::from_u128(r) - Fr::from(dq) * Fr::from(P) + Fr::from(dr);
        g.reduce_with(ctx, &prod, q, r);
    })
    .failures
}

#[test]
fn wrong_reduction_witnesses_are_refused() {
    assert!(
        reduce_with_shift(0, 0).is_empty(),
        "the honest witness must pass"
    );
    // q + 1 with r - p: the recomposition holds but r is no 64-bit value.
    let f = reduce_with_shift(1, 0);
    assert!(refused_by_range_check(&f), "{f:?}");
    // r + 1: q * p + r no longer equals the product; only the copy constraint to it fails.
    let f = reduce_with_shift(0, 1);
    assert!(
        !f.is_empty()
            && f.iter()
                .all(|f| matches!(f, VerifyFailure::Permutation { .. })),
        "{f:?}"
    );
}

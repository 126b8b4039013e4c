//! The extension chip against plonky2's `QuadraticExtension<GoldilocksField>`, and the cell
//! counts per operation (printed with `--nocapture`, recorded in the crate doc).

mod common;

use common::{edge_values, mock, random_base, random_ext, rng};
use plonky2::field::extension::FieldExtension;
use plonky2::field::types::Field;
use zkattr_wrapper::goldilocks::extension::GoldilocksExt as E;
use zkattr_wrapper::goldilocks::GoldilocksInstructions;

#[test]
fn extension_arithmetic_matches_plonky2() {
    let mut r = rng(2);
    let mut cases: Vec<(E, E)> = (0..8)
        .map(|_| (random_ext(&mut r), random_ext(&mut r)))
        .collect();
    let edges = edge_values();
    for &a in &edges {
        for &b in &edges {
            cases.push((
                E::from_basefield_array([a, b]),
                E::from_basefield_array([b, a]),
            ));
        }
    }
    let s = random_base(&mut r);
    let run = mock(|chip, ctx| {
        let scalar = chip.base.load(ctx, s);
        let mut got = Vec::new();
        for &(a, b) in &cases {
            let (x, y) = (chip.load(ctx, a), chip.load(ctx, b));
            got.push((chip.add(ctx, &x, &y).native(), a + b));
            got.push((chip.sub(ctx, &x, &y).native(), a - b));
            got.push((chip.mul(ctx, &x, &y).native(), a * b));
            got.push((
                chip.scalar_mul(ctx, &scalar, &x).native(),
                <E as FieldExtension<2>>::scalar_mul(&a, s),
            ));
            got.push((chip.mul_add(ctx, &x, &y, &x).native(), a * b + a));
            if !a.is_zero() {
                got.push((chip.inverse(ctx, &x).native(), a.inverse()));
            }
            let c = chip.constant(ctx, a * b);
            let p = chip.mul(ctx, &x, &y);
            chip.assert_equal(ctx, &p, &c);
        }
        got
    });
    assert!(run.failures.is_empty(), "{:?}", run.failures);
    for (i, (got, want)) in run.out.iter().enumerate() {
        assert_eq!(got, want, "operation {i}");
    }
}

#[test]
fn extension_equality_refuses_different_values() {
    let run = mock(|chip, ctx| {
        let x = chip.load(ctx, E::from_basefield_array([Field::ONE, Field::TWO]));
        let y = chip.load(ctx, E::from_basefield_array([Field::ONE, Field::ONE]));
        chip.assert_equal(ctx, &x, &y);
    });
    assert!(
        !run.failures.is_empty(),
        "1 + 2X accepted as equal to 1 + X"
    );
}

/// Cells, lookup cells and advice columns of `ops` copies of one operation on loaded inputs,
/// less those of loading the inputs alone.
fn cost(
    ops: usize,
    f: impl Fn(
        &zkattr_wrapper::goldilocks::extension::ExtensionChip,
        &mut halo2_base::Context<halo2_base::halo2_proofs::halo2curves::bn256::Fr>,
        bool,
    ),
) -> (usize, usize, usize) {
    let with = mock(|chip, ctx| (0..ops).for_each(|_| f(chip, ctx, true)));
    let without = mock(|chip, ctx| (0..ops).for_each(|_| f(chip, ctx, false)));
    assert!(with.failures.is_empty() && without.failures.is_empty());
    (
        (with.cells - without.cells) / ops,
        (with.lookups - without.lookups) / ops,
        with.advice_columns,
    )
}

#[test]
fn costs_per_operation() {
    let (a, b) = (
        E::from_basefield_array([Field::TWO, Field::NEG_ONE]),
        E::from_basefield_array([Field::NEG_ONE, Field::TWO]),
    );
    let base_mul = cost(64, |chip, ctx, op| {
        let (x, y) = (chip.base.load(ctx, a.0[0]), chip.base.load(ctx, b.0[0]));
        if op {
            chip.base.mul(ctx, &x, &y);
        }
    });
    let ext_mul = cost(64, |chip, ctx, op| {
        let (x, y) = (chip.load(ctx, a), chip.load(ctx, b));
        if op {
            chip.mul(ctx, &x, &y);
        }
    });
    let load = cost(64, |chip, ctx, op| {
        if op {
            chip.base.load(ctx, a.0[0]);
        }
    });
    println!(
        "per Goldilocks load: {} cells, {} lookup cells",
        load.0, load.1
    );
    println!(
        "per Goldilocks mul: {} cells, {} lookup cells ({} advice columns at k={})",
        base_mul.0,
        base_mul.1,
        base_mul.2,
        common::K
    );
    println!(
        "per extension mul: {} cells, {} lookup cells ({} advice columns at k={})",
        ext_mul.0,
        ext_mul.1,
        ext_mul.2,
        common::K
    );
    // One reduction per coordinate: an extension mul costs about two base muls, not four.
    assert!(ext_mul.0 < 3 * base_mul.0, "{ext_mul:?} vs {base_mul:?}");
}

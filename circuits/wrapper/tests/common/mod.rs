//! MockProver harness for the wrapper's chips: builds a circuit from a closure, runs MockProver,
//! and reports the failures and the context's cell counts.
#![allow(dead_code)]

use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
use halo2_base::halo2_proofs::dev::{MockProver, VerifyFailure};
use halo2_base::halo2_proofs::halo2curves::bn256::Fr;
use halo2_base::Context;
use plonky2::field::extension::FieldExtension;
use plonky2::field::goldilocks_field::GoldilocksField;
use plonky2::field::types::Field;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use zkattr_wrapper::goldilocks::extension::{ExtensionChip, GoldilocksExt};
use zkattr_wrapper::goldilocks::GoldilocksChip;

/// Rows of the test circuits.
pub const K: usize = 14;
/// Bits of the range-check lookup table.
pub const LOOKUP_BITS: usize = 13;

/// What a mock run measured and found.
#[derive(Debug)]
pub struct Run<R> {
    /// The closure's result.
    pub out: R,
    /// MockProver's failures (empty when it accepts).
    pub failures: Vec<VerifyFailure>,
    /// Advice cells in the main context.
    pub cells: usize,
    /// Cells copied into the lookup columns.
    pub lookups: usize,
    /// Advice columns `calculate_params` chose at `K`.
    pub advice_columns: usize,
}

/// Synthesises `f` over a fresh [`ExtensionChip`] and runs MockProver at `K`.
pub fn mock<R>(f: impl FnOnce(&ExtensionChip, &mut Context<Fr>) -> R) -> Run<R> {
    let mut builder = BaseCircuitBuilder::<Fr>::new(false)
        .use_k(K)
        .use_lookup_bits(LOOKUP_BITS);
    let chip = ExtensionChip::new(GoldilocksChip::new(builder.range_chip()));
    let out = f(&chip, builder.main(0));
    let cells = builder.main(0).advice.len();
    let lookups = builder
        .statistics()
        .total_lookup_advice_per_phase
        .iter()
        .sum();
    let params = builder.calculate_params(Some(9));
    let failures = MockProver::run(K as u32, &builder, vec![])
        .expect("mock prover runs")
        .verify()
        .err()
        .unwrap_or_default();
    Run {
        out,
        failures,
        cells,
        lookups,
        advice_columns: params.num_advice_per_phase[0],
    }
}

/// A deterministic generator for a test.
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// A uniformly random Goldilocks element.
pub fn random_base(rng: &mut StdRng) -> GoldilocksField {
    GoldilocksField::from_noncanonical_u64(rng.gen())
}

/// A uniformly random extension element.
pub fn random_ext(rng: &mut StdRng) -> GoldilocksExt {
    GoldilocksExt::from_basefield_array([random_base(rng), random_base(rng)])
}

/// The edge values: 0, 1, p - 1, 2^32, 2^32 - 1, 2^63 and a value whose square exceeds 2^127.
pub fn edge_values() -> Vec<GoldilocksField> {
    [
        0,
        1,
        0xFFFF_FFFF_0000_0000,
        1 << 32,
        (1 << 32) - 1,
        1 << 63,
        0xFFFF_FFFE_FFFF_FFFF,
    ]
    .into_iter()
    .map(GoldilocksField::from_canonical_u64)
    .collect()
}

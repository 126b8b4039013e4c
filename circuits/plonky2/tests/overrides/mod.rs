//! Negative tests start from an honest witness and change single values of it: the tests'
//! one override helper is `common/constraints.rs`'s `Tamper`; this is its form for real proofs.

#[path = "../common/constraints.rs"]
mod constraints;

use constraints::Tamper;
use plonky2::iop::target::Target;
use plonky2::iop::witness::PartialWitness;
use zkattr_plonky2::native::F;

/// `pw` with some input targets given other values (the rest is derived while proving).
pub fn with_overrides(pw: PartialWitness<F>, overrides: &[(Target, F)]) -> PartialWitness<F> {
    Tamper::new()
        .set_all(overrides.iter().copied())
        .applied_to(&pw)
        .expect("no first-write classes")
}

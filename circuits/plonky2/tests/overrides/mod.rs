//! Negative tests start from an honest witness and change single values of it.

use plonky2::iop::target::Target;
use plonky2::iop::witness::{PartialWitness, WitnessWrite};
use zkattr_plonky2::native::F;

/// `pw` with some input targets given other values (the rest is derived while proving).
pub fn with_overrides(pw: PartialWitness<F>, overrides: &[(Target, F)]) -> PartialWitness<F> {
    let mut out = PartialWitness::new();
    for (target, value) in pw.target_values {
        let value = overrides
            .iter()
            .find(|(t, _)| *t == target)
            .map_or(value, |(_, v)| *v);
        out.set_target(target, value).unwrap();
    }
    out
}

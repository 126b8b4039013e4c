//! SPEC's BN254 hash natively: circomlib's width-3 Poseidon permutation and SPEC's sponge.
//!
//! The round constants and MDS matrix come from `poseidon-primitives`' Grain LFSR generator
//! (the procedure circomlib's constants were made with), computed once per process. The same
//! constants feed the in-circuit chip, so native and in-circuit hashing cannot drift apart.

pub use halo2_base::halo2_proofs::halo2curves::bn256::Fr;
use halo2_base::halo2_proofs::halo2curves::ff::{Field, PrimeField};
use poseidon_primitives::poseidon::primitives::Spec;
use std::sync::OnceLock;

/// State width.
pub const WIDTH: usize = 3;
/// Elements absorbed per permutation.
pub const RATE: usize = 2;
/// Full rounds, half before and half after the partial rounds.
pub const FULL_ROUNDS: usize = 8;
/// Partial rounds (S-box on the first element only).
pub const PARTIAL_ROUNDS: usize = 57;

/// circomlib's parameters for `t = 3`, as a `poseidon-primitives` spec whose constants are
/// generated rather than tabulated.
#[derive(Debug)]
pub struct CircomlibSpec;

impl Spec<Fr, WIDTH, RATE> for CircomlibSpec {
    fn full_rounds() -> usize {
        FULL_ROUNDS
    }
    fn partial_rounds() -> usize {
        PARTIAL_ROUNDS
    }
    fn sbox(val: Fr) -> Fr {
        pow5(val)
    }
    fn secure_mds() -> usize {
        0
    }
}

/// The permutation's constants.
#[derive(Clone, Debug)]
pub struct PoseidonConstants {
    /// One row per round, added before the S-boxes.
    pub round_constants: Vec<[Fr; WIDTH]>,
    /// `state'[i] = Σ_j mds[i][j] * state[j]`.
    pub mds: [[Fr; WIDTH]; WIDTH],
}

/// The process-wide constants, generated on first use.
pub fn constants() -> &'static PoseidonConstants {
    static CONSTANTS: OnceLock<PoseidonConstants> = OnceLock::new();
    CONSTANTS.get_or_init(|| {
        let (round_constants, mds, _) = CircomlibSpec::constants();
        PoseidonConstants {
            round_constants,
            mds,
        }
    })
}

#[inline(always)]
fn pow5(x: Fr) -> Fr {
    let x2 = x.square();
    x2.square() * x
}

#[inline(always)]
fn mix(mds: &[[Fr; WIDTH]; WIDTH], state: &mut [Fr; WIDTH]) {
    let [a, b, c] = *state;
    for (out, row) in state.iter_mut().zip(mds) {
        *out = row[0] * a + row[1] * b + row[2] * c;
    }
}

/// The Poseidon permutation in place.
pub fn permute(state: &mut [Fr; WIDTH]) {
    let k = constants();
    let half = FULL_ROUNDS / 2;
    let (first, rest) = k.round_constants.split_at(half);
    let (partial, last) = rest.split_at(PARTIAL_ROUNDS);
    for rc in first {
        for (s, c) in state.iter_mut().zip(rc) {
            *s = pow5(*s + c);
        }
        mix(&k.mds, state);
    }
    for rc in partial {
        state[0] = pow5(state[0] + rc[0]);
        state[1] += rc[1];
        state[2] += rc[2];
        mix(&k.mds, state);
    }
    for rc in last {
        for (s, c) in state.iter_mut().zip(rc) {
            *s = pow5(*s + c);
        }
        mix(&k.mds, state);
    }
}

/// SPEC's `H`: absorb pairs into state elements 1 and 2 (the last padded with 0), permute
/// after each, output state element 0. Every caller hashes a fixed, non-empty length.
pub fn hash(inputs: &[Fr]) -> Fr {
    debug_assert!(!inputs.is_empty(), "SPEC never hashes an empty message");
    let mut state = [Fr::ZERO; WIDTH];
    for pair in inputs.chunks(RATE) {
        state[1] += pair[0];
        if let Some(second) = pair.get(1) {
            state[2] += second;
        }
        permute(&mut state);
    }
    state[0]
}

/// An element in decimal, as circomlib and Solidity tooling print it.
pub fn to_decimal(value: &Fr) -> String {
    num_bigint::BigUint::from_bytes_le(value.to_repr().as_ref()).to_string()
}

/// `H2(l, r) = H(l, r)`: circomlib's `poseidon([l, r])`.
pub fn hash2(left: Fr, right: Fr) -> Fr {
    let mut state = [Fr::ZERO, left, right];
    permute(&mut state);
    state[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decimal(fr: Fr) -> String {
        to_decimal(&fr)
    }

    #[test]
    fn spec_vector_h_1_2() {
        let expected =
            "7853200120776062878684798364095072458815029376092732009249414926327459813530";
        assert_eq!(decimal(hash(&[Fr::from(1), Fr::from(2)])), expected);
        assert_eq!(decimal(hash2(Fr::from(1), Fr::from(2))), expected);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        let a = Fr::from(7);
        assert_eq!(hash(&[a]), hash(&[a, Fr::ZERO]));
        assert_ne!(hash(&[a]), hash(&[Fr::ZERO, a]));
    }
}

//! circomlib's Poseidon over BN254 on ark-bn254, with its constants generated here from the
//! Poseidon reference's Grain LFSR: nothing is shared with the prover's implementation, so
//! agreement on the test vectors is evidence, not tautology.

use ark_bn254::Fr;
use ark_ff::{Field, PrimeField, Zero};
use num_bigint::BigUint;
use std::sync::OnceLock;

const WIDTH: usize = 3;
const FULL_ROUNDS: usize = 8;
const PARTIAL_ROUNDS: usize = 57;
/// Bits of the BN254 scalar field, as the reference generator is parametrised.
const FIELD_BITS: usize = 254;

/// The Grain LFSR of the Poseidon reference generator: an 80-bit shift register, bit 0 the
/// oldest, fed back from taps 0, 13, 23, 38, 51 and 62.
struct Grain {
    state: u128,
}

impl Grain {
    /// Seeds with the parameters (prime field, x^α S-box, n, t, R_F, R_P, then thirty ones)
    /// written most significant bit first, and discards the first 160 outputs.
    fn new() -> Self {
        let fields: [(u64, usize); 7] = [
            (1, 2),                      // prime field
            (0, 4),                      // S-box x^alpha
            (FIELD_BITS as u64, 12),     // field size
            (WIDTH as u64, 12),          // t
            (FULL_ROUNDS as u64, 10),    // R_F
            (PARTIAL_ROUNDS as u64, 10), // R_P
            ((1 << 30) - 1, 30),         // padding ones
        ];
        let mut state = 0u128;
        let mut position = 0;
        for (value, bits) in fields {
            for i in (0..bits).rev() {
                state |= u128::from((value >> i) & 1 == 1) << position;
                position += 1;
            }
        }
        let mut grain = Grain { state };
        for _ in 0..160 {
            grain.clock();
        }
        grain
    }

    /// Shifts in and returns one new bit.
    fn clock(&mut self) -> bool {
        let bit = |i: u32| (self.state >> i) & 1 == 1;
        let new = bit(0) ^ bit(13) ^ bit(23) ^ bit(38) ^ bit(51) ^ bit(62);
        self.state = (self.state >> 1) | (u128::from(new) << 79);
        new
    }

    /// The filtered output: bits come in pairs, and a pair yields its second bit only when
    /// its first bit is one.
    fn next_bit(&mut self) -> bool {
        loop {
            let keep = self.clock();
            let bit = self.clock();
            if keep {
                return bit;
            }
        }
    }

    /// `FIELD_BITS` output bits, most significant first.
    fn next_integer(&mut self) -> BigUint {
        let mut value = BigUint::zero();
        for _ in 0..FIELD_BITS {
            value <<= 1;
            if self.next_bit() {
                value |= BigUint::from(1u8);
            }
        }
        value
    }

    /// A round constant: integers at or above the modulus are rejected and redrawn.
    fn next_constant(&mut self) -> Fr {
        let modulus: BigUint = Fr::MODULUS.into();
        loop {
            let value = self.next_integer();
            if value < modulus {
                return Fr::from(value);
            }
        }
    }

    /// An MDS seed: reduced modulo the field, as the reference does.
    fn next_reduced(&mut self) -> Fr {
        Fr::from_le_bytes_mod_order(&self.next_integer().to_bytes_le())
    }
}

/// circomlib's width-3 Poseidon: 8 full rounds, 57 partial, x^5.
#[derive(Clone, Debug)]
pub struct PoseidonBn254 {
    round_constants: Vec<[Fr; WIDTH]>,
    /// `state'[i] = Σ_j mds[i][j] * state[j]`.
    mds: [[Fr; WIDTH]; WIDTH],
}

impl Default for PoseidonBn254 {
    fn default() -> Self {
        Self::new()
    }
}

impl PoseidonBn254 {
    /// Generates the constants: round constants first, then the Cauchy MDS
    /// `M[i][j] = 1 / (x_i + y_j)` from the next `2t` draws (the first matrix, as circomlib).
    pub fn new() -> Self {
        let mut grain = Grain::new();
        let round_constants = (0..FULL_ROUNDS + PARTIAL_ROUNDS)
            .map(|_| [(); WIDTH].map(|()| grain.next_constant()))
            .collect();
        let seeds: Vec<Fr> = (0..2 * WIDTH).map(|_| grain.next_reduced()).collect();
        let (xs, ys) = seeds.split_at(WIDTH);
        let mds = [0, 1, 2].map(|i| {
            [0, 1, 2].map(|j| {
                (xs[i] + ys[j])
                    .inverse()
                    .expect("the reference's first Cauchy matrix for t = 3 has no zero sum")
            })
        });
        PoseidonBn254 {
            round_constants,
            mds,
        }
    }

    /// The round constants, one row per round.
    pub fn round_constants(&self) -> &[[Fr; WIDTH]] {
        &self.round_constants
    }

    /// The permutation in place.
    pub fn permute(&self, state: &mut [Fr; WIDTH]) {
        let first_partial = FULL_ROUNDS / 2;
        let partial = first_partial..first_partial + PARTIAL_ROUNDS;
        for (round, constants) in self.round_constants.iter().enumerate() {
            for (s, c) in state.iter_mut().zip(constants) {
                *s += c;
            }
            let sbox = |x: &mut Fr| {
                let x2 = x.square();
                *x *= x2.square();
            };
            if partial.contains(&round) {
                sbox(&mut state[0]);
            } else {
                state.iter_mut().for_each(sbox);
            }
            *state = self.mds.map(|row| Fr::sum_of_products(&row, state));
        }
    }

    /// SPEC's `H`: for each pair of inputs (the last padded with zero) add it into state
    /// elements 1 and 2, permute; the digest is state element 0. Callers hash fixed,
    /// non-empty lengths.
    pub fn hash(&self, inputs: &[Fr]) -> Fr {
        debug_assert!(!inputs.is_empty(), "SPEC never hashes an empty message");
        let mut state = [Fr::zero(); WIDTH];
        for pair in inputs.chunks(2) {
            state[1] += pair[0];
            state[2] += pair.get(1).copied().unwrap_or_default();
            self.permute(&mut state);
        }
        state[0]
    }

    /// `H2(l, r)`: circomlib's `poseidon([l, r])`.
    pub fn hash2(&self, left: Fr, right: Fr) -> Fr {
        let mut state = [Fr::zero(), left, right];
        self.permute(&mut state);
        state[0]
    }
}

/// The process-wide instance, generated on first use.
pub fn params() -> &'static PoseidonBn254 {
    static PARAMS: OnceLock<PoseidonBn254> = OnceLock::new();
    PARAMS.get_or_init(PoseidonBn254::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::BigInteger;

    fn hex(f: Fr) -> String {
        hex::encode(f.into_bigint().to_bytes_be())
    }

    #[test]
    fn circomlib_vector() {
        let h = params().hash(&[Fr::from(1u64), Fr::from(2u64)]);
        assert_eq!(
            h.to_string(),
            "7853200120776062878684798364095072458815029376092732009249414926327459813530"
        );
        assert_eq!(params().hash2(Fr::from(1u64), Fr::from(2u64)), h);
    }

    #[test]
    fn first_constant_is_circomlibs() {
        assert_eq!(
            hex(params().round_constants()[0][0]),
            "0ee9a592ba9a9518d05986d656f40c2114c4993c11bb29938d21d47304cd8e6e"
        );
    }

    #[test]
    fn known_prefixes_of_longer_messages() {
        let f = |v: &[u64]| hex(params().hash(&v.iter().map(|&x| Fr::from(x)).collect::<Vec<_>>()));
        let h3 = f(&[1, 2, 3]);
        assert!(h3.starts_with("15d26b16") && h3.ends_with("2f87"), "{h3}");
        let h5 = f(&[1, 2, 3, 4, 5]);
        assert!(h5.starts_with("2e438aaa") && h5.ends_with("aad0"), "{h5}");
        assert_eq!(f(&[9]), f(&[9, 0]));
    }
}

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

/// The permutation's constants, as generated.
#[derive(Clone, Debug)]
pub struct PoseidonConstants {
    /// One row per round, added before the S-boxes.
    pub round_constants: Vec<[Fr; WIDTH]>,
    /// `state'[i] = Σ_j mds[i][j] * state[j]`.
    pub mds: Matrix,
}

/// A `WIDTH × WIDTH` matrix, row-major.
pub type Matrix = [[Fr; WIDTH]; WIDTH];

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

/// A partial round's linear layer in sparse form `[[m00, v], [w, I]]` (5 products, not 9).
#[derive(Clone, Copy, Debug)]
struct SparseMatrix {
    m00: Fr,
    v: [Fr; 2],
    w: [Fr; 2],
}

/// The same permutation rearranged for speed (Poseidon paper, appendix B), derived from
/// [`PoseidonConstants`] at start-up and tested equal to the plain form:
/// - partial rounds add a constant to element 0 only: the constants of elements 1 and 2 are
///   moved through the linear layer into the next round's constants;
/// - each partial round's MDS is split as `M = B · A` with `A = diag(1, M̂)` and `B` sparse;
///   `A` commutes with a partial round's S-box (which touches element 0 only), so it is pushed
///   into the round before, down to the last full round before the partial rounds.
#[derive(Clone, Debug)]
struct FastConstants {
    /// Constants of all full rounds, the first one after the partial rounds folded.
    full: Vec<[Fr; WIDTH]>,
    /// The linear layer of the last full round before the partial rounds (`A · M`).
    pre_partial: Matrix,
    partial_constants: Vec<Fr>,
    partial_matrices: Vec<SparseMatrix>,
    mds: Matrix,
}

fn mat_vec(m: &Matrix, v: &[Fr; WIDTH]) -> [Fr; WIDTH] {
    m.map(|row| row[0] * v[0] + row[1] * v[1] + row[2] * v[2])
}

fn mat_mul(a: &Matrix, b: &Matrix) -> Matrix {
    let mut out = [[Fr::ZERO; WIDTH]; WIDTH];
    for (i, row) in out.iter_mut().enumerate() {
        for (j, cell) in row.iter_mut().enumerate() {
            *cell = (0..WIDTH).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    out
}

impl FastConstants {
    fn derive(k: &PoseidonConstants) -> Self {
        let half = FULL_ROUNDS / 2;
        let mut rc = k.round_constants.clone();
        // Fold the constants of elements 1 and 2 forward through the linear layer.
        for r in half..half + PARTIAL_ROUNDS {
            let moved = mat_vec(&k.mds, &[Fr::ZERO, rc[r][1], rc[r][2]]);
            rc[r][1] = Fr::ZERO;
            rc[r][2] = Fr::ZERO;
            for (c, m) in rc[r + 1].iter_mut().zip(moved) {
                *c += m;
            }
        }
        // Split the partial rounds' matrices from the last round backwards.
        let mut partial_matrices = Vec::with_capacity(PARTIAL_ROUNDS);
        let mut current = k.mds;
        for _ in 0..PARTIAL_ROUNDS {
            let [[a, b, c], [d, e, f], [g, h, i]] = current;
            let det_inv = Option::<Fr>::from((e * i - f * h).invert())
                .expect("circomlib's MDS has invertible lower-right minors");
            partial_matrices.push(SparseMatrix {
                m00: a,
                v: [(b * i - c * h) * det_inv, (c * e - b * f) * det_inv],
                w: [d, g],
            });
            let block: Matrix = [
                [Fr::ONE, Fr::ZERO, Fr::ZERO],
                [Fr::ZERO, e, f],
                [Fr::ZERO, h, i],
            ];
            current = mat_mul(&block, &k.mds);
        }
        partial_matrices.reverse();
        let full = rc[..half]
            .iter()
            .chain(&rc[half + PARTIAL_ROUNDS..])
            .copied()
            .collect();
        let partial_constants = rc[half..half + PARTIAL_ROUNDS]
            .iter()
            .map(|row| row[0])
            .collect();
        FastConstants {
            full,
            pre_partial: current,
            partial_constants,
            partial_matrices,
            mds: k.mds,
        }
    }
}

fn fast_constants() -> &'static FastConstants {
    static FAST: OnceLock<FastConstants> = OnceLock::new();
    FAST.get_or_init(|| FastConstants::derive(constants()))
}

#[inline(always)]
fn pow5(x: Fr) -> Fr {
    let x2 = x.square();
    x2.square() * x
}

#[inline(always)]
fn full_round(state: &mut [Fr; WIDTH], rc: &[Fr; WIDTH], mds: &Matrix) {
    for (s, c) in state.iter_mut().zip(rc) {
        *s = pow5(*s + c);
    }
    *state = mat_vec(mds, state);
}

/// The Poseidon permutation in place (the optimised form; see [`permute_reference`]).
pub fn permute(state: &mut [Fr; WIDTH]) {
    let k = fast_constants();
    let half = FULL_ROUNDS / 2;
    for (r, rc) in k.full[..half].iter().enumerate() {
        let mds = if r + 1 == half {
            &k.pre_partial
        } else {
            &k.mds
        };
        full_round(state, rc, mds);
    }
    for (c, m) in k.partial_constants.iter().zip(&k.partial_matrices) {
        let s0 = pow5(state[0] + c);
        let [_, s1, s2] = *state;
        *state = [
            m.m00 * s0 + m.v[0] * s1 + m.v[1] * s2,
            m.w[0] * s0 + s1,
            m.w[1] * s0 + s2,
        ];
    }
    for rc in &k.full[half..] {
        full_round(state, rc, &k.mds);
    }
}

/// The permutation exactly as specified, round by round; the optimised [`permute`] is tested
/// equal to it.
pub fn permute_reference(state: &mut [Fr; WIDTH]) {
    let k = constants();
    let half = FULL_ROUNDS / 2;
    for (r, rc) in k.round_constants.iter().enumerate() {
        if (half..half + PARTIAL_ROUNDS).contains(&r) {
            state[0] = pow5(state[0] + rc[0]);
            state[1] += rc[1];
            state[2] += rc[2];
            *state = mat_vec(&k.mds, state);
        } else {
            full_round(state, rc, &k.mds);
        }
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
    fn optimised_permutation_equals_reference() {
        let mut state = [Fr::from(0), Fr::from(0), Fr::from(0)];
        for i in 0..64u64 {
            let mut fast = state;
            let mut plain = state;
            permute(&mut fast);
            permute_reference(&mut plain);
            assert_eq!(fast, plain, "state {i}");
            state = [plain[1] + Fr::from(i), plain[2], plain[0] * plain[0]];
        }
        let minus_one = -Fr::ONE;
        let mut fast = [minus_one; WIDTH];
        let mut plain = fast;
        permute(&mut fast);
        permute_reference(&mut plain);
        assert_eq!(fast, plain);
    }

    #[test]
    fn first_round_constant_is_circomlibs() {
        let c = constants().round_constants[0][0];
        let mut bytes = c.to_repr();
        bytes.as_mut().reverse();
        assert_eq!(
            hex::encode(bytes.as_ref()),
            "0ee9a592ba9a9518d05986d656f40c2114c4993c11bb29938d21d47304cd8e6e"
        );
    }

    #[test]
    fn odd_length_pads_with_zero() {
        let a = Fr::from(7);
        assert_eq!(hash(&[a]), hash(&[a, Fr::ZERO]));
        assert_ne!(hash(&[a]), hash(&[Fr::ZERO, a]));
    }
}

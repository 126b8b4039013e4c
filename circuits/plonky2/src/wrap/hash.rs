//! The outer layer's hash: Goldilocks elements hashed with circomlib's width-3 BN254 Poseidon
//! (`zkattr_halo2::poseidon::permute`), as a plonky2 [`Hasher`] for the Merkle trees and a
//! [`PlonkyPermutation`] for the Fiat-Shamir challenger. The rules are those of
//! docs/wrapper.md, which the halo2 verifier follows:
//!
//! - [`pack`]: up to 3 Goldilocks elements into one BN254 element, `g0 + 2^64 g1 + 2^128 g2`
//!   (canonical `g_i < p`, so the sum is below `2^192 < r` and the packing is injective);
//! - [`digits`]: a BN254 element (its canonical integer `x < r`) as its 4 base-`p` digits,
//!   `x = d0 + p d1 + p^2 d2 + p^3 d3`, every digit a canonical Goldilocks element;
//! - the hash out is one BN254 element; [`Bn254PoseidonHash::two_to_one`] is circomlib's
//!   `poseidon([l, r])`, [`Bn254PoseidonHash::hash_no_pad`] a sponge over packed chunks;
//! - the challenger's state is a hidden BN254 capacity element and 6 Goldilocks rate elements;
//!   each permutation packs the rate into BN254 elements 1 and 2 and gives back the low three
//!   digits of each.

use crate::native::F;
use halo2_base::halo2_proofs::halo2curves::ff::{Field as _, PrimeField};
use plonky2::field::extension::quadratic::QuadraticExtension;
use plonky2::field::types::{Field as _, Field64, PrimeField64};
use plonky2::hash::hashing::PlonkyPermutation;
use plonky2::hash::poseidon::PoseidonHash;
use plonky2::plonk::config::{GenericConfig, GenericHashOut, Hasher};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use zkattr_halo2::poseidon::{permute, Fr};

/// Goldilocks elements packed into one BN254 element.
pub const PACKED_PER_ELEMENT: usize = 3;
/// Goldilocks elements absorbed (and squeezed) per permutation: two packed BN254 elements.
pub const RATE: usize = 2 * PACKED_PER_ELEMENT;
/// Bytes of an encoded hash out: a BN254 element, little-endian, canonical.
pub const HASH_BYTES: usize = 32;

/// `g0 + 2^64 g1 + 2^128 g2` for the (canonical) elements given, missing ones 0.
/// Panics on more than [`PACKED_PER_ELEMENT`] elements (a caller bug, never input).
pub fn pack(elements: &[F]) -> Fr {
    assert!(
        elements.len() <= PACKED_PER_ELEMENT,
        "at most 3 Goldilocks elements fit one BN254 element"
    );
    let mut repr = [0u8; HASH_BYTES];
    for (chunk, g) in repr.chunks_exact_mut(8).zip(elements) {
        chunk.copy_from_slice(&g.to_canonical_u64().to_le_bytes());
    }
    Fr::from_repr(repr).expect("a value below 2^192 is a canonical BN254 element")
}

/// The base-`p` digits of `x`'s canonical integer, least significant first. `x < r < p^4`, so 4
/// digits hold it (the last below `2^62`).
pub fn digits(x: &Fr) -> [F; 4] {
    let repr = x.to_repr();
    let mut limbs: [u64; 4] = std::array::from_fn(|i| {
        u64::from_le_bytes(repr[8 * i..8 * i + 8].try_into().expect("8 bytes"))
    });
    let p = u128::from(F::ORDER);
    let mut out = [F::ZERO; 4];
    for digit in out.iter_mut().take(3) {
        // Long division of the 256-bit number by p, most significant limb first.
        let mut rem = 0u128;
        for limb in limbs.iter_mut().rev() {
            let cur = (rem << 64) | u128::from(*limb);
            *limb = (cur / p) as u64;
            rem = cur % p;
        }
        *digit = F::from_canonical_u64(rem as u64);
    }
    debug_assert!(limbs[1..].iter().all(|&l| l == 0) && limbs[0] < F::ORDER);
    out[3] = F::from_canonical_u64(limbs[0]);
    out
}

/// A hash out of the outer layer: one BN254 element.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bn254HashOut(pub Fr);

/// A 32-byte string that is not a hash out of the outer layer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HashOutError {
    /// Not 32 bytes.
    #[error("a BN254 hash out is {HASH_BYTES} bytes, not {0}")]
    Length(usize),
    /// The little-endian integer is not below the BN254 scalar modulus.
    #[error("a BN254 hash out must be below the field modulus (non-canonical bytes {0})")]
    NonCanonical(String),
}

impl Bn254HashOut {
    /// Decodes 32 little-endian bytes, refusing a value at or above the BN254 scalar modulus
    /// (it would otherwise stand for its reduction, a second encoding of the same hash).
    pub fn try_from_bytes(bytes: &[u8]) -> Result<Self, HashOutError> {
        let repr: [u8; HASH_BYTES] = bytes
            .try_into()
            .map_err(|_| HashOutError::Length(bytes.len()))?;
        Option::<Fr>::from(Fr::from_repr(repr))
            .map(Bn254HashOut)
            .ok_or_else(|| HashOutError::NonCanonical(hex_le(bytes)))
    }
}

fn hex_le(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl GenericHashOut<F> for Bn254HashOut {
    /// 32 bytes, little-endian, canonical.
    fn to_bytes(&self) -> Vec<u8> {
        self.0.to_repr().to_vec()
    }

    /// plonky2's trait has no error path: this panics on bytes [`Self::try_from_bytes`] refuses.
    /// Untrusted proofs are read with [`super::read_outer_proof`], which refuses them first.
    fn from_bytes(bytes: &[u8]) -> Self {
        match Self::try_from_bytes(bytes) {
            Ok(hash) => hash,
            Err(e) => panic!("{e}"),
        }
    }

    /// The 4 base-`p` digits ([`digits`]): injective, each a canonical Goldilocks element.
    fn to_vec(&self) -> Vec<F> {
        digits(&self.0).to_vec()
    }
}

impl Serialize for Bn254HashOut {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.to_bytes())
    }
}

impl<'de> Deserialize<'de> for Bn254HashOut {
    fn deserialize<De: Deserializer<'de>>(deserializer: De) -> Result<Self, De::Error> {
        let bytes = <Vec<u8>>::deserialize(deserializer)?;
        Self::try_from_bytes(&bytes).map_err(serde::de::Error::custom)
    }
}

/// The challenger's sponge: a hidden BN254 capacity element and [`RATE`] Goldilocks rate
/// elements (the part plonky2 reads and overwrites).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Bn254PoseidonPermutation {
    rate: [F; RATE],
    capacity: Fr,
}

impl fmt::Debug for Bn254PoseidonPermutation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bn254PoseidonPermutation")
            .field("rate", &self.rate)
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl Bn254PoseidonPermutation {
    /// A sponge state from its capacity element and rate elements.
    pub fn from_parts(capacity: Fr, rate: [F; RATE]) -> Self {
        Bn254PoseidonPermutation { rate, capacity }
    }

    /// The hidden capacity element (BN254 state element 0).
    pub fn capacity(&self) -> Fr {
        self.capacity
    }
}

impl AsRef<[F]> for Bn254PoseidonPermutation {
    fn as_ref(&self) -> &[F] {
        &self.rate
    }
}

impl PlonkyPermutation<F> for Bn254PoseidonPermutation {
    const RATE: usize = RATE;
    const WIDTH: usize = RATE;

    fn new<I: IntoIterator<Item = F>>(elts: I) -> Self {
        let mut perm = Self::default();
        perm.set_from_iter(elts, 0);
        perm
    }

    fn set_elt(&mut self, elt: F, idx: usize) {
        self.rate[idx] = elt;
    }

    fn set_from_iter<I: IntoIterator<Item = F>>(&mut self, elts: I, start_idx: usize) {
        for (s, e) in self.rate[start_idx..].iter_mut().zip(elts) {
            *s = e;
        }
    }

    fn set_from_slice(&mut self, elts: &[F], start_idx: usize) {
        self.rate[start_idx..start_idx + elts.len()].copy_from_slice(elts);
    }

    /// `[c, pack(rate[0..3]), pack(rate[3..6])]` through the BN254 permutation; the new
    /// capacity is element 0, the new rate the low three digits of elements 1 and 2.
    fn permute(&mut self) {
        let mut state = [
            self.capacity,
            pack(&self.rate[..PACKED_PER_ELEMENT]),
            pack(&self.rate[PACKED_PER_ELEMENT..]),
        ];
        permute(&mut state);
        self.capacity = state[0];
        let [a0, a1, a2, _] = digits(&state[1]);
        let [b0, b1, b2, _] = digits(&state[2]);
        self.rate = [a0, a1, a2, b0, b1, b2];
    }

    fn squeeze(&self) -> &[F] {
        &self.rate
    }
}

/// Merkle hashing of the outer layer with the BN254 Poseidon (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bn254PoseidonHash;

impl Hasher<F> for Bn254PoseidonHash {
    const HASH_SIZE: usize = HASH_BYTES;
    type Hash = Bn254HashOut;
    type Permutation = Bn254PoseidonPermutation;

    /// Overwrite-mode sponge from `[0, 0, 0]`: each chunk of [`RATE`] elements (the last one
    /// filled with zeros) is packed into elements 1 and 2, then permuted; the hash is element 0.
    /// The empty input hashes to 0 (no permutation, as in plonky2's own sponge).
    fn hash_no_pad(input: &[F]) -> Bn254HashOut {
        let mut state = [Fr::ZERO; 3];
        for chunk in input.chunks(RATE) {
            let (low, high) = chunk.split_at(chunk.len().min(PACKED_PER_ELEMENT));
            state[1] = pack(low);
            state[2] = pack(high);
            permute(&mut state);
        }
        Bn254HashOut(state[0])
    }

    /// Up to 3 elements are their packing (no permutation), longer inputs [`Self::hash_no_pad`].
    /// (plonky2's default keys this on `HASH_SIZE` bytes, which 4 elements can overflow.)
    fn hash_or_noop(inputs: &[F]) -> Bn254HashOut {
        if inputs.len() <= PACKED_PER_ELEMENT {
            Bn254HashOut(pack(inputs))
        } else {
            Self::hash_no_pad(inputs)
        }
    }

    /// circomlib's `poseidon([left, right])`: element 0 of `permute([0, left, right])`.
    fn two_to_one(left: Bn254HashOut, right: Bn254HashOut) -> Bn254HashOut {
        let mut state = [Fr::ZERO, left.0, right.0];
        permute(&mut state);
        Bn254HashOut(state[0])
    }
}

/// plonky2 over Goldilocks (D = 2) with the BN254 Poseidon of [`Bn254PoseidonHash`] for its
/// Merkle trees and transcript, and Goldilocks Poseidon for the public-input hash.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bn254PoseidonGoldilocksConfig;

impl GenericConfig<2> for Bn254PoseidonGoldilocksConfig {
    type F = F;
    type FE = QuadraticExtension<F>;
    type Hasher = Bn254PoseidonHash;
    type InnerHasher = PoseidonHash;
}

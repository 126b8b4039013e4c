//! SPEC's Goldilocks commitment family: plonky2's Poseidon, `u64`s that may exceed the field
//! carried as two 32-bit limbs (low first).

use plonky2::field::goldilocks_field::GoldilocksField;
use plonky2::field::types::{Field, Field64, PrimeField64};
use plonky2::hash::hash_types::HashOut;
use plonky2::hash::poseidon::PoseidonHash;
use plonky2::plonk::config::Hasher;
use zkattr_model::commit::{tag, CommitmentFamily};
use zkattr_model::merkle::TreeHasher;
use zkattr_model::rule::Payout;
use zkattr_model::types::Query;

/// The field of this family.
pub type F = GoldilocksField;
/// A 4-element Poseidon digest.
pub type Digest = HashOut<F>;

/// The Goldilocks Poseidon family (plonky2 backend).
#[derive(Clone, Copy, Debug, Default)]
pub struct GoldilocksFamily;

/// An element known to be below 2^63 (hence canonical).
fn small(value: u64) -> F {
    F::from_canonical_u64(value)
}

/// A `u64` as two 32-bit limbs, low first.
pub fn limbs(value: u64) -> [F; 2] {
    [small(value & 0xffff_ffff), small(value >> 32)]
}

/// The activation leaf's message: `1, qid_lo, qid_hi, fee, act_0 .. act_7`.
pub fn activation_message(query: &Query) -> Vec<F> {
    let mut message = Vec::with_capacity(12);
    message.push(small(tag::ACTIVATION_LEAF));
    message.extend(limbs(query.query_id));
    message.push(small(query.fee));
    message.extend(
        query
            .slots
            .iter()
            .map(|s| small(u64::from(s.adapter_id) | u64::from(s.gate) << 32)),
    );
    message
}

/// The influence leaf's message: `2, qid_lo, qid_hi, adapter_0, score_0, ..., adapter_7, score_7`
/// (each score as its 32-bit two's-complement pattern).
pub fn influence_message(query: &Query) -> Vec<F> {
    let mut message = Vec::with_capacity(19);
    message.push(small(tag::INFLUENCE_LEAF));
    message.extend(limbs(query.query_id));
    for s in &query.slots {
        message.push(small(u64::from(s.adapter_id)));
        message.push(small(u64::from(s.score as u32)));
    }
    message
}

impl TreeHasher for GoldilocksFamily {
    type Digest = Digest;
    fn empty_leaf(&self) -> Digest {
        HashOut {
            elements: [F::ZERO; 4],
        }
    }
    fn hash_children(&self, left: &Digest, right: &Digest) -> Digest {
        PoseidonHash::two_to_one(*left, *right)
    }
}

impl CommitmentFamily for GoldilocksFamily {
    const NAME: &'static str = "goldilocks";

    fn activation_leaf(&self, query: &Query) -> Digest {
        PoseidonHash::hash_no_pad(&activation_message(query))
    }

    fn influence_leaf(&self, query: &Query) -> Digest {
        PoseidonHash::hash_no_pad(&influence_message(query))
    }

    fn payout_leaf(&self, payout: &Payout) -> Digest {
        let [lo, hi] = limbs(payout.amount);
        PoseidonHash::hash_no_pad(&[small(u64::from(payout.adapter_id)), lo, hi])
    }

    /// `H(tag, root_0..root_3, count)`; counts are at most 2^32, so one element.
    fn commitment(&self, tag: u64, root: &Digest, count: u64) -> Digest {
        let mut message = Vec::with_capacity(6);
        message.push(small(tag));
        message.extend(root.elements);
        message.push(small(count));
        PoseidonHash::hash_no_pad(&message)
    }

    fn to_hex(digest: &Digest) -> String {
        let mut text = String::with_capacity(2 + 64);
        text.push_str("0x");
        for e in digest.elements {
            text.push_str(&format!("{:016x}", e.to_canonical_u64()));
        }
        text
    }

    fn from_hex(text: &str) -> Option<Digest> {
        let digits = text.strip_prefix("0x")?;
        // Hex digits only: `from_str_radix` would also take a sign.
        if digits.len() != 64 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut elements = [F::ZERO; 4];
        for (i, e) in elements.iter_mut().enumerate() {
            let value = u64::from_str_radix(&digits[16 * i..16 * (i + 1)], 16).ok()?;
            if value >= F::ORDER {
                return None;
            }
            *e = F::from_canonical_u64(value);
        }
        Some(HashOut { elements })
    }
}

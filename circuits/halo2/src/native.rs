//! SPEC's BN254 commitment family: leaves packed into field elements and hashed with [`hash`].

use crate::poseidon::{hash, hash2};
use halo2_base::halo2_proofs::halo2curves::bn256::Fr;
use halo2_base::halo2_proofs::halo2curves::ff::{Field, PrimeField};
use zkattr_model::commit::{tag, CommitmentFamily};
use zkattr_model::merkle::TreeHasher;
use zkattr_model::rule::Payout;
use zkattr_model::types::{Query, SLOTS};

/// The BN254 Poseidon family (halo2 backend).
#[derive(Clone, Copy, Debug, Default)]
pub struct Bn254Family;

/// Packs values of `width` bits each, little end first, into one element.
///
/// Callers keep `values.len() * width` at or below 253 bits, so the result is canonical.
pub fn pack(values: impl IntoIterator<Item = u64>, width: u32) -> Fr {
    let mut limbs = [0u64; 4];
    for (i, v) in values.into_iter().enumerate() {
        let bit = i as u32 * width;
        let (limb, offset) = ((bit / 64) as usize, bit % 64);
        limbs[limb] |= v << offset;
        if offset != 0 && offset + width > 64 {
            limbs[limb + 1] |= v >> (64 - offset);
        }
    }
    debug_assert!(limbs[3] >> 61 == 0, "packed value above 2^253");
    Fr::from_raw(limbs)
}

/// `act_j = adapter_j + gate_j * 2^32` for every slot.
pub fn activation_slot_values(query: &Query) -> [u64; SLOTS] {
    query
        .slots
        .map(|s| u64::from(s.adapter_id) | u64::from(s.gate) << 32)
}

/// `inf_j = adapter_j + (score_j as u32) * 2^32` for every slot.
pub fn influence_slot_values(query: &Query) -> [u64; SLOTS] {
    query
        .slots
        .map(|s| u64::from(s.adapter_id) | u64::from(s.score as u32) << 32)
}

impl TreeHasher for Bn254Family {
    type Digest = Fr;
    fn empty_leaf(&self) -> Fr {
        Fr::ZERO
    }
    fn hash_children(&self, left: &Fr, right: &Fr) -> Fr {
        hash2(*left, *right)
    }
}

impl CommitmentFamily for Bn254Family {
    const NAME: &'static str = "bn254";

    fn activation_leaf(&self, query: &Query) -> Fr {
        let act = activation_slot_values(query);
        hash(&[
            Fr::from(tag::ACTIVATION_LEAF),
            pack([query.query_id, query.fee], 64),
            pack(act[..5].iter().copied(), 48),
            pack(act[5..].iter().copied(), 48),
        ])
    }

    fn influence_leaf(&self, query: &Query) -> Fr {
        let inf = influence_slot_values(query);
        hash(&[
            Fr::from(tag::INFLUENCE_LEAF),
            Fr::from(query.query_id),
            pack(inf[..3].iter().copied(), 64),
            pack(inf[3..6].iter().copied(), 64),
            pack(inf[6..].iter().copied(), 64),
        ])
    }

    fn payout_leaf(&self, payout: &Payout) -> Fr {
        hash2(
            Fr::from(u64::from(payout.adapter_id)),
            Fr::from(payout.amount),
        )
    }

    fn commitment(&self, tag: u64, root: &Fr, count: u64) -> Fr {
        hash(&[Fr::from(tag), *root, Fr::from(count)])
    }

    fn to_hex(digest: &Fr) -> String {
        let mut bytes = digest.to_repr();
        bytes.as_mut().reverse();
        format!("0x{}", hex::encode(bytes.as_ref()))
    }

    fn from_hex(text: &str) -> Option<Fr> {
        let digits = text.strip_prefix("0x")?;
        if digits.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(digits, &mut bytes).ok()?;
        bytes.reverse();
        let mut repr = <Fr as PrimeField>::Repr::default();
        repr.as_mut().copy_from_slice(&bytes);
        Option::from(Fr::from_repr(repr))
    }
}

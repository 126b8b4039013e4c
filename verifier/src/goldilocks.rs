//! SPEC's Goldilocks payout commitment, recomputed on plonky2's hash alone (no prover crate),
//! so a bundle's payout table can be held to the proof's payout commitment.

use plonky2::field::goldilocks_field::GoldilocksField as F;
use plonky2::field::types::{Field, Field64, PrimeField64};
use plonky2::hash::hash_types::HashOut;
use plonky2::hash::poseidon::PoseidonHash;
use plonky2::plonk::config::Hasher;
use zkattr_model::commit::{tag, CommitmentFamily};
use zkattr_model::merkle::TreeHasher;
use zkattr_model::rule::Payout;
use zkattr_model::types::Query;

/// The Goldilocks family, verifier side.
#[derive(Clone, Copy, Debug, Default)]
pub struct GoldilocksTwin;

fn element(value: u64) -> F {
    F::from_noncanonical_u64(value)
}

fn halves(value: u64) -> [F; 2] {
    [element(value & 0xffff_ffff), element(value >> 32)]
}

impl TreeHasher for GoldilocksTwin {
    type Digest = HashOut<F>;
    fn empty_leaf(&self) -> Self::Digest {
        HashOut {
            elements: [F::ZERO; 4],
        }
    }
    fn hash_children(&self, left: &Self::Digest, right: &Self::Digest) -> Self::Digest {
        PoseidonHash::two_to_one(*left, *right)
    }
}

impl CommitmentFamily for GoldilocksTwin {
    const NAME: &'static str = "goldilocks";

    fn activation_leaf(&self, query: &Query) -> Self::Digest {
        let mut message = vec![element(tag::ACTIVATION_LEAF)];
        message.extend(halves(query.query_id));
        message.push(element(query.fee));
        for s in &query.slots {
            message.push(element(u64::from(s.adapter_id) + (u64::from(s.gate) << 32)));
        }
        PoseidonHash::hash_no_pad(&message)
    }

    fn influence_leaf(&self, query: &Query) -> Self::Digest {
        let mut message = vec![element(tag::INFLUENCE_LEAF)];
        message.extend(halves(query.query_id));
        for s in &query.slots {
            message.extend([
                element(u64::from(s.adapter_id)),
                element(u64::from(s.score as u32)),
            ]);
        }
        PoseidonHash::hash_no_pad(&message)
    }

    fn payout_leaf(&self, payout: &Payout) -> Self::Digest {
        let [lo, hi] = halves(payout.amount);
        PoseidonHash::hash_no_pad(&[element(u64::from(payout.adapter_id)), lo, hi])
    }

    fn commitment(&self, tag: u64, root: &Self::Digest, count: u64) -> Self::Digest {
        let mut message = vec![element(tag)];
        message.extend(root.elements);
        message.push(element(count));
        PoseidonHash::hash_no_pad(&message)
    }

    fn to_hex(digest: &Self::Digest) -> String {
        digest.elements.iter().fold(String::from("0x"), |text, e| {
            text + &format!("{:016x}", e.to_canonical_u64())
        })
    }

    fn from_hex(text: &str) -> Option<Self::Digest> {
        let digits = text.strip_prefix("0x")?;
        // Hex digits only: `from_str_radix` would also take a sign.
        if digits.len() != 64 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut elements = [F::ZERO; 4];
        for (i, e) in elements.iter_mut().enumerate() {
            let value = u64::from_str_radix(&digits[16 * i..16 * i + 16], 16).ok()?;
            if value >= F::ORDER {
                return None;
            }
            *e = F::from_canonical_u64(value);
        }
        Some(HashOut { elements })
    }
}

//! SPEC's Goldilocks commitments, recomputed on the verifier's own Poseidon ([`poseidon`]), so
//! audits and claims of plonky2 bundles do not rest on plonky2's hash code (nor on the prover's).
//! Digests keep plonky2's `HashOut` type, which the bundle checks build from a proof's public
//! inputs.

pub mod poseidon;

use plonky2::field::goldilocks_field::GoldilocksField as F;
use plonky2::field::types::{Field, Field64, PrimeField64};
use plonky2::hash::hash_types::HashOut;
use zkattr_model::commit::{tag, CommitmentFamily};
use zkattr_model::merkle::TreeHasher;
use zkattr_model::rule::Payout;
use zkattr_model::types::Query;

/// The Goldilocks family, verifier side: SPEC's leaves and commitments on [`poseidon`].
#[derive(Clone, Copy, Debug, Default)]
pub struct GoldilocksTwin;

/// SPEC's two 32-bit limbs of a `u64`, low first.
fn halves(value: u64) -> [u64; 2] {
    [value & 0xffff_ffff, value >> 32]
}

/// SPEC's `H` over a message of `u64`s, each one field element (every value SPEC hashes whole is
/// below p; those that may not be are split by [`halves`]).
fn hash(message: &[u64]) -> HashOut<F> {
    to_hash_out(poseidon::hash_no_pad(message))
}

fn to_hash_out(digest: poseidon::Digest) -> HashOut<F> {
    HashOut {
        elements: digest.map(F::from_canonical_u64),
    }
}

fn from_hash_out(digest: &HashOut<F>) -> poseidon::Digest {
    digest.elements.map(|e| e.to_canonical_u64())
}

impl TreeHasher for GoldilocksTwin {
    type Digest = HashOut<F>;
    fn empty_leaf(&self) -> Self::Digest {
        HashOut {
            elements: [F::ZERO; 4],
        }
    }
    fn hash_children(&self, left: &Self::Digest, right: &Self::Digest) -> Self::Digest {
        to_hash_out(poseidon::two_to_one(
            &from_hash_out(left),
            &from_hash_out(right),
        ))
    }
}

impl CommitmentFamily for GoldilocksTwin {
    const NAME: &'static str = "goldilocks";

    fn activation_leaf(&self, query: &Query) -> Self::Digest {
        let mut message = vec![tag::ACTIVATION_LEAF];
        message.extend(halves(query.query_id));
        message.push(query.fee);
        for s in &query.slots {
            message.push(u64::from(s.adapter_id) + (u64::from(s.gate) << 32));
        }
        hash(&message)
    }

    fn influence_leaf(&self, query: &Query) -> Self::Digest {
        let mut message = vec![tag::INFLUENCE_LEAF];
        message.extend(halves(query.query_id));
        for s in &query.slots {
            message.extend([u64::from(s.adapter_id), u64::from(s.score as u32)]);
        }
        hash(&message)
    }

    fn payout_leaf(&self, payout: &Payout) -> Self::Digest {
        let [lo, hi] = halves(payout.amount);
        hash(&[u64::from(payout.adapter_id), lo, hi])
    }

    fn commitment(&self, tag: u64, root: &Self::Digest, count: u64) -> Self::Digest {
        let mut message = vec![tag];
        message.extend(from_hash_out(root));
        message.push(count);
        hash(&message)
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

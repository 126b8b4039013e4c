//! SPEC's BN254 commitment family on ark-bn254: the auditors' implementation, written apart
//! from the prover's (halo2curves) one so that a bug in either shows as a disagreement on the
//! shared test vectors.

use crate::poseidon::params;
use ark_bn254::Fr;
use ark_ff::{BigInteger, Field, PrimeField, Zero};
use zkattr_model::commit::{tag, CommitmentFamily};
use zkattr_model::merkle::TreeHasher;
use zkattr_model::rule::Payout;
use zkattr_model::types::Query;

/// The BN254 Poseidon family, on ark-bn254.
#[derive(Clone, Copy, Debug, Default)]
pub struct ArkBn254Family;

/// `Σ values[i] * 2^(width * i)`, computed with field arithmetic (the prover's side packs bits;
/// doing it differently here is deliberate).
fn pack(values: &[u64], width: u32) -> Fr {
    let base = Fr::from(2u64).pow([u64::from(width)]);
    values
        .iter()
        .rev()
        .fold(Fr::zero(), |acc, &v| acc * base + Fr::from(v))
}

impl TreeHasher for ArkBn254Family {
    type Digest = Fr;
    fn empty_leaf(&self) -> Fr {
        Fr::zero()
    }
    fn hash_children(&self, left: &Fr, right: &Fr) -> Fr {
        params().hash2(*left, *right)
    }
}

impl CommitmentFamily for ArkBn254Family {
    const NAME: &'static str = "bn254";

    fn activation_leaf(&self, query: &Query) -> Fr {
        let act: Vec<u64> = query
            .slots
            .iter()
            .map(|s| u64::from(s.adapter_id) + (u64::from(s.gate) << 32))
            .collect();
        params().hash(&[
            Fr::from(tag::ACTIVATION_LEAF),
            pack(&[query.query_id, query.fee], 64),
            pack(&act[..5], 48),
            pack(&act[5..], 48),
        ])
    }

    fn influence_leaf(&self, query: &Query) -> Fr {
        let inf: Vec<u64> = query
            .slots
            .iter()
            .map(|s| u64::from(s.adapter_id) + (u64::from(s.score as u32) << 32))
            .collect();
        params().hash(&[
            Fr::from(tag::INFLUENCE_LEAF),
            Fr::from(query.query_id),
            pack(&inf[..3], 64),
            pack(&inf[3..6], 64),
            pack(&inf[6..], 64),
        ])
    }

    fn payout_leaf(&self, payout: &Payout) -> Fr {
        params().hash2(Fr::from(payout.adapter_id), Fr::from(payout.amount))
    }

    fn commitment(&self, tag: u64, root: &Fr, count: u64) -> Fr {
        params().hash(&[Fr::from(tag), *root, Fr::from(count)])
    }

    fn to_hex(digest: &Fr) -> String {
        format!("0x{}", hex::encode(digest.into_bigint().to_bytes_be()))
    }

    fn from_hex(text: &str) -> Option<Fr> {
        let digits = text.strip_prefix("0x")?;
        if digits.len() != 64 {
            return None;
        }
        let bytes = hex::decode(digits).ok()?;
        let value = num_bigint::BigUint::from_bytes_be(&bytes);
        let modulus: num_bigint::BigUint = Fr::MODULUS.into();
        if value >= modulus {
            return None;
        }
        Some(Fr::from_be_bytes_mod_order(&bytes))
    }
}

//! The verifier's own Goldilocks Poseidon (`goldilocks::poseidon`) against plonky2 1.1, called
//! here only as the thing compared against: the data tables, the committed hash vectors (written
//! by `scripts/goldilocks-check`, in Python), random inputs, and SPEC's commitments over the
//! committed epoch vectors and a synthetic epoch.

use plonky2::field::goldilocks_field::GoldilocksField as F;
use plonky2::field::types::{Field, PrimeField64};
use plonky2::hash::hash_types::HashOut;
use plonky2::hash::poseidon::{Poseidon, PoseidonHash, ALL_ROUND_CONSTANTS};
use plonky2::plonk::config::Hasher;
use proptest::prelude::*;
use serde_json::Value;
use std::path::PathBuf;
use zkattr_model::commit::{commit_epoch, tag, CommitmentFamily};
use zkattr_model::merkle::TreeHasher;
use zkattr_model::rule::Payout;
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::types::Query;
use zkattr_model::vectors::read_epoch_vectors;
use zkattr_model::{payout_report, Settlement};
use zkattr_verifier::goldilocks::poseidon::{
    self, Digest, MDS_CIRCULANT, MDS_DIAGONAL, ORDER, ROUND_CONSTANTS, WIDTH,
};
use zkattr_verifier::GoldilocksTwin;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn load(path: PathBuf) -> Value {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn elements(value: &Value) -> Vec<u64> {
    value
        .as_array()
        .expect("a list of elements")
        .iter()
        .map(|e| e.as_u64().expect("a u64 element"))
        .collect()
}

fn digest(value: &Value) -> Digest {
    elements(value).try_into().expect("4 elements")
}

fn field(values: &[u64]) -> Vec<F> {
    values
        .iter()
        .map(|&v| F::from_noncanonical_u64(v))
        .collect()
}

fn canonical(values: &[F]) -> Vec<u64> {
    values.iter().map(|e| e.to_canonical_u64()).collect()
}

fn plonky2_permute(state: [u64; WIDTH]) -> [u64; WIDTH] {
    let input: [F; WIDTH] = field(&state).try_into().unwrap();
    canonical(&<F as Poseidon>::poseidon(input))
        .try_into()
        .unwrap()
}

fn plonky2_hash(message: &[u64]) -> Digest {
    canonical(&PoseidonHash::hash_no_pad(&field(message)).elements)
        .try_into()
        .unwrap()
}

fn plonky2_two_to_one(left: &Digest, right: &Digest) -> Digest {
    let out = |d: &Digest| HashOut {
        elements: field(d).try_into().unwrap(),
    };
    canonical(&PoseidonHash::two_to_one(out(left), out(right)).elements)
        .try_into()
        .unwrap()
}

fn twin_permute(mut state: [u64; WIDTH]) -> [u64; WIDTH] {
    poseidon::permute(&mut state);
    state
}

#[test]
fn data_tables_equal_plonky2s() {
    assert_eq!(ROUND_CONSTANTS, ALL_ROUND_CONSTANTS);
    assert_eq!(MDS_CIRCULANT, <F as Poseidon>::MDS_MATRIX_CIRC);
    assert_eq!(MDS_DIAGONAL, <F as Poseidon>::MDS_MATRIX_DIAG);
}

/// The committed vectors (verifier/tests/data/poseidon_goldilocks.json), which the Python
/// script computes: the twin and plonky2 both reproduce every one.
#[test]
fn hash_vectors_agree() {
    let vectors = load(root().join("verifier/tests/data/poseidon_goldilocks.json"));
    let list = |name: &str| {
        let items = vectors[name].as_array().cloned().unwrap_or_default();
        assert!(items.len() >= 3, "{name}: too few vectors");
        items
    };
    for v in list("permutation") {
        let input: [u64; WIDTH] = elements(&v["input"]).try_into().unwrap();
        let output = elements(&v["output"]);
        assert_eq!(twin_permute(input).to_vec(), output, "twin {v}");
        assert_eq!(plonky2_permute(input).to_vec(), output, "plonky2 {v}");
    }
    let mut lengths = Vec::new();
    for v in list("hash_no_pad") {
        let input = elements(&v["input"]);
        let output = digest(&v["output"]);
        assert_eq!(poseidon::hash_no_pad(&input), output, "twin {v}");
        assert_eq!(plonky2_hash(&input), output, "plonky2 {v}");
        lengths.push(input.len());
    }
    // Empty, partial, exactly one rate, and over one rate (including a partial last chunk).
    for wanted in [0, 1, 8, 9, 17] {
        assert!(
            lengths.contains(&wanted),
            "no hash_no_pad vector of length {wanted}"
        );
    }
    for v in list("two_to_one") {
        let (left, right) = (digest(&v["left"]), digest(&v["right"]));
        let output = digest(&v["output"]);
        assert_eq!(poseidon::two_to_one(&left, &right), output, "twin {v}");
        assert_eq!(plonky2_two_to_one(&left, &right), output, "plonky2 {v}");
    }
}

/// plonky2's own published test vector for the all-zero state (its `poseidon_goldilocks.rs`).
#[test]
fn permutation_of_zero_is_plonky2s_published_vector() {
    assert_eq!(
        twin_permute([0; WIDTH]),
        [
            0x3c18a9786cb0b359,
            0xc4055e3364a246c3,
            0x7953db0ab48808f4,
            0xc71603f33a1144ca,
            0xd7709673896996dc,
            0x46a84e87642f44ed,
            0xd032648251ee0b3c,
            0x1c687363b207df62,
            0xdf8565563e8045fe,
            0x40f5b37ff4254dae,
            0xd070f637b431067c,
            0x1792b1c4342109d7,
        ]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any u64 state, at or above p included (both read it as its residue).
    #[test]
    fn permutation_agrees_on_random_states(state in any::<[u64; WIDTH]>()) {
        prop_assert_eq!(twin_permute(state), plonky2_permute(state));
    }

    /// Messages of 0 to 40 elements: every rate boundary and partial last chunk of SPEC's
    /// lengths (3, 6, 11, 19) and beyond.
    #[test]
    fn hash_no_pad_agrees_on_random_messages(
        message in prop::collection::vec(any::<u64>(), 0..=40),
    ) {
        prop_assert_eq!(poseidon::hash_no_pad(&message), plonky2_hash(&message));
    }

    #[test]
    fn two_to_one_agrees_on_random_digests(
        left in prop::array::uniform4(0..ORDER),
        right in prop::array::uniform4(0..ORDER),
    ) {
        prop_assert_eq!(poseidon::two_to_one(&left, &right), plonky2_two_to_one(&left, &right));
    }
}

/// SPEC's Goldilocks commitments written on plonky2's hash (as the verifier computed them before
/// it had its own): the reference the twin's commitments are held to.
struct Plonky2Family;

fn halves(value: u64) -> [F; 2] {
    [
        F::from_canonical_u64(value & 0xffff_ffff),
        F::from_canonical_u64(value >> 32),
    ]
}

impl TreeHasher for Plonky2Family {
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

impl CommitmentFamily for Plonky2Family {
    const NAME: &'static str = "goldilocks";
    fn activation_leaf(&self, query: &Query) -> Self::Digest {
        let mut message = vec![F::from_canonical_u64(tag::ACTIVATION_LEAF)];
        message.extend(halves(query.query_id));
        message.push(F::from_canonical_u64(query.fee));
        for s in &query.slots {
            message.push(F::from_canonical_u64(
                u64::from(s.adapter_id) + (u64::from(s.gate) << 32),
            ));
        }
        PoseidonHash::hash_no_pad(&message)
    }
    fn influence_leaf(&self, query: &Query) -> Self::Digest {
        let mut message = vec![F::from_canonical_u64(tag::INFLUENCE_LEAF)];
        message.extend(halves(query.query_id));
        for s in &query.slots {
            message.push(F::from_canonical_u32(s.adapter_id));
            message.push(F::from_canonical_u32(s.score as u32));
        }
        PoseidonHash::hash_no_pad(&message)
    }
    fn payout_leaf(&self, payout: &Payout) -> Self::Digest {
        let mut message = vec![F::from_canonical_u32(payout.adapter_id)];
        message.extend(halves(payout.amount));
        PoseidonHash::hash_no_pad(&message)
    }
    fn commitment(&self, tag: u64, root: &Self::Digest, count: u64) -> Self::Digest {
        let mut message = vec![F::from_canonical_u64(tag)];
        message.extend(root.elements);
        message.push(F::from_canonical_u64(count));
        PoseidonHash::hash_no_pad(&message)
    }
    fn to_hex(digest: &Self::Digest) -> String {
        GoldilocksTwin::to_hex(digest)
    }
    fn from_hex(text: &str) -> Option<Self::Digest> {
        GoldilocksTwin::from_hex(text)
    }
}

/// Every committed epoch vector's Goldilocks table (commitments included) is what the twin
/// computes, and what the plonky2-hash reference computes.
#[test]
fn epoch_vectors_agree() {
    let vectors = read_epoch_vectors(&root().join("testvectors")).unwrap();
    for v in &vectors {
        assert_eq!(v.goldilocks.family, "goldilocks", "{}", v.name);
        let twin = payout_report(&GoldilocksTwin, &v.epoch).unwrap().2;
        assert_eq!(twin, v.goldilocks, "twin, {}", v.name);
        let reference = payout_report(&Plonky2Family, &v.epoch).unwrap().2;
        assert_eq!(reference, v.goldilocks, "plonky2, {}", v.name);
    }
    assert!(
        vectors.len() >= 8,
        "only {} epoch vectors found",
        vectors.len()
    );
}

/// A synthetic epoch of 300 queries: the three commitments agree with the plonky2-hash
/// reference.
#[test]
fn synthetic_epoch_commitments_agree() {
    let epoch = generate(&SynthConfig::new(300, 40, 31));
    let settlement = Settlement::compute(&epoch).unwrap();
    assert!(
        settlement.payouts.len() > 8,
        "too few payees to span levels"
    );
    let twin = commit_epoch(&GoldilocksTwin, &epoch, &settlement).unwrap();
    let reference = commit_epoch(&Plonky2Family, &epoch, &settlement).unwrap();
    assert_eq!(twin, reference);
    assert_ne!(twin.activation, twin.influence);
}

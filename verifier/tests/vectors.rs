//! The ark-bn254 twin against the committed vectors, which the prover's halo2curves
//! implementation wrote: two independent implementations must agree on every field.

use serde_json::Value;
use std::path::PathBuf;
use zkattr_model::vectors::read_epoch_vectors;
use zkattr_model::{payout_report, CommitmentFamily};
use zkattr_verifier::poseidon::params;
use zkattr_verifier::ArkBn254Family;

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testvectors")
}

fn load(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn epoch_vectors_agree() {
    let vectors = read_epoch_vectors(&vectors_dir()).unwrap();
    for v in &vectors {
        let ours = payout_report(&ArkBn254Family, &v.epoch).unwrap().2;
        assert_eq!(ours, v.bn254, "{}", v.name);
    }
    assert!(
        vectors.len() >= 8,
        "only {} epoch vectors found",
        vectors.len()
    );
}

#[test]
fn poseidon_vectors_agree() {
    let vectors = load(&vectors_dir().join("poseidon_bn254.json"));
    let list = vectors["vectors"].as_array().unwrap();
    assert!(list.len() >= 5);
    for v in list {
        let inputs: Vec<ark_bn254::Fr> = v["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap().parse().unwrap())
            .collect();
        let expected = ArkBn254Family::from_hex(v["output"].as_str().unwrap()).unwrap();
        assert_eq!(params().hash(&inputs), expected, "{v}");
    }
}

#[test]
fn hex_rejects_non_canonical() {
    let modulus = "0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001";
    assert_eq!(ArkBn254Family::from_hex(modulus), None);
    assert_eq!(ArkBn254Family::from_hex("0x1"), None);
    let one = format!("0x{}1", "0".repeat(63));
    assert_eq!(
        ArkBn254Family::from_hex(&one).map(|f| ArkBn254Family::to_hex(&f)),
        Some(one)
    );
}

#[test]
fn goldilocks_hex_takes_digits_only() {
    use zkattr_verifier::GoldilocksTwin;
    let one = format!("0x{}1", "0".repeat(63));
    assert_eq!(
        GoldilocksTwin::from_hex(&one).map(|d| GoldilocksTwin::to_hex(&d)),
        Some(one)
    );
    // `u64::from_str_radix` alone would read "+000000000000001" as 1.
    let signed = format!("0x+{}1", "0".repeat(62));
    assert_eq!(signed.len(), 66);
    assert_eq!(GoldilocksTwin::from_hex(&signed), None);
    let modulus_chunk = format!("0xffffffff00000001{}", "0".repeat(48));
    assert_eq!(GoldilocksTwin::from_hex(&modulus_chunk), None);
}

//! The committed test vectors in `testvectors/`: small epochs with their payout tables and every
//! commitment in both families, edge cases included.
//!
//! The files are the contract between implementations: this test holds the prover-side code to
//! them, the verifier's independent ark-bn254 twin checks the BN254 half, and
//! `scripts/circomlib-check` recomputes the BN254 half with circomlibjs. Regenerate (after a
//! deliberate change of the statement only) with `ZKATTR_REGEN_VECTORS=1 cargo test --test vectors`.

use serde_json::{json, Value};
use std::path::PathBuf;
use zkattr_halo2::poseidon;
use zkattr_halo2::Bn254Family;
use zkattr_model::io::{read_epoch_json, write_epoch_json};
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::types::{FEE_BOUND, SLOTS};
use zkattr_model::{payout_report, Epoch, EpochParams, Query, Slot};
use zkattr_plonky2::GoldilocksFamily;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testvectors")
}

fn regenerate() -> bool {
    std::env::var_os("ZKATTR_REGEN_VECTORS").is_some()
}

fn query(query_id: u64, fee: u64, used: &[(u32, u16, i32)]) -> Query {
    let mut slots = [Slot::UNUSED; SLOTS];
    for (j, &(adapter_id, gate, score)) in used.iter().enumerate() {
        slots[j] = Slot {
            adapter_id,
            gate,
            score,
        };
    }
    Query {
        query_id,
        fee,
        slots,
    }
}

fn epoch(epoch_id: u64, rate_bps: u16, queries: Vec<Query>) -> Epoch {
    Epoch::new(EpochParams { epoch_id, rate_bps }, queries).expect("vector epochs are valid")
}

/// The named cases: each one an edge of SPEC.
fn cases() -> Vec<(&'static str, &'static str, Epoch)> {
    let full: Vec<(u32, u16, i32)> = (0..8)
        .map(|j| (u32::MAX - 7 + j, u16::MAX, i32::MAX))
        .collect();
    vec![
        (
            "spec_example",
            "SPEC's interchange example: one negative score, one positive",
            epoch(
                7,
                2500,
                vec![query(
                    1,
                    1_000_000,
                    &[(3, 40_000, -1_200), (9, 25_535, 65_536)],
                )],
            ),
        ),
        ("empty_epoch", "no queries at all", epoch(1, 2500, vec![])),
        (
            "no_used_slots",
            "a query with no used slot beside a paying one",
            epoch(
                2,
                1000,
                vec![
                    query(5, 777, &[]),
                    query(6, 1_234_567, &[(1, 100, 5), (2, 300, 5)]),
                ],
            ),
        ),
        (
            "all_negative",
            "every score negative: everything goes to the treasury",
            epoch(
                3,
                5000,
                vec![
                    query(1, 10_000, &[(4, 500, -1), (8, 500, i32::MIN)]),
                    query(2, 20_000, &[(4, 65_535, -65_536)]),
                ],
            ),
        ),
        (
            "max_values",
            "fee 2^48-1, rate 10000, eight slots of gate 65535 with the largest score, largest ids",
            epoch(
                u64::MAX,
                10_000,
                vec![query(u64::MAX, FEE_BOUND - 1, &full)],
            ),
        ),
        (
            "rate_zero",
            "rate 0: every pool is empty, payees still listed with 0",
            epoch(4, 0, vec![query(10, 999_999, &[(1, 1, 1), (2, 2, 2)])]),
        ),
        (
            "rounding",
            "three equal weights over a pool of 100: floors leave a residual of 1",
            epoch(
                5,
                10_000,
                vec![query(1, 100, &[(1, 1, 1), (2, 1, 1), (3, 1, 1)])],
            ),
        ),
        (
            "synthetic_40",
            "40 synthetic queries over 12 adapters (seed 9)",
            generate(&SynthConfig::new(40, 12, 9)),
        ),
    ]
}

fn case_json(name: &str, description: &str, epoch: &Epoch) -> Value {
    let mut epoch_json = Vec::new();
    write_epoch_json(epoch, &mut epoch_json).unwrap();
    let bn254 = payout_report(&Bn254Family, epoch).unwrap().2;
    let goldilocks = payout_report(&GoldilocksFamily, epoch).unwrap().2;
    json!({
        "name": name,
        "description": description,
        "epoch": serde_json::from_slice::<Value>(&epoch_json).unwrap(),
        "bn254": bn254,
        "goldilocks": goldilocks,
    })
}

fn check_or_write(file: &str, value: &Value) {
    let path = dir().join(file);
    let text = serde_json::to_string_pretty(value).unwrap() + "\n";
    if regenerate() {
        std::fs::write(&path, text).unwrap();
        return;
    }
    let stored = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run with ZKATTR_REGEN_VECTORS=1", path.display()));
    assert_eq!(
        stored, text,
        "{file} drifted from the code: a commitment or payout changed"
    );
}

#[test]
fn epoch_vectors_match_the_code() {
    for (name, description, epoch) in cases() {
        let value = case_json(name, description, &epoch);
        // The stored epoch reads back as the same epoch.
        let text = serde_json::to_vec(&value["epoch"]).unwrap();
        assert_eq!(read_epoch_json(text.as_slice()).unwrap(), epoch, "{name}");
        check_or_write(&format!("{name}.json"), &value);
    }
}

#[test]
fn conservation_holds_in_every_vector() {
    for (name, _, epoch) in cases() {
        let report = payout_report(&Bn254Family, &epoch).unwrap().2;
        assert_eq!(
            report.total_paid + report.treasury,
            report.total_pool,
            "{name}"
        );
    }
}

/// Poseidon vectors of every message length SPEC uses (1 to 5) and edge elements.
#[test]
fn poseidon_vectors_match_the_code() {
    use zkattr_halo2::poseidon::{hash, Fr};
    use zkattr_model::CommitmentFamily;
    let minus_one = -Fr::from(1);
    let messages: Vec<Vec<Fr>> = vec![
        vec![Fr::from(1), Fr::from(2)],
        vec![Fr::from(0)],
        vec![Fr::from(1), Fr::from(2), Fr::from(3)],
        vec![Fr::from(1), Fr::from(2), Fr::from(3), Fr::from(4)],
        vec![
            Fr::from(1),
            Fr::from(2),
            Fr::from(3),
            Fr::from(4),
            Fr::from(5),
        ],
        vec![minus_one, minus_one],
        vec![
            Fr::from(u64::MAX),
            minus_one,
            Fr::from(3),
            Fr::from(0),
            minus_one,
        ],
    ];
    let vectors: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!({
                "inputs": m.iter().map(poseidon::to_decimal).collect::<Vec<_>>(),
                "output": Bn254Family::to_hex(&hash(m)),
            })
        })
        .collect();
    check_or_write("poseidon_bn254.json", &json!({ "vectors": vectors }));
}

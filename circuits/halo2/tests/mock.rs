//! MockProver: valid epochs of several shapes satisfy the halo2 circuit with SPEC's public inputs;
//! SPEC's "what a proof must rule out" cases, each a tampered witness, do not.

mod common;

use common::{honest_in, refusals};
use std::path::PathBuf;
use zkattr_halo2::Bn254Family;
use zkattr_model::commit::CommitmentFamily;
use zkattr_model::vectors::{read_epoch_vectors, EpochVector};

/// The committed vectors of at most 16 queries.
fn vectors() -> Vec<EpochVector> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testvectors");
    let mut all = read_epoch_vectors(&dir).unwrap();
    all.retain(|v| v.epoch.queries.len() <= 16);
    all
}

#[test]
fn committed_vectors_satisfy_the_16_query_circuit() {
    let layout = common::layout(16);
    eprintln!(
        "16x16: k = {}, {} permutations, {} base cells, params {:?}",
        layout.k, layout.permutations, layout.base_cells, layout.params
    );
    for EpochVector {
        name,
        epoch,
        bn254: expected,
        ..
    } in vectors()
    {
        let (w, instances) = honest_in(layout.shape, &epoch);
        // The public inputs the circuit constrains its in-circuit commitments to are the
        // committed vectors' (so in-circuit and native hashing agree on them).
        for (index, field, hex) in [
            (2, "activation_commitment", &expected.activation_commitment),
            (3, "influence_commitment", &expected.influence_commitment),
            (8, "payout_commitment", &expected.payout_commitment),
        ] {
            assert_eq!(
                &Bn254Family::to_hex(&instances[index]),
                hex,
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

//! The outer layer end to end: a 10-query epoch (agg-b4-t2-p8: three batches, two merge levels)
//! proved to its shrink layer and wrapped under the BN254 Poseidon configuration; plonky2's
//! verifier accepts the outer proof, which carries the shrink proof's public inputs and reads
//! back from its bytes. A flipped proof byte, a changed public input, verifier data outside the
//! pinned set, the proof's own verifier data under another leaf's Merkle path, and a pinned
//! layout the proof is not of are refused.
//! One test, so every circuit is built once. It takes about 5 CPU-minutes (the whole pipeline,
//! then the outer layer's BN254 Merkle trees), too long for the CI run: it runs on demand with
//! `cargo test --release -p zkattr-plonky2 --test wrap_layer -- --ignored`.

use plonky2::field::types::Field;
use plonky2::hash::hash_types::HashOut;
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_plonky2::aggregation::{shape_for_epoch, AggregationCircuits, Resume};
use zkattr_plonky2::native::F;
use zkattr_plonky2::wrap::{read_outer_proof, OuterCircuit, WrapError};

#[test]
#[ignore = "about 5 CPU-minutes; run with --ignored (see the module doc)"]
fn a_shrink_proof_wraps_verifies_and_tampering_is_refused() {
    let epoch = generate(&SynthConfig::new(10, 5, 21));
    let shape = shape_for_epoch(&epoch, 4).unwrap();
    assert_eq!(shape.key(), "agg-b4-t2-p8");
    let circuits = AggregationCircuits::build(shape, &|_| {}).unwrap();
    let prepared = circuits.prepare(&epoch).unwrap();
    let root = circuits
        .tree
        .prove_root(&epoch, prepared.challenges, Resume::none(), &|_| {})
        .unwrap();
    let last = circuits
        .prove_final(&root, &prepared.payees, Resume::none(), &|_| {})
        .unwrap();
    let shrunk = circuits.shrink.prove(&last).unwrap();
    let inner = &circuits.shrink.data;

    // A second pinned entry: the same cap under another circuit digest, a layout no proof has.
    let mut other = inner.verifier_only.clone();
    other.circuit_digest = HashOut {
        elements: other.circuit_digest.elements.map(|e| e + F::ONE),
    };
    let outer =
        OuterCircuit::build(&inner.common, &[inner.verifier_only.clone(), other.clone()]).unwrap();

    let wrapped = outer.prove(&shrunk, &inner.verifier_only).unwrap();
    outer.verify(&wrapped).unwrap();
    assert_eq!(wrapped.public_inputs, shrunk.public_inputs);
    assert_eq!(wrapped.public_inputs, prepared.expected);
    let bytes = wrapped.to_bytes();
    assert_eq!(
        read_outer_proof(&bytes, &outer.data.common).unwrap(),
        wrapped
    );

    // A flipped byte anywhere in the proof: refused when read or when verified.
    for at in [0, 32, bytes.len() / 3, bytes.len() / 2, bytes.len() - 9] {
        let mut flipped = bytes.clone();
        flipped[at] ^= 1;
        let refused =
            read_outer_proof(&flipped, &outer.data.common).and_then(|proof| outer.verify(&proof));
        assert!(refused.is_err(), "byte {at} flipped and accepted");
    }
    // A changed public input.
    let mut changed = wrapped.clone();
    changed.public_inputs[0] += F::ONE;
    assert!(matches!(
        outer.verify(&changed),
        Err(WrapError::Verification(_))
    ));

    // Verifier data outside the set is refused before proving.
    let mut forged = inner.verifier_only.clone();
    forged.circuit_digest.elements[0] += F::ONE;
    assert!(matches!(
        outer.prove(&shrunk, &forged),
        Err(WrapError::UnpinnedLayout)
    ));
    // The circuit alone: the proof's own verifier data with the Merkle path of the other leaf
    // (the inner verification holds, the membership check does not), and the other pinned
    // layout with its own path (membership holds, the inner verification does not).
    let refused = |index, verifier| {
        outer
            .prove_at(&shrunk, verifier, index)
            .and_then(|proof| outer.verify(&proof))
            .is_err()
    };
    assert!(refused(1, &inner.verifier_only));
    assert!(refused(1, &other));
}

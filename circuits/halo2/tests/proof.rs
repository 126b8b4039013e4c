//! Real KZG proofs (SHPLONK, development parameters): an honest proof verifies; a changed public
//! input, a changed proof byte and every tampered witness of `common::cases()` are rejected by
//! the verifier (halo2's prover does not check constraints, so rejection is checked at
//! verification).

mod common;

use common::{proof_setup as setup, proof_verifies};
use std::time::Instant;
use zkattr_halo2::poseidon::Fr;
use zkattr_halo2::prover::verify;

#[test]
fn honest_proof_verifies_and_tampered_transcripts_do_not() {
    let s = setup();
    let (w, instances) = common::honest(&common::epoch());
    let start = Instant::now();
    let proof = s.keys.prove(&s.params.params, &w, &instances).unwrap();
    eprintln!(
        "prove: {:.1} s, {} bytes",
        start.elapsed().as_secs_f64(),
        proof.len()
    );
    verify(&s.params.params, s.keys.vk(), &proof, &instances).unwrap();

    for index in 0..instances.len() {
        let mut changed = instances.clone();
        changed[index] += Fr::from(1);
        assert!(
            verify(&s.params.params, s.keys.vk(), &proof, &changed).is_err(),
            "public input {index} changed and still accepted"
        );
    }
    for position in [0, proof.len() / 2, proof.len() - 1] {
        let mut bent = proof.clone();
        bent[position] ^= 1;
        assert!(
            verify(&s.params.params, s.keys.vk(), &bent, &instances).is_err(),
            "proof byte {position} changed and still accepted"
        );
    }
    assert!(verify(
        &s.params.params,
        s.keys.vk(),
        &proof[..proof.len() - 1],
        &instances
    )
    .is_err());
}

#[test]
fn every_tampered_witness_yields_a_rejected_proof() {
    let epoch = common::epoch();
    let mut accepted = Vec::new();
    for case in common::cases() {
        let (w, instances) = case.tampered(&epoch);
        if proof_verifies(&w, &instances) {
            accepted.push(case.name);
        }
    }
    assert!(accepted.is_empty(), "accepted: {accepted:#?}");
}

//! Real KZG proofs (SHPLONK, development parameters): an honest proof verifies; a changed public
//! input, a changed proof byte and every tampered witness of `common::cases()` are rejected by
//! the verifier (halo2's prover does not check constraints, so rejection is checked at
//! verification).

mod common;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Instant;
use zkattr_halo2::poseidon::Fr;
use zkattr_halo2::prover::{verify, Halo2Keys, KzgParams, Layout};

struct Setup {
    params: KzgParams,
    keys: Halo2Keys,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let layout = Layout::for_shape(common::shape());
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../params");
        let params = KzgParams::dev_unsafe(&dir, layout.k).unwrap();
        let start = Instant::now();
        let keys = Halo2Keys::generate(&layout, &params.params).unwrap();
        eprintln!(
            "keygen k={}: {:.1} s",
            layout.k,
            start.elapsed().as_secs_f64()
        );
        Setup { params, keys }
    })
}

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
    let s = setup();
    let epoch = common::epoch();
    let mut accepted = Vec::new();
    for (name, tamper) in common::cases() {
        let (mut w, mut instances) = common::honest(&epoch);
        tamper(&mut w, &mut instances);
        // The prover may refuse outright (e.g. a value its witness generation cannot place);
        // either way no verifying proof may come out.
        if let Ok(proof) = s.keys.prove(&s.params.params, &w, &instances) {
            if verify(&s.params.params, s.keys.vk(), &proof, &instances).is_ok() {
                accepted.push(name);
            }
        }
    }
    assert!(accepted.is_empty(), "accepted: {accepted:#?}");
}

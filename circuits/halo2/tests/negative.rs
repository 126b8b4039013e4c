//! MockProver rejects every tampered witness of `common::cases()`, while the honest witness of the
//! same epoch is accepted.

mod common;

use std::sync::OnceLock;
use zkattr_halo2::prover::{mock_prove, Layout};

fn layout() -> &'static Layout {
    static LAYOUT: OnceLock<Layout> = OnceLock::new();
    LAYOUT.get_or_init(|| Layout::for_shape(common::shape()))
}

#[test]
fn the_honest_witness_is_accepted() {
    let (w, instances) = common::honest(&common::epoch());
    mock_prove(layout(), &w, &instances).unwrap();
}

#[test]
fn every_case_is_rejected() {
    let epoch = common::epoch();
    let mut accepted = Vec::new();
    for (name, tamper) in common::cases() {
        let (mut w, mut instances) = common::honest(&epoch);
        let before = (w.clone(), instances.clone());
        tamper(&mut w, &mut instances);
        assert!(
            before != (w.clone(), instances.clone()),
            "{name}: the tamper changed nothing"
        );
        if mock_prove(layout(), &w, &instances).is_ok() {
            accepted.push(name);
        }
    }
    assert!(accepted.is_empty(), "accepted: {accepted:#?}");
}

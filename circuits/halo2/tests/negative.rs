//! MockProver refuses every tampered witness of `common::cases()` by exactly the named checks
//! the case lists (no unrelated constraint fails), every SPEC case has one, SPEC's case 5 holds
//! by construction, and the honest witness of the same epoch is accepted.

mod common;

use common::{cases, kinds, layout, named, refusals, verdict};
use halo2_base::halo2_proofs::dev::VerifyFailure;
use halo2_base::halo2_proofs::halo2curves::ff::Field;
use std::collections::BTreeSet;
use zkattr_halo2::checks::{Check, CheckLog, Refusal};
use zkattr_halo2::poseidon::Fr;
use zkattr_halo2::prover::MockRun;

#[test]
fn the_honest_witness_is_accepted() {
    let (w, instances) = common::honest(&common::epoch());
    let refused = refusals(layout(16), &w, &instances);
    assert!(refused.is_empty(), "honest witness refused by {refused:?}");
}

#[test]
fn each_case_is_refused_by_its_named_checks_alone() {
    let epoch = common::epoch();
    let mut wrong = Vec::new();
    for case in cases() {
        let (w, instances) = case.tampered(&epoch);
        let (failures, refused) = verdict(layout(16), &w, &instances);
        let expected = named(case.refused_by);
        let shown: Vec<String> = refused.iter().map(Refusal::to_string).collect();
        eprintln!(
            "case {:>2} | {} | refused by: {} | {}",
            case.spec,
            case.name,
            shown.join("; "),
            kinds(&failures)
        );
        if refused != expected {
            wrong.push(format!(
                "{}: refused by {refused:?}, expected {expected:?}",
                case.name
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn every_spec_case_has_a_negative_test() {
    let covered: BTreeSet<u8> = cases().iter().map(|c| c.spec).collect();
    assert!((1..=12).all(|n| covered.contains(&n)), "{covered:?}");
}

/// SPEC's case 5 (an adapter that differs between the two logs) cannot be written into a
/// witness: each slot's one adapter cell is copy-constrained into both leaves' packing gates.
/// Checked in the laid-out circuit: per slot, the adapter cell and the two leaves' copies of it
/// lie in one copy cycle of MockProver's permutation.
#[test]
fn case_5_one_adapter_cell_feeds_both_leaves() {
    let (w, instances) = common::honest(&common::epoch());
    let run = MockRun::new(layout(16), &w, &instances, CheckLog::recording()).unwrap();
    let (checked, apart) = run.attribution().leaves_share_adapter();
    assert_eq!(checked, w.shape.queries * zkattr_model::types::SLOTS);
    assert!(
        apart.is_empty(),
        "slots whose leaves read other cells: {apart:?}"
    );
}

/// The exact-set assertion above catches side effects: a fee raised without recomputing its
/// pool breaks the pool division beside the activation commitment, and both are reported.
#[test]
fn a_side_effect_is_reported_beside_the_named_check() {
    let (mut w, instances) = common::honest(&common::epoch());
    w.queries[2].fee += Fr::ONE;
    assert_eq!(
        refusals(layout(16), &w, &instances),
        named(&[Check::PoolDivision, Check::PublicInput(2)])
    );
}

/// A generic-gate failure is placed too: a sign bit of 2 fails halo2-base's gate inside the bit
/// check's scope, beside the score split and the share division that the bit feeds.
#[test]
fn a_generic_gate_failure_is_attributed_to_its_check() {
    let (mut w, instances) = common::honest(&common::epoch());
    w.queries[0].negative[0] = Fr::from(2);
    let (failures, refused) = verdict(layout(16), &w, &instances);
    assert!(
        failures
            .iter()
            .any(|f| matches!(f, VerifyFailure::ConstraintNotSatisfied { .. })),
        "no gate failure: {}",
        kinds(&failures)
    );
    assert_eq!(
        refused,
        named(&[Check::ScoreSignBit, Check::ScoreSplit, Check::ShareDivision])
    );
}

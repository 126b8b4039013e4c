//! Mutation check (feature `mutation`, tests only): for every case of `common::cases()`, the
//! tampered witness is refused by the full circuit and accepted by a circuit built without the
//! case's named checks, so each negative test depends on its constraint. Prints the table for
//! the issue: case, constraint, refused with it, accepted without it.

mod common;

use common::{cases, layout, named, refusals};
use zkattr_halo2::checks::{Check, CheckLog};
use zkattr_halo2::prover::{mock_prove_mutated, MockRun};

#[test]
fn each_case_is_accepted_without_its_constraint() {
    let epoch = common::epoch();
    let mut failed = Vec::new();
    println!(
        "| SPEC case | tamper | constraint switched off | refused with it | accepted without it |"
    );
    println!("|---|---|---|---|---|");
    for case in cases() {
        let (w, instances) = case.tampered(&epoch);
        let refused = refusals(layout(16), &w, &instances) == named(case.refused_by);
        let accepted = mock_prove_mutated(layout(16), &w, &instances, case.switch);
        let constraint: Vec<String> = case.switch.iter().map(|c| c.describe()).collect();
        println!(
            "| {} | {} | {} | {} | {} |",
            if case.spec == 0 {
                "-".to_string()
            } else {
                case.spec.to_string()
            },
            case.name,
            constraint.join(" and "),
            if refused { "yes" } else { "NO" },
            if accepted.is_ok() { "yes" } else { "NO" },
        );
        if !refused || accepted.is_err() {
            failed.push(format!(
                "{}: {:?}",
                case.name,
                accepted.err().map(|e| e.to_string())
            ));
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}

/// The honest witness is accepted with every switch on, and the case 5 switch does what it
/// says: the influence leaf then reads a cell of its own.
#[test]
fn the_case_5_switch_separates_the_leaves() {
    let (w, instances) = common::honest(&common::epoch());
    let on = MockRun::new(
        layout(16),
        &w,
        &instances,
        CheckLog::mutated(&[], &instances),
    )
    .unwrap();
    on.verify().unwrap();
    assert!(on.attribution().leaves_share_adapter().1.is_empty());
    let off = MockRun::new(
        layout(16),
        &w,
        &instances,
        CheckLog::mutated(&[Check::LeavesShareAdapter], &instances),
    )
    .unwrap();
    off.verify().unwrap();
    let (checked, apart) = off.attribution().leaves_share_adapter();
    assert_eq!(apart.len(), checked);
}

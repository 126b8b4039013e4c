//! The mutation check: for each of SPEC's twelve cases, the tampered witnesses of its negative
//! test (`tests/common/harness.rs`) are refused by the circuit as built, only by the named
//! check, and accepted (no constraint violated) by the same circuit built with that case's
//! constraint removed (`zkattr_plonky2_gates::cases::with_removed`), so each negative test
//! provably depends on its constraint. Prints the table. Needs the test-only `mutation`
//! feature: `cargo test -p zkattr-plonky2 --features mutation --test mutation`.
#![cfg(feature = "mutation")]

#[path = "common/constraints.rs"]
mod constraints;
#[path = "common/harness.rs"]
mod harness;

use constraints::{Finder, Violation};
use harness::{CaseTamper, RuleCircuit, Statement};
use zkattr_plonky2_gates::cases::{with_removed, Case};

/// The constraint each case's negative test names.
fn constraint(case: Case) -> &'static str {
    match case {
        Case::ShareFloor => "division row: r >= 0 (remainder digits, column equations)",
        Case::RemainderBound => "division row: r < W (room); pool remainder <= 9999",
        Case::NegativeScore => "magnitude < 2^31 (range check of 2 * magnitude)",
        Case::SlotMultiset => "grand product: slots = sorted copy",
        Case::AdapterAcrossLogs => "one adapter target in both leaves (influence hash)",
        Case::QueryOrder => "id_i < id_i+1 (limbs of the difference range-checked)",
        Case::CanonicalSlots => "used flags, no hole, increasing adapters, unused zero",
        Case::LogOpening => "commitment hash H(4, root, n) of each log",
        Case::PayoutOrder => "payee adapters increasing (step range-checked)",
        Case::PayoutTotals => "grand product: run totals = payout list",
        Case::Totals => "public total limbs recompose the sums; conservation",
        Case::FieldWrap => "range bounds (rate <= 10000, fee < 2^48)",
    }
}

fn tampers_of_rule(case: Case, h: &RuleCircuit) -> Vec<CaseTamper> {
    match case {
        Case::ShareFloor => harness::case_1(h),
        Case::RemainderBound => harness::case_2(h),
        Case::NegativeScore => harness::case_3(h),
        Case::CanonicalSlots => harness::case_7(h),
        Case::FieldWrap => harness::case_12(h),
        _ => unreachable!("{case:?} is a statement case"),
    }
}

fn tampers_of_statement(case: Case, h: &Statement) -> Vec<CaseTamper> {
    match case {
        Case::SlotMultiset => harness::case_4(h),
        Case::AdapterAcrossLogs => harness::case_5(h),
        Case::QueryOrder => harness::case_6(h),
        Case::LogOpening => harness::case_8(h),
        Case::PayoutOrder => harness::case_9(h),
        Case::PayoutTotals => harness::case_10(h),
        Case::Totals => harness::case_11(h),
        _ => unreachable!("{case:?} is a rule case"),
    }
}

fn is_rule_case(case: Case) -> bool {
    matches!(
        case,
        Case::ShareFloor
            | Case::RemainderBound
            | Case::NegativeScore
            | Case::CanonicalSlots
            | Case::FieldWrap
    )
}

/// "gate xN" for the violations' gate types.
fn summary(violations: &[Violation]) -> String {
    let mut gates: Vec<(String, usize)> = Vec::new();
    for v in violations {
        let name = v
            .gate()
            .split([' ', '{', '<', '('])
            .next()
            .unwrap_or("")
            .to_string();
        match gates.iter_mut().find(|(g, _)| *g == name) {
            Some((_, n)) => *n += 1,
            None => gates.push((name, 1)),
        }
    }
    gates
        .iter()
        .map(|(g, n)| format!("{g} x{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// For each tamper of `case`: the violations in the circuit as built, and those (none
/// expected) with the case's constraint removed.
fn run(case: Case, rule: &RuleCircuit, statement: &Statement) -> Vec<(String, String, String)> {
    let (on, off) = if is_rule_case(case) {
        let off = with_removed(case, RuleCircuit::build);
        let (on_finder, off_finder) = (Finder::new(&rule.data), Finder::new(&off.data));
        let on: Vec<_> = tampers_of_rule(case, rule)
            .iter()
            .map(|t| (t.what.clone(), t.assert_refused(&on_finder)))
            .collect();
        let off = with_removed(case, || {
            tampers_of_rule(case, &off)
                .iter()
                .map(|t| off_finder.check(&t.inputs, &t.tamper))
                .collect::<Vec<_>>()
        });
        (on, off)
    } else {
        let off = with_removed(case, Statement::build);
        let (on_finder, off_finder) = (Finder::new(&statement.data), Finder::new(&off.data));
        let on: Vec<_> = tampers_of_statement(case, statement)
            .iter()
            .map(|t| (t.what.clone(), t.assert_refused(&on_finder)))
            .collect();
        let off = with_removed(case, || {
            tampers_of_statement(case, &off)
                .iter()
                .map(|t| off_finder.check(&t.inputs, &t.tamper))
                .collect::<Vec<_>>()
        });
        (on, off)
    };
    assert_eq!(on.len(), off.len());
    on.into_iter()
        .zip(off)
        .map(|((what, refused), accepted)| {
            let accepted = accepted.unwrap_or_else(|e| panic!("case {case:?}, {what}: {e}"));
            assert!(
                accepted.is_empty(),
                "case {case:?}, {what}: still refused without its constraint: {accepted:?}"
            );
            (what, summary(&refused), "accepted".to_string())
        })
        .collect()
}

#[test]
fn each_negative_test_depends_on_its_constraint() {
    let rule = RuleCircuit::build();
    let statement = Statement::build();
    println!("| case | constraint | tampered witness | with the constraint | without it |");
    println!("|---|---|---|---|---|");
    for case in Case::ALL {
        let rows = run(case, &rule, &statement);
        assert!(!rows.is_empty());
        for (what, on, off) in rows {
            println!(
                "| {} | {} | {what} | refused: {on} | {off} |",
                case.number(),
                constraint(case)
            );
        }
    }
}

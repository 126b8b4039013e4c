//! The in-circuit rule equals the reference rule (real proofs), and each rule-level case of
//! SPEC's "what a proof must rule out" (1, 2, 3, 7, 12) is refused by the constraint that case
//! names and by nothing else: the constraint finder evaluates every gate of the built circuit on
//! the tampered witness (`tests/common/constraints.rs`; the cases are in
//! `tests/common/harness.rs`, which `tests/mutation.rs` shares).

#[path = "common/constraints.rs"]
mod constraints;
#[path = "common/harness.rs"]
mod harness;

use constraints::{assert_accepted, Finder, Tamper};
use harness::{
    case_1, case_12, case_2, case_3, case_7, prove_and_verify, query, sample, slot, CaseTamper,
    RuleCircuit, RULE_QUERIES,
};
use plonky2::field::types::Field;
use std::sync::OnceLock;
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::types::{Query, Slot, FEE_BOUND};
use zkattr_model::QueryShares;
use zkattr_plonky2::native::F;

fn circuit() -> &'static RuleCircuit {
    static CIRCUIT: OnceLock<RuleCircuit> = OnceLock::new();
    CIRCUIT.get_or_init(RuleCircuit::build)
}

fn expected(rate: u16, queries: &[Query]) -> Vec<F> {
    let mut out = vec![F::from_canonical_u16(rate)];
    for i in 0..RULE_QUERIES {
        let q = queries.get(i).copied().unwrap_or_else(harness::empty);
        let s = QueryShares::compute(&q, rate);
        out.push(F::from_canonical_u64(s.pool));
        out.push(F::from_canonical_u64(s.residual));
        out.extend(s.shares.map(F::from_canonical_u64));
    }
    out
}

#[test]
fn rule_matches_the_reference() {
    let c = circuit();
    let extreme: Vec<Slot> = (1..=8).map(|a| slot(a, u16::MAX, i32::MAX)).collect();
    let cases: Vec<(u16, Vec<Query>)> = vec![
        (2500, vec![sample()]),
        (10_000, vec![query(FEE_BOUND - 1, &extreme)]),
        (0, vec![query(999, &[slot(1, 1, 1)])]),
        (
            5000,
            vec![query(10, &[slot(1, 500, -1), slot(4, 3, i32::MIN)])],
        ),
        (
            2500,
            generate(&SynthConfig::new(RULE_QUERIES as u64, 6, 11)).queries,
        ),
    ];
    let finder = Finder::new(&c.data);
    for (rate, queries) in cases {
        let pw = c.witness(rate, &queries);
        assert_accepted(&finder, &pw, &Tamper::new(), &format!("rate {rate}"));
        let proof = prove_and_verify(&c.data, pw).unwrap();
        assert_eq!(proof.public_inputs, expected(rate, &queries), "rate {rate}");
    }
}

fn assert_all_refused(tampers: Vec<CaseTamper>) {
    let finder = Finder::new(&circuit().data);
    assert!(!tampers.is_empty());
    for t in tampers {
        t.assert_refused(&finder);
    }
}

#[test]
fn case_1_share_that_is_not_the_floor() {
    assert_all_refused(case_1(circuit()));
}

#[test]
fn case_2_remainder_not_below_its_divisor() {
    assert_all_refused(case_2(circuit()));
}

#[test]
fn case_3_negative_score_that_was_paid() {
    assert_all_refused(case_3(circuit()));
}

#[test]
fn case_7_slots_not_in_canonical_form() {
    assert_all_refused(case_7(circuit()));
}

#[test]
fn case_12_values_that_wrap_the_field() {
    assert_all_refused(case_12(circuit()));
}

/// The finder reports a witness-generation conflict as an error, not as a refusal: the pool
/// changed without its remainder makes `fee * rate` and `pool * 10000 + remainder`, which one
/// `connect` joins, two different values.
#[test]
fn a_witness_conflict_is_an_error_not_a_refusal() {
    let c = circuit();
    let (_, r) = &c.queries[0];
    let pw = c.witness(2500, &[sample()]);
    let pool = QueryShares::compute(&sample(), 2500).pool;
    let tamper = Tamper::new().set(r.pool, F::from_canonical_u64(pool - 1));
    let finder = Finder::new(&c.data);
    assert!(matches!(
        finder.check(&pw, &tamper),
        Err(constraints::WitnessError::Conflict { .. })
    ));
}

/// A copy constraint broken in the generated wires is found as one.
#[test]
fn a_broken_copy_constraint_is_found() {
    let c = circuit();
    let finder = Finder::new(&c.data);
    let mut trace = finder
        .generate(&c.witness(2500, &[sample()]), &Tamper::new())
        .unwrap();
    assert!(finder.violations(&trace).is_empty());
    // The rate's range-check wire, apart from the rate's other wires.
    let wire = (0..c.data.common.degree())
        .flat_map(|row| {
            (0..c.data.common.config.num_routed_wires)
                .map(move |col| plonky2::iop::target::Target::wire(row, col))
        })
        .find(|w| finder.class(*w) == finder.class(c.rate))
        .unwrap();
    trace.set_wire(wire, F::from_canonical_u64(7));
    let violations = finder.violations(&trace);
    assert!(violations
        .iter()
        .any(|v| matches!(v, constraints::Violation::Copy { .. })));
}

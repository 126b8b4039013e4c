//! The whole statement: valid epochs prove with SPEC's public inputs (real proofs, one in the
//! published zero-knowledge configuration), and SPEC's cases 4, 5, 6, 8, 9, 10 and 11 are each
//! refused by the constraint the case names and by nothing else, found by evaluating every gate
//! of the built circuit on the tampered witness (`tests/common/constraints.rs`; the cases are
//! in `tests/common/harness.rs`, which `tests/mutation.rs` shares). Cases 1, 2, 3, 7 and 12 are
//! in `tests/rule.rs`.
//!
//! The harness is the statement built without zero knowledge: the same gates and constraints,
//! without plonky2's blinding rows (random no-op rows, about 8,300 at this size, which take the
//! 16x16 statement from 2^11 rows to 2^14).

#[path = "common/constraints.rs"]
mod constraints;
#[path = "common/harness.rs"]
mod harness;

use constraints::{assert_accepted, Finder, Tamper};
use harness::{
    case_10, case_11, case_4, case_5, case_6, case_8, case_9, prove_and_verify, published, small,
    vectors, CaseTamper, Statement,
};
use plonky2::field::types::Field;
use plonky2::iop::witness::PartialWitness;
use std::sync::OnceLock;
use zkattr_model::Settlement;
use zkattr_plonky2::native::F;
use zkattr_plonky2::prover::StatementCircuit;
use zkattr_plonky2::statement::{StatementPublicInputs, StatementShape};

fn circuit() -> &'static Statement {
    static CIRCUIT: OnceLock<Statement> = OnceLock::new();
    CIRCUIT.get_or_init(Statement::build)
}

#[test]
fn valid_epochs_prove_with_specs_public_inputs() {
    let c = circuit();
    let finder = Finder::new(&c.data);
    let mut epochs: Vec<_> = vectors(16).into_iter().map(|v| (v.name, v.epoch)).collect();
    assert!(epochs.len() >= 7, "vectors that fit: {}", epochs.len());
    epochs.push(("synthetic".into(), small()));
    for (name, epoch) in epochs {
        let pw = c.witness(&epoch);
        assert_accepted(&finder, &pw, &Tamper::new(), &name);
        let proof = prove_and_verify(&c.data, pw).unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = published(&epoch);
        assert_eq!(proof.public_inputs, expected.to_fields(), "{name}");
        assert_eq!(
            StatementPublicInputs::from_fields(&proof.public_inputs),
            Some(expected)
        );
    }
}

/// The circuit `zkattr prove` publishes (`StatementCircuit`): blinded, the same gates and public
/// inputs as the harness above, and the same public inputs for the same witness.
#[test]
fn the_published_zero_knowledge_statement_proves_the_same_public_inputs() {
    let published_circuit = StatementCircuit::build(StatementShape::new(16, 16).unwrap());
    let (zk, harness) = (&published_circuit.data.common, &circuit().data.common);
    assert!(zk.config.zero_knowledge && !harness.config.zero_knowledge);
    assert_eq!(zk.gates, harness.gates);
    assert_eq!(zk.num_public_inputs, harness.num_public_inputs);
    let epoch = small();
    let s = Settlement::compute(&epoch).unwrap();
    let mut pw = PartialWitness::new();
    published_circuit.targets.set(&mut pw, &epoch, &s).unwrap();
    let proof = prove_and_verify(&published_circuit.data, pw).unwrap();
    assert_eq!(proof.public_inputs, published(&epoch).to_fields());
    let mut bad = proof;
    bad.public_inputs[0] += F::ONE;
    assert!(published_circuit.data.verify(bad).is_err());
}

#[test]
fn changed_public_inputs_are_rejected() {
    let c = circuit();
    let proof = prove_and_verify(&c.data, c.witness(&small())).unwrap();
    for index in 0..StatementPublicInputs::LEN {
        let mut bad = proof.clone();
        bad.public_inputs[index] += F::ONE;
        assert!(c.data.verify(bad).is_err(), "public input {index}");
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
fn case_4_slot_dropped_or_duplicated_in_the_sorted_copy() {
    assert_all_refused(case_4(circuit()));
}

/// One adapter target feeds both logs' leaves (checked here), so the engine's log cannot enter
/// the influence leaf alone; the engine's published commitment is refused by its hash.
#[test]
fn case_5_adapter_that_differs_between_the_logs() {
    let c = circuit();
    for (i, (q, _)) in c.targets.queries.iter().enumerate() {
        assert_eq!(c.targets.influence_adapters[i], q.adapter(), "record {i}");
    }
    assert_all_refused(case_5(c));
}

#[test]
fn case_6_query_out_of_order_or_repeated() {
    assert_all_refused(case_6(circuit()));
}

#[test]
fn case_8_log_that_does_not_open_to_its_commitment() {
    assert_all_refused(case_8(circuit()));
}

#[test]
fn case_9_payout_list_out_of_order() {
    assert_all_refused(case_9(circuit()));
}

#[test]
fn case_10_payout_list_that_is_not_the_per_adapter_totals() {
    assert_all_refused(case_10(circuit()));
}

#[test]
fn case_11_totals_that_do_not_add_up() {
    assert_all_refused(case_11(circuit()));
}

/// The finder and plonky2 agree: witnesses that change only input values (no generated one)
/// and that the finder refuses are refused by plonky2's prover and verifier too.
#[test]
fn the_prover_refuses_what_the_finder_refuses() {
    let c = circuit();
    for t in case_6(c).into_iter().chain(case_9(c)) {
        let pw = t.tamper.applied_to(&t.inputs).unwrap();
        assert!(
            prove_and_verify(&c.data, pw).is_err(),
            "case {}: {} proved",
            t.case.number(),
            t.what
        );
    }
}

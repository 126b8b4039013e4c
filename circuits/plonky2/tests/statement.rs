//! The whole statement in real plonky2 proofs: valid epochs prove with SPEC's public inputs, and
//! SPEC's cases 4, 5, 6, 8, 9, 10 and 11 are rejected (cases 1, 2, 3, 7 and 12 are in
//! `tests/rule.rs`, range and padding tampering in `tests/commitments.rs`).
//!
//! The cases run on the statement built without zero knowledge: the same gates and constraints,
//! without plonky2's blinding rows (random no-op rows, about 8,300 at this size, which take
//! the 16x16 statement from 2^11 rows to 2^14 and a proof from about 1.5 s to 12 s here).
//! Blinding cannot change what the constraints accept; one test proves in the published,
//! zero-knowledge configuration.

use plonky2::field::types::Field;
use plonky2::iop::target::Target;
use plonky2::iop::witness::PartialWitness;
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{CircuitConfig, CircuitData};
use plonky2::plonk::config::PoseidonGoldilocksConfig;
use plonky2::plonk::proof::ProofWithPublicInputs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::OnceLock;
use zkattr_model::commit::commit_epoch;
use zkattr_model::io::read_epoch_json;
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::{Epoch, Settlement};
use zkattr_plonky2::native::F;
use zkattr_plonky2::prover::StatementCircuit;
use zkattr_plonky2::statement::{
    build_statement, StatementPublicInputs, StatementShape, StatementTargets, D,
};
use zkattr_plonky2::GoldilocksFamily;

type C = PoseidonGoldilocksConfig;

struct Circuit {
    data: CircuitData<F, C, D>,
    targets: StatementTargets,
}

fn build(config: CircuitConfig) -> Circuit {
    let mut b = CircuitBuilder::<F, D>::new(config);
    let targets = build_statement(&mut b, StatementShape::new(16, 16).unwrap());
    Circuit {
        data: b.build::<C>(),
        targets,
    }
}

/// The statement without blinding, for the cases (see the module doc).
fn circuit() -> &'static Circuit {
    static CIRCUIT: OnceLock<Circuit> = OnceLock::new();
    CIRCUIT.get_or_init(|| build(CircuitConfig::standard_recursion_config()))
}

fn published(epoch: &Epoch) -> StatementPublicInputs {
    let s = Settlement::compute(epoch).unwrap();
    let c = commit_epoch(&GoldilocksFamily, epoch, &s).unwrap();
    StatementPublicInputs::new(epoch, &s, &c)
}

/// The witness for `epoch` with the reference settlement (which need not be valid).
fn witness(epoch: &Epoch) -> PartialWitness<F> {
    let mut pw = PartialWitness::new();
    let s = Settlement::compute(epoch).unwrap();
    circuit().targets.set(&mut pw, epoch, &s).unwrap();
    pw
}

fn with(mut pw: PartialWitness<F>, overrides: &[(Target, F)]) -> PartialWitness<F> {
    for (t, v) in overrides {
        pw.target_values.insert(*t, *v);
    }
    pw
}

fn prove(pw: PartialWitness<F>) -> Option<ProofWithPublicInputs<F, C, D>> {
    let c = circuit();
    catch_unwind(AssertUnwindSafe(|| c.data.prove(pw).ok()))
        .ok()
        .flatten()
        .filter(|proof| c.data.verify(proof.clone()).is_ok())
}

/// Whether a proof exists that verifies *with the published public inputs*.
fn accepted_against(pw: PartialWitness<F>, expected: &StatementPublicInputs) -> bool {
    prove(pw).is_some_and(|proof| proof.public_inputs == expected.to_fields())
}

fn vector_epochs() -> Vec<(String, Epoch)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testvectors");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        if v.get("epoch").is_none() {
            continue;
        }
        let epoch = read_epoch_json(v["epoch"].to_string().as_bytes()).unwrap();
        if epoch.queries.len() <= 16 {
            out.push((v["name"].as_str().unwrap().to_string(), epoch));
        }
    }
    out
}

fn small() -> Epoch {
    let mut config = SynthConfig::new(12, 6, 21);
    config.epoch_id = (1 << 40) + 5;
    generate(&config)
}

#[test]
fn valid_epochs_prove_with_specs_public_inputs() {
    let c = circuit();
    let mut epochs = vector_epochs();
    assert!(epochs.len() >= 7, "vectors that fit: {}", epochs.len());
    epochs.push(("synthetic".into(), small()));
    for (name, epoch) in epochs {
        let proof = prove(witness(&epoch)).unwrap_or_else(|| panic!("{name}: not proven"));
        let expected = published(&epoch);
        assert_eq!(proof.public_inputs, expected.to_fields(), "{name}");
        assert_eq!(
            StatementPublicInputs::from_fields(&proof.public_inputs),
            Some(expected)
        );
        c.data.verify(proof).unwrap();
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
    let proof = published_circuit.data.prove(pw).unwrap();
    assert_eq!(proof.public_inputs, published(&epoch).to_fields());
    published_circuit.data.verify(proof.clone()).unwrap();
    let mut bad = proof;
    bad.public_inputs[0] += F::ONE;
    assert!(published_circuit.data.verify(bad).is_err());
}

#[test]
fn changed_public_inputs_are_rejected() {
    let c = circuit();
    let proof = prove(witness(&small())).unwrap();
    for index in 0..StatementPublicInputs::LEN {
        let mut bad = proof.clone();
        bad.public_inputs[index] += F::ONE;
        assert!(c.data.verify(bad).is_err(), "public input {index}");
    }
}

#[test]
fn case_4_slot_dropped_or_duplicated_in_the_sorted_copy() {
    let epoch = small();
    let t = &circuit().targets;
    let pw = witness(&epoch);
    // Replace the last sorted entry by a copy of the one before it (a dropped and a duplicated
    // slot at once); the run totals still end in a plausible place.
    let (last_a, last_v) = t.sorted[t.sorted.len() - 1];
    let (prev_a, prev_v) = t.sorted[t.sorted.len() - 2];
    let a = pw.target_values[&prev_a];
    let v = pw.target_values[&prev_v];
    assert!(prove(with(pw, &[(last_a, a), (last_v, v)])).is_none());
    // A sorted share one unit larger than the slot it copies.
    let pw = witness(&epoch);
    let (_, v0) = t.sorted[t.sorted.len() - 1];
    let bumped = pw.target_values[&v0] + F::ONE;
    assert!(prove(with(pw, &[(v0, bumped)])).is_none());
}

#[test]
fn case_5_adapter_that_differs_between_the_logs() {
    let epoch = small();
    // The attribution engine's log names another adapter for one activated slot.
    let mut engine_log = epoch.clone();
    let q = engine_log
        .queries
        .iter_mut()
        .find(|q| q.used_count() > 0)
        .unwrap();
    let last = q.used_count() - 1;
    q.slots[last].adapter_id += 1000;
    let mut expected = published(&epoch);
    expected.influence_commitment = published(&engine_log).influence_commitment;
    // Neither log's view proves against both published commitments.
    assert!(!accepted_against(witness(&epoch), &expected));
    assert!(!accepted_against(witness(&engine_log), &expected));
}

#[test]
fn case_6_query_out_of_order_or_repeated() {
    let epoch = small();
    let mut repeated = epoch.clone();
    repeated.queries[5].query_id = repeated.queries[4].query_id;
    assert!(prove(witness(&repeated)).is_none());
    let mut swapped = epoch.clone();
    swapped.queries.swap(2, 3);
    assert!(prove(witness(&swapped)).is_none());
    // Across the 32-bit limb boundary: 2^32 then 2^32 - 1.
    let mut limbs = epoch;
    limbs.queries[0].query_id = 1 << 32;
    limbs.queries[1].query_id = (1 << 32) - 1;
    assert!(prove(witness(&limbs)).is_none());
}

#[test]
fn case_8_log_that_does_not_open_to_its_commitment() {
    let epoch = small();
    let expected = published(&epoch);
    let mut changed = epoch.clone();
    changed.queries[7].fee += 1;
    assert!(!accepted_against(witness(&changed), &expected));
    let mut rescored = epoch.clone();
    let q = rescored
        .queries
        .iter_mut()
        .find(|q| q.used_count() > 0)
        .unwrap();
    q.slots[0].score = q.slots[0].score.wrapping_add(1);
    assert!(!accepted_against(witness(&rescored), &expected));
    assert!(accepted_against(witness(&epoch), &expected));
}

#[test]
fn case_9_payout_list_out_of_order() {
    let epoch = small();
    let t = &circuit().targets;
    let pw = witness(&epoch);
    let (a0, v0) = t.payees[0];
    let (a1, v1) = t.payees[1];
    let swap = [
        (a0, pw.target_values[&a1]),
        (v0, pw.target_values[&v1]),
        (a1, pw.target_values[&a0]),
        (v1, pw.target_values[&v0]),
    ];
    assert!(prove(with(pw, &swap)).is_none());
}

#[test]
fn case_10_payout_list_that_is_not_the_per_adapter_totals() {
    let epoch = small();
    let t = &circuit().targets;
    let pw = witness(&epoch);
    // Move one unit between two payees: the total is unchanged, the totals are not.
    let (_, v0) = t.payees[0];
    let (_, v1) = t.payees[1];
    let more = pw.target_values[&v0] + F::ONE;
    let less = pw.target_values[&v1] - F::ONE;
    assert!(prove(with(pw, &[(v0, more), (v1, less)])).is_none());
    // Drop a payee (and shift the count).
    let s = Settlement::compute(&epoch).unwrap();
    let mut short = s.clone();
    short.payouts.pop();
    let mut pw = PartialWitness::new();
    t.set(&mut pw, &epoch, &short).unwrap();
    assert!(prove(pw).is_none());
}

#[test]
fn case_11_totals_that_do_not_add_up() {
    let epoch = small();
    let t = &circuit().targets;
    let pw = witness(&epoch);
    // One more unit paid to a payee than the shares give.
    let (_, v0) = t.payees[0];
    let more = pw.target_values[&v0] + F::ONE;
    assert!(prove(with(pw, &[(v0, more)])).is_none());
    // A published total that differs from the proven one.
    let mut expected = published(&epoch);
    expected.treasury += 1;
    assert!(!accepted_against(witness(&epoch), &expected));
}

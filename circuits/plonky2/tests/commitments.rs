//! The in-circuit commitments equal the native Goldilocks ones on every committed test vector,
//! in a real plonky2 proof; tampering is caught. The harness is built without zero knowledge:
//! blinding only adds random no-op rows (thousands: plonky2 sizes them by the FRI openings)
//! and cannot change what the constraints accept; `tests/statement.rs` proves the published,
//! blinded configuration.

mod overrides;

use overrides::with_overrides;
use plonky2::field::types::Field;
use plonky2::hash::hash_types::HashOutTarget;
use plonky2::iop::target::Target;
use plonky2::iop::witness::{PartialWitness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{CircuitConfig, CircuitData};
use plonky2::plonk::config::PoseidonGoldilocksConfig;
use plonky2::plonk::proof::ProofWithPublicInputs;
use serde_json::Value;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::OnceLock;
use zkattr_model::commit::tag;
use zkattr_model::io::read_epoch_json;
use zkattr_model::types::{LOG_TREE_DEPTH, PAYOUT_TREE_DEPTH};
use zkattr_model::{payout_report, CommitmentFamily, Epoch, Settlement};
use zkattr_plonky2::gadgets::{CommitmentInstructions, PrefixTargets, QueryTargets};
use zkattr_plonky2::native::{limbs, F};
use zkattr_plonky2::GoldilocksFamily;

const D: usize = 2;
type C = PoseidonGoldilocksConfig;
const QUERY_CAPACITY: usize = 64;
const PAYEE_CAPACITY: usize = 64;

struct CommitCircuit {
    data: CircuitData<F, C, D>,
    queries: Vec<QueryTargets>,
    query_prefix: PrefixTargets,
    payees: Vec<(Target, [Target; 2])>,
    payee_prefix: PrefixTargets,
}

/// Public inputs: activation (4), influence (4), payout (4) commitments, then n_queries, n_payees.
fn build() -> CommitCircuit {
    let mut builder = CircuitBuilder::<F, D>::new(CircuitConfig::standard_recursion_config());
    let queries: Vec<QueryTargets> = (0..QUERY_CAPACITY)
        .map(|_| QueryTargets::new(&mut builder))
        .collect();
    let query_prefix = builder.prefix_flags(QUERY_CAPACITY);
    let act: Vec<HashOutTarget> = queries.iter().map(|q| builder.activation_leaf(q)).collect();
    let inf: Vec<HashOutTarget> = queries.iter().map(|q| builder.influence_leaf(q)).collect();
    let act_root = builder.padded_root(&act, &query_prefix.real, LOG_TREE_DEPTH);
    let inf_root = builder.padded_root(&inf, &query_prefix.real, LOG_TREE_DEPTH);
    let act_c = builder.commitment(tag::LOG_COMMITMENT, act_root, query_prefix.count);
    let inf_c = builder.commitment(tag::LOG_COMMITMENT, inf_root, query_prefix.count);

    let payees: Vec<(Target, [Target; 2])> = (0..PAYEE_CAPACITY)
        .map(|_| {
            let a = builder.add_virtual_target();
            let amount = [builder.add_virtual_target(), builder.add_virtual_target()];
            (a, amount)
        })
        .collect();
    let payee_prefix = builder.prefix_flags(PAYEE_CAPACITY);
    let leaves: Vec<HashOutTarget> = payees
        .iter()
        .map(|(a, amount)| builder.payout_leaf(*a, *amount))
        .collect();
    let pay_root = builder.padded_root(&leaves, &payee_prefix.real, PAYOUT_TREE_DEPTH);
    let pay_c = builder.commitment(tag::PAYOUT_COMMITMENT, pay_root, payee_prefix.count);

    for c in [act_c, inf_c, pay_c] {
        builder.register_public_inputs(&c.elements);
    }
    builder.register_public_input(query_prefix.count);
    builder.register_public_input(payee_prefix.count);
    CommitCircuit {
        data: builder.build::<C>(),
        queries,
        query_prefix,
        payees,
        payee_prefix,
    }
}

fn circuit() -> &'static CommitCircuit {
    static CIRCUIT: OnceLock<CommitCircuit> = OnceLock::new();
    CIRCUIT.get_or_init(build)
}

fn witness(c: &CommitCircuit, epoch: &Epoch) -> PartialWitness<F> {
    let settlement = Settlement::compute(epoch).unwrap();
    let mut pw = PartialWitness::new();
    let empty = zkattr_model::Query {
        query_id: 0,
        fee: 0,
        slots: [zkattr_model::Slot::UNUSED; 8],
    };
    for (i, targets) in c.queries.iter().enumerate() {
        targets
            .set(&mut pw, epoch.queries.get(i).unwrap_or(&empty))
            .unwrap();
    }
    c.query_prefix.set(&mut pw, epoch.queries.len()).unwrap();
    for (i, (a, amount)) in c.payees.iter().enumerate() {
        let (id, value) = settlement
            .payouts
            .get(i)
            .map_or((0, 0), |p| (p.adapter_id, p.amount));
        pw.set_target(*a, F::from_canonical_u32(id)).unwrap();
        let [lo, hi] = limbs(value);
        pw.set_target(amount[0], lo).unwrap();
        pw.set_target(amount[1], hi).unwrap();
    }
    c.payee_prefix
        .set(&mut pw, settlement.payouts.len())
        .unwrap();
    pw
}

/// Proves and verifies; `None` when the prover refuses the witness (error or panic) or the
/// proof does not verify (the prover does not check every constraint: an out-of-range limb of
/// a range-check gate still yields a proof, which verification rejects).
fn prove(c: &CommitCircuit, pw: PartialWitness<F>) -> Option<ProofWithPublicInputs<F, C, D>> {
    catch_unwind(AssertUnwindSafe(|| c.data.prove(pw).ok()))
        .ok()
        .flatten()
        .filter(|proof| c.data.verify(proof.clone()).is_ok())
}

fn expected_public_inputs(epoch: &Epoch) -> Vec<F> {
    let (settlement, commitments, _) = payout_report(&GoldilocksFamily, epoch).unwrap();
    let mut pis: Vec<F> = [
        commitments.activation,
        commitments.influence,
        commitments.payout,
    ]
    .iter()
    .flat_map(|h| h.elements)
    .collect();
    pis.push(F::from_canonical_usize(epoch.queries.len()));
    pis.push(F::from_canonical_usize(settlement.payouts.len()));
    pis
}

fn vectors() -> Vec<(String, Epoch, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testvectors");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() == "poseidon_bn254.json" {
            continue;
        }
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let epoch = read_epoch_json(v["epoch"].to_string().as_bytes()).unwrap();
        out.push((
            v["name"].as_str().unwrap().to_string(),
            epoch,
            v["goldilocks"].clone(),
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn in_circuit_commitments_equal_the_vectors() {
    let c = circuit();
    let all = vectors();
    assert!(all.len() >= 8);
    for (name, epoch, stored) in all {
        let proof = prove(c, witness(c, &epoch)).unwrap_or_else(|| panic!("{name}: no proof"));
        c.data.verify(proof.clone()).unwrap();
        let pis = proof.public_inputs;
        assert_eq!(pis, expected_public_inputs(&epoch), "{name}");
        // And the native hex in the committed file is the same digest.
        let from_file =
            GoldilocksFamily::from_hex(stored["activation_commitment"].as_str().unwrap()).unwrap();
        assert_eq!(&pis[..4], &from_file.elements, "{name}");
        let from_file =
            GoldilocksFamily::from_hex(stored["payout_commitment"].as_str().unwrap()).unwrap();
        assert_eq!(&pis[8..12], &from_file.elements, "{name}");
    }
}

fn synthetic() -> Epoch {
    vectors()
        .into_iter()
        .find(|v| v.0 == "synthetic_40")
        .unwrap()
        .1
}

#[test]
fn a_changed_record_does_not_open_to_the_published_commitment() {
    let c = circuit();
    let epoch = synthetic();
    let mut tampered = epoch.clone();
    tampered.queries[17].fee += 1;
    let proof = prove(c, witness(c, &tampered)).unwrap();
    let expected = expected_public_inputs(&epoch);
    assert_ne!(
        &proof.public_inputs[..4],
        &expected[..4],
        "activation log moved"
    );
    assert_eq!(
        &proof.public_inputs[4..8],
        &expected[4..8],
        "fee is not in the influence log"
    );
}

#[test]
fn changed_public_inputs_are_rejected() {
    let c = circuit();
    let epoch = synthetic();
    let proof = prove(c, witness(c, &epoch)).unwrap();
    for index in [0, 5, 11, 12, 13] {
        let mut bad = proof.clone();
        bad.public_inputs[index] += F::ONE;
        assert!(c.data.verify(bad).is_err(), "public input {index}");
    }
}

/// The valid witness of `epoch` with some targets given other values.
fn witness_with(c: &CommitCircuit, epoch: &Epoch, overrides: &[(Target, F)]) -> PartialWitness<F> {
    with_overrides(witness(c, epoch), overrides)
}

#[test]
fn flags_that_are_not_a_prefix_are_rejected() {
    let c = circuit();
    let epoch = synthetic();
    // The count stays 40, but with a hole at 3 and an extra "real" record at 40.
    let flags = &c.query_prefix.real;
    let pw = witness_with(
        c,
        &epoch,
        &[(flags[3].target, F::ZERO), (flags[40].target, F::ONE)],
    );
    assert!(
        prove(c, pw).is_none(),
        "a non-prefix of real records was proven"
    );
}

#[test]
fn out_of_range_values_are_rejected() {
    let c = circuit();
    let epoch = synthetic();
    let q = &c.queries[0];
    // A gate of 2^16 would alias the next adapter bit pattern in the packed slot value.
    for (target, value, what) in [
        (q.gate()[0], 1u64 << 16, "gate 2^16"),
        (q.fee(), 1 << 48, "fee 2^48"),
        (q.adapter()[1], 1 << 32, "adapter 2^32"),
        (q.query_id()[1], 1 << 32, "query id limb 2^32"),
    ] {
        let pw = witness_with(c, &epoch, &[(target, F::from_canonical_u64(value))]);
        assert!(prove(c, pw).is_none(), "{what} was proven");
    }
}

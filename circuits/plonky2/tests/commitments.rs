//! The in-circuit commitments equal the native Goldilocks ones on every committed test vector,
//! in a real plonky2 proof; a changed record is refused against the published commitment, and
//! out-of-range values and non-prefix flags are refused, each by the named constraint alone
//! (the constraint finder, `tests/common/constraints.rs`). The harness is built without zero
//! knowledge: blinding only adds random no-op rows (thousands: plonky2 sizes them by the FRI
//! openings) and cannot change what the constraints accept; `tests/statement.rs` proves the
//! published, blinded configuration.

#[path = "common/constraints.rs"]
mod constraints;
#[path = "common/harness.rs"]
mod harness;

use constraints::{assert_accepted, assert_refused_by, Finder, Tamper};
use harness::{prove_and_verify, vectors, Proof};
use plonky2::field::types::Field;
use plonky2::hash::hash_types::HashOutTarget;
use plonky2::iop::target::Target;
use plonky2::iop::witness::{PartialWitness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{CircuitConfig, CircuitData};
use std::sync::OnceLock;
use zkattr_model::commit::tag;
use zkattr_model::types::{LOG_TREE_DEPTH, PAYOUT_TREE_DEPTH};
use zkattr_model::vectors::EpochVector;
use zkattr_model::{payout_report, CommitmentFamily, Epoch, Settlement};
use zkattr_plonky2::gadgets::{CommitmentInstructions, PrefixTargets, QueryTargets};
use zkattr_plonky2::native::{limbs, F};
use zkattr_plonky2::GoldilocksFamily;

use constraints::{C, D};
const QUERY_CAPACITY: usize = 64;
const PAYEE_CAPACITY: usize = 64;

struct CommitCircuit {
    data: CircuitData<F, C, D>,
    queries: Vec<QueryTargets>,
    query_prefix: PrefixTargets,
    payees: Vec<(Target, [Target; 2])>,
    payee_prefix: PrefixTargets,
    /// The activation, influence and payout commitments.
    commitments: [HashOutTarget; 3],
    /// The constant zero.
    zero: Target,
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
    let zero = builder.zero();
    CommitCircuit {
        zero,
        data: builder.build::<C>(),
        queries,
        query_prefix,
        payees,
        payee_prefix,
        commitments: [act_c, inf_c, pay_c],
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

fn prove(c: &CommitCircuit, pw: PartialWitness<F>) -> Proof {
    prove_and_verify(&c.data, pw).unwrap()
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

#[test]
fn in_circuit_commitments_equal_the_vectors() {
    let c = circuit();
    let all = vectors(64);
    assert!(all.len() >= 8);
    let finder = Finder::new(&c.data);
    for EpochVector {
        name,
        epoch,
        goldilocks: stored,
        ..
    } in all
    {
        let pw = witness(c, &epoch);
        assert_accepted(&finder, &pw, &Tamper::new(), &name);
        let proof = prove(c, pw);
        let pis = proof.public_inputs;
        assert_eq!(pis, expected_public_inputs(&epoch), "{name}");
        // And the native hex in the committed file is the same digest.
        let from_file = GoldilocksFamily::from_hex(&stored.activation_commitment).unwrap();
        assert_eq!(&pis[..4], &from_file.elements, "{name}");
        let from_file = GoldilocksFamily::from_hex(&stored.payout_commitment).unwrap();
        assert_eq!(&pis[8..12], &from_file.elements, "{name}");
    }
}

fn synthetic() -> Epoch {
    vectors(64)
        .into_iter()
        .find(|v| v.name == "synthetic_40")
        .unwrap()
        .epoch
}

/// SPEC case 8: the witness carries a changed record and the published commitments of the
/// unchanged logs; the activation commitment's hash refuses it (the fee is not in the
/// influence log, whose commitment still opens).
#[test]
fn a_changed_record_does_not_open_to_the_published_commitment() {
    let c = circuit();
    let epoch = synthetic();
    let mut tampered = epoch.clone();
    tampered.queries[17].fee += 1;
    let expected = expected_public_inputs(&epoch);
    let published: Vec<(Target, F)> = c
        .commitments
        .iter()
        .take(2)
        .flat_map(|h| h.elements)
        .zip(expected[..8].iter().copied())
        .collect();
    let finder = Finder::new(&c.data);
    let violations = assert_refused_by(
        &finder,
        &witness(c, &tampered),
        &Tamper::new().set_all(published),
        "PoseidonGate",
        &c.commitments[0].elements,
        "a changed fee against the published activation commitment",
    );
    assert_eq!(
        violations.len(),
        4,
        "the four digest elements of one row: {violations:?}"
    );
}

#[test]
fn changed_public_inputs_are_rejected() {
    let c = circuit();
    let epoch = synthetic();
    let proof = prove(c, witness(c, &epoch));
    for index in [0, 5, 11, 12, 13] {
        let mut bad = proof.clone();
        bad.public_inputs[index] += F::ONE;
        assert!(c.data.verify(bad).is_err(), "public input {index}");
    }
}

/// The real-record flags (whose sum is the count a commitment hashes) must be a prefix: a count
/// of 40 with a hole at 3 and an extra "real" record at 40 is refused by the prefix constraint
/// `real_{i+1} * (1 - real_i) = 0` at the hole alone.
#[test]
fn flags_that_are_not_a_prefix_are_rejected() {
    let c = circuit();
    let epoch = synthetic();
    let flags = &c.query_prefix.real;
    // The class of zero keeps zero, so the hole's `real_4 * (1 - real_3) = 1` shows as its op.
    let finder = Finder::new(&c.data);
    let violations = finder
        .check(
            &witness(c, &epoch),
            &Tamper::new()
                .set(flags[3].target, F::ZERO)
                .set(flags[40].target, F::ONE)
                .set(c.zero, F::ZERO),
        )
        .unwrap();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(violations[0].gate().starts_with("ArithmeticGate"));
}

/// SPEC case 12 in the records: each value one past its range is refused by its own range
/// check alone (the commitments are recomputed from it, so nothing else breaks).
#[test]
fn out_of_range_values_are_rejected() {
    let c = circuit();
    let epoch = synthetic();
    let q = &c.queries[0];
    let finder = Finder::new(&c.data);
    // A gate of 2^16 would alias the next adapter bit pattern in the packed slot value.
    for (target, value, what) in [
        (q.gate()[0], 1u64 << 16, "gate 2^16"),
        (q.fee(), 1 << 48, "fee 2^48"),
        (q.adapter()[1], 1 << 32, "adapter 2^32"),
        (q.query_id()[1], 1 << 32, "query id limb 2^32"),
    ] {
        assert_refused_by(
            &finder,
            &witness(c, &epoch),
            &Tamper::new().set(target, F::from_canonical_u64(value)),
            "RangeCheckGate",
            &[target],
            what,
        );
    }
}

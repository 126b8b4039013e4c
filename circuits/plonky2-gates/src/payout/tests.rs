use super::*;
use crate::testing::Unwitnessed;
use plonky2::field::goldilocks_field::GoldilocksField;
use plonky2::field::types::Sample;
use plonky2::gates::gate_testing::{test_eval_fns, test_low_degree};
use plonky2::hash::hash_types::HashOut;
use plonky2::iop::witness::PartialWitness;
use plonky2::plonk::config::{GenericConfig, PoseidonGoldilocksConfig};
use plonky2::plonk::vars::EvaluationVarsBaseBatch;

const D: usize = 2;
const SLOTS: usize = 8;
type C = PoseidonGoldilocksConfig;
type F = <C as GenericConfig<D>>::F;
type FE = <F as Extendable<D>>::Extension;

fn limbs(x: FE) -> [F; D] {
    <FE as FieldExtension<D>>::to_basefield_array(&x)
}

fn config() -> CircuitConfig {
    CircuitConfig::standard_recursion_config()
}

fn gate() -> PayoutTermsGate<D> {
    PayoutTermsGate::new_from_config(&config(), SLOTS)
}

#[test]
fn low_degree() {
    test_low_degree::<GoldilocksField, _, 4>(PayoutTermsGate::<4>::new_from_config(
        &config(),
        SLOTS,
    ));
}

#[test]
fn eval_fns() -> Result<()> {
    test_eval_fns::<F, C, _, D>(gate())
}

#[test]
fn packs_two_queries_in_a_row() {
    let gate = gate();
    assert_eq!(gate.num_ops, 2);
    assert_eq!(<PayoutTermsGate<D> as Gate<F, D>>::num_wires(&gate), 96);
    // Routed inputs of both ops stay within the routed wires.
    assert!(gate.wire_used(1, SLOTS - 1) < config().num_routed_wires);
}

/// One query's slots: adapters (0 for unused), shares and flags.
#[derive(Clone)]
struct Query {
    adapters: Vec<u64>,
    shares: Vec<u64>,
}

impl Query {
    fn used(&self) -> Vec<bool> {
        self.adapters.iter().map(|a| *a != 0).collect()
    }
}

fn queries() -> Vec<Query> {
    vec![
        Query {
            adapters: vec![3, 17, 99, 1000, 1001, 5000, 70_000, u32::MAX.into()],
            shares: vec![1, 0, 12_345, (1 << 48) - 1, 7, 8, 9, 10],
        },
        Query {
            adapters: vec![42, 43, 0, 0, 0, 0, 0, 0],
            shares: vec![500, 499, 0, 0, 0, 0, 0, 0],
        },
        Query {
            adapters: vec![0; SLOTS],
            shares: vec![0; SLOTS],
        },
    ]
}

/// `acc + Σ used · (share + β) / (α − a)`, natively.
fn reference(alpha: FE, beta: FE, acc: FE, query: &Query) -> FE {
    query
        .adapters
        .iter()
        .zip(&query.shares)
        .filter(|(a, _)| **a != 0)
        .fold(acc, |acc, (a, s)| {
            acc + (FE::from_canonical_u64(*s) + beta) / (alpha - FE::from_canonical_u64(*a))
        })
}

/// The row an honest prover fills for `query` as op 0 (op 1 left all zero).
fn honest_row(alpha: FE, beta: FE, acc: FE, query: &Query) -> Vec<F> {
    let gate = gate();
    let mut wires = vec![F::ZERO; <PayoutTermsGate<D> as Gate<F, D>>::num_wires(&gate)];
    let put = |wires: &mut Vec<F>, r: Range<usize>, x: FE| {
        for (c, limb) in r.zip(limbs(x)) {
            wires[c] = limb;
        }
    };
    put(&mut wires, gate.wire_alpha(0), alpha);
    put(&mut wires, gate.wire_beta(0), beta);
    put(&mut wires, gate.wire_acc_in(0), acc);
    put(
        &mut wires,
        gate.wire_acc_out(0),
        reference(alpha, beta, acc, query),
    );
    for j in 0..SLOTS {
        let adapter = FE::from_canonical_u64(query.adapters[j]);
        put(
            &mut wires,
            gate.wire_inverse(0, j),
            (alpha - adapter).inverse(),
        );
        wires[gate.wire_adapter(0, j)] = F::from_canonical_u64(query.adapters[j]);
        wires[gate.wire_share(0, j)] = F::from_canonical_u64(query.shares[j]);
        wires[gate.wire_used(0, j)] = F::from_bool(query.used()[j]);
    }
    wires
}

/// Constraint values on chosen wires (the mock check), from both the extension-point and
/// the base-field evaluation, which must agree.
fn evaluate(wires: &[F]) -> Vec<F> {
    let gate = gate();
    let extension: Vec<FE> = wires.iter().map(|w| FE::from(*w)).collect();
    let vars = EvaluationVars {
        local_constants: &[],
        local_wires: &extension,
        public_inputs_hash: &HashOut::ZERO,
    };
    let at_point: Vec<F> = <PayoutTermsGate<D> as Gate<F, D>>::eval_unfiltered(&gate, vars)
        .into_iter()
        .map(|c| c.0[0])
        .collect();
    let hash = HashOut::ZERO;
    let batch = EvaluationVarsBaseBatch::new(1, &[], wires, &hash);
    let on_rows = <PayoutTermsGate<D> as Gate<F, D>>::eval_unfiltered_base_batch(&gate, batch);
    assert_eq!(at_point, on_rows);
    at_point
}

fn failing(wires: &[F]) -> Vec<usize> {
    evaluate(wires)
        .iter()
        .enumerate()
        .filter(|(_, c)| **c != F::ZERO)
        .map(|(i, _)| i)
        .collect()
}

fn challenges() -> (FE, FE) {
    (FE::rand(), FE::rand())
}

#[test]
fn honest_rows_and_an_empty_op_satisfy_every_constraint() {
    let (alpha, beta) = challenges();
    for query in queries() {
        assert!(failing(&honest_row(alpha, beta, FE::rand(), &query)).is_empty());
    }
    assert!(failing(&vec![F::ZERO; 96]).is_empty());
}

#[test]
fn each_constraint_rejects_its_tamper() {
    let gate = gate();
    let (alpha, beta) = challenges();
    let query = &queries()[1];
    let honest = honest_row(alpha, beta, FE::rand(), query);
    let accumulator = [2 * SLOTS, 2 * SLOTS + 1];
    let tampered = |wire: usize| {
        let mut wires = honest.clone();
        wires[wire] += F::ONE;
        failing(&wires)
    };
    // A used slot's inverse: its check, and the sum.
    let c = tampered(gate.wire_inverse(0, 1).start);
    assert!(c.contains(&2) && c.contains(&accumulator[0]), "{c:?}");
    // An unused slot's inverse is free: its term is zero whatever it holds.
    assert!(tampered(gate.wire_inverse(0, 5).start).is_empty());
    // The accumulator out, and a share of a used slot: the sum only.
    assert_eq!(tampered(gate.wire_acc_out(0).start), vec![accumulator[0]]);
    let c = tampered(gate.wire_share(0, 0));
    assert!(
        !c.is_empty() && c.iter().all(|i| accumulator.contains(i)),
        "{c:?}"
    );
    // An adapter of a used slot: its inverse check.
    assert!(tampered(gate.wire_adapter(0, 0)).contains(&0));
    // A used flag cleared: the slot's term leaves the sum.
    let mut wires = honest.clone();
    wires[gate.wire_used(0, 1)] = F::ZERO;
    let c = failing(&wires);
    assert!(
        !c.is_empty() && c.iter().all(|i| accumulator.contains(i)),
        "{c:?}"
    );
}

/// One query's slot inputs: adapters, shares, used flags.
type SlotTargets = (Vec<Target>, Vec<Target>, Vec<BoolTarget>);

/// A circuit folding `count` queries into an accumulator starting at zero; the result is
/// public.
fn fold_circuit(
    count: usize,
) -> (
    plonky2::plonk::circuit_data::CircuitData<F, C, D>,
    (ExtensionTarget<D>, ExtensionTarget<D>),
    Vec<SlotTargets>,
) {
    let mut builder = CircuitBuilder::<F, D>::new(config());
    let alpha = builder.add_virtual_extension_target();
    let beta = builder.add_virtual_extension_target();
    let mut acc = builder.zero_extension();
    let mut inputs = Vec::new();
    for _ in 0..count {
        let adapters: Vec<Target> = builder.add_virtual_targets(SLOTS);
        let shares: Vec<Target> = builder.add_virtual_targets(SLOTS);
        let used: Vec<BoolTarget> = (0..SLOTS)
            .map(|_| builder.add_virtual_bool_target_safe())
            .collect();
        (acc, _) = builder.accumulate_payout_terms((alpha, beta), acc, &adapters, &shares, &used);
        inputs.push((adapters, shares, used));
    }
    builder.register_public_inputs(&acc.0);
    (builder.build::<C>(), (alpha, beta), inputs)
}

#[test]
fn real_proofs_fold_the_reference_sum_and_refuse_a_zero_denominator() -> Result<()> {
    // Three queries: two rows, the second with an unused op.
    let (data, (alpha_t, beta_t), inputs) = fold_circuit(3);
    let prove = |alpha: FE, beta: FE, queries: &[Query]| -> Result<Vec<F>> {
        let mut pw = PartialWitness::new();
        pw.set_extension_target(alpha_t, alpha)?;
        pw.set_extension_target(beta_t, beta)?;
        for ((adapters, shares, used), query) in inputs.iter().zip(queries) {
            for j in 0..SLOTS {
                pw.set_target(adapters[j], F::from_canonical_u64(query.adapters[j]))?;
                pw.set_target(shares[j], F::from_canonical_u64(query.shares[j]))?;
                pw.set_bool_target(used[j], query.used()[j])?;
            }
        }
        let proof = data.prove(pw)?;
        let public = proof.public_inputs.clone();
        data.verify(proof)?;
        Ok(public)
    };
    let (alpha, beta) = challenges();
    let queries = queries();
    let expected = queries
        .iter()
        .fold(FE::ZERO, |acc, q| reference(alpha, beta, acc, q));
    assert_eq!(prove(alpha, beta, &queries)?, limbs(expected).to_vec());
    // α equal to a used slot's adapter (a base-field α): no inverse exists, refused.
    let alpha_on_adapter = FE::from_canonical_u64(42);
    assert!(prove(alpha_on_adapter, beta, &queries).is_err());
    Ok(())
}

/// The mock tampers as real proofs of a row whose wires the test sets.
#[test]
fn real_proofs_refuse_each_tampered_wire() -> Result<()> {
    let gate = gate();
    let mut builder = CircuitBuilder::<F, D>::new(config());
    let row = builder.add_gate(Unwitnessed(gate), vec![]);
    let data = builder.build::<C>();
    let prove = |wires: &[F]| -> Result<()> {
        let mut pw = PartialWitness::new();
        for (c, value) in wires.iter().enumerate() {
            pw.set_target(Target::wire(row, c), *value)?;
        }
        data.verify(data.prove(pw)?)
    };
    let (alpha, beta) = challenges();
    let honest = honest_row(alpha, beta, FE::rand(), &queries()[0]);
    prove(&honest)?;
    for wire in [
        gate.wire_inverse(0, 3).start,
        gate.wire_acc_out(0).start + 1,
        gate.wire_share(0, 7),
        gate.wire_adapter(0, 2),
        gate.wire_used(0, 4),
        gate.wire_beta(0).start,
    ] {
        let mut wires = honest.clone();
        wires[wire] += F::ONE;
        assert!(
            !failing(&wires).is_empty(),
            "wire {wire}: the mock check holds"
        );
        assert!(prove(&wires).is_err(), "wire {wire}: proved");
    }
    Ok(())
}

#[test]
fn deserialize_refuses_shapes_that_do_not_fit() {
    let mut builder = CircuitBuilder::<F, D>::new(config());
    let x = builder.add_virtual_target();
    builder.register_public_input(x);
    let data = builder.build::<C>();
    let read = |slots: usize, ops: usize| {
        let mut bytes = Vec::new();
        bytes.write_usize(slots).unwrap();
        bytes.write_usize(ops).unwrap();
        <PayoutTermsGate<D> as Gate<F, D>>::deserialize(&mut Buffer::new(&bytes), &data.common)
    };
    assert!(read(SLOTS, 2).is_ok());
    for (slots, ops) in [(0, 1), (SLOTS, 0), (SLOTS, 3), (65, 1), (40, 1)] {
        assert!(read(slots, ops).is_err(), "{slots} slots x {ops}");
    }
}

//! Each gate's halo2 evaluation against plonky2's own `eval_unfiltered` on random opened values.

mod common;

use common::{mock, random_base, random_ext, rng};
use plonky2::field::goldilocks_field::GoldilocksField as F;
use plonky2::field::types::Field;
use plonky2::gates::arithmetic_base::ArithmeticGate;
use plonky2::gates::constant::ConstantGate;
use plonky2::gates::gate::Gate;
use plonky2::gates::noop::NoopGate;
use plonky2::gates::public_input::PublicInputGate;
use plonky2::hash::hash_types::HashOut;
use plonky2::plonk::circuit_data::CircuitConfig;
use plonky2::plonk::vars::EvaluationVars;
use zkattr_wrapper::gates::{arithmetic, constant, EvaluationCells};
use zkattr_wrapper::goldilocks::extension::{AssignedExt, ExtensionChip, GoldilocksExt as E};
use zkattr_wrapper::goldilocks::GoldilocksInstructions;

type Eval = fn(
    &ExtensionChip,
    &mut halo2_base::Context<halo2_base::halo2_proofs::halo2curves::bn256::Fr>,
    EvaluationCells<'_>,
) -> Vec<AssignedExt>;

/// Draws random opened values for `gate`, evaluates it natively and with `eval`, and asserts
/// MockProver accepts and the outputs agree; returns (cells, lookup cells, advice columns).
fn check<G: Gate<F, 2>>(gate: &G, seed: u64, eval: Eval) -> (usize, usize, usize) {
    let config = CircuitConfig::standard_recursion_config();
    let mut r = rng(seed);
    let constants: Vec<E> = (0..gate.num_constants())
        .map(|_| random_ext(&mut r))
        .collect();
    let wires: Vec<E> = (0..gate.num_wires().min(config.num_wires))
        .map(|_| random_ext(&mut r))
        .collect();
    let hash = HashOut {
        elements: [(); 4].map(|_| random_base(&mut r)),
    };
    let want = gate.eval_unfiltered(EvaluationVars {
        local_constants: &constants,
        local_wires: &wires,
        public_inputs_hash: &hash,
    });
    let run = mock(|chip, ctx| {
        let c: Vec<_> = constants.iter().map(|&v| chip.load(ctx, v)).collect();
        let w: Vec<_> = wires.iter().map(|&v| chip.load(ctx, v)).collect();
        let h = hash.elements.map(|v| chip.base.load(ctx, v));
        let before = (ctx.advice.len(), 0);
        let out = eval(
            chip,
            ctx,
            EvaluationCells {
                local_constants: &c,
                local_wires: &w,
                public_inputs_hash: &h,
            },
        );
        (
            out.iter().map(|o| o.native()).collect::<Vec<_>>(),
            ctx.advice.len() - before.0,
        )
    });
    assert!(run.failures.is_empty(), "{}: {:?}", gate.id(), run.failures);
    assert_eq!(run.out.0, want, "{}", gate.id());
    println!(
        "{}: {} cells for the evaluation ({} in all, {} lookup cells, {} advice columns at k={})",
        gate.id(),
        run.out.1,
        run.cells,
        run.lookups,
        run.advice_columns,
        common::K
    );
    (run.out.1, run.lookups, run.advice_columns)
}

#[test]
fn arithmetic_gate_matches_plonky2() {
    let gate = ArithmeticGate::new_from_config(&CircuitConfig::standard_recursion_config());
    check(&gate, 10, |chip, ctx, vars| {
        arithmetic::eval_arithmetic(
            chip,
            ctx,
            &ArithmeticGate::new_from_config(&CircuitConfig::standard_recursion_config()),
            vars,
        )
    });
}

#[test]
fn constant_gate_matches_plonky2() {
    check(&ConstantGate::new(2), 11, |chip, ctx, vars| {
        constant::eval_constant(chip, ctx, &ConstantGate::new(2), vars)
    });
}

#[test]
fn public_input_gate_matches_plonky2() {
    check(&PublicInputGate, 12, |chip, ctx, vars| {
        constant::eval_public_input(chip, ctx, vars)
    });
}

#[test]
fn noop_gate_matches_plonky2() {
    let (cells, _, _) = check(&NoopGate, 13, |_, _, _| constant::eval_noop());
    assert_eq!(cells, 0);
}

#[test]
fn a_wrong_output_wire_gives_a_nonzero_constraint() {
    // The evaluation is a value, not an assertion: a wrong wire changes it, as natively.
    let gate = ArithmeticGate { num_ops: 1 };
    let mut r = rng(14);
    let c = [random_ext(&mut r), random_ext(&mut r)];
    let (m0, m1, add) = (random_ext(&mut r), random_ext(&mut r), random_ext(&mut r));
    let out = m0 * m1 * c[0] + add * c[1];
    let run = mock(|chip, ctx| {
        let c: Vec<_> = c.iter().map(|&v| chip.load(ctx, v)).collect();
        let w: Vec<_> = [m0, m1, add, out + E::from(F::from_canonical_u64(1))]
            .iter()
            .map(|&v| chip.load(ctx, v))
            .collect();
        let h = [0u64; 4].map(|_| chip.base.constant(ctx, F::from_canonical_u64(0)));
        arithmetic::eval_arithmetic(
            chip,
            ctx,
            &gate,
            EvaluationCells {
                local_constants: &c,
                local_wires: &w,
                public_inputs_hash: &h,
            },
        )[0]
        .native()
    });
    assert!(run.failures.is_empty());
    assert_eq!(run.out, E::from(F::from_canonical_u64(1)));
}

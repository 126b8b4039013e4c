//! plonky2's gates without arithmetic: `ConstantGate` (`constant_i - wire_i`),
//! `PublicInputGate` (`wire_i - public_inputs_hash_i`, i < 4) and `NoopGate` (no constraints).

use halo2_base::halo2_proofs::halo2curves::bn256::Fr;
use halo2_base::Context;
use plonky2::field::goldilocks_field::GoldilocksField;
use plonky2::gates::constant::ConstantGate;
use plonky2::gates::gate::Gate;

use super::EvaluationCells;
use crate::goldilocks::extension::{AssignedExt, ExtensionChip};

/// The `num_constants` constraint values of `ConstantGate::eval_unfiltered`, canonical.
pub fn eval_constant(
    chip: &ExtensionChip,
    ctx: &mut Context<Fr>,
    gate: &ConstantGate,
    vars: EvaluationCells<'_>,
) -> Vec<AssignedExt> {
    (0..<ConstantGate as Gate<GoldilocksField, 2>>::num_constants(gate))
        // plonky2's layout (its accessors are private): constant i is written to wire i.
        .map(|i| chip.sub(ctx, &vars.local_constants[i], &vars.local_wires[i]))
        .collect()
}

/// The four constraint values of plonky2's `PublicInputGate::eval_unfiltered`, canonical.
pub fn eval_public_input(
    chip: &ExtensionChip,
    ctx: &mut Context<Fr>,
    vars: EvaluationCells<'_>,
) -> Vec<AssignedExt> {
    // The hash sits on wires 0..4 (plonky2's `wires_public_inputs_hash`, crate-private).
    vars.local_wires[..4]
        .iter()
        .zip(vars.public_inputs_hash.iter())
        .map(|(wire, hash)| {
            let hash = chip.from_base(ctx, *hash);
            chip.sub(ctx, wire, &hash)
        })
        .collect()
}

/// `NoopGate::eval_unfiltered`: no constraints.
pub fn eval_noop() -> Vec<AssignedExt> {
    Vec::new()
}

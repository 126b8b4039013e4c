//! plonky2's `ArithmeticGate`: `output - (m0 * m1 * c0 + addend * c1)` per operation.

use halo2_base::halo2_proofs::halo2curves::bn256::Fr;
use halo2_base::Context;
use plonky2::gates::arithmetic_base::ArithmeticGate;

use super::EvaluationCells;
use crate::goldilocks::extension::{AssignedExt, ExtensionChip};

/// The `gate.num_ops` constraint values of `ArithmeticGate::eval_unfiltered`, canonical; the
/// product `m0 * m1` is reduced, the rest of each constraint is reduced once.
pub fn eval_arithmetic(
    chip: &ExtensionChip,
    ctx: &mut Context<Fr>,
    gate: &ArithmeticGate,
    vars: EvaluationCells<'_>,
) -> Vec<AssignedExt> {
    let c0 = &vars.local_constants[0];
    let c1 = &vars.local_constants[1];
    (0..gate.num_ops)
        .map(|i| {
            let w = |j: usize| &vars.local_wires[j];
            // plonky2's layout (its accessors are crate-private): four wires per operation.
            let (m0, m1, addend, output) = (w(4 * i), w(4 * i + 1), w(4 * i + 2), w(4 * i + 3));
            let product = chip.mul(ctx, m0, m1);
            let scaled = chip.mul_unreduced(ctx, &product, c0);
            let added = chip.mul_unreduced(ctx, addend, c1);
            let computed = chip.add_unreduced(ctx, &scaled, &added);
            let diff = chip.sub_unreduced(ctx, output, &computed);
            chip.reduce(ctx, &diff)
        })
        .collect()
}

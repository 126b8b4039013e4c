//! plonky2 gate constraints (`Gate::eval_unfiltered`) evaluated in halo2 over the opened
//! extension-field wire and constant values, one file per gate family.

pub mod arithmetic;
pub mod constant;

use crate::goldilocks::extension::AssignedExt;
use crate::goldilocks::AssignedGoldilocks;

/// The opened values a gate's constraints read (plonky2's `EvaluationVars`, D = 2), as cells.
#[derive(Clone, Copy, Debug)]
pub struct EvaluationCells<'a> {
    /// The constants column values at zeta.
    pub local_constants: &'a [AssignedExt],
    /// The wire values at zeta.
    pub local_wires: &'a [AssignedExt],
    /// The public inputs hash.
    pub public_inputs_hash: &'a [AssignedGoldilocks; 4],
}

//! Test support shared by the gates' tests.

use plonky2::field::extension::Extendable;
use plonky2::gates::gate::Gate;
use plonky2::gates::util::StridedConstraintConsumer;
use plonky2::hash::hash_types::RichField;
use plonky2::iop::ext_target::ExtensionTarget;
use plonky2::iop::generator::WitnessGeneratorRef;
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::CommonCircuitData;
use plonky2::plonk::vars::{
    EvaluationTargets, EvaluationVars, EvaluationVarsBase, EvaluationVarsBaseBatch,
};
use plonky2::util::serialization::{Buffer, IoResult};

/// A gate without its generators, so a test can set every wire of its row itself and prove a
/// tampered row: the constraints, not witness generation, must refuse it.
#[derive(Debug)]
pub(crate) struct Unwitnessed<G>(pub G);

impl<F: RichField + Extendable<D>, const D: usize, G: Gate<F, D>> Gate<F, D> for Unwitnessed<G> {
    fn id(&self) -> String {
        format!("Unwitnessed({})", self.0.id())
    }
    fn serialize(&self, dst: &mut Vec<u8>, common: &CommonCircuitData<F, D>) -> IoResult<()> {
        self.0.serialize(dst, common)
    }
    fn deserialize(src: &mut Buffer<'_>, common: &CommonCircuitData<F, D>) -> IoResult<Self> {
        G::deserialize(src, common).map(Unwitnessed)
    }
    fn eval_unfiltered(&self, vars: EvaluationVars<'_, F, D>) -> Vec<F::Extension> {
        self.0.eval_unfiltered(vars)
    }
    fn eval_unfiltered_base_one(
        &self,
        vars: EvaluationVarsBase<'_, F>,
        yield_constr: StridedConstraintConsumer<'_, F>,
    ) {
        self.0.eval_unfiltered_base_one(vars, yield_constr)
    }
    fn eval_unfiltered_base_batch(&self, vars: EvaluationVarsBaseBatch<'_, F>) -> Vec<F> {
        self.0.eval_unfiltered_base_batch(vars)
    }
    fn eval_unfiltered_circuit(
        &self,
        builder: &mut CircuitBuilder<F, D>,
        vars: EvaluationTargets<'_, D>,
    ) -> Vec<ExtensionTarget<D>> {
        self.0.eval_unfiltered_circuit(builder, vars)
    }
    fn generators(&self, _row: usize, _constants: &[F]) -> Vec<WitnessGeneratorRef<F, D>> {
        Vec::new()
    }
    fn num_wires(&self) -> usize {
        self.0.num_wires()
    }
    fn num_constants(&self) -> usize {
        self.0.num_constants()
    }
    fn degree(&self) -> usize {
        self.0.degree()
    }
    fn num_constraints(&self) -> usize {
        self.0.num_constraints()
    }
    fn num_ops(&self) -> usize {
        self.0.num_ops()
    }
}

//! A stand-in for the batch circuit, shared by tests/merge.rs and tests/final_layer.rs: a
//! circuit that only exposes a summary as public inputs (cheap, and free to carry any summary a
//! cheat needs), so those tests check the circuit above it, not a batch.

use plonky2::field::types::Field;
use plonky2::iop::target::Target;
use plonky2::iop::witness::{PartialWitness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{CircuitConfig, CircuitData};
use plonky2::plonk::proof::ProofWithPublicInputs;
use zkattr_plonky2::aggregation::native::BatchSummary;
use zkattr_plonky2::native::F;
use zkattr_plonky2::prover::Config;

pub const D: usize = 2;
pub type Proof = ProofWithPublicInputs<F, Config, D>;
pub type StandIn = (CircuitData<F, Config, D>, Vec<Target>);

/// A circuit whose `BatchSummary::LEN` public inputs are free. `tag` is a constant of one gate,
/// so two stand-ins share their shape (common data) but not their verifier data.
pub fn stand_in(tag: u64) -> StandIn {
    free_inputs(BatchSummary::LEN, tag)
}

/// A circuit with `len` free public inputs (a stand-in for any circuit whose public inputs a
/// test wants to choose), told apart from others of its length by `tag`.
pub fn free_inputs(len: usize, tag: u64) -> StandIn {
    let mut b = CircuitBuilder::<F, D>::new(CircuitConfig::standard_recursion_config());
    let t = b.add_virtual_targets(len);
    b.register_public_inputs(&t);
    let y = b.mul_const(F::from_canonical_u64(tag), t[0]);
    let z = b.add_virtual_target();
    b.connect(y, z);
    (b.build::<Config>(), t)
}

/// A proof of the stand-in exposing `s`.
pub fn prove_stand_in(circuit: &StandIn, s: &BatchSummary) -> Proof {
    prove_free(circuit, &s.to_fields())
}

/// A proof of a free-input circuit exposing `inputs`.
pub fn prove_free(circuit: &StandIn, inputs: &[F]) -> Proof {
    assert_eq!(inputs.len(), circuit.1.len());
    let mut pw = PartialWitness::new();
    for (t, v) in circuit.1.iter().zip(inputs) {
        pw.set_target(*t, *v).unwrap();
    }
    circuit.0.prove(pw).unwrap()
}

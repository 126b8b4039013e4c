//! The shrink layer, the last layer of aggregation: one more recursion step that verifies the final
//! layer's proof and re-exposes its public inputs unchanged, under a FRI configuration traded
//! towards a small proof: a higher rate (blowup 2^7 instead of 2^3), fewer queries (12 instead
//! of 28), more grinding (20 bits instead of 16), Merkle caps of one root, and the reduction
//! arities that minimise size. Conjectured security stays at plonky2's standard level
//! (`rate_bits · queries + pow_bits` = 7 · 12 + 20 = 104 bits, against 3 · 28 + 16 = 100).
//! Measured over a 2,048-query epoch's final proof (2^15 rows, 155,556 bytes): the layer is
//! 2^13 rows, proves in 17 s and gives 76,872 bytes; blowup 2^6 with 16 queries gave 97,248
//! bytes in 8.5 s.
//!
//! The layer costs seconds whatever the epoch (it verifies one proof of a fixed circuit). It
//! needs no zero knowledge of its own: its only witness is the final layer's proof, made with
//! zero knowledge on, and the non-zk prover adds nothing that depends on it beyond that proof;
//! so the published proof reveals no more than the final proof would (which is as much as
//! plonky2 1.1's zero-knowledge mode hides).
//! Without blinding rows (thousands at this FRI configuration) the circuit is 2^13 rows
//! instead of 2^15, which matters at this blowup.

use crate::native::F;
use crate::prover::Config;
use crate::statement::D;
use anyhow::Result;
use plonky2::fri::reduction_strategies::FriReductionStrategy;
use plonky2::fri::FriConfig;
use plonky2::iop::witness::PartialWitness;
use plonky2::iop::witness::WitnessWrite;
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{CircuitConfig, CircuitData, VerifierCircuitData};
use plonky2::plonk::proof::{ProofWithPublicInputs, ProofWithPublicInputsTarget};

/// The shrink layer's configuration (see the module doc).
pub fn shrink_config() -> CircuitConfig {
    CircuitConfig {
        fri_config: FriConfig {
            rate_bits: 7,
            cap_height: 0,
            proof_of_work_bits: 20,
            reduction_strategy: FriReductionStrategy::MinSize(None),
            num_query_rounds: 12,
        },
        ..CircuitConfig::standard_recursion_config()
    }
}

/// Verifies a proof of one pinned circuit and exposes its public inputs as its own.
#[derive(Debug)]
pub struct ShrinkCircuit {
    pub data: CircuitData<F, Config, D>,
    inner: ProofWithPublicInputsTarget<D>,
}

impl ShrinkCircuit {
    /// The layer over proofs of `inner` (its verifier data is a constant of this circuit).
    pub fn build(inner: &VerifierCircuitData<F, Config, D>) -> Self {
        // The argument in the module doc needs a zero-knowledge inner proof.
        assert!(
            inner.common.config.zero_knowledge,
            "the shrink layer only wraps zero-knowledge proofs"
        );
        let mut b = CircuitBuilder::<F, D>::new(shrink_config());
        let verifier_data = b.constant_verifier_data(&inner.verifier_only);
        let proof = b.add_virtual_proof_with_pis(&inner.common);
        b.verify_proof::<Config>(&proof, &verifier_data, &inner.common);
        b.register_public_inputs(&proof.public_inputs);
        ShrinkCircuit {
            data: b.build::<Config>(),
            inner: proof,
        }
    }

    /// Proves that `inner` verifies; the result carries the same public inputs.
    pub fn prove(
        &self,
        inner: &ProofWithPublicInputs<F, Config, D>,
    ) -> Result<ProofWithPublicInputs<F, Config, D>> {
        let mut pw = PartialWitness::new();
        pw.set_proof_with_pis_target(&self.inner, inner)?;
        self.data.prove(pw)
    }
}

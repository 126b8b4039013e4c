//! The outer layer: one plonky2 circuit, proved under [`Bn254PoseidonGoldilocksConfig`], that
//! verifies a shrink-layer proof with the ordinary Goldilocks recursion and registers its public
//! inputs unchanged. The shrink layer's verifier data is a witness, accepted only if its
//! constants-sigmas cap and circuit digest are a leaf of a Merkle tree of the pinned layouts'
//! verifier data whose root is a constant of this circuit; so one outer circuit serves every layout whose shrink layer has the shared
//! [`CommonCircuitData`] the circuit is built for (docs/wrapper.md).

use super::hash::Bn254PoseidonGoldilocksConfig;
use crate::native::F;
use crate::prover::Config;
use crate::statement::D;
use plonky2::fri::reduction_strategies::FriReductionStrategy;
use plonky2::fri::FriConfig;
use plonky2::hash::hash_types::HashOutTarget;
use plonky2::hash::merkle_proofs::MerkleProofTarget;
use plonky2::hash::merkle_tree::MerkleTree;
use plonky2::hash::poseidon::PoseidonHash;
use plonky2::iop::target::BoolTarget;
use plonky2::iop::witness::{PartialWitness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{
    CircuitConfig, CircuitData, CommonCircuitData, VerifierCircuitTarget, VerifierOnlyCircuitData,
};
use plonky2::plonk::config::GenericHashOut;
use plonky2::plonk::proof::{ProofWithPublicInputs, ProofWithPublicInputsTarget};
use thiserror::Error;

/// The outer layer's configuration, chosen for the halo2 verifier's cost (docs/wrapper.md):
/// blowup 2^5 with 16 queries and 20 bits of grinding (`5 · 16 + 20 = 100` bits conjectured),
/// Merkle caps of one root, and FRI folding by 16 down to a final polynomial of 32 coefficients.
pub fn outer_config() -> CircuitConfig {
    CircuitConfig {
        fri_config: FriConfig {
            rate_bits: OUTER_RATE_BITS,
            cap_height: 0,
            proof_of_work_bits: OUTER_POW_BITS,
            reduction_strategy: FriReductionStrategy::ConstantArityBits(4, 5),
            num_query_rounds: OUTER_QUERIES,
        },
        ..CircuitConfig::standard_recursion_config()
    }
}

/// `rate_bits` of [`outer_config`].
pub const OUTER_RATE_BITS: usize = 5;
/// `num_query_rounds` of [`outer_config`].
pub const OUTER_QUERIES: usize = 16;
/// `proof_of_work_bits` of [`outer_config`].
pub const OUTER_POW_BITS: u32 = 20;

/// A proof of the outer layer.
pub type OuterProof = ProofWithPublicInputs<F, Bn254PoseidonGoldilocksConfig, D>;

/// Why the outer layer was not built or proved.
#[derive(Debug, Error)]
pub enum WrapError {
    /// No verifier data to pin.
    #[error("the outer layer needs at least one pinned layout")]
    NoPinnedLayouts,
    /// A pinned layout's shrink layer has another Merkle cap height than the shared shape.
    #[error(
        "pinned layout {index}: constants-sigmas cap of {got} hashes, the shared shape has {want}"
    )]
    CapHeight {
        index: usize,
        got: usize,
        want: usize,
    },
    /// The inner proof's verifier data is not in the pinned set.
    #[error("the inner proof's verifier data is not one of the pinned layouts")]
    UnpinnedLayout,
    /// Witness generation or proving failed.
    #[error("proving the outer layer: {0}")]
    Proving(String),
    /// plonky2's verifier refused the outer proof.
    #[error("the outer proof does not verify: {0}")]
    Verification(String),
    /// An outer proof's bytes do not decode.
    #[error("outer proof bytes: {0}")]
    Decode(String),
}

/// The leaf of the pinned set for one layout: its constants-sigmas cap, then its circuit
/// digest (Goldilocks elements; the Merkle tree hashes them with Goldilocks Poseidon).
pub fn pinned_leaf(verifier: &VerifierOnlyCircuitData<Config, D>) -> Vec<F> {
    let mut leaf = verifier.constants_sigmas_cap.flatten();
    leaf.extend(verifier.circuit_digest.to_vec());
    leaf
}

/// The outer circuit and the targets its witness fills.
#[derive(Debug)]
pub struct OuterCircuit {
    /// Keys of the outer layer.
    pub data: CircuitData<F, Bn254PoseidonGoldilocksConfig, D>,
    inner_common: CommonCircuitData<F, D>,
    pinned: Vec<VerifierOnlyCircuitData<Config, D>>,
    tree: MerkleTree<F, PoseidonHash>,
    proof: ProofWithPublicInputsTarget<D>,
    verifier: VerifierCircuitTarget,
    index_bits: Vec<BoolTarget>,
    siblings: Vec<HashOutTarget>,
}

impl OuterCircuit {
    /// The layer over proofs whose circuit has `inner_common` and whose verifier data is one of
    /// `pinned` (padded to a power of two by repeating the last entry).
    pub fn build(
        inner_common: &CommonCircuitData<F, D>,
        pinned: &[VerifierOnlyCircuitData<Config, D>],
    ) -> Result<Self, WrapError> {
        Self::build_with_config(outer_config(), inner_common, pinned)
    }

    /// [`Self::build`] under another configuration (for measuring alternatives to
    /// [`outer_config`]).
    pub fn build_with_config(
        config: CircuitConfig,
        inner_common: &CommonCircuitData<F, D>,
        pinned: &[VerifierOnlyCircuitData<Config, D>],
    ) -> Result<Self, WrapError> {
        let last = pinned.last().ok_or(WrapError::NoPinnedLayouts)?;
        let cap_len = 1usize << inner_common.config.fri_config.cap_height;
        for (index, v) in pinned.iter().enumerate() {
            if v.constants_sigmas_cap.0.len() != cap_len {
                return Err(WrapError::CapHeight {
                    index,
                    got: v.constants_sigmas_cap.0.len(),
                    want: cap_len,
                });
            }
        }
        let padded = pinned.len().next_power_of_two();
        let leaves: Vec<Vec<F>> = (0..padded)
            .map(|i| pinned_leaf(pinned.get(i).unwrap_or(last)))
            .collect();
        let height = padded.trailing_zeros() as usize;
        let tree = MerkleTree::<F, PoseidonHash>::new(leaves, 0);

        let mut b = CircuitBuilder::<F, D>::new(config);
        let verifier = b.add_virtual_verifier_data(inner_common.config.fri_config.cap_height);
        let proof = b.add_virtual_proof_with_pis(inner_common);
        b.verify_proof::<Config>(&proof, &verifier, inner_common);
        b.register_public_inputs(&proof.public_inputs);

        let index_bits: Vec<BoolTarget> = (0..height)
            .map(|_| b.add_virtual_bool_target_safe())
            .collect();
        let siblings = b.add_virtual_hashes(height);
        let root = b.constant_merkle_cap(&tree.cap);
        let leaf = verifier
            .constants_sigmas_cap
            .0
            .iter()
            .flat_map(|h| h.elements)
            .chain(verifier.circuit_digest.elements)
            .collect();
        b.verify_merkle_proof_to_cap::<PoseidonHash>(
            leaf,
            &index_bits,
            &root,
            &MerkleProofTarget {
                siblings: siblings.clone(),
            },
        );
        Ok(OuterCircuit {
            data: b.build::<Bn254PoseidonGoldilocksConfig>(),
            inner_common: inner_common.clone(),
            pinned: pinned.to_vec(),
            tree,
            proof,
            verifier,
            index_bits,
            siblings,
        })
    }

    /// The Merkle tree of the pinned set (its root is a constant of the circuit).
    pub fn pinned_tree(&self) -> &MerkleTree<F, PoseidonHash> {
        &self.tree
    }

    /// The common data every wrapped proof's circuit must have.
    pub fn inner_common(&self) -> &CommonCircuitData<F, D> {
        &self.inner_common
    }

    /// Proves that `inner` verifies under `verifier`, one of the pinned layouts; the result
    /// carries `inner`'s public inputs. Refuses an unpinned layout before proving.
    pub fn prove(
        &self,
        inner: &ProofWithPublicInputs<F, Config, D>,
        verifier: &VerifierOnlyCircuitData<Config, D>,
    ) -> Result<OuterProof, WrapError> {
        let index = self
            .pinned
            .iter()
            .position(|v| v == verifier)
            .ok_or(WrapError::UnpinnedLayout)?;
        self.prove_at(inner, verifier, index)
    }

    /// [`Self::prove`] with the set's leaf `index` claimed for `verifier`, unchecked: the
    /// circuit alone must refuse a wrong claim (tests use this).
    pub fn prove_at(
        &self,
        inner: &ProofWithPublicInputs<F, Config, D>,
        verifier: &VerifierOnlyCircuitData<Config, D>,
        index: usize,
    ) -> Result<OuterProof, WrapError> {
        let proving = |e: anyhow::Error| WrapError::Proving(e.to_string());
        let leaves = 1usize << self.index_bits.len();
        let index = index % leaves;
        let path = self.tree.prove(index);
        let mut pw = PartialWitness::new();
        pw.set_proof_with_pis_target(&self.proof, inner)
            .map_err(proving)?;
        pw.set_verifier_data_target(&self.verifier, verifier)
            .map_err(proving)?;
        for (i, bit) in self.index_bits.iter().enumerate() {
            pw.set_bool_target(*bit, (index >> i) & 1 == 1)
                .map_err(proving)?;
        }
        for (target, sibling) in self.siblings.iter().zip(&path.siblings) {
            pw.set_hash_target(*target, *sibling).map_err(proving)?;
        }
        let data = &self.data;
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| data.prove(pw)))
            .map_err(|panic| WrapError::Proving(panic_text(&panic)))?
            .map_err(proving)
    }

    /// Verifies an outer proof with plonky2's verifier under the outer configuration.
    pub fn verify(&self, proof: &OuterProof) -> Result<(), WrapError> {
        self.data
            .verify(proof.clone())
            .map_err(|e| WrapError::Verification(e.to_string()))
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "the prover panicked".into())
}

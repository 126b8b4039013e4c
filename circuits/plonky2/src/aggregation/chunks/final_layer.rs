//! The final layer over a payout list proved in chunks (docs/aggregation.md, "Payout lists
//! above 32,768 payees"): verifies the root summary's proof as [`crate::aggregation::final_layer`]
//! does and `K` proofs of one pinned chunk circuit ([`super::circuit`]), links the chunks, and
//! exposes the same 22 public inputs. Its native twin is [`super::native::finalize_chunked`].

use crate::aggregation::chunks::circuit::ChunkTargets;
use crate::aggregation::final_layer::{
    close_statement, final_config, verify_root, ListCommitments,
};
use crate::gadgets::CommitmentInstructions;
use crate::native::F;
use crate::prover::Config;
use crate::statement::D;
use crate::GoldilocksFamily;
use anyhow::{ensure, Result};
use plonky2::field::types::Field;
use plonky2::hash::hash_types::HashOutTarget;
use plonky2::iop::target::Target;
use plonky2::iop::witness::{PartialWitness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{CircuitData, VerifierCircuitData};
use plonky2::plonk::proof::{ProofWithPublicInputs, ProofWithPublicInputsTarget};
use zkattr_model::commit::tag;
use zkattr_model::merkle::empty_subtrees;
use zkattr_model::types::PAYOUT_TREE_DEPTH;

type Proof = ProofWithPublicInputs<F, Config, D>;

/// The final circuit over a root proof and `K` chunk proofs, each of one pinned circuit.
#[derive(Debug)]
pub struct ChunkedFinalCircuit {
    pub data: CircuitData<F, Config, D>,
    root: ProofWithPublicInputsTarget<D>,
    chunks: Vec<ProofWithPublicInputsTarget<D>>,
}

impl ChunkedFinalCircuit {
    /// `root_height` is the root proof's subtree height; `chunk` the chunk circuit, whose
    /// chunks hold `2^chunk_height` entries; `chunk_count` (`K`) a power of two with
    /// `chunk_height + log2 K <= 20`. Both verifier data are constants of this circuit, so a
    /// proof of any other circuit (a chunk of another height among them) fails verification.
    ///
    /// Constrains, over the root summary and the chunks in the order they are verified (the
    /// position of a chunk is that order; its proof holds for any position):
    /// - every chunk's `α, β` equal to the root summary's;
    /// - chunk 0 starting from adapter 0 and the zero slot-count digest, chunk `i + 1` from
    ///   chunk `i`'s end state (previous adapter and digest): adapters increase and the count
    ///   digest chains across seams;
    /// - the real entries a prefix of the list: a chunk with real entries follows a full one;
    /// - a chunk without real entries is the empty chunk (end equal to start, empty subtree,
    ///   zero accumulator and sums; the chunk circuit implies it, stated so the final layer's
    ///   soundness does not lean on it);
    /// - the payout commitment `H(3, root, Σ count)`, the root from the chunk roots lifted with
    ///   empty siblings to depth 20, and the last chunk's end digest as the slot-count digest;
    /// - then [`close_statement`] over the summed accumulators and limb-column sums.
    ///
    /// Left to the chunk circuit and not re-checked: a count of at most `2^chunk_height`, and
    /// column sums below `2^(chunk_height + 32)` (so the `K` of them add without wrap).
    pub fn build(
        root_child: &VerifierCircuitData<F, Config, D>,
        root_height: u32,
        chunk: &VerifierCircuitData<F, Config, D>,
        chunk_height: u32,
        chunk_count: usize,
    ) -> Self {
        assert!(
            chunk_count.is_power_of_two()
                && chunk_height as usize + chunk_count.trailing_zeros() as usize
                    <= PAYOUT_TREE_DEPTH,
            "{chunk_count} chunks of 2^{chunk_height} entries do not make the payout tree"
        );
        let mut b = CircuitBuilder::<F, D>::new(final_config());
        let root = verify_root(&mut b, root_child, root_height);
        let s = root.summary;

        let chunk_vd = b.constant_verifier_data(&chunk.verifier_only);
        let proofs: Vec<ProofWithPublicInputsTarget<D>> = (0..chunk_count)
            .map(|_| {
                let proof = b.add_virtual_proof_with_pis(&chunk.common);
                b.verify_proof::<Config>(&proof, &chunk_vd, &chunk.common);
                proof
            })
            .collect();
        let chunks: Vec<ChunkTargets> = proofs
            .iter()
            .map(|p| ChunkTargets::read(&p.public_inputs))
            .collect();

        let zero = b.zero();
        let capacity = b.constant(F::from_canonical_u64(1 << chunk_height));
        let empty_chunk_root = b.constant_hash(
            empty_subtrees(&GoldilocksFamily, chunk_height as usize)[chunk_height as usize],
        );
        let mut previous = zero;
        let mut slot_counts = HashOutTarget::from([zero; 4]);
        let mut previous_full = None;
        let mut count = zero;
        let mut accumulated = b.zero_extension();
        let mut column_sums = [zero; 2];
        for c in &chunks {
            for (x, y) in c.challenges.iter().zip(&s.challenges) {
                b.connect(*x, *y);
            }
            b.connect(c.start.previous, previous);
            b.connect_hashes(c.start.slot_counts, slot_counts);
            if let Some(full) = previous_full {
                // count · (1 − full_before) = 0
                let stray = b.arithmetic(F::NEG_ONE, F::ONE, c.count, full, c.count);
                b.connect(stray, zero);
            }
            let is_empty = b.is_equal(c.count, zero);
            let mut must_vanish: Vec<Target> = vec![b.sub(c.end.previous, c.start.previous)];
            for (end, start) in c
                .end
                .slot_counts
                .elements
                .iter()
                .zip(&c.start.slot_counts.elements)
            {
                must_vanish.push(b.sub(*end, *start));
            }
            for (root, empty) in c.root.elements.iter().zip(&empty_chunk_root.elements) {
                must_vanish.push(b.sub(*root, *empty));
            }
            must_vanish.extend(c.accumulated.0);
            must_vanish.extend(c.column_sums);
            for value in must_vanish {
                let stray = b.mul(value, is_empty.target);
                b.connect(stray, zero);
            }

            previous = c.end.previous;
            slot_counts = c.end.slot_counts;
            previous_full = Some(b.is_equal(c.count, capacity).target);
            count = b.add(count, c.count);
            accumulated = b.add_extension(accumulated, c.accumulated);
            for (sum, column) in column_sums.iter_mut().zip(c.column_sums) {
                *sum = b.add(*sum, column);
            }
        }

        let chunk_roots: Vec<HashOutTarget> = chunks.iter().map(|c| c.root).collect();
        let payout_root = b.lifted_root(&chunk_roots, chunk_height as usize, PAYOUT_TREE_DEPTH);
        let list = ListCommitments {
            commitment: b.commitment(tag::PAYOUT_COMMITMENT, payout_root, count),
            slot_counts,
            accumulated,
        };
        close_statement(&mut b, &root, &list, |_| column_sums);

        ChunkedFinalCircuit {
            data: b.build::<Config>(),
            root: root.proof,
            chunks: proofs,
        }
    }

    /// Chunks the circuit verifies (`K`).
    pub fn chunk_count(&self) -> usize {
        self.chunks.len()
    }

    /// Proves the epoch's statement from the root proof and the `K` chunk proofs in list
    /// order (chunks past the list may all be the same proof of the empty chunk).
    pub fn prove(&self, root: &Proof, chunks: &[&Proof]) -> Result<Proof> {
        ensure!(
            chunks.len() == self.chunks.len(),
            "{} chunk proofs for a final layer over {} chunks",
            chunks.len(),
            self.chunks.len()
        );
        let mut pw = PartialWitness::new();
        pw.set_proof_with_pis_target(&self.root, root)?;
        for (target, proof) in self.chunks.iter().zip(chunks) {
            pw.set_proof_with_pis_target(target, proof)?;
        }
        self.data.prove(pw)
    }
}

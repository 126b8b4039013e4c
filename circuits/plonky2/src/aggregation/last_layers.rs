//! The layers over the root summary's proof: the payout list's chunk proofs (when the list is
//! proved in chunks), the final layer, whose proof carries SPEC's 22 public inputs, and the
//! shrink layer over it, whose proof and verifier data are written as the bundle.

use super::checkpoint::{keep, CheckpointNode, Resume};
use super::chunks::circuit::ChunkCircuit;
use super::chunks::final_layer::ChunkedFinalCircuit;
use super::chunks::native::chunk_list;
use super::error::{proving, stop_if_cancelled, unpanicked, EpochProverError};
use super::final_layer::FinalCircuit;
use super::layout::AggregationShape;
use super::native::{BatchSummary, Challenges, ListedPayee};
use super::progress::{report_built, AggregationStage, Progress, ProvingClock};
use super::prove::Prepared;
use super::shrink::ShrinkCircuit;
use super::Proof;
use crate::native::F;
use crate::prover::{verifying_key_digest, Config};
use crate::statement::D;
use plonky2::plonk::circuit_data::{CircuitData, VerifierCircuitData};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;
use zkattr_model::bundle::{BundleManifest, PublicStatement, BUNDLE_VERSION, MANIFEST};
use zkattr_plonky2_gates::AttributionGateSerializer;

/// The final layer of a shape: the payout-list chunk circuit when the list is proved in
/// chunks, and the final circuit.
#[derive(Debug)]
pub struct FinalLayer {
    pub chunk: Option<Box<ChunkCircuit>>,
    pub last: LastCircuit,
}

/// The final circuit: over the whole payout list, or over chunk proofs of it.
#[derive(Debug)]
pub enum LastCircuit {
    Whole(Box<FinalCircuit>),
    OverChunks(Box<ChunkedFinalCircuit>),
}

/// Key generation for the chunk circuit of `2^chunk_height` entries, reported.
pub(crate) fn build_chunk_circuit(chunk_height: u32, progress: Progress<'_>) -> ChunkCircuit {
    let start = Instant::now();
    let chunk = ChunkCircuit::build(chunk_height);
    report_built(
        progress,
        format!("payout-list chunk ({} entries)", chunk.capacity()),
        &chunk.data,
        start,
    );
    chunk
}

/// Key generation for the shrink layer over the final circuit `last`, reported.
pub(crate) fn build_shrink_circuit(
    last: &VerifierCircuitData<F, Config, D>,
    progress: Progress<'_>,
) -> ShrinkCircuit {
    let start = Instant::now();
    let shrink = ShrinkCircuit::build(last);
    report_built(progress, "shrink layer".into(), &shrink.data, start);
    shrink
}

impl LastCircuit {
    /// Builds the final circuit of `shape` over root proofs of `root`, and over proofs of the
    /// chunk circuit `over_chunks` (its verifier data and chunk height) if the list is chunked.
    pub(crate) fn build(
        root: &VerifierCircuitData<F, Config, D>,
        shape: &AggregationShape,
        over_chunks: Option<(&VerifierCircuitData<F, Config, D>, u32)>,
        progress: Progress<'_>,
    ) -> Self {
        let start = Instant::now();
        let capacity = shape.payee_capacity;
        match over_chunks {
            None => {
                let last = FinalCircuit::build(root, shape.root_height(), capacity);
                report_built(
                    progress,
                    format!("final ({capacity} payees)"),
                    &last.data,
                    start,
                );
                LastCircuit::Whole(Box::new(last))
            }
            Some((chunk, chunk_height)) => {
                let chunks = capacity >> chunk_height;
                let last = ChunkedFinalCircuit::build(
                    root,
                    shape.root_height(),
                    chunk,
                    chunk_height,
                    chunks,
                );
                report_built(
                    progress,
                    format!("final over {chunks} chunks ({capacity} payees)"),
                    &last.data,
                    start,
                );
                LastCircuit::OverChunks(Box::new(last))
            }
        }
    }

    /// The final circuit (the shrink layer's inner circuit).
    pub fn data(&self) -> &CircuitData<F, Config, D> {
        match self {
            LastCircuit::Whole(last) => &last.data,
            LastCircuit::OverChunks(last) => &last.data,
        }
    }

    /// The final proof over `root` and the payout list (`chunk_proofs` in list order when the
    /// list is chunked), unless `cancel` is set first; reported with its own proving time.
    pub(crate) fn prove(
        &self,
        root: &Proof,
        payees: &[ListedPayee],
        chunk_proofs: &[Proof],
        cancel: &AtomicBool,
        progress: Progress<'_>,
    ) -> Result<Proof, EpochProverError> {
        stop_if_cancelled(cancel)?;
        let start = Instant::now();
        let proof = match self {
            LastCircuit::Whole(last) => {
                last.prove(root, payees).map_err(proving("the final layer"))
            }
            LastCircuit::OverChunks(last) => {
                let in_order: Vec<&Proof> = chunk_proofs.iter().collect();
                last.prove(root, &in_order)
                    .map_err(proving("the final layer over the chunks"))
            }
        }?;
        progress(&AggregationStage::Final {
            seconds: start.elapsed().as_secs_f64(),
            proof_bytes: proof.to_bytes().len(),
        });
        Ok(proof)
    }
}

impl FinalLayer {
    /// Builds the chunk circuit (if `shape` chunks its list), then the final circuit over root
    /// proofs of `root`.
    pub(crate) fn build(
        root: &VerifierCircuitData<F, Config, D>,
        shape: &AggregationShape,
        progress: Progress<'_>,
    ) -> Self {
        let chunk = shape
            .chunk_height
            .map(|height| Box::new(build_chunk_circuit(height, progress)));
        let chunk_data = chunk.as_ref().map(|c| c.data.verifier_data());
        let over_chunks = chunk_data.as_ref().zip(shape.chunk_height);
        let last = LastCircuit::build(root, shape, over_chunks, progress);
        FinalLayer { chunk, last }
    }

    /// The final circuit (the shrink layer's inner circuit).
    pub fn data(&self) -> &CircuitData<F, Config, D> {
        self.last.data()
    }
}

/// Checks a final proof against the reference model's public inputs and its circuit.
pub(crate) fn check_final(
    last: &CircuitData<F, Config, D>,
    proof: &Proof,
    prepared: &Prepared,
) -> Result<(), EpochProverError> {
    if proof.public_inputs != prepared.expected {
        return Err(EpochProverError::Internal(
            "the final proof's public inputs differ from the reference model's".into(),
        ));
    }
    last.verify(proof.clone())
        .map_err(|e| EpochProverError::Internal(format!("the final proof does not verify: {e:#}")))
}

/// The shrink layer over a checked final proof (unless `cancel` is set first), checked,
/// and the bundle of `shape` written into `out`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn shrink_into(
    shrink: &ShrinkCircuit,
    shape: &AggregationShape,
    prepared: &Prepared,
    final_proof: &Proof,
    clock: &ProvingClock,
    out: &Path,
    cancel: &AtomicBool,
    progress: Progress<'_>,
) -> Result<BundleManifest, EpochProverError> {
    stop_if_cancelled(cancel)?;
    let shrink_start = Instant::now();
    let proof = unpanicked(|| {
        shrink
            .prove(final_proof)
            .map_err(proving("the shrink layer"))
    })?;
    let prove_seconds = clock.proving_seconds();
    let proof_bytes = proof.to_bytes();
    progress(&AggregationStage::Shrunk {
        seconds: shrink_start.elapsed().as_secs_f64(),
        proof_bytes: proof_bytes.len(),
    });
    if proof.public_inputs != prepared.expected {
        return Err(EpochProverError::Internal(
            "the shrink proof's public inputs differ from the final proof's".into(),
        ));
    }
    shrink.data.verify(proof).map_err(|e| {
        EpochProverError::Internal(format!("the shrink proof does not verify: {e:#}"))
    })?;

    let verifier_bytes = verifier_data_bytes(&shrink.data.verifier_data())?;
    let manifest = BundleManifest {
        version: BUNDLE_VERSION,
        backend: "plonky2".into(),
        shape: shape.bundle_shape(),
        verifying_key_digest: verifying_key_digest(&verifier_bytes),
        proof_file: "proof.bin".into(),
        verifying_key_file: "verifier.bin".into(),
        public_inputs: PublicStatement::from_report(&prepared.report),
        payouts: prepared.report.clone(),
        prove_seconds,
        halo2: None,
    };
    let write = |name: &str, bytes: &[u8]| {
        let path = out.join(name);
        std::fs::write(&path, bytes).map_err(|source| EpochProverError::Write {
            path: path.display().to_string(),
            source,
        })
    };
    std::fs::create_dir_all(out).map_err(|source| EpochProverError::Write {
        path: out.display().to_string(),
        source,
    })?;
    let json = serde_json::to_string_pretty(&manifest)
        .map_err(|e| EpochProverError::Internal(format!("bundle.json: {e}")))?;
    write(&manifest.proof_file, &proof_bytes)?;
    write(&manifest.verifying_key_file, &verifier_bytes)?;
    write(MANIFEST, (json + "\n").as_bytes())?;
    Ok(manifest)
}

/// The `chunks` chunk proofs of the payout list in list order, under the root summary's
/// challenges: one per chunk holding payees, in parallel, and one proof of the empty chunk
/// standing for every chunk after the list (their public inputs are identical). A chunk proof
/// kept in `resume.checkpoints` is used if it verifies and carries exactly this chunk's
/// summary; every proof made is kept there.
pub(crate) fn prove_chunks(
    chunk: &ChunkCircuit,
    chunks: usize,
    root: &Proof,
    payees: &[ListedPayee],
    resume: Resume<'_>,
    progress: Progress<'_>,
) -> Result<Vec<Proof>, EpochProverError> {
    use rayon::prelude::*;
    let challenges = root
        .public_inputs
        .get(BatchSummary::CHALLENGES_AT..BatchSummary::CHALLENGES_AT + 4)
        .and_then(|fields| <[F; 4]>::try_from(fields).ok())
        .map(Challenges::from_fields)
        .ok_or_else(|| EpochProverError::Internal("a root proof without challenges".into()))?;
    let split = chunk_list(
        challenges,
        chunk.capacity().trailing_zeros(),
        chunks,
        payees,
    )
    .map_err(|e| EpochProverError::Internal(format!("splitting the payout list: {e}")))?;
    // Chunks with payees, then the first empty one if the list leaves any.
    let distinct = split
        .iter()
        .position(|c| c.n_payees == 0)
        .map_or(chunks, |first_empty| first_empty + 1);
    let done = AtomicUsize::new(0);
    let mut proofs: Vec<Proof> = split[..distinct]
        .par_iter()
        .enumerate()
        .map(|(index, summary)| {
            let node = CheckpointNode::Chunk { index };
            let expected = summary.to_fields();
            // The summary is the epoch's own, computed natively: a kept proof that verifies
            // with exactly these public inputs is this chunk's.
            let kept = resume.checkpoints.load(node).and_then(|bytes| {
                catch_unwind(AssertUnwindSafe(|| {
                    Proof::from_bytes(bytes, &chunk.data.common)
                        .ok()
                        .filter(|p| p.public_inputs == expected)
                        .filter(|p| chunk.data.verify(p.clone()).is_ok())
                }))
                .ok()
                .flatten()
            });
            if let Some(proof) = kept {
                progress(&AggregationStage::ChunkRestored {
                    index,
                    done: done.fetch_add(1, Ordering::Relaxed) + 1,
                    total: distinct,
                });
                return Ok(proof);
            }
            stop_if_cancelled(resume.cancel)?;
            let start = Instant::now();
            let from = (index * chunk.capacity()).min(payees.len());
            let to = (from + chunk.capacity()).min(payees.len());
            let proof = chunk
                .prove(summary, &payees[from..to])
                .map_err(proving(format!("payout-list chunk {index}")))?;
            // Else no resumed run could ever use it (and the final layer would refuse it).
            if proof.public_inputs != expected {
                return Err(EpochProverError::Internal(format!(
                    "payout-list chunk {index}: the proof's public inputs differ from the native summary"
                )));
            }
            keep(resume.checkpoints, node, &proof, progress);
            progress(&AggregationStage::Chunk {
                index,
                payees: summary.n_payees,
                done: done.fetch_add(1, Ordering::Relaxed) + 1,
                total: distinct,
                seconds: start.elapsed().as_secs_f64(),
            });
            Ok(proof)
        })
        .collect::<Result<_, EpochProverError>>()?;
    if distinct < chunks {
        // The last proof is the empty chunk's.
        let empty = proofs[distinct - 1].clone();
        proofs.resize(chunks, empty);
    }
    Ok(proofs)
}

/// Verifier data as bundles carry it, read back by the verifier's gate serializer.
pub(crate) fn verifier_data_bytes(
    data: &VerifierCircuitData<F, Config, D>,
) -> Result<Vec<u8>, EpochProverError> {
    data.to_bytes(&AttributionGateSerializer)
        .map_err(|e| EpochProverError::Internal(format!("serialising the verifier data: {e:?}")))
}

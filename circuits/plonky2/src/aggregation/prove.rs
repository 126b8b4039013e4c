//! The pipeline's entry point (docs/aggregation.md): [`prove_epoch`] proves an epoch of any
//! size as batch proofs merged by recursion ([`super::tree`]), then the layers over the root
//! ([`super::last_layers`]), and writes the bundle `zkattr-verify verify DIR` checks against
//! the shrink layer's pinned key digest.

use super::checkpoint::{checkpoint_identity, CheckpointDir, NoCheckpoints, Resume};
use super::error::{stop_if_cancelled, unpanicked, EpochProverError};
use super::last_layers::{
    build_chunk_circuit, build_shrink_circuit, check_final, prove_chunks, shrink_into,
    verifier_data_bytes, FinalLayer, LastCircuit,
};
use super::layout::{check_total_paid, AggregationShape};
use super::native::{listed_payees, listed_slot_counts, Challenges, ListedPayee};
use super::progress::{AggregationStage, Progress, ProvingClock};
use super::shrink::ShrinkCircuit;
use super::tree::TreeCircuits;
use super::Proof;
use crate::native::F;
use crate::prover::{verifying_key_digest, Config};
use crate::statement::{StatementPublicInputs, D};
use crate::GoldilocksFamily;
use plonky2::plonk::circuit_data::VerifierCircuitData;
use std::fmt;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;
use zkattr_model::bundle::BundleManifest;
use zkattr_model::{payout_report, Epoch, PayoutReport};

/// Every circuit of one [`AggregationShape`], built once and reused for every batch and merge
/// (and for further epochs of the same shape). A one-shot run that need not keep them proves
/// with [`Circuits::Staged`] instead, which holds one stage's circuits at a time.
#[derive(Debug)]
pub struct AggregationCircuits {
    pub shape: AggregationShape,
    pub tree: TreeCircuits,
    pub last: FinalLayer,
    /// The shrink layer over the final proof; its proof and key are the bundle's.
    pub shrink: ShrinkCircuit,
}

/// The circuits a run of [`prove_epoch`] proves with.
#[derive(Clone, Copy, Debug)]
pub enum Circuits<'a> {
    /// Built beforehand and kept: for a caller that proves several epochs of one layout.
    Built(&'a AggregationCircuits),
    /// The circuits of this layout held one stage at a time: the batch and merge circuits while
    /// the tree proves, then the chunk circuit while the chunk proofs do, then the final
    /// circuit, then the shrink layer. Each is built when its stage begins and dropped, all but
    /// its verifier data, when the stage ends; so the peak is the largest stage's, not the sum
    /// of every circuit's (at 2^20 payees the circuits alone hold 12 GB). Every circuit is still
    /// built once and the bundle is the same. The bundle's proving time leaves out the builds.
    Staged(AggregationShape),
}

impl<'a> From<&'a AggregationCircuits> for Circuits<'a> {
    fn from(circuits: &'a AggregationCircuits) -> Self {
        Circuits::Built(circuits)
    }
}

impl From<AggregationShape> for Circuits<'_> {
    fn from(shape: AggregationShape) -> Self {
        Circuits::Staged(shape)
    }
}

/// How a run of [`prove_epoch`] goes: where it keeps its finished proofs, what stops it, and
/// where it reports.
#[derive(Clone, Copy)]
pub struct ProveOptions<'a> {
    /// The folder to keep batch, merge and chunk proofs in (see [`CheckpointDir`]): run again
    /// after an interruption with the same folder, a run proves only what the earlier run had
    /// not finished. The folder is left as it is; the caller clears it
    /// ([`CheckpointDir::clear`]) once the bundle is safe. `None`: nothing is kept.
    pub checkpoints: Option<&'a Path>,
    /// Set to stop the run before its next batch, merge or chunk proof, or its next layer
    /// ([`EpochProverError::Cancelled`]); the proofs in flight finish first.
    pub cancel: &'a AtomicBool,
    /// Told of every stage, from the rayon workers.
    pub progress: Progress<'a>,
}

impl<'a> ProveOptions<'a> {
    /// No checkpoints, never cancelled, each stage reported to `progress`.
    pub fn new(progress: Progress<'a>) -> Self {
        static NEVER: AtomicBool = AtomicBool::new(false);
        ProveOptions {
            checkpoints: None,
            cancel: &NEVER,
            progress,
        }
    }
}

impl fmt::Debug for ProveOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProveOptions")
            .field("checkpoints", &self.checkpoints)
            .field("cancel", &self.cancel)
            .finish_non_exhaustive()
    }
}

/// Proves `epoch` with `circuits` (kept, or built stage by stage) and writes its bundle into
/// `out`: `bundle.json`, `proof.bin` (the shrink layer's proof) and `verifier.bin` (its verifier
/// data; nothing of the prover). Refuses an epoch of another layout before any circuit is built.
pub fn prove_epoch<'a>(
    circuits: impl Into<Circuits<'a>>,
    epoch: &Epoch,
    out: &Path,
    options: &ProveOptions<'_>,
) -> Result<BundleManifest, EpochProverError> {
    let circuits = circuits.into();
    let shape = match circuits {
        Circuits::Built(built) => built.shape,
        Circuits::Staged(shape) => {
            shape.check()?;
            shape
        }
    };
    let (prepared, folder) = start_run(&shape, epoch, out, options.checkpoints)?;
    let resume = Resume {
        checkpoints: folder.as_ref().map_or(&NoCheckpoints, |f| f),
        cancel: options.cancel,
    };
    match circuits {
        Circuits::Built(built) => {
            let start = Instant::now();
            let root =
                built
                    .tree
                    .prove_root(epoch, prepared.challenges, resume, options.progress)?;
            built.finish(&prepared, &root, start, out, resume, options.progress)
        }
        Circuits::Staged(shape) => {
            prove_staged(shape, epoch, &prepared, out, resume, options.progress)
        }
    }
}

/// [`prove_epoch`] with [`Circuits::Staged`], after the native pass.
fn prove_staged(
    shape: AggregationShape,
    epoch: &Epoch,
    prepared: &Prepared,
    out: &Path,
    resume: Resume<'_>,
    progress: Progress<'_>,
) -> Result<BundleManifest, EpochProverError> {
    let cancel = resume.cancel;
    stop_if_cancelled(cancel)?;
    progress(&AggregationStage::Building { shape: shape.key() });
    let tree = TreeCircuits::build(shape, progress);
    let mut clock = ProvingClock::from(Instant::now());
    let root = tree.prove_root(epoch, prepared.challenges, resume, progress)?;
    let root_data = tree.root_verifier_data();
    drop(tree);

    let (chunk_data, chunk_proofs) = match shape.chunk_height.zip(shape.chunk_count()) {
        None => (None, Vec::new()),
        Some((height, chunks)) => {
            stop_if_cancelled(cancel)?;
            let chunk = clock.building(|| build_chunk_circuit(height, progress));
            let proofs = unpanicked(|| {
                prove_chunks(&chunk, chunks, &root, &prepared.payees, resume, progress)
            })?;
            (Some(chunk.data.verifier_data()), proofs)
        }
    };

    stop_if_cancelled(cancel)?;
    let over_chunks = chunk_data.as_ref().zip(shape.chunk_height);
    let last = clock.building(|| LastCircuit::build(&root_data, &shape, over_chunks, progress));
    let final_proof =
        unpanicked(|| last.prove(&root, &prepared.payees, &chunk_proofs, cancel, progress))?;
    drop(chunk_proofs);
    check_final(last.data(), &final_proof, prepared)?;
    let final_data = last.data().verifier_data();
    drop(last);

    stop_if_cancelled(cancel)?;
    let shrink = clock.building(|| build_shrink_circuit(&final_data, progress));
    shrink_into(
        &shrink,
        &shape,
        prepared,
        &final_proof,
        &clock,
        out,
        cancel,
        progress,
    )
}

/// What the native pass computes before proving.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The payout table written into the bundle.
    pub report: PayoutReport,
    pub challenges: Challenges,
    /// The payout list with slot counts the final layer witnesses.
    pub payees: Vec<ListedPayee>,
    /// SPEC's public inputs as the reference model computes them.
    pub expected: Vec<F>,
}

impl Prepared {
    /// The native pass before proving: settlement, commitments, payout table, challenges and
    /// the payout list; refuses an epoch `shape` does not fit.
    pub fn new(shape: &AggregationShape, epoch: &Epoch) -> Result<Self, EpochProverError> {
        let (settlement, commitments, report) = payout_report(&GoldilocksFamily, epoch)?;
        check_shape(shape, epoch, settlement.payouts.len())?;
        check_total_paid(settlement.total_paid)?;
        let payees = listed_payees(epoch, &settlement);
        let challenges =
            Challenges::derive(&epoch.params, &commitments, &listed_slot_counts(&payees))?;
        let expected = StatementPublicInputs::new(epoch, &settlement, &commitments).to_fields();
        Ok(Prepared {
            report,
            challenges,
            payees,
            expected,
        })
    }
}

/// Fails unless `epoch` (paying `payees` payees) needs exactly `shape`.
fn check_shape(
    shape: &AggregationShape,
    epoch: &Epoch,
    payees: usize,
) -> Result<(), EpochProverError> {
    let mut needed = AggregationShape::for_epoch(epoch.queries.len(), payees, shape.batch_size())?;
    // A list the final circuit could hold may also be proved in chunks (tests prove small
    // chunked layouts so).
    if needed.chunk_height.is_none() {
        needed.chunk_height = shape.chunk_height;
    }
    if needed != *shape {
        return Err(EpochProverError::ShapeMismatch {
            needed: needed.key(),
            built: shape.key(),
        });
    }
    Ok(())
}

/// The start of a run of `shape` writing its bundle into `out`: the checkpoint folder's place
/// checked (not inside the bundle folder nor around it: clearing one would take the other),
/// then the native pass, then the folder opened under the run's identity.
fn start_run(
    shape: &AggregationShape,
    epoch: &Epoch,
    out: &Path,
    checkpoints: Option<&Path>,
) -> Result<(Prepared, Option<CheckpointDir>), EpochProverError> {
    let folder_error = |dir: &Path| {
        let path = dir.display().to_string();
        move |source| EpochProverError::CheckpointDir { path, source }
    };
    if let Some(dir) = checkpoints.filter(|dir| out.starts_with(dir) || dir.starts_with(out)) {
        return Err(folder_error(dir)(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "the bundle folder {} must lie outside it (and it outside the bundle folder)",
                out.display()
            ),
        )));
    }
    let prepared = Prepared::new(shape, epoch)?;
    let folder = match checkpoints {
        Some(dir) => {
            let identity = checkpoint_identity(shape, &prepared);
            let (folder, _kept) = CheckpointDir::open(dir, &identity).map_err(folder_error(dir))?;
            Some(folder)
        }
        None => None,
    };
    Ok((prepared, folder))
}

impl AggregationCircuits {
    /// Key generation for all circuits of `shape`, reporting each as it is ready. Refuses a
    /// shape [`AggregationShape::for_epoch`] would never pick.
    pub fn build(
        shape: AggregationShape,
        progress: Progress<'_>,
    ) -> Result<Self, EpochProverError> {
        shape.check()?;
        progress(&AggregationStage::Building { shape: shape.key() });
        let tree = TreeCircuits::build(shape, progress);
        let last = FinalLayer::build(&tree.root_verifier_data(), &shape, progress);
        let shrink = build_shrink_circuit(&last.data().verifier_data(), progress);
        Ok(AggregationCircuits {
            shape,
            tree,
            last,
            shrink,
        })
    }

    /// The shrink layer's verifier data: all a verifier needs (it pins the final circuit,
    /// which pins every circuit below).
    pub fn verifier_data(&self) -> VerifierCircuitData<F, Config, D> {
        self.shrink.data.verifier_data()
    }

    /// The serialised verifying key written into bundles (`verifier.bin`).
    pub fn verifying_key_bytes(&self) -> Result<Vec<u8>, EpochProverError> {
        verifier_data_bytes(&self.verifier_data())
    }

    /// The digest pinned in `params/plonky2_vk_digests.json` under [`AggregationShape::key`].
    pub fn digest_hex(&self) -> Result<String, EpochProverError> {
        Ok(verifying_key_digest(&self.verifying_key_bytes()?))
    }

    /// The final proof over the root proof and the payout list with slot counts (proved in
    /// chunk proofs first when the shape says so). Chunk proofs are kept in
    /// `resume.checkpoints` and the ones an earlier run kept are taken; `resume.cancel` stops
    /// it before its next chunk proof or the final layer.
    pub fn prove_final(
        &self,
        root: &Proof,
        payees: &[ListedPayee],
        resume: Resume<'_>,
        progress: Progress<'_>,
    ) -> Result<Proof, EpochProverError> {
        unpanicked(|| {
            let chunk_proofs = match (&self.last.chunk, self.shape.chunk_count()) {
                (Some(chunk), Some(chunks)) => {
                    prove_chunks(chunk, chunks, root, payees, resume, progress)?
                }
                (None, None) => Vec::new(),
                _ => {
                    return Err(EpochProverError::Internal(format!(
                        "the chunk circuit does not match the layout {}",
                        self.shape.key()
                    )))
                }
            };
            self.last
                .last
                .prove(root, payees, &chunk_proofs, resume.cancel, progress)
        })
    }

    /// [`checkpoint_identity`] of a run of these circuits.
    pub fn checkpoint_identity(&self, prepared: &Prepared) -> String {
        checkpoint_identity(&self.shape, prepared)
    }

    /// [`Prepared::new`] for these circuits' shape.
    pub fn prepare(&self, epoch: &Epoch) -> Result<Prepared, EpochProverError> {
        Prepared::new(&self.shape, epoch)
    }

    /// The final layer over `root` (from [`TreeCircuits::prove_root`], started at `start`),
    /// checked against the reference model, and the bundle written into `out`. Chunk proofs are
    /// kept in and taken from `resume.checkpoints`; `resume.cancel` stops the run before its
    /// next chunk proof or layer.
    pub fn finish(
        &self,
        prepared: &Prepared,
        root: &Proof,
        start: Instant,
        out: &Path,
        resume: Resume<'_>,
        progress: Progress<'_>,
    ) -> Result<BundleManifest, EpochProverError> {
        let proof = self.prove_final(root, &prepared.payees, resume, progress)?;
        check_final(self.last.data(), &proof, prepared)?;
        shrink_into(
            &self.shrink,
            &self.shape,
            prepared,
            &proof,
            &ProvingClock::from(start),
            out,
            resume.cancel,
            progress,
        )
    }
}

//! Tree proving: the batch proofs of an epoch (in parallel with rayon), merged pairwise by
//! recursion as soon as both children exist, up to the proof of the root summary. Each node's
//! proof is kept as a checkpoint and taken from one on a resumed run.
//!
//! Memory: the epoch is held once; each batch's witness lives only while its proof is made,
//! and the depth-first merge order keeps at most about `levels` proofs per worker waiting.

use super::checkpoint::{keep, CheckpointNode, Checkpoints, Resume};
use super::error::{proving, stop_if_cancelled, unpanicked, EpochProverError};
use super::layout::AggregationShape;
use super::merge::MergeCircuit;
use super::native::{BatchSummary, Challenges};
use super::progress::{report_built, AggregationStage, Progress};
use super::Proof;
use crate::aggregation::batch::BatchCircuit;
use crate::native::F;
use crate::prover::Config;
use crate::statement::D;
use plonky2::plonk::circuit_data::VerifierCircuitData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;
use zkattr_model::Epoch;

/// The circuits under the root summary: the batch circuit and one merge circuit per level.
#[derive(Debug)]
pub struct TreeCircuits {
    pub shape: AggregationShape,
    pub batch: BatchCircuit,
    /// `merges[l]` merges two proofs of level `l` (0: batches) into level `l + 1`.
    pub merges: Vec<MergeCircuit>,
}

/// Inputs shared by every node of one epoch's tree.
struct Run<'a> {
    epoch: &'a Epoch,
    challenges: Challenges,
    batches: usize,
    merges: usize,
    batches_done: AtomicUsize,
    merges_done: AtomicUsize,
    /// Batches proved by this run (not restored), and when it began: its pace. Counted under
    /// the lock together with `batches_done`, so two batches finishing at once see distinct
    /// pairs.
    batches_proved: Mutex<usize>,
    started: Instant,
    checkpoints: &'a dyn Checkpoints,
    /// Set by the caller to stop before the next node.
    cancel: &'a AtomicBool,
    progress: Progress<'a>,
}

impl Run<'_> {
    /// Batches and merges (the node's own included) under the node at (`level`, `index`); nodes
    /// wholly right of the last batch do not exist.
    fn nodes_under(&self, level: u32, index: u64) -> (usize, usize) {
        let exists = |l: u32, i: u64| (i << l) < self.batches as u64;
        let count = |l: u32| {
            let first = index << (level - l);
            let end = (index + 1) << (level - l);
            (first..end).take_while(|&i| exists(l, i)).count()
        };
        let merges = (1..=level).map(count).sum();
        (count(0), merges)
    }
}

impl TreeCircuits {
    /// Key generation for the batch circuit and every merge level of `shape` (checked by the
    /// caller), reporting each as it is ready.
    pub(crate) fn build(shape: AggregationShape, progress: Progress<'_>) -> Self {
        let start = Instant::now();
        let batch = BatchCircuit::build(shape.batch_height);
        report_built(
            progress,
            format!("batch ({} queries)", shape.batch_size()),
            &batch.data,
            start,
        );
        let mut merges: Vec<MergeCircuit> = Vec::with_capacity(shape.levels as usize);
        for level in 0..shape.levels {
            let start = Instant::now();
            let child = merges
                .last()
                .map_or_else(|| batch.data.verifier_data(), |m| m.data.verifier_data());
            let merge = MergeCircuit::build(&child, shape.batch_height + level);
            report_built(
                progress,
                format!("merge level {}", level + 1),
                &merge.data,
                start,
            );
            merges.push(merge);
        }
        TreeCircuits {
            shape,
            batch,
            merges,
        }
    }

    /// The verifier data of the root proof's circuit (the top merge level, or the batch
    /// circuit if there is none): what the final layer is built over.
    pub fn root_verifier_data(&self) -> VerifierCircuitData<F, Config, D> {
        self.merges.last().map_or_else(
            || self.batch.data.verifier_data(),
            |m| m.data.verifier_data(),
        )
    }

    /// Proves every batch and merge of `epoch` under `challenges`: the proof of the root
    /// summary (height `batch_height + levels`, index 0). Every batch and merge proof is kept
    /// in `resume.checkpoints`, and the ones an earlier run of the same epoch kept are taken
    /// instead of proved again ([`Resume::none`]: none). Setting `resume.cancel` stops the run
    /// before its next batch or merge ([`EpochProverError::Cancelled`]).
    pub fn prove_root(
        &self,
        epoch: &Epoch,
        challenges: Challenges,
        resume: Resume<'_>,
        progress: Progress<'_>,
    ) -> Result<Proof, EpochProverError> {
        let batches = self.shape.batch_count(epoch.queries.len());
        if batches > 1 << self.shape.levels {
            return Err(EpochProverError::ShapeMismatch {
                needed: AggregationShape::for_epoch(
                    epoch.queries.len(),
                    0,
                    self.shape.batch_size(),
                )?
                .key(),
                built: self.shape.key(),
            });
        }
        let merges = self.shape.merge_count(epoch.queries.len());
        let run = Run {
            epoch,
            challenges,
            batches,
            merges,
            batches_done: AtomicUsize::new(0),
            merges_done: AtomicUsize::new(0),
            batches_proved: Mutex::new(0),
            started: Instant::now(),
            checkpoints: resume.checkpoints,
            cancel: resume.cancel,
            progress,
        };
        unpanicked(|| self.prove_node(&run, self.shape.levels, 0))
    }

    /// The proof of the subtree at (`level`, `index`); its children in parallel.
    fn prove_node(&self, run: &Run<'_>, level: u32, index: u64) -> Result<Proof, EpochProverError> {
        if let Some(proof) = self.restore(run, level, index) {
            let (batches, merges) = run.nodes_under(level, index);
            run.batches_done.fetch_add(batches, Ordering::Relaxed);
            run.merges_done.fetch_add(merges, Ordering::Relaxed);
            (run.progress)(&AggregationStage::Restored {
                level,
                index,
                batches,
                merges,
            });
            return Ok(proof);
        }
        stop_if_cancelled(run.cancel)?;
        let (proof, stage) = self.prove_fresh(run, level, index)?;
        // Saved before it is reported: whoever sees the report finds the proof on disk.
        keep(
            run.checkpoints,
            CheckpointNode::Tree { level, index },
            &proof,
            run.progress,
        );
        (run.progress)(&stage);
        Ok(proof)
    }
    /// The checkpointed proof of (`level`, `index`) if there is one and it is this node's of
    /// this epoch: it parses under the node's circuit, names this epoch's parameters, this
    /// height, index and challenges, and verifies.
    fn restore(&self, run: &Run<'_>, level: u32, index: u64) -> Option<Proof> {
        let bytes = run
            .checkpoints
            .load(CheckpointNode::Tree { level, index })?;
        // A malformed file that makes the parser panic is no checkpoint either.
        catch_unwind(AssertUnwindSafe(|| {
            self.check_restored(run, level, index, bytes)
        }))
        .ok()
        .flatten()
    }

    fn check_restored(
        &self,
        run: &Run<'_>,
        level: u32,
        index: u64,
        bytes: Vec<u8>,
    ) -> Option<Proof> {
        let data = match level {
            0 => &self.batch.data,
            l => &self.merges.get(l as usize - 1)?.data,
        };
        let proof = Proof::from_bytes(bytes, &data.common).ok()?;
        // Parameters, height and index lead every summary at this position, the challenges
        // follow at CHALLENGES_AT; the rest depends on the batch's records.
        let here = BatchSummary::empty(
            run.epoch.params,
            run.challenges,
            self.shape.batch_height + level,
            index,
        )
        .to_fields();
        let (head, at) = (BatchSummary::NODE_NAME_LEN, BatchSummary::CHALLENGES_AT);
        let pis = &proof.public_inputs;
        let names_this_node = pis.len() == BatchSummary::LEN
            && pis[..head] == here[..head]
            && pis[at..at + 4] == here[at..at + 4];
        (names_this_node && data.verify(proof.clone()).is_ok()).then_some(proof)
    }

    /// Proves the node at (`level`, `index`): a batch, or a merge over its children; with the
    /// stage that reports it.
    fn prove_fresh(
        &self,
        run: &Run<'_>,
        level: u32,
        index: u64,
    ) -> Result<(Proof, AggregationStage), EpochProverError> {
        let start = Instant::now();
        if level == 0 {
            let size = self.shape.batch_size();
            let queries = &run.epoch.queries;
            let from = (index as usize * size).min(queries.len());
            let to = (from + size).min(queries.len());
            let proof = self
                .batch
                .prove(run.epoch.params, run.challenges, index, &queries[from..to])
                .map_err(proving(format!("batch {index}")))?;
            let (done, proved) = {
                let mut proved = run.batches_proved.lock().unwrap_or_else(|e| e.into_inner());
                *proved += 1;
                (
                    run.batches_done.fetch_add(1, Ordering::Relaxed) + 1,
                    *proved,
                )
            };
            let remaining = run.batches.saturating_sub(done);
            // Wall time over batches proved: parallel batches and the merges between them are
            // in the pace; restored ones are not (they cost next to nothing).
            let left = (proved >= 2 && remaining > 0)
                .then(|| run.started.elapsed().as_secs_f64() * remaining as f64 / proved as f64);
            let stage = AggregationStage::Batch {
                index,
                done,
                total: run.batches,
                seconds: start.elapsed().as_secs_f64(),
                left,
            };
            return Ok((proof, stage));
        }
        let merge = &self.merges[level as usize - 1];
        // The right child holds batches from this one on; beyond the last, it is padding.
        let right_first_batch = (2 * index + 1) << (level - 1);
        let children = if right_first_batch >= run.batches as u64 {
            (self.prove_node(run, level - 1, 2 * index)?, None)
        } else {
            let (left, right) = rayon::join(
                || self.prove_node(run, level - 1, 2 * index),
                || self.prove_node(run, level - 1, 2 * index + 1),
            );
            (left?, Some(right?))
        };
        // The merge's own time, not its subtree's.
        let start = Instant::now();
        let proof = match &children {
            (left, None) => merge.prove_with_empty_right(left),
            (left, Some(right)) => merge.prove(left, right),
        }
        .map_err(proving(format!("merge {index} at level {level}")))?;
        drop(children);
        let done = run.merges_done.fetch_add(1, Ordering::Relaxed) + 1;
        let stage = AggregationStage::Merge {
            level,
            index,
            done,
            total: run.merges,
            seconds: start.elapsed().as_secs_f64(),
        };
        Ok((proof, stage))
    }
}

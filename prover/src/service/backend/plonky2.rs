//! The plonky2 backend: one circuit of the ladder while one holds the epoch, else the
//! aggregation pipeline.

use super::cache::{AggregationCache, CachePolicy, CircuitCache};
use super::key_locks::KeyLocks;
use super::shape_keys::{parse_ladder_shape, shape_key};
use super::{BackendError, BackendKind, Plan, ProveProgress, ProvingBackend, VerifyingKey};
use crate::service::artifacts::Artifacts;
use std::path::Path;
use std::sync::Arc;
use zkattr_model::bundle::BundleManifest;
use zkattr_model::{Epoch, Settlement};
use zkattr_plonky2::aggregation::{
    check_total_paid, prove_epoch, staged_verifying_key_bytes, AggregationShape, AggregationStage,
    Circuits, ProveOptions, DEFAULT_BATCH_CAP,
};
use zkattr_plonky2::prover::{shape_for, StatementCircuit, SHAPE_LADDER};
use zkattr_plonky2::statement::StatementShape;
use zkattr_verifier::bundle::{pinned_plonky2_digest, verifying_key_digest};

/// Whether the service keeps a layout's circuits for its next job: only when the final
/// circuit holds the payout list itself. A chunked list's circuits hold several gigabytes
/// (12.1 GB at 2^20 payees, measured), so those jobs build each circuit when their stage
/// begins and drop it when it ends ([`Circuits::Staged`]; at 2^20 payees the peak falls from
/// 21.2 GB with every circuit held to 17.6 GB), and their key requests keep nothing either. The
/// price is building them again for each job: 172 s of a 50-minute job at 2^20 payees, 66 s of
/// a 6-minute one at 65,536.
pub(super) fn kept_between_jobs(shape: &AggregationShape) -> bool {
    shape.chunk_height.is_none()
}

#[derive(Debug)]
pub(super) struct Plonky2Backend {
    artifacts: Arc<Artifacts>,
    cache: Arc<CircuitCache>,
    /// `Some`: aggregate every epoch in batches of at most this many queries.
    batch_size: Option<usize>,
    aggregation: AggregationCache,
    /// One per key, held while a `GetVerifyingKey` builds a key that is not stored yet.
    key_building: KeyLocks,
}

/// How the plonky2 backend proves an epoch.
enum Plonky2Route {
    Single(StatementShape),
    Aggregated(AggregationShape),
}

impl Plonky2Backend {
    /// `batch_size`: `Some` to aggregate every epoch in batches of at most this many queries.
    pub(super) fn new(
        artifacts: Arc<Artifacts>,
        cache: Arc<CircuitCache>,
        batch_size: Option<usize>,
    ) -> Self {
        Plonky2Backend {
            artifacts,
            cache,
            batch_size,
            aggregation: AggregationCache::default(),
            key_building: KeyLocks::default(),
        }
    }

    fn parse_shape(&self, key: &str) -> Result<StatementShape, BackendError> {
        let capacity = parse_ladder_shape("plonky2", key, &SHAPE_LADDER).map_err(|e| match e {
            BackendError::UnknownShape(m) => BackendError::UnknownShape(format!(
                "{m}, or an aggregation layout such as agg-b2048-t6-p4096"
            )),
            e => e,
        })?;
        StatementShape::new(capacity, capacity)
            .map_err(|e| BackendError::UnknownShape(format!("{e:#}")))
    }

    /// One circuit while one holds the epoch (and no batch size is set), else aggregation.
    fn route(&self, queries: usize, payees: usize) -> Result<Plonky2Route, BackendError> {
        if self.batch_size.is_none() {
            if let Ok(shape) = shape_for(queries, payees) {
                return Ok(Plonky2Route::Single(shape));
            }
        }
        AggregationShape::for_epoch(
            queries,
            payees,
            self.batch_size.unwrap_or(DEFAULT_BATCH_CAP),
        )
        .map(Plonky2Route::Aggregated)
        .map_err(|e| BackendError::TooLarge(e.to_string()))
    }

    fn circuit(
        &self,
        shape: StatementShape,
        progress: &mut dyn FnMut(ProveProgress<'_>) -> bool,
    ) -> Arc<StatementCircuit> {
        self.cache.get(shape, || {
            progress(ProveProgress::single(&format!(
                "building the {} circuit",
                shape_key(shape)
            )));
        })
    }

    /// Batches, merges and the last layers on the rayon pool; their reports come back over a
    /// channel, so `progress` runs on this thread only.
    fn prove_aggregated(
        &self,
        shape: AggregationShape,
        epoch: &Epoch,
        out: &Path,
        checkpoints: &Path,
        progress: &mut dyn FnMut(ProveProgress<'_>) -> bool,
    ) -> Result<BundleManifest, BackendError> {
        let batches = u32::try_from(shape.batch_count(epoch.queries.len())).unwrap_or(u32::MAX);
        let (sender, receiver) = std::sync::mpsc::channel::<AggregationStage>();
        let cancel = std::sync::atomic::AtomicBool::new(false);
        let cancel = &cancel;
        std::thread::scope(|scope| {
            let pipeline = scope.spawn(move || {
                let report = |stage: &AggregationStage| {
                    let _ = sender.send(stage.clone());
                };
                let options = ProveOptions {
                    checkpoints: Some(checkpoints),
                    cancel,
                    progress: &report,
                };
                let proved = if kept_between_jobs(&shape) {
                    let circuits = self.aggregation.get(shape, CachePolicy::Replace, &report)?;
                    prove_epoch(circuits.as_ref(), epoch, out, &options)
                } else {
                    self.aggregation.release();
                    prove_epoch(Circuits::Staged(shape), epoch, out, &options)
                };
                proved.map_err(|e| BackendError::Failed(e.into()))
            });
            // Ends when the pipeline drops its sender.
            let mut done = 0u32;
            for stage in receiver {
                match &stage {
                    AggregationStage::Batch { .. } => done += 1,
                    AggregationStage::Restored { batches, .. } => {
                        done += u32::try_from(*batches).unwrap_or(u32::MAX)
                    }
                    _ => {}
                }
                let done = done.min(batches);
                // Past the last batch; circuits built for later stages do not undo it.
                let aggregating = done == batches;
                let go_on = progress(ProveProgress {
                    message: &stage.to_string(),
                    batches_done: done,
                    batches,
                    aggregating,
                });
                if !go_on {
                    cancel.store(true, std::sync::atomic::Ordering::Relaxed);
                }
            }
            // A panic goes on to the worker, which fails the job with its message.
            pipeline
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }
}

impl ProvingBackend for Plonky2Backend {
    fn kind(&self) -> BackendKind {
        BackendKind::Plonky2
    }

    fn plan(&self, epoch: &Epoch, settlement: &Settlement) -> Result<Plan, BackendError> {
        Ok(
            match self.route(epoch.queries.len(), settlement.payouts.len())? {
                Plonky2Route::Single(shape) => Plan {
                    shape: shape_key(shape),
                    batches: 1,
                },
                Plonky2Route::Aggregated(shape) => {
                    check_total_paid(settlement.total_paid)
                        .map_err(|e| BackendError::TooLarge(e.to_string()))?;
                    Plan {
                        shape: shape.key(),
                        batches: u32::try_from(shape.batch_count(epoch.queries.len()))
                            .unwrap_or(u32::MAX),
                    }
                }
            },
        )
    }

    fn prove(
        &self,
        epoch: &Epoch,
        payees: usize,
        out: &Path,
        checkpoints: &Path,
        progress: &mut dyn FnMut(ProveProgress<'_>) -> bool,
    ) -> Result<BundleManifest, BackendError> {
        match self.route(epoch.queries.len(), payees)? {
            Plonky2Route::Single(shape) => {
                let circuit = self.circuit(shape, progress);
                circuit
                    .prove_into(epoch, out, |line| {
                        progress(ProveProgress::single(line));
                    })
                    .map_err(BackendError::Failed)
            }
            Plonky2Route::Aggregated(shape) => {
                self.prove_aggregated(shape, epoch, out, checkpoints, progress)
            }
        }
    }

    fn verifying_key(&self, key: &str) -> Result<VerifyingKey, BackendError> {
        let cap = self.batch_size.unwrap_or(DEFAULT_BATCH_CAP);
        let route = match key.parse::<AggregationShape>() {
            // Building is bounded by the service's own batch size, as for its jobs.
            Ok(layout) if layout.batch_size() > cap => {
                return Err(BackendError::UnknownShape(format!(
                    "{key}: this service proves batches of at most {cap} queries (--batch-size)"
                )))
            }
            Ok(layout) => Plonky2Route::Aggregated(layout),
            Err(_) => Plonky2Route::Single(self.parse_shape(key)?),
        };
        let key = match &route {
            Plonky2Route::Single(shape) => shape_key(*shape),
            Plonky2Route::Aggregated(layout) => layout.key(),
        };
        let build = || match route {
            Plonky2Route::Single(shape) => self
                .circuit(shape, &mut |_| true)
                .verifying_key_bytes()
                .map_err(BackendError::Failed),
            Plonky2Route::Aggregated(layout) if !kept_between_jobs(&layout) => self
                .aggregation
                .alone(|| staged_verifying_key_bytes(layout, &|_| {}))
                .map_err(|e| BackendError::Failed(e.into())),
            Plonky2Route::Aggregated(layout) => self
                .aggregation
                .get(layout, CachePolicy::KeepCached, &|_| {})?
                .verifying_key_bytes()
                .map_err(|e| BackendError::Failed(e.into())),
        };
        let path = self.artifacts.key_path("plonky2", &key);
        let stored = || std::fs::read(&path).ok();
        let bytes = match stored() {
            Some(bytes) => bytes,
            // One build per key at a time, and a request that waited finds the key the one
            // before it stored instead of building the layout again.
            None => self.key_building.with(&key, || match stored() {
                Some(bytes) => Ok(bytes),
                None => {
                    let bytes = build()?;
                    if let Err(e) = self.artifacts.write_atomic(&path, &bytes) {
                        tracing::warn!(path = %path.display(), error = %e, "cannot store the verifying key");
                    }
                    Ok::<_, BackendError>(bytes)
                }
            })?,
        };
        Ok(VerifyingKey {
            digest: verifying_key_digest(&bytes),
            pinned: pinned_plonky2_digest(&key),
            shape: key,
            bytes,
            setup: zkattr_verifier::Setup::Transparent,
        })
    }

    fn shape_for_queries(&self, queries: u64) -> Result<String, BackendError> {
        let queries = usize::try_from(queries).unwrap_or(usize::MAX);
        Ok(match self.route(queries, 0)? {
            Plonky2Route::Single(shape) => shape_key(shape),
            // The payout list's capacity depends on the payees; the smallest is named.
            Plonky2Route::Aggregated(shape) => shape.key(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The service's route for a chunked payout list, end to end on a small layout (real ones
    /// start above 32,768 payees): a job stopped after its first chunk proof and run again
    /// restores its tree and chunks from the checkpoints, builds each circuit in its stage,
    /// proves a bundle the verifier accepts, and leaves nothing cached.
    #[test]
    fn a_chunked_job_is_proved_stage_by_stage_and_resumes_from_its_checkpoints() {
        use zkattr_model::synth::{generate, SynthConfig};
        use zkattr_plonky2::aggregation::EpochProverError;
        let shape: AggregationShape = "agg-b4-t2-p32-c4".parse().unwrap();
        // 12 queries (three batches of 4) paying 17 to 24 adapters: eight chunks of 4.
        let epoch = (0..64)
            .map(|seed| generate(&SynthConfig::new(12, 40, seed)))
            .find(|epoch| {
                let payees = Settlement::compute(epoch).unwrap().payouts.len();
                (17..=24).contains(&payees)
            })
            .expect("an epoch with 17 to 24 payees");
        let scratch = tempfile::tempdir().unwrap();
        let backend = Plonky2Backend::new(
            Arc::new(Artifacts::open(&scratch.path().join("artifacts")).unwrap()),
            Arc::new(CircuitCache::new(1)),
            Some(4),
        );
        let (out, checkpoints) = (scratch.path().join("bundle"), scratch.path().join("ckpt"));
        let is_chunk_proof =
            |m: &str| m.starts_with("payout-list chunk ") && m.contains(" proved in ");
        let batch_proof = |m: &str| m.starts_with("batch ") && m.contains(" proved in ");
        /// A progress report, kept.
        struct Seen {
            message: String,
            batches_done: u32,
            batches: u32,
            aggregating: bool,
        }
        let run = |stop_at_chunk: bool| {
            let mut seen = Vec::new();
            let result = backend.prove_aggregated(shape, &epoch, &out, &checkpoints, &mut |p| {
                seen.push(Seen {
                    message: p.message.to_owned(),
                    batches_done: p.batches_done,
                    batches: p.batches,
                    aggregating: p.aggregating,
                });
                !(stop_at_chunk && is_chunk_proof(p.message))
            });
            (result, seen)
        };

        let (stopped, seen) = run(true);
        match stopped {
            Err(BackendError::Failed(e)) => assert!(
                matches!(e.downcast_ref(), Some(EpochProverError::Cancelled)),
                "{e:#}"
            ),
            other => panic!("not cancelled: {other:?}"),
        }
        let reported: Vec<&str> = seen.iter().map(|s| s.message.as_str()).collect();
        let batches: Vec<_> = seen.iter().filter(|s| batch_proof(&s.message)).collect();
        assert_eq!(batches.len(), 3, "{reported:#?}");
        assert!(batches.iter().all(|s| s.batches == 3));
        // Aggregating from the last batch on, never before it, never back.
        let first_aggregating = seen
            .iter()
            .position(|s| s.aggregating)
            .expect("aggregating");
        assert_eq!(seen[first_aggregating].batches_done, 3);
        assert!(seen[first_aggregating..].iter().all(|s| s.aggregating));
        assert!(seen.iter().any(|s| is_chunk_proof(&s.message)));
        assert!(!out.exists(), "a stopped job wrote a bundle");

        let (manifest, seen) = run(false);
        let manifest = manifest.expect("the resumed job proves");
        let messages: Vec<&str> = seen.iter().map(|s| s.message.as_str()).collect();
        assert!(
            !messages.iter().any(|m| batch_proof(m)),
            "a batch proved again: {messages:#?}"
        );
        let restored_root = messages
            .iter()
            .position(|m| m.starts_with("merge 0 at level 2 restored"))
            .expect("the root restored");
        assert_eq!(seen[restored_root].batches_done, 3);
        // Built when its stage begins: the chunk circuit after the tree, the final after it.
        let built = |name: &str| {
            messages
                .iter()
                .position(|m| m.starts_with(name) && m.contains("circuit ready"))
                .unwrap_or_else(|| panic!("no {name} circuit built: {messages:#?}"))
        };
        assert!(restored_root < built("payout-list chunk"));
        let last_chunk = messages
            .iter()
            .rposition(|m| is_chunk_proof(m))
            .expect("chunks proved after the stop");
        assert!(built("payout-list chunk") < last_chunk && last_chunk < built("final over"));
        let restored_chunks = messages
            .iter()
            .filter(|m| m.starts_with("payout-list chunk ") && m.contains("restored"))
            .count();
        assert!(restored_chunks >= 1, "{messages:#?}");
        let verified =
            zkattr_verifier::bundle::verify_bundle(&out, &zkattr_verifier::VerifyOptions::strict())
                .unwrap();
        assert_eq!(verified.shape, shape.key());
        assert_eq!(manifest.payouts.payouts.len() as u64, verified.n_payees);
        assert!(backend.aggregation.cached(shape).is_none());
    }
}

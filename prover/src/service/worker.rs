//! The proving pool: a fixed number of OS threads, off the async runtime. Each claims the oldest
//! queued job from the store, proves it into a temp folder, renames the bundle into place and
//! records the outcome. Every write names the claim's attempt, so a job cancelled or re-queued
//! meanwhile is never overwritten.

use super::backend::ProveProgress;
use super::store::{JobRecord, JobState, Outcome, Phase, Progress};
use super::{load_epoch, Core, EpochFormat};
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use zkattr_model::bundle::MANIFEST;

/// Wakes idle workers when a job is queued (they also poll, for jobs queued by other processes).
#[derive(Debug, Default)]
pub struct Wake {
    generation: Mutex<u64>,
    cond: Condvar,
}

impl Wake {
    pub fn notify(&self) {
        let mut g = self.generation.lock().unwrap_or_else(|e| e.into_inner());
        *g = g.wrapping_add(1);
        self.cond.notify_all();
    }

    fn generation(&self) -> u64 {
        *self.generation.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until notified after `seen`, or `timeout` passes.
    fn wait(&self, seen: u64, timeout: Duration) {
        let g = self.generation.lock().unwrap_or_else(|e| e.into_inner());
        let _unused = self
            .cond
            .wait_timeout_while(g, timeout, |g| *g == seen)
            .unwrap_or_else(|e| e.into_inner());
    }
}

const POLL: Duration = Duration::from_secs(2);

/// Starts `count` worker threads.
pub fn spawn_workers(core: &Arc<Core>, count: usize) -> std::io::Result<()> {
    for n in 0..count {
        let core = Arc::clone(core);
        std::thread::Builder::new()
            .name(format!("zkattr-worker-{n}"))
            .spawn(move || worker_loop(&core, n))?;
    }
    Ok(())
}

fn worker_loop(core: &Core, n: usize) {
    tracing::debug!(worker = n, "worker started");
    while !core.stopping.load(Ordering::SeqCst) {
        let seen = core.wake.generation();
        match core.claim() {
            Ok(Some(job)) => {
                core.publish(&job);
                // Ends the claim however `run_claimed` ends, a panic outside its own guard
                // included, so a retry is never refused for a worker that is gone.
                let _claim = ClaimGuard {
                    core,
                    id: job.id.clone(),
                    attempt: job.attempts,
                };
                run_claimed(core, job);
            }
            Ok(None) => core.wake.wait(seen, POLL),
            Err(e) => {
                tracing::error!(worker = n, error = %e, "cannot claim a job");
                core.wake.wait(seen, POLL);
            }
        }
    }
    tracing::debug!(worker = n, "worker stopped");
}

/// A worker's claim of one job, ended when dropped.
struct ClaimGuard<'a> {
    core: &'a Core,
    id: String,
    attempt: u32,
}

impl Drop for ClaimGuard<'_> {
    fn drop(&mut self) {
        self.core.claim_ended(&self.id, self.attempt);
    }
}

/// Runs one claimed job to its outcome; a panic in the prover fails the job, not the worker.
fn run_claimed(core: &Core, job: JobRecord) {
    let span = tracing::info_span!("job", id = %job.id, attempt = job.attempts);
    let _entered = span.enter();
    tracing::info!(shape = %job.shape, queries = job.n_queries, "proving");
    let started = std::time::Instant::now();
    let tmp = core.artifacts.temp_path("bundle");
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| prove_job(core, &job, &tmp)));
    let outcome = match result {
        Ok(Ok(Some(outcome))) => outcome,
        Ok(Ok(None)) => {
            tracing::info!("the job was cancelled or re-queued meanwhile; result discarded");
            let _ = std::fs::remove_dir_all(&tmp);
            super::remove_checkpoints_if_ended(core.store.as_ref(), &core.artifacts, &job.id);
            return;
        }
        Ok(Err(reason)) => Outcome::Failed { reason },
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Outcome::Failed {
                reason: format!("internal error: the prover panicked: {what}"),
            }
        }
    };
    let _ = std::fs::remove_dir_all(&tmp);
    let recorded = core.store.finish(&job.id, job.attempts, &outcome);
    super::remove_checkpoints_if_ended(core.store.as_ref(), &core.artifacts, &job.id);
    match recorded {
        Ok(Some(done)) => {
            tracing::info!(
                state = done.state.as_str(),
                seconds = started.elapsed().as_secs_f64(),
                error = %done.error,
                "job finished"
            );
            core.publish(&done);
        }
        Ok(None) => {
            tracing::info!("the job was cancelled meanwhile; result discarded");
            if matches!(outcome, Outcome::Done { .. }) {
                // Only remove the bundle if no later attempt owns the job now.
                if let Ok(Some(now)) = core.store.get(&job.id) {
                    if now.state.is_terminal() && now.state != JobState::Done {
                        let _ = std::fs::remove_dir_all(core.artifacts.bundle_dir(&job.id));
                    }
                }
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot record the outcome; the job will be re-run after a restart")
        }
    }
}

/// Records progress; `Ok(false)` when the claim no longer holds (cancelled).
fn report(core: &Core, job: &JobRecord, progress: Progress) -> Result<bool, String> {
    match core.store.progress(&job.id, job.attempts, &progress) {
        Ok(Some(updated)) => {
            core.publish(&updated);
            Ok(true)
        }
        Ok(None) => Ok(false),
        Err(e) => Err(format!("job store: {e}")),
    }
}

/// Proves the job into `tmp` and moves the bundle into place. `Ok(None)`: the job was
/// cancelled meanwhile. `Err`: why it failed.
fn prove_job(core: &Core, job: &JobRecord, tmp: &Path) -> Result<Option<Outcome>, String> {
    let format = EpochFormat::parse(&job.format)
        .ok_or_else(|| format!("internal error: unknown epoch format {:?}", job.format))?;
    let (epoch, settlement) = load_epoch(
        &core.artifacts,
        format,
        job.epoch_id,
        job.rate_bps,
        &job.parts,
    )
    .map_err(|e| format!("the stored epoch is not valid any more: {e}"))?;
    let kind = super::backend::BackendKind::parse(&job.backend)
        .ok_or_else(|| format!("internal error: unknown backend {:?}", job.backend))?;
    let backend = core.backends.get(kind).map_err(|e| e.to_string())?;
    let stored = |step: ProveProgress<'_>| Progress {
        phase: if step.aggregating {
            Phase::Aggregating
        } else {
            Phase::Proving
        },
        // 1-based: the batch being proved, or the last once all are.
        batch_index: (step.batches_done + 1).min(step.batches),
        batch_count: step.batches,
        message: step.message.to_string(),
    };
    // So the first row already counts the job's batches.
    let plan = backend
        .plan(&epoch, &settlement)
        .map_err(|e| format!("planning the proof: {e}"))?;
    let start = format!("proving with {}", job.shape);
    if !report(
        core,
        job,
        stored(ProveProgress {
            message: &start,
            batches_done: 0,
            batches: plan.batches,
            aggregating: false,
        }),
    )? {
        return Ok(None);
    }
    let mut still_ours = true;
    let mut store_error = None;
    let checkpoints = core.artifacts.checkpoint_dir(&job.id);
    let payees = settlement.payouts.len();
    let manifest = backend.prove(&epoch, payees, tmp, &checkpoints, &mut |step| {
        if still_ours && store_error.is_none() {
            match report(core, job, stored(step)) {
                Ok(ours) => still_ours = ours,
                Err(e) => store_error = Some(e),
            }
        }
        still_ours
    });
    // Cancelled meanwhile: whatever the backend answered (an aggregated one stops early).
    if !still_ours {
        return Ok(None);
    }
    let manifest = manifest.map_err(|e| e.to_string())?;
    if let Some(e) = store_error {
        return Err(e);
    }
    let bundle_files = list_bundle(tmp).map_err(|e| format!("reading the bundle: {e}"))?;
    // The claim may have been lost while proving; check before replacing anything in bundles/.
    match core.store.get(&job.id) {
        // Queued at this attempt: a shutdown gave the claim back, and the finished proof still
        // counts (`finish` takes it).
        Ok(Some(now))
            if now.attempts == job.attempts
                && matches!(now.state, JobState::Running | JobState::Queued) => {}
        Ok(_) => return Ok(None),
        Err(e) => return Err(format!("job store: {e}")),
    }
    core.artifacts
        .commit_bundle(tmp, &job.id)
        .map_err(|e| format!("storing the bundle: {e}"))?;
    Ok(Some(Outcome::Done {
        vk_digest: manifest.verifying_key_digest,
        bundle_files,
    }))
}

/// The bundle's files, manifest first.
fn list_bundle(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut files: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    files.sort_by_key(|f| (f != MANIFEST, f.clone()));
    Ok(files)
}

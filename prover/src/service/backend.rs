//! Proving backends, as the service sees them: plan a job (which circuit, how many batches),
//! prove it into a bundle folder, hand out verifying keys.
//!
//! [`Backends::get`] is the one place that says which backends exist.

use super::artifacts::Artifacts;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use thiserror::Error;
use zkattr_model::bundle::BundleManifest;
use zkattr_model::{Epoch, Settlement};
use zkattr_plonky2::epoch_prover::{
    check_total_paid, prove_into_staged, staged_verifying_key_bytes, AggregationCircuits,
    AggregationShape, AggregationStage, DEFAULT_BATCH_CAP,
};
use zkattr_plonky2::prover::{shape_for, StatementCircuit, SHAPE_LADDER};
use zkattr_plonky2::statement::StatementShape;
use zkattr_verifier::bundle::{pinned_plonky2_digest, verifying_key_digest};

/// The backends the API names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackendKind {
    Plonky2,
    Halo2,
}

impl BackendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Plonky2 => "plonky2",
            BackendKind::Halo2 => "halo2",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "plonky2" => Some(BackendKind::Plonky2),
            "halo2" => Some(BackendKind::Halo2),
            _ => None,
        }
    }
}

/// Why a backend could not plan, prove or give a key.
#[derive(Debug, Error)]
pub enum BackendError {
    /// The epoch is valid but no circuit of this backend holds it.
    #[error("{0}")]
    TooLarge(String),
    /// The requested shape is not one of the backend's circuits.
    #[error("{0}")]
    UnknownShape(String),
    #[error("{0:#}")]
    Failed(anyhow::Error),
}

/// What proving an epoch takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The circuit, e.g. `16x16`, or the aggregation layout, e.g. `agg-b2048-t6-p4096`.
    pub shape: String,
    /// Batch proofs (one for a single circuit).
    pub batches: u32,
}

/// One progress report of a proof in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProveProgress<'a> {
    /// What is happening, in words.
    pub message: &'a str,
    /// Batches proved so far (restored from checkpoints included), and in all.
    pub batches_done: u32,
    pub batches: u32,
    /// Every batch is proved; merges and the last layers are running.
    pub aggregating: bool,
}

impl<'a> ProveProgress<'a> {
    /// A stage of a single-circuit proof.
    fn single(message: &'a str) -> Self {
        ProveProgress {
            message,
            batches_done: 0,
            batches: 1,
            aggregating: false,
        }
    }
}

/// A serialised verifying key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyingKey {
    pub shape: String,
    pub bytes: Vec<u8>,
    pub digest: String,
    /// The digest pinned in `params/` for this shape, if any.
    pub pinned: Option<String>,
}

/// A proving backend. `prove` runs on a worker thread and may take minutes.
pub trait ProvingBackend: Send + Sync + std::fmt::Debug {
    fn kind(&self) -> BackendKind;
    /// Which circuit and how many batches `epoch` needs (the epoch is already validated and
    /// `settlement` is its reference settlement); refuses an epoch this backend cannot prove,
    /// so a job that would fail is refused at submission rather than after hours of proving.
    fn plan(&self, epoch: &Epoch, settlement: &Settlement) -> Result<Plan, BackendError>;
    /// Proves `epoch` into the folder `out`; `progress` receives one report per stage and
    /// answers whether to go on (`false`: the job was cancelled; a backend that proves in
    /// batches stops before the next one). A backend that proves in batches keeps finished
    /// proofs in the folder `checkpoints` and, run again on the same job after an
    /// interruption, resumes from them. `payees` is the epoch's payee count (the caller has
    /// computed its settlement already).
    fn prove(
        &self,
        epoch: &Epoch,
        payees: usize,
        out: &Path,
        checkpoints: &Path,
        progress: &mut dyn FnMut(ProveProgress<'_>) -> bool,
    ) -> Result<BundleManifest, BackendError>;
    /// The verifying key of `shape` (a shape key like `16x16`).
    fn verifying_key(&self, shape: &str) -> Result<VerifyingKey, BackendError>;
    /// The shape key of the smallest circuit that holds `queries` queries.
    fn shape_for_queries(&self, queries: u64) -> Result<String, BackendError>;
}

/// The backends of this build.
#[derive(Debug)]
pub struct Backends {
    plonky2: Plonky2Backend,
    halo2: Halo2Backend,
}

impl Backends {
    /// `kzg_params_dir`: where the halo2 backend finds (or caches UNSAFE development) KZG
    /// parameters, as for `zkattr prove --params`. `batch_size`: as `zkattr prove
    /// --batch-size` (plonky2: aggregate every epoch in batches of at most this many queries);
    /// `None`: one circuit while one holds the epoch, else batches of [`DEFAULT_BATCH_CAP`].
    pub fn new(
        artifacts: Arc<Artifacts>,
        cache: Arc<CircuitCache>,
        kzg_params_dir: PathBuf,
        batch_size: Option<usize>,
    ) -> Self {
        Backends {
            plonky2: Plonky2Backend {
                artifacts: Arc::clone(&artifacts),
                cache,
                batch_size,
                aggregation: AggregationCache::default(),
                key_building: KeyLocks::default(),
            },
            halo2: Halo2Backend {
                artifacts,
                kzg_params_dir,
            },
        }
    }

    /// The backend for `kind`, or why there is none.
    pub fn get(&self, kind: BackendKind) -> Result<&dyn ProvingBackend, BackendError> {
        match kind {
            BackendKind::Plonky2 => Ok(&self.plonky2),
            BackendKind::Halo2 => Ok(&self.halo2),
        }
    }
}

/// Built plonky2 circuits, most recently used first. Building is deterministic and costs
/// seconds to a minute, so the service keeps one or two; a 1024-query circuit holds gigabytes.
#[derive(Debug)]
pub struct CircuitCache {
    capacity: usize,
    circuits: Mutex<Vec<Arc<StatementCircuit>>>,
    /// Held while building, so two workers never build the same circuit at once.
    building: Mutex<()>,
}

impl CircuitCache {
    pub fn new(capacity: usize) -> Self {
        CircuitCache {
            capacity: capacity.max(1),
            circuits: Mutex::new(Vec::new()),
            building: Mutex::new(()),
        }
    }

    fn lookup(&self, shape: StatementShape) -> Option<Arc<StatementCircuit>> {
        let mut circuits = self.circuits.lock().unwrap_or_else(|e| e.into_inner());
        let at = circuits.iter().position(|c| c.shape == shape)?;
        let circuit = circuits.remove(at);
        circuits.insert(0, Arc::clone(&circuit));
        Some(circuit)
    }

    /// The circuit of `shape`, built if not cached; `on_build` is told before a build.
    pub fn get(&self, shape: StatementShape, on_build: impl FnOnce()) -> Arc<StatementCircuit> {
        if let Some(circuit) = self.lookup(shape) {
            return circuit;
        }
        let _building = self.building.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(circuit) = self.lookup(shape) {
            return circuit;
        }
        on_build();
        let started = std::time::Instant::now();
        let circuit = Arc::new(StatementCircuit::build(shape));
        tracing::info!(
            shape = %format!("{}x{}", shape.queries, shape.payees),
            seconds = started.elapsed().as_secs_f64(),
            "built circuit"
        );
        let mut circuits = self.circuits.lock().unwrap_or_else(|e| e.into_inner());
        circuits.insert(0, Arc::clone(&circuit));
        circuits.truncate(self.capacity);
        circuit
    }
}

/// The aggregation circuits of one layout (batch, merges, final and size-tuned layers): built
/// in seconds to a minute and holding a gigabyte or two at batches of 2,048, so the service
/// keeps the last one a job used (and an idle service holds one set), if its final circuit
/// holds the payout list itself ([`kept_between_jobs`]). Generic over what it holds so its
/// policy is tested without circuits.
#[derive(Debug)]
struct AggregationCache<T = AggregationCircuits> {
    circuits: Mutex<Slots<T>>,
    /// Held while building a set, or a chunked layout's key ([`Self::alone`]), so two workers
    /// never build the same circuits at once and key requests never build side by side. (A
    /// chunked layout's job builds its circuits stage by stage without it: with `--workers 2`,
    /// two such jobs build and prove at once.) Lock order: `building`, then `circuits` (never
    /// the other way round).
    building: Mutex<()>,
}

#[derive(Debug)]
struct Slots<T> {
    cached: Option<(AggregationShape, Arc<T>)>,
    /// The last set built, whatever the policy: a set a key request built without caching it is
    /// reused by a job that waited on `building` while the request still holds it, instead of
    /// being built twice. A `Weak` keeps no circuits alive once the last `Arc` is dropped (only
    /// the `Arc`'s allocation, not the circuits' heap data), so an idle service still holds one
    /// set.
    last_built: Option<(AggregationShape, Weak<T>)>,
}

impl<T> Default for AggregationCache<T> {
    fn default() -> Self {
        AggregationCache {
            circuits: Mutex::new(Slots {
                cached: None,
                last_built: None,
            }),
            building: Mutex::new(()),
        }
    }
}

/// Whether circuits built for a caller replace the cached set.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CachePolicy {
    /// A job's layout: the next job of it reuses the circuits.
    Replace,
    /// A key request's layout: its key is stored on disk, so the circuits are not needed again;
    /// kept only when nothing is cached, so a request never evicts the jobs' layout.
    KeepCached,
}

impl<T> AggregationCache<T> {
    /// Runs `build` while no other build runs.
    fn alone<R>(&self, build: impl FnOnce() -> R) -> R {
        let _building = self.building.lock().unwrap_or_else(|e| e.into_inner());
        build()
    }

    /// Drops the cache's set (a job still proving with it keeps its own reference): before a
    /// job that builds its own circuits stage by stage, so its peak does not carry them.
    fn release(&self) {
        self.circuits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .cached = None;
    }

    fn cached(&self, shape: AggregationShape) -> Option<Arc<T>> {
        let slots = self.circuits.lock().unwrap_or_else(|e| e.into_inner());
        slots
            .cached
            .as_ref()
            .filter(|(cached, _)| *cached == shape)
            .map(|(_, circuits)| Arc::clone(circuits))
    }

    /// The cached set of `shape`, else the last one built if someone still holds it (cached
    /// now if `policy` is `Replace`, as a build would have been).
    fn reusable(&self, shape: AggregationShape, policy: CachePolicy) -> Option<Arc<T>> {
        let mut slots = self.circuits.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, circuits)) = slots.cached.as_ref().filter(|(s, _)| *s == shape) {
            return Some(Arc::clone(circuits));
        }
        let circuits = slots
            .last_built
            .as_ref()
            .filter(|(s, _)| *s == shape)
            .and_then(|(_, built)| built.upgrade())?;
        if policy == CachePolicy::Replace || slots.cached.is_none() {
            slots.cached = Some((shape, Arc::clone(&circuits)));
        }
        Some(circuits)
    }

    /// The circuits of `shape`, from the cache or from `build` (one build at a time).
    fn get_or_build(
        &self,
        shape: AggregationShape,
        policy: CachePolicy,
        build: impl FnOnce() -> Result<T, BackendError>,
    ) -> Result<Arc<T>, BackendError> {
        if let Some(circuits) = self.cached(shape) {
            return Ok(circuits);
        }
        let _building = self.building.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(circuits) = self.reusable(shape, policy) {
            return Ok(circuits);
        }
        if policy == CachePolicy::Replace {
            // Drop the cache's old set first, so a job's build never holds two.
            self.release();
        }
        let circuits = Arc::new(build()?);
        let mut slots = self.circuits.lock().unwrap_or_else(|e| e.into_inner());
        slots.last_built = Some((shape, Arc::downgrade(&circuits)));
        if policy == CachePolicy::Replace || slots.cached.is_none() {
            slots.cached = Some((shape, Arc::clone(&circuits)));
        }
        Ok(circuits)
    }
}

impl AggregationCache {
    fn get(
        &self,
        shape: AggregationShape,
        policy: CachePolicy,
        progress: zkattr_plonky2::epoch_prover::Progress<'_>,
    ) -> Result<Arc<AggregationCircuits>, BackendError> {
        self.get_or_build(shape, policy, || {
            let started = std::time::Instant::now();
            let circuits = AggregationCircuits::build(shape, progress)
                .map_err(|e| BackendError::Failed(e.into()))?;
            tracing::info!(
                layout = %shape.key(),
                seconds = started.elapsed().as_secs_f64(),
                "built aggregation circuits"
            );
            Ok(circuits)
        })
    }
}

/// Whether the service keeps a layout's circuits for its next job: only when the final
/// circuit holds the payout list itself. A chunked list's circuits hold several gigabytes
/// (12.1 GB at 2^20 payees, measured), so those jobs build each circuit when their stage
/// begins and drop it when it ends ([`prove_into_staged`]; at 2^20 payees the peak fell from
/// 21.2 GB with every circuit held to 17.6 GB), and their key requests keep nothing either. The
/// price is building them again for each job: 172 s of a 50-minute job at 2^20 payees, 66 s of
/// a 6-minute one at 65,536 (measured in stop 27).
fn kept_between_jobs(shape: &AggregationShape) -> bool {
    shape.chunk_height.is_none()
}

#[derive(Debug)]
struct Plonky2Backend {
    artifacts: Arc<Artifacts>,
    cache: Arc<CircuitCache>,
    /// `Some`: aggregate every epoch in batches of at most this many queries.
    batch_size: Option<usize>,
    aggregation: AggregationCache,
    /// One per key, held while a `GetVerifyingKey` builds a key that is not stored yet.
    key_building: KeyLocks,
}

/// A lock per verifying key: concurrent requests for one key build it once, and a request for
/// a ladder key (`16x16`) never waits behind a layout's build (which can take minutes).
/// Lock order: a key's lock, then `AggregationCache::building` (or `CircuitCache::building`),
/// then the cache's `circuits`; one request holds one key's lock, and the map's own lock is
/// never held while taking another, so no cycle (no deadlock) is possible.
#[derive(Debug, Default)]
struct KeyLocks {
    /// An entry is removed when the last request for its key lets go, so the map holds only
    /// keys being built (keys are bounded by shapes and layouts anyway, but a removed entry
    /// costs nothing to make again, next to the build it guards).
    locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

impl KeyLocks {
    /// `key`'s lock, made if no request holds it.
    fn entry(&self, key: &str) -> Arc<Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(locks.entry(key.to_owned()).or_default())
    }

    /// Runs `f` holding `key`'s lock (only that key's).
    fn with<R>(&self, key: &str, f: impl FnOnce() -> R) -> R {
        /// Removes the entry on the way out, a panic in `f` included.
        struct Release<'a> {
            locks: &'a KeyLocks,
            key: &'a str,
            lock: Arc<Mutex<()>>,
        }
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                let mut locks = self.locks.locks.lock().unwrap_or_else(|e| e.into_inner());
                // Clones are only made under the map's lock, so 2 (the map's and ours) means
                // no other request holds or waits for this key.
                if Arc::strong_count(&self.lock) == 2 {
                    locks.remove(self.key);
                }
            }
        }
        let release = Release {
            locks: self,
            key,
            lock: self.entry(key),
        };
        let _held = release.lock.lock().unwrap_or_else(|e| e.into_inner());
        f()
    }
}

/// The capacity of a shape key `CxC` naming one of `ladder`'s circuits.
fn parse_ladder_shape(backend: &str, key: &str, ladder: &[usize]) -> Result<usize, BackendError> {
    let unknown = || {
        let shapes: Vec<String> = ladder.iter().map(|c| format!("{c}x{c}")).collect();
        BackendError::UnknownShape(format!(
            "no {backend} circuit of shape {key:?}; the shapes are {}",
            shapes.join(", ")
        ))
    };
    let (q, p) = key.split_once('x').ok_or_else(unknown)?;
    match (q.parse::<usize>(), p.parse::<usize>()) {
        (Ok(q), Ok(p)) if q == p && ladder.contains(&q) => Ok(q),
        _ => Err(unknown()),
    }
}

/// The layout named by a key `agg-b{batch}-t{levels}-p{payees}`, with `-c{chunk}` when the
/// payout list is proved in chunks (as bundles record it).
fn parse_aggregation_key(key: &str) -> Option<AggregationShape> {
    let rest = key.strip_prefix("agg-b")?;
    let (batch, rest) = rest.split_once("-t")?;
    let (levels, rest) = rest.split_once("-p")?;
    let (payees, chunk) = match rest.split_once("-c") {
        Some((payees, chunk)) => (payees, Some(chunk.parse::<usize>().ok()?)),
        None => (rest, None),
    };
    let batch: usize = batch.parse().ok()?;
    let chunk_height = match chunk {
        Some(chunk) => Some(chunk.checked_ilog2()?),
        None => None,
    };
    let shape = AggregationShape {
        batch_height: batch.checked_ilog2()?,
        levels: levels.parse().ok()?,
        payee_capacity: payees.parse().ok()?,
        chunk_height,
    };
    // Only layouts the pipeline can build (checked before `key`, which shifts by `levels`),
    // and only in the canonical spelling, so one layout has one key.
    (shape.check().is_ok() && shape.key() == key).then_some(shape)
}

fn shape_key(shape: StatementShape) -> String {
    format!("{}x{}", shape.queries, shape.payees)
}

/// How the plonky2 backend proves an epoch.
enum Plonky2Route {
    Single(StatementShape),
    Aggregated(AggregationShape),
}

impl Plonky2Backend {
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
                if !kept_between_jobs(&shape) {
                    self.aggregation.release();
                    return prove_into_staged(
                        shape,
                        epoch,
                        out,
                        Some(checkpoints),
                        cancel,
                        &report,
                    )
                    .map_err(|e| BackendError::Failed(e.into()));
                }
                let circuits = self.aggregation.get(shape, CachePolicy::Replace, &report)?;
                circuits
                    .prove_into_resumable(epoch, out, checkpoints, cancel, &report)
                    .map_err(|e| BackendError::Failed(e.into()))
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
        let route = match parse_aggregation_key(key) {
            // Building is bounded by the service's own batch size, as for its jobs.
            Some(layout) if layout.batch_size() > cap => {
                return Err(BackendError::UnknownShape(format!(
                    "{key}: this service proves batches of at most {cap} queries (--batch-size)"
                )))
            }
            Some(layout) => Plonky2Route::Aggregated(layout),
            None => Plonky2Route::Single(self.parse_shape(key)?),
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

/// halo2 (KZG over BN254). Keys are generated per job: at the ladder's sizes key generation is
/// a fraction of proving (1.5 s of 5 s at 16 queries), and a proving key is as large as the
/// circuit, so none is kept in memory between jobs.
#[derive(Debug)]
struct Halo2Backend {
    artifacts: Arc<Artifacts>,
    kzg_params_dir: PathBuf,
}

impl Halo2Backend {
    fn parse_shape(&self, key: &str) -> Result<zkattr_halo2::statement::Halo2Shape, BackendError> {
        let capacity = parse_ladder_shape("halo2", key, &zkattr_halo2::prover::HALO2_LADDER)?;
        zkattr_halo2::statement::Halo2Shape::new(capacity, capacity)
            .map_err(BackendError::UnknownShape)
    }

    fn params(&self, k: usize) -> Result<zkattr_halo2::prover::KzgParams, BackendError> {
        use zkattr_halo2::prover::KzgParams;
        let failed = |e: zkattr_halo2::prover::Halo2Error| BackendError::Failed(e.into());
        match KzgParams::load(&self.kzg_params_dir, k).map_err(failed)? {
            Some(params) => Ok(params),
            None => KzgParams::dev_unsafe(&self.kzg_params_dir, k).map_err(failed),
        }
    }
}

impl ProvingBackend for Halo2Backend {
    fn kind(&self) -> BackendKind {
        BackendKind::Halo2
    }

    fn plan(&self, epoch: &Epoch, settlement: &Settlement) -> Result<Plan, BackendError> {
        let shape = zkattr_halo2::prover::shape_for(epoch.queries.len(), settlement.payouts.len())
            .map_err(|e| BackendError::TooLarge(e.to_string()))?;
        Ok(Plan {
            shape: format!("{}x{}", shape.queries, shape.payees),
            batches: 1,
        })
    }

    fn prove(
        &self,
        epoch: &Epoch,
        _payees: usize,
        out: &Path,
        _checkpoints: &Path,
        progress: &mut dyn FnMut(ProveProgress<'_>) -> bool,
    ) -> Result<BundleManifest, BackendError> {
        zkattr_halo2::prover::prove_epoch(epoch, out, &self.kzg_params_dir, |line| {
            progress(ProveProgress::single(line));
        })
        .map_err(|e| BackendError::Failed(e.into()))
    }

    fn verifying_key(&self, key: &str) -> Result<VerifyingKey, BackendError> {
        use zkattr_halo2::prover::{halo2_key_digest, verifying_key_bytes, Halo2Keys, Layout};
        let shape = self.parse_shape(key)?;
        let key = format!("{}x{}", shape.queries, shape.payees);
        let layout = Layout::for_shape(shape);
        let params = self.params(layout.k)?;
        // Cached per parameter file: a ceremony file gives another key than dev parameters.
        let cached = self
            .artifacts
            .key_path("halo2", &format!("{key}-{}", &params.sha256[..16]));
        let digest_path = cached.with_extension("digest");
        if let (Ok(bytes), Ok(digest)) = (
            std::fs::read(&cached),
            std::fs::read_to_string(&digest_path),
        ) {
            return Ok(VerifyingKey {
                pinned: zkattr_verifier::halo2::pinned_halo2_digest(&params.source, &key),
                shape: key,
                bytes,
                digest,
            });
        }
        let keys = Halo2Keys::generate(&layout, &params.params)
            .map_err(|e| BackendError::Failed(e.into()))?;
        let bytes = verifying_key_bytes(keys.vk());
        let digest = halo2_key_digest(keys.vk());
        for (path, data) in [(&cached, &bytes[..]), (&digest_path, digest.as_bytes())] {
            if let Err(e) = self.artifacts.write_atomic(path, data) {
                tracing::warn!(path = %path.display(), error = %e, "cannot store the verifying key");
            }
        }
        Ok(VerifyingKey {
            pinned: zkattr_verifier::halo2::pinned_halo2_digest(&params.source, &key),
            shape: key,
            bytes,
            digest,
        })
    }

    fn shape_for_queries(&self, queries: u64) -> Result<String, BackendError> {
        let queries = usize::try_from(queries).unwrap_or(usize::MAX);
        zkattr_halo2::prover::shape_for(queries, 0)
            .map(|shape| format!("{}x{}", shape.queries, shape.payees))
            .map_err(|e| BackendError::TooLarge(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkattr_plonky2::epoch_prover::{MAX_PAYEE_CAPACITY, MAX_WHOLE_LIST};
    use zkattr_plonky2::payout_chunks::MAX_CHUNK_HEIGHT;

    #[test]
    fn aggregation_keys_parse_only_in_their_canonical_spelling() {
        let shape = parse_aggregation_key("agg-b2048-t6-p4096").expect("a layout");
        assert_eq!(
            (shape.batch_size(), shape.levels, shape.payee_capacity),
            (2048, 6, 4096)
        );
        for bad in [
            "agg-b2048-t6",
            "agg-b2047-t6-p4096",
            "agg-b2048-t06-p4096",
            "agg-b0-t1-p8",
            "agg-b2048-t-1-p8",
            "agg-bx-t1-p8",
            "agg-b2048-t22-p8",
            "agg-b2048-t99-p8",
            "agg-b2048-t1-p4",
            "agg-b2048-t1-p24",
            "agg-b65536-t0-p8",
            "16x16",
            "",
        ] {
            assert_eq!(parse_aggregation_key(bad), None, "{bad}");
        }
        // The capacity bounds follow the circuit crate's constants, not a copy of them.
        let largest_whole = format!("agg-b2048-t1-p{MAX_WHOLE_LIST}");
        assert_eq!(
            parse_aggregation_key(&largest_whole).map(|shape| shape.payee_capacity),
            Some(MAX_WHOLE_LIST)
        );
        let chunk = 1 << MAX_CHUNK_HEIGHT;
        let largest = format!("agg-b2048-t6-p{MAX_PAYEE_CAPACITY}-c{chunk}");
        assert_eq!(
            parse_aggregation_key(&largest).map(|shape| (shape.payee_capacity, shape.chunk_height)),
            Some((MAX_PAYEE_CAPACITY, Some(MAX_CHUNK_HEIGHT)))
        );
        for bad in [
            format!("agg-b2048-t6-p{}-c{chunk}", 2 * MAX_PAYEE_CAPACITY),
            // A list above the final circuit's own needs chunks; chunks of a power of two.
            format!("agg-b2048-t6-p{}", 2 * MAX_WHOLE_LIST),
            format!("agg-b2048-t6-p{}-c3", 2 * MAX_WHOLE_LIST),
            format!("agg-b2048-t6-p{}-c{}", 2 * MAX_WHOLE_LIST, 2 * chunk),
            format!("agg-b2048-t6-p65536-c{chunk}-c{chunk}"),
            // 2^18 chunk proofs in one final layer: refused before any key generation.
            format!("agg-b4-t0-p{MAX_PAYEE_CAPACITY}-c4"),
            format!("agg-b2048-t{}-p8", u32::MAX),
        ] {
            assert_eq!(parse_aggregation_key(&bad), None, "{bad}");
        }
    }

    #[test]
    fn a_key_request_never_evicts_the_cached_layout() {
        let cache = AggregationCache::<String>::default();
        let first = parse_aggregation_key("agg-b4-t1-p8").unwrap();
        let second = parse_aggregation_key("agg-b4-t2-p8").unwrap();
        let build = |shape: AggregationShape| move || Ok(shape.key());
        let unreachable = || -> Result<String, BackendError> { panic!("built again") };
        // An empty cache keeps what a key request built.
        let built = cache
            .get_or_build(first, CachePolicy::KeepCached, build(first))
            .unwrap();
        assert!(cache.cached(first).is_some());
        // A key request for another layout builds it and leaves the cached one in place.
        let other = cache
            .get_or_build(second, CachePolicy::KeepCached, build(second))
            .unwrap();
        assert_eq!(*other, second.key());
        assert!(cache.cached(first).is_some() && cache.cached(second).is_none());
        // A job of the cached layout gets the same circuits, not a rebuild.
        let again = cache
            .get_or_build(first, CachePolicy::Replace, unreachable)
            .unwrap();
        assert!(Arc::ptr_eq(&built, &again));
        // A job of another layout replaces it; a failed build caches nothing.
        cache
            .get_or_build(second, CachePolicy::Replace, build(second))
            .unwrap();
        assert!(cache.cached(second).is_some() && cache.cached(first).is_none());
        let third = parse_aggregation_key("agg-b4-t3-p8").unwrap();
        let failed = cache.get_or_build(third, CachePolicy::Replace, || {
            Err(BackendError::Failed(anyhow::anyhow!("out of memory")))
        });
        assert!(failed.is_err() && cache.cached(third).is_none());
        // The failed job's build dropped the old set first, so an idle service holds one.
        assert!(cache.cached(second).is_none());
    }

    #[test]
    fn only_whole_list_layouts_are_kept_and_a_staged_job_releases_the_cache() {
        let whole = parse_aggregation_key("agg-b2048-t4-p32768").unwrap();
        let chunked = parse_aggregation_key("agg-b2048-t7-p1048576-c32768").unwrap();
        assert!(kept_between_jobs(&whole) && !kept_between_jobs(&chunked));
        let cache = AggregationCache::<String>::default();
        let held = cache
            .get_or_build(whole, CachePolicy::Replace, || Ok(whole.key()))
            .unwrap();
        // What a chunked job does first: the cached set goes, a job proving with it keeps it.
        cache.release();
        assert!(cache.cached(whole).is_none());
        assert_eq!(*held, whole.key());
        // Builds run one at a time: `alone` holds the lock a set's build takes.
        let inside = cache.alone(|| cache.building.try_lock().is_err());
        assert!(inside && cache.building.try_lock().is_ok());
    }

    /// The service's route for a chunked payout list, end to end on a small layout (real ones
    /// start above 32,768 payees): a job stopped after its first chunk proof and run again
    /// restores its tree and chunks from the checkpoints, builds each circuit in its stage,
    /// proves a bundle the verifier accepts, and leaves nothing cached.
    #[test]
    fn a_chunked_job_is_proved_stage_by_stage_and_resumes_from_its_checkpoints() {
        use zkattr_model::synth::{generate, SynthConfig};
        use zkattr_plonky2::epoch_prover::EpochProverError;
        let shape = parse_aggregation_key("agg-b4-t2-p32-c4").unwrap();
        // 12 queries (three batches of 4) paying 17 to 24 adapters: eight chunks of 4.
        let epoch = (0..64)
            .map(|seed| generate(&SynthConfig::new(12, 40, seed)))
            .find(|epoch| {
                let payees = Settlement::compute(epoch).unwrap().payouts.len();
                (17..=24).contains(&payees)
            })
            .expect("an epoch with 17 to 24 payees");
        let scratch = tempfile::tempdir().unwrap();
        let backend = Plonky2Backend {
            artifacts: Arc::new(Artifacts::open(&scratch.path().join("artifacts")).unwrap()),
            cache: Arc::new(CircuitCache::new(1)),
            batch_size: Some(4),
            aggregation: AggregationCache::default(),
            key_building: KeyLocks::default(),
        };
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
        let verified = zkattr_verifier::bundle::verify_bundle(&out).unwrap();
        assert_eq!(verified.shape, shape.key());
        assert_eq!(manifest.payouts.payouts.len() as u64, verified.n_payees);
        assert!(backend.aggregation.cached(shape).is_none());
    }

    #[test]
    fn a_job_reuses_the_layout_a_key_request_still_holds() {
        let cache = AggregationCache::<String>::default();
        let cached = parse_aggregation_key("agg-b4-t1-p8").unwrap();
        let other = parse_aggregation_key("agg-b4-t2-p8").unwrap();
        let builds = std::cell::Cell::new(0);
        let build = |shape: AggregationShape| {
            let builds = &builds;
            move || {
                builds.set(builds.get() + 1);
                Ok(shape.key())
            }
        };
        cache
            .get_or_build(cached, CachePolicy::Replace, build(cached))
            .unwrap();
        // A key request builds the other layout without caching it and still holds it...
        let held = cache
            .get_or_build(other, CachePolicy::KeepCached, build(other))
            .unwrap();
        assert_eq!(builds.get(), 2);
        assert!(cache.cached(other).is_none());
        // ...so a job of it (one that waited on `building`) takes those circuits and caches them.
        let job = cache
            .get_or_build(other, CachePolicy::Replace, build(other))
            .unwrap();
        assert_eq!(builds.get(), 2, "built again");
        assert!(Arc::ptr_eq(&held, &job));
        assert!(cache.cached(other).is_some() && cache.cached(cached).is_none());

        // Once the request has let go, nothing holds the set and a job builds it again.
        let cache = AggregationCache::<String>::default();
        cache
            .get_or_build(cached, CachePolicy::Replace, build(cached))
            .unwrap();
        drop(
            cache
                .get_or_build(other, CachePolicy::KeepCached, build(other))
                .unwrap(),
        );
        assert_eq!(builds.get(), 4);
        cache
            .get_or_build(other, CachePolicy::Replace, build(other))
            .unwrap();
        assert_eq!(builds.get(), 5);
        assert!(cache.cached(other).is_some() && cache.cached(cached).is_none());
    }

    #[test]
    fn key_locks_hold_one_request_per_key() {
        let locks = KeyLocks::default();
        let count = |locks: &KeyLocks| locks.locks.lock().unwrap().len();
        let (outer_free, inner_free) = locks.with("agg-b2048-t6-p4096", || {
            // Another key is taken while this one is held; neither can be taken twice.
            locks.with("16x16", || {
                (
                    locks.entry("agg-b2048-t6-p4096").try_lock().is_ok(),
                    locks.entry("16x16").try_lock().is_ok(),
                )
            })
        });
        assert!(!outer_free && !inner_free);
        // Free again, and the entries are gone once no request holds them.
        assert!(locks.entry("16x16").try_lock().is_ok());
        locks.with("16x16", || ());
        assert_eq!(count(&locks), 0);
        // An entry a waiting request holds is kept for it.
        let waiting = locks.entry("16x16");
        locks.with("16x16", || ());
        assert_eq!(count(&locks), 1);
        assert!(waiting.try_lock().is_ok());
    }
}

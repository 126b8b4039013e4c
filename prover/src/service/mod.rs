//! The gRPC proving service (`zkattr serve`): `attribution.v1` on tokio and tonic, with the
//! standard health and reflection services.
//!
//! Handlers ([`api`]) are thin: they stream uploads into the artifact folder
//! ([`artifacts`]), validate, and record jobs in the [`store`]. Proving runs on a fixed pool of
//! OS threads ([`worker`]), never on the async runtime. [`backend`] is the one place that says
//! which proof systems exist.

pub mod api;
pub mod artifacts;
pub mod auth;
pub mod backend;
pub mod limits;
pub mod store;
pub mod submit;
pub mod worker;

use artifacts::Artifacts;
use backend::{Backends, CircuitCache};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use store::{JobRecord, JobState, JobStore, SqliteStore, StoredPart};
use thiserror::Error;
use tokio::sync::broadcast;
use zkattr_model::io::{read_csv_pair, read_epoch_json};
use zkattr_model::{Epoch, EpochParams, InputError, Settlement};

/// Largest gRPC message the service decodes: one upload chunk (clients send 1 MiB).
pub const MAX_MESSAGE_BYTES: usize = 4 << 20;
/// What every upload message counts against `max_upload_bytes` besides its data: 0.02% of a
/// 1 MiB chunk, but a stream of empty chunks runs out after 4M messages instead of never.
pub const UPLOAD_MESSAGE_COST: u64 = 256;

/// How `zkattr serve` runs.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// Holds `jobs.sqlite` and the artifact folders.
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Proving threads; 0 runs an API-only node that queues jobs for other workers.
    pub workers: usize,
    /// Most jobs queued or running at once; more submissions get RESOURCE_EXHAUSTED.
    pub queue_limit: u64,
    /// Most bytes one upload may stream (all parts together); every message also counts
    /// [`UPLOAD_MESSAGE_COST`] bytes, so a stream of empty chunks ends too.
    pub max_upload_bytes: u64,
    /// An upload that sends nothing for this long is refused (DEADLINE_EXCEEDED) and its
    /// temporary files removed.
    pub upload_idle_timeout: std::time::Duration,
    /// An upload still streaming after this long is refused (DEADLINE_EXCEEDED), however
    /// steadily it sends.
    pub upload_max_duration: std::time::Duration,
    /// Bearer token every call but health must carry; `None`: no authentication.
    pub token: Option<String>,
    /// PEM certificate chain and private key: serve TLS (rustls).
    pub tls: Option<TlsFiles>,
    /// Built circuits kept in memory.
    pub circuit_cache: usize,
    /// KZG parameters for halo2 jobs (`kzg_bn254_{k}.srs`); without a file for a circuit's
    /// size, UNSAFE development parameters are generated and cached there.
    pub kzg_params_dir: PathBuf,
    /// A job whose proving the process died in this many times is failed, not re-queued.
    pub max_attempts: u32,
    /// plonky2: aggregate every epoch in batches of at most this many queries (a power of
    /// two), as `zkattr prove --batch-size`; `None`: one circuit up to 1,024 queries, batches
    /// of 2,048 above.
    pub batch_size: Option<usize>,
    /// Done, failed and cancelled jobs unchanged for this long are deleted (checked at start
    /// and every [`RETENTION_SWEEP`]); `None`: kept until `DeleteJob`.
    pub retain: Option<std::time::Duration>,
    /// At start, uploaded parts older than this that no job references are removed (an
    /// `UploadPart` whose submission never came).
    pub abandoned_part_age: std::time::Duration,
}

/// How often finished jobs past `--retain-days` are looked for.
pub const RETENTION_SWEEP: std::time::Duration = std::time::Duration::from_secs(3600);

/// Paths of the TLS identity.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            data_dir: PathBuf::from("zkattr-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            workers: 1,
            queue_limit: 1000,
            max_upload_bytes: 1 << 30,
            upload_idle_timeout: std::time::Duration::from_secs(60),
            upload_max_duration: std::time::Duration::from_secs(3600),
            token: None,
            tls: None,
            circuit_cache: 2,
            kzg_params_dir: zkattr_verifier::halo2::params_dir(),
            max_attempts: 3,
            batch_size: None,
            retain: None,
            abandoned_part_age: std::time::Duration::from_secs(24 * 3600),
        }
    }
}

/// Why the service could not start or run.
#[derive(Debug, Error)]
pub enum ServiceError {
    #[error("cannot prepare the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("cannot read the TLS {what} {path}: {source}")]
    TlsFile {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("--batch-size {0} is not a power of two from 1 to {max}", max = zkattr_plonky2::aggregation::MAX_BATCH)]
    BatchSize(usize),
    #[error("cannot start the worker threads: {0}")]
    Workers(std::io::Error),
    #[error("the bearer token is empty, which would accept every call: give a token, or none to run without authentication")]
    EmptyToken,
    #[error("gRPC transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("the data directory {path} is in use by another zkattr serve (pid {holder}); one server per data directory")]
    Locked { path: String, holder: String },
}

/// The advisory lock that makes one process the owner of a data directory: an exclusive
/// `flock` on `DIR/lock`, which holds the owner's pid. The kernel releases it when the process
/// ends, however it ends, so a lock file left by a dead process does not block.
#[derive(Debug)]
pub struct DataDirLock {
    _file: std::fs::File,
}

impl DataDirLock {
    /// Takes the lock on `dir` (created 0700 if missing) or says who holds it.
    pub fn acquire(dir: &std::path::Path) -> Result<Self, ServiceError> {
        use std::io::{Read, Seek, Write};
        let data_err = |source| ServiceError::DataDir {
            path: dir.display().to_string(),
            source,
        };
        create_private_dir(dir).map_err(data_err)?;
        let mut file = private_file_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join("lock"))
            .map_err(data_err)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder: String = holder.trim().chars().take(20).collect();
                return Err(ServiceError::Locked {
                    path: dir.display().to_string(),
                    holder: if holder.is_empty() {
                        "unknown".into()
                    } else {
                        holder
                    },
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(data_err(e)),
        }
        file.set_len(0).map_err(data_err)?;
        file.rewind().map_err(data_err)?;
        writeln!(file, "{}", std::process::id()).map_err(data_err)?;
        file.sync_all().map_err(data_err)?;
        Ok(DataDirLock { _file: file })
    }
}

/// Creates `dir` and its missing parents, owner-only (0700 on Unix): the data directory holds
/// private epochs.
pub fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Options that create files owner-only (0600 on Unix).
pub fn private_file_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Removes a job's checkpoints once it is done, cancelled or gone: they serve only a later
/// attempt of a job still queued or running, or of a failed one that `RetryJob` queues again.
fn remove_checkpoints_if_ended(store: &dyn JobStore, artifacts: &Artifacts, job_id: &str) {
    match store.get(job_id) {
        Ok(Some(job)) if !job.state.is_terminal() || job.state == JobState::Failed => {}
        Ok(_) => artifacts.remove_checkpoints(job_id),
        Err(e) => tracing::warn!(job = %job_id, error = %e, "cannot look up a checkpointed job"),
    }
}

/// Deletes a done, failed or cancelled job: its row, then its bundle, its checkpoints and the
/// parts only it referenced. A job still queued or running is left alone ([`Deletion::Active`]).
pub fn delete_job(core: &Core, id: &str) -> Result<store::Deletion, store::StoreError> {
    let deletion = core.store.delete(id)?;
    if let store::Deletion::Deleted { orphan_parts } = &deletion {
        core.artifacts.remove_bundle(id);
        core.artifacts.remove_checkpoints(id);
        for sha in orphan_parts {
            core.artifacts.remove_part(sha);
        }
    }
    Ok(deletion)
}

/// Deletes the finished jobs unchanged for `retain`; returns how many went.
fn sweep_finished(core: &Core, retain: std::time::Duration) -> Result<usize, store::StoreError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let cutoff = now.saturating_sub(retain).as_millis();
    let cutoff = i64::try_from(cutoff).unwrap_or(i64::MAX);
    let mut removed = 0;
    for id in core.store.ended_before(cutoff)? {
        // A cancelled attempt still proving keeps its job until it stops.
        if core.holds(&id) {
            continue;
        }
        if let store::Deletion::Deleted { .. } = delete_job(core, &id)? {
            removed += 1;
        }
    }
    Ok(removed)
}

/// Removes uploaded parts older than `age` that no job references.
fn sweep_abandoned_parts(
    store: &dyn JobStore,
    artifacts: &Artifacts,
    age: std::time::Duration,
) -> Result<usize, ServiceError> {
    let mut removed = 0;
    for sha in artifacts
        .parts_older_than(age)
        .map_err(|source| ServiceError::DataDir {
            path: artifacts.root().display().to_string(),
            source,
        })?
    {
        if !store.references_part(&sha)? {
            artifacts.remove_part(&sha);
            removed += 1;
        }
    }
    Ok(removed)
}

/// The epoch formats of the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EpochFormat {
    Json,
    CsvPair,
}

impl EpochFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            EpochFormat::Json => "json",
            EpochFormat::CsvPair => "csv_pair",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "json" => Some(EpochFormat::Json),
            "csv_pair" => Some(EpochFormat::CsvPair),
            _ => None,
        }
    }
}

/// Part names as the store records them.
pub const PART_EPOCH_JSON: &str = "epoch_json";
pub const PART_ACTIVATIONS: &str = "activations_csv";
pub const PART_INFLUENCE: &str = "influence_csv";

/// Why stored parts are not an epoch.
#[derive(Debug, Error)]
pub enum LoadError {
    #[error("missing part {0}")]
    MissingPart(&'static str),
    #[error("cannot open part {part}: {source}")]
    Open {
        part: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Input(#[from] InputError),
}

fn open_part(
    artifacts: &Artifacts,
    parts: &[StoredPart],
    name: &'static str,
) -> Result<std::fs::File, LoadError> {
    let part = parts
        .iter()
        .find(|p| p.part == name)
        .ok_or(LoadError::MissingPart(name))?;
    std::fs::File::open(artifacts.part_path(&part.sha256)).map_err(|source| LoadError::Open {
        part: name.to_string(),
        source,
    })
}

/// Reads and validates an epoch from its stored parts; also returns its payee count.
pub fn load_epoch(
    artifacts: &Artifacts,
    format: EpochFormat,
    epoch_id: u64,
    rate_bps: u16,
    parts: &[StoredPart],
) -> Result<(Epoch, Settlement), LoadError> {
    let epoch = match format {
        EpochFormat::Json => read_epoch_json(open_part(artifacts, parts, PART_EPOCH_JSON)?)?,
        EpochFormat::CsvPair => read_csv_pair(
            EpochParams { epoch_id, rate_bps },
            open_part(artifacts, parts, PART_ACTIVATIONS)?,
            open_part(artifacts, parts, PART_INFLUENCE)?,
        )?,
    };
    let settlement = Settlement::compute(&epoch).map_err(InputError::from)?;
    Ok((epoch, settlement))
}

/// What handlers and workers share.
#[derive(Debug)]
pub struct Core {
    pub config: ServiceConfig,
    pub store: Arc<dyn JobStore>,
    pub artifacts: Arc<Artifacts>,
    pub backends: Backends,
    /// Every change of a job, for WatchJob.
    pub events: broadcast::Sender<JobRecord>,
    pub wake: worker::Wake,
    /// Set on shutdown: workers stop after their current job.
    pub stopping: AtomicBool,
    /// Jobs this service's workers hold: id -> the attempt they claimed.
    claims: std::sync::Mutex<std::collections::HashMap<String, u32>>,
    /// One submitted epoch is read back and validated at a time: that holds the whole epoch
    /// and its settlement (about 340 bytes a query), so concurrent large uploads must not add up.
    pub validating: tokio::sync::Semaphore,
    /// Turns true when shutdown begins: open WatchJob streams send their job's current state
    /// and end.
    pub draining: tokio::sync::watch::Sender<bool>,
}

impl Core {
    /// Tells watchers about a change.
    pub fn publish(&self, job: &JobRecord) {
        // No receivers is fine: nobody is watching.
        let _ = self.events.send(job.clone());
    }

    /// Claims the next queued job for a worker and records it; nothing once shutdown began.
    /// The store claim happens under the lock [`Self::release_claims`] takes, so every claim
    /// this service makes is either seen and given back by a shutdown, or never made.
    pub(crate) fn claim(&self) -> Result<Option<JobRecord>, store::StoreError> {
        let mut claims = self.claims.lock().unwrap_or_else(|e| e.into_inner());
        if self.stopping.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(None);
        }
        let job = self.store.claim_next()?;
        if let Some(job) = &job {
            claims.insert(job.id.clone(), job.attempts);
        }
        Ok(job)
    }

    /// The worker that claimed `id` at `attempt` is done with it (finished, failed, or its
    /// claim was lost). A later claim of the same job is left alone.
    pub(crate) fn claim_ended(&self, id: &str, attempt: u32) {
        let mut claims = self.claims.lock().unwrap_or_else(|e| e.into_inner());
        if claims.get(id) == Some(&attempt) {
            claims.remove(id);
        }
    }

    /// Whether one of this service's workers still holds `id` (say a cancelled attempt that
    /// has not reached its next batch, merge or chunk proof yet).
    pub(crate) fn holds(&self, id: &str) -> bool {
        self.claims
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(id)
    }

    /// Gives one claimed job back to the queue without counting the stop against it.
    fn give_back(&self, id: &str, attempt: u32) {
        match self.store.release(id, attempt) {
            Ok(Some(job)) => {
                tracing::info!(id, attempt, "job queued again for the next start");
                self.publish(&job);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(id, error = %e, "cannot give the job back; the next start re-queues it as interrupted")
            }
        }
    }

    /// Shutdown: every job this service holds goes back to the queue. Workers still proving
    /// one see the claim gone at their next report (an aggregated job stops before its next
    /// batch, merge, chunk proof or last layer; its checkpoints stay for the next start).
    fn release_claims(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let claims: Vec<(String, u32)> = self
            .claims
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .collect();
        for (id, attempt) in claims {
            self.give_back(&id, attempt);
        }
    }
}

/// A started service: its address, and how to stop it.
#[derive(Debug)]
pub struct RunningService {
    pub addr: SocketAddr,
    pub core: Arc<Core>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
    health: tonic_health::server::HealthReporter,
    /// Held until the service is dropped.
    _lock: DataDirLock,
}

/// How long a shutdown waits for open calls (uploads, fetches) once watch streams have ended.
pub const DRAIN_CALLS: std::time::Duration = std::time::Duration::from_secs(5);

impl RunningService {
    /// The first step of a shutdown, which [`Self::shutdown`] takes too: health turns
    /// NOT_SERVING (overall and `attribution.v1`) so load balancers stop sending; new
    /// submissions and uploads get UNAVAILABLE; running jobs go back to the queue (a stop does
    /// not count as a failed attempt; workers stop at their next checkpoint); open WatchJob
    /// streams send their job's current state and end. Other calls are still answered.
    pub async fn begin_drain(&self) {
        self.health
            .set_service_status("", tonic_health::ServingStatus::NotServing)
            .await;
        self.health
            .set_not_serving::<api::AttributionServer>()
            .await;
        self.core.release_claims();
        self.core.wake.notify();
        self.core.draining.send_replace(true);
    }

    /// Drains ([`Self::begin_drain`]), then closes the listener and gives open calls (uploads,
    /// fetches) [`DRAIN_CALLS`] to finish. The process does not wait for proofs in flight: their
    /// jobs are queued already, and the next start proves them, an aggregated one from its
    /// last checkpoint.
    pub async fn shutdown(mut self) -> Result<(), ServiceError> {
        self.begin_drain().await;
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match tokio::time::timeout(DRAIN_CALLS, &mut self.server).await {
            Ok(Ok(result)) => Ok(result?),
            Ok(Err(_)) => Ok(()),
            Err(_) => {
                tracing::warn!(
                    "open calls did not finish within {} s; stopping anyway",
                    DRAIN_CALLS.as_secs()
                );
                self.server.abort();
                Ok(())
            }
        }
    }

    /// Waits until the server stops by itself (it does not, short of an error).
    pub async fn wait(self) -> Result<(), ServiceError> {
        match self.server.await {
            Ok(result) => Ok(result?),
            Err(_) => Ok(()),
        }
    }
}

/// Opens the store and artifact folder, recovers interrupted jobs, starts the workers and the
/// gRPC server. `cache` lets several in-process services share built circuits (tests).
pub async fn start(
    config: ServiceConfig,
    cache: Option<Arc<CircuitCache>>,
) -> Result<RunningService, ServiceError> {
    let data_err = |source| ServiceError::DataDir {
        path: config.data_dir.display().to_string(),
        source,
    };
    if let Some(batch) = config.batch_size {
        if !batch.is_power_of_two() || batch > zkattr_plonky2::aggregation::MAX_BATCH {
            return Err(ServiceError::BatchSize(batch));
        }
    }
    if config.token.as_deref().is_some_and(|t| t.trim().is_empty()) {
        return Err(ServiceError::EmptyToken);
    }
    // Before anything touches the folder: emptying tmp/ or re-queueing running jobs under a
    // live server would break its uploads and prove its jobs twice.
    let lock = DataDirLock::acquire(&config.data_dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&config.data_dir, std::fs::Permissions::from_mode(0o700))
            .map_err(data_err)?;
    }
    let artifacts = Arc::new(Artifacts::open(&config.data_dir).map_err(data_err)?);
    let db = config.data_dir.join("jobs.sqlite");
    // SQLite gives its -wal and -shm files the database file's mode.
    private_file_options()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&db)
        .map_err(data_err)?;
    let store: Arc<dyn JobStore> = Arc::new(SqliteStore::open(&db)?);
    let (requeued, failed) = store.recover(config.max_attempts)?;
    if !requeued.is_empty() || !failed.is_empty() {
        tracing::warn!(
            ?requeued,
            ?failed,
            "recovered jobs that were running when the service stopped"
        );
    }
    let abandoned = sweep_abandoned_parts(store.as_ref(), &artifacts, config.abandoned_part_age)?;
    if abandoned > 0 {
        tracing::info!(
            parts = abandoned,
            "removed uploaded parts no job references (abandoned uploads)"
        );
    }
    // Checkpoints of jobs that ended (or are gone) while the service was down.
    for job_id in artifacts.checkpointed_jobs().map_err(data_err)? {
        remove_checkpoints_if_ended(store.as_ref(), &artifacts, &job_id);
    }
    let cache = cache.unwrap_or_else(|| Arc::new(CircuitCache::new(config.circuit_cache)));
    let core = Arc::new(Core {
        backends: Backends::new(
            Arc::clone(&artifacts),
            cache,
            config.kzg_params_dir.clone(),
            config.batch_size,
        ),
        store,
        artifacts,
        events: broadcast::channel(1024).0,
        wake: worker::Wake::default(),
        stopping: AtomicBool::new(false),
        claims: Default::default(),
        validating: tokio::sync::Semaphore::new(1),
        draining: tokio::sync::watch::channel(false).0,
        config: config.clone(),
    });
    worker::spawn_workers(&core, config.workers).map_err(ServiceError::Workers)?;
    if let Some(retain) = config.retain {
        let removed = sweep_finished(&core, retain)?;
        if removed > 0 {
            tracing::info!(jobs = removed, "deleted finished jobs past --retain-days");
        }
        let core = Arc::clone(&core);
        tokio::spawn(async move {
            let start = tokio::time::Instant::now() + RETENTION_SWEEP;
            let mut tick = tokio::time::interval_at(start, RETENTION_SWEEP);
            loop {
                tick.tick().await;
                if core.stopping.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                let sweeping = Arc::clone(&core);
                match tokio::task::spawn_blocking(move || sweep_finished(&sweeping, retain)).await {
                    Ok(Ok(0)) => {}
                    Ok(Ok(n)) => tracing::info!(
                        jobs = n,
                        days = retain.as_secs() / 86_400,
                        "deleted finished jobs past --retain-days"
                    ),
                    Ok(Err(e)) => tracing::warn!(error = %e, "retention sweep failed"),
                    Err(e) => tracing::warn!(error = %e, "retention sweep task failed"),
                }
            }
        });
    }

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServiceError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServiceError::Bind {
        addr: config.listen,
        source,
    })?;

    let (health_reporter, health) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<api::AttributionServer>()
        .await;
    // v1alpha too: Python's reflection client, older grpcurl and Postman ask only for it.
    let reflection_builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(crate::proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection = reflection_builder().build_v1()?;
    let reflection_alpha = reflection_builder().build_v1alpha()?;
    let auth = auth::BearerAuth::new(config.token.clone());
    let attribution = api::AttributionServer::new(api::Api::new(Arc::clone(&core)))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);

    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = &config.tls {
        let read = |what, path: &PathBuf| {
            std::fs::read(path).map_err(|source| ServiceError::TlsFile {
                what,
                path: path.display().to_string(),
                source,
            })
        };
        let identity = tonic::transport::Identity::from_pem(
            read("certificate", &tls.cert)?,
            read("key", &tls.key)?,
        );
        builder =
            builder.tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))?;
    }
    let router = builder
        .add_service(health)
        .add_service(tonic::service::interceptor::InterceptedService::new(
            attribution,
            auth.clone(),
        ))
        .add_service(tonic::service::interceptor::InterceptedService::new(
            reflection,
            auth.clone(),
        ))
        .add_service(tonic::service::interceptor::InterceptedService::new(
            reflection_alpha,
            auth,
        ));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let server = tokio::spawn(router.serve_with_incoming_shutdown(incoming, async {
        let _ = rx.await;
    }));
    tracing::info!(
        %addr,
        workers = config.workers,
        data_dir = %config.data_dir.display(),
        tls = config.tls.is_some(),
        auth = config.token.is_some(),
        "zkattr service listening"
    );
    Ok(RunningService {
        addr,
        core,
        shutdown: Some(tx),
        server,
        health: health_reporter,
        _lock: lock,
    })
}

#[cfg(test)]
mod tests {
    use super::store::{sample_job as job, Outcome};
    use super::*;

    /// Checkpoints go with a done or cancelled job, and stay with a failed one (for
    /// `RetryJob`) and with one still queued or running.
    #[test]
    fn failed_jobs_keep_their_checkpoints() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = SqliteStore::open(&dir.path().join("jobs.sqlite"))?;
        let artifacts = Artifacts::open(&dir.path().join("data"))?;
        let kept = |id: &str| -> Result<bool, Box<dyn std::error::Error>> {
            let folder = artifacts.checkpoint_dir(id);
            std::fs::create_dir_all(&folder)?;
            std::fs::write(folder.join("identity"), b"layout")?;
            remove_checkpoints_if_ended(&store, &artifacts, id);
            Ok(folder.join("identity").exists())
        };
        let failed = Outcome::Failed {
            reason: "out of disk".into(),
        };
        let done = Outcome::Done {
            vk_digest: "0x1".into(),
            bundle_files: vec!["bundle.json".into()],
        };
        for (id, outcome) in [
            ("failed", Some(&failed)),
            ("done", Some(&done)),
            ("running", None),
        ] {
            store.insert_or_get(&job(id), 10)?;
            let claimed = store.claim_next()?.map(|j| j.attempts).unwrap_or(0);
            if let Some(outcome) = outcome {
                store.finish(id, claimed, outcome)?;
            }
        }
        store.insert_or_get(&job("cancelled"), 10)?;
        store.cancel("cancelled")?;
        store.insert_or_get(&job("queued"), 10)?;
        assert!(kept("failed")?);
        assert!(!kept("done")?);
        assert!(!kept("cancelled")?);
        assert!(kept("running")?);
        assert!(kept("queued")?);
        assert!(!kept("unknown")?);
        Ok(())
    }
}

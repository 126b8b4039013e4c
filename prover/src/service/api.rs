//! The `attribution.v1` handlers. Thin: uploads stream into the artifact folder, a submission's
//! checks and its job are [`super::submit`]'s, store calls and validation run on the blocking
//! pool, proving happens on the worker threads.

use super::artifacts::PartWriter;
use super::backend::{BackendError, BackendKind};
use super::store::{JobRecord, JobState, Phase, StoreError, StoredPart};
use super::submit::{
    backend_kind, check_finish, check_parts, known, on_store, part_of, referenced_parts, response,
    submit, Settings,
};
use super::{Core, EpochFormat};
use crate::proto;
use crate::proto::attribution_service_server::AttributionService;
use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

pub type AttributionServer = proto::attribution_service_server::AttributionServiceServer<Api>;

/// Bytes per FetchBundle chunk.
const FETCH_CHUNK: usize = 1 << 20;
/// Largest ListJobs page.
const MAX_PAGE: u32 = 500;

/// The service implementation.
#[derive(Debug, Clone)]
pub struct Api {
    core: Arc<Core>,
}

impl Api {
    pub fn new(core: Arc<Core>) -> Self {
        Api { core }
    }

    /// Runs a store call on the blocking pool.
    async fn store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn super::store::JobStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, Status> {
        on_store(&self.core, f).await
    }

    /// The job `id` names, after checking the id's length and alphabet.
    async fn job(&self, id: &str) -> Result<JobRecord, Status> {
        super::limits::job_id(id)?;
        let key = id.to_string();
        self.store(move |s| s.get(&key))
            .await?
            .ok_or_else(|| Status::not_found(format!("no job {id:?}")))
    }
}

impl Api {
    /// UNAVAILABLE once shutdown began: another replica, or this one after its restart, takes
    /// the submission.
    fn refuse_if_stopping(&self) -> Result<(), Status> {
        if self.core.stopping.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Status::unavailable(
                "the service is shutting down; submit again to another replica or after its restart",
            ));
        }
        Ok(())
    }

    /// Removes the parts a refused submission stored that no job references.
    async fn forget_parts(&self, digests: Vec<String>) {
        let core = Arc::clone(&self.core);
        let _ = tokio::task::spawn_blocking(move || {
            for sha in digests {
                match core.store.references_part(&sha) {
                    Ok(false) => core.artifacts.remove_part(&sha),
                    Ok(true) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot check a refused upload's part"),
                }
            }
        })
        .await;
    }
}

/// The status a store error answers with.
pub(super) fn store_status(e: StoreError) -> Status {
    match e {
        StoreError::QueueFull { .. } => Status::resource_exhausted(e.to_string()),
        other => {
            tracing::error!(error = %other, "job store error");
            Status::internal(other.to_string())
        }
    }
}

/// The status a backend error answers with.
pub(super) fn backend_status(e: BackendError) -> Status {
    match e {
        BackendError::TooLarge(m) => Status::failed_precondition(m),
        BackendError::UnknownShape(m) => Status::invalid_argument(m),
        BackendError::Failed(e) => Status::internal(format!("{e:#}")),
    }
}

fn io_status(what: &str, e: std::io::Error) -> Status {
    tracing::error!(error = %e, "{what}");
    Status::internal(format!("{what}: {e}"))
}

fn backend_proto(s: &str) -> proto::Backend {
    match BackendKind::parse(s) {
        Some(BackendKind::Plonky2) => proto::Backend::Plonky2,
        Some(BackendKind::Halo2) => proto::Backend::Halo2,
        None => proto::Backend::Unspecified,
    }
}

/// The API's view of a stored job.
pub fn job_proto(job: &JobRecord) -> proto::Job {
    let state = match (job.state, job.phase) {
        (JobState::Queued, _) => proto::JobState::Queued,
        (JobState::Running, Some(Phase::Validating) | None) => proto::JobState::Validating,
        (JobState::Running, Some(Phase::Proving)) => proto::JobState::Proving,
        (JobState::Running, Some(Phase::Aggregating)) => proto::JobState::Aggregating,
        (JobState::Done, _) => proto::JobState::Done,
        (JobState::Failed, _) => proto::JobState::Failed,
        (JobState::Cancelled, _) => proto::JobState::Cancelled,
    };
    let format = match EpochFormat::parse(&job.format) {
        Some(EpochFormat::Json) => proto::EpochFormat::Json,
        Some(EpochFormat::CsvPair) => proto::EpochFormat::CsvPair,
        None => proto::EpochFormat::Unspecified,
    };
    proto::Job {
        job_id: job.id.clone(),
        state: state.into(),
        backend: backend_proto(&job.backend).into(),
        format: format.into(),
        content_hash: job.content_hash.clone(),
        epoch_id: job.epoch_id,
        n_queries: job.n_queries,
        shape: job.shape.clone(),
        batch_index: job.batch_index,
        batch_count: job.batch_count,
        message: job.message.clone(),
        error: job.error.clone(),
        attempts: job.attempts,
        created_at_ms: job.created_ms,
        updated_at_ms: job.updated_ms,
        verifying_key_digest: job.vk_digest.clone(),
        bundle_files: job.bundle_files.clone(),
    }
}

/// Receives streamed parts within the upload limit.
struct Upload<'a> {
    core: &'a Core,
    parts: BTreeMap<&'static str, PartWriter>,
    total: u64,
}

impl<'a> Upload<'a> {
    fn new(core: &'a Core) -> Self {
        Upload {
            core,
            parts: BTreeMap::new(),
            total: 0,
        }
    }

    async fn write(&mut self, part: &'static str, data: &[u8]) -> Result<(), Status> {
        let limit = self.core.config.max_upload_bytes;
        self.total = self
            .total
            .saturating_add(data.len() as u64)
            .saturating_add(super::UPLOAD_MESSAGE_COST);
        if self.total > limit {
            return Err(Status::resource_exhausted(format!(
                "upload too large: more than the limit of {limit} bytes (--max-upload-bytes)"
            )));
        }
        if !self.parts.contains_key(part) {
            let writer = PartWriter::create(&self.core.artifacts)
                .await
                .map_err(|e| io_status("cannot store the upload", e))?;
            self.parts.insert(part, writer);
        }
        if let Some(writer) = self.parts.get_mut(part) {
            writer
                .write(data)
                .await
                .map_err(|e| io_status("cannot store the upload", e))?;
        }
        Ok(())
    }
}

/// The time limits of one upload: silence between two messages, and the whole upload.
#[derive(Clone, Copy, Debug)]
struct UploadClock {
    idle: std::time::Duration,
    total: std::time::Duration,
    /// `None`: a total so long it passes the clock's range, no limit in practice.
    deadline: Option<tokio::time::Instant>,
}

impl UploadClock {
    fn start(config: &super::ServiceConfig) -> Self {
        UploadClock {
            idle: config.upload_idle_timeout,
            total: config.upload_max_duration,
            deadline: tokio::time::Instant::now().checked_add(config.upload_max_duration),
        }
    }

    fn too_long(&self) -> Status {
        Status::deadline_exceeded(format!(
            "the upload took longer than {} s and is abandoned (the service's --upload-max-secs)",
            self.total.as_secs()
        ))
    }
}

/// Reads the next message of an upload; a broken stream is refused with the transport's code,
/// a silent one after `clock.idle`, and any once the upload has lasted `clock.total` (even with
/// messages waiting).
async fn next<T>(stream: &mut Streaming<T>, clock: UploadClock) -> Result<Option<T>, Status> {
    let left = clock
        .deadline
        .map(|d| d.saturating_duration_since(tokio::time::Instant::now()));
    if left.is_some_and(|left| left.is_zero()) {
        return Err(clock.too_long());
    }
    let wait = left.map_or(clock.idle, |left| left.min(clock.idle));
    let message = tokio::time::timeout(wait, stream.message())
        .await
        .map_err(|_| {
            if left.is_some_and(|left| left <= clock.idle) {
                clock.too_long()
            } else {
                Status::deadline_exceeded(format!(
                    "the upload sent nothing for {} s and is abandoned (the service's --upload-idle-secs)",
                    clock.idle.as_secs()
                ))
            }
        })?;
    message.map_err(|status| {
        let code = match status.code() {
            // tonic reports an over-long message as OUT_OF_RANGE or RESOURCE_EXHAUSTED.
            tonic::Code::OutOfRange | tonic::Code::ResourceExhausted => {
                tonic::Code::ResourceExhausted
            }
            tonic::Code::Cancelled => tonic::Code::Cancelled,
            _ => tonic::Code::InvalidArgument,
        };
        Status::new(
            code,
            format!(
                "the upload stream broke off: {} (messages are limited to {} bytes; send chunks of at most 1 MiB)",
                status.message(),
                super::MAX_MESSAGE_BYTES
            ),
        )
    })
}

fn truncated() -> Status {
    Status::invalid_argument(
        "the upload ended without a finish message: truncated upload refused (send header, chunks, then finish with every part's size)",
    )
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl AttributionService for Api {
    async fn submit_epoch(
        &self,
        request: Request<Streaming<proto::SubmitEpochRequest>>,
    ) -> Result<Response<proto::SubmitEpochResponse>, Status> {
        use proto::submit_epoch_request::Msg;
        self.refuse_if_stopping()?;
        let mut stream = request.into_inner();
        let clock = UploadClock::start(&self.core.config);
        let header = match next(&mut stream, clock).await? {
            Some(proto::SubmitEpochRequest {
                msg: Some(Msg::Header(h)),
            }) => h,
            None => return Err(truncated()),
            Some(_) => {
                return Err(Status::invalid_argument(
                    "the first message of an upload must be the header",
                ))
            }
        };
        let settings = Settings::from_header(&header, &self.core.backends)?;
        let mut parts = referenced_parts(&self.core.artifacts, &header.uploaded_parts).await?;

        // The streamed parts, then finish.
        let mut upload = Upload::new(&self.core);
        let finish = loop {
            match next(&mut stream, clock).await? {
                None => return Err(truncated()),
                Some(proto::SubmitEpochRequest { msg }) => match msg {
                    Some(Msg::Chunk(c)) => {
                        let name = part_of(c.part)?;
                        if parts.contains_key(name) {
                            return Err(Status::invalid_argument(format!(
                                "part {name} is both referenced in the header and streamed"
                            )));
                        }
                        upload.write(name, &c.data).await?;
                    }
                    Some(Msg::Finish(f)) => break f,
                    Some(Msg::Header(_)) => {
                        return Err(Status::invalid_argument("a second header in one upload"))
                    }
                    None => return Err(Status::invalid_argument("an empty upload message")),
                },
            }
        };
        let received = upload
            .parts
            .iter()
            .map(|(name, writer)| (*name, writer.size()))
            .collect();
        for name in check_finish(&finish, &received)? {
            upload.write(name, &[]).await?;
        }
        let mut streamed = Vec::new();
        for (name, writer) in std::mem::take(&mut upload.parts) {
            let committed = match writer.commit(&self.core.artifacts).await {
                Ok(c) => c,
                Err(e) => {
                    self.forget_parts(streamed).await;
                    return Err(io_status("cannot store the upload", e));
                }
            };
            streamed.push(committed.sha256.clone());
            parts.insert(
                name,
                StoredPart {
                    part: name.into(),
                    sha256: committed.sha256,
                    size: committed.size,
                },
            );
        }
        let submitted = match check_parts(&settings, &parts) {
            Ok(()) => submit(&self.core, settings, parts.into_values().collect()).await,
            Err(e) => Err(e),
        };
        match submitted {
            Ok((job, created)) => Ok(Response::new(response(&job, created))),
            Err(refused) => {
                // Parts of a refused upload would otherwise stay on disk with no job to
                // account for them.
                self.forget_parts(streamed).await;
                Err(refused)
            }
        }
    }

    async fn upload_part(
        &self,
        request: Request<Streaming<proto::UploadPartRequest>>,
    ) -> Result<Response<proto::UploadPartResponse>, Status> {
        use proto::upload_part_request::Msg;
        self.refuse_if_stopping()?;
        let mut stream = request.into_inner();
        let clock = UploadClock::start(&self.core.config);
        let name = match next(&mut stream, clock).await? {
            Some(proto::UploadPartRequest {
                msg: Some(Msg::Part(p)),
            }) => part_of(p)?,
            None => return Err(truncated()),
            Some(_) => {
                return Err(Status::invalid_argument(
                    "the first message of UploadPart must name the part",
                ))
            }
        };
        let mut upload = Upload::new(&self.core);
        upload.write(name, &[]).await?;
        let size = loop {
            match next(&mut stream, clock).await? {
                None => return Err(truncated()),
                Some(proto::UploadPartRequest { msg }) => match msg {
                    Some(Msg::Data(d)) => upload.write(name, &d).await?,
                    Some(Msg::FinishSize(n)) => break n,
                    Some(Msg::Part(_)) | None => {
                        return Err(Status::invalid_argument(
                            "UploadPart takes one part: part, data..., finish_size",
                        ))
                    }
                },
            }
        };
        let writer = upload
            .parts
            .remove(name)
            .ok_or_else(|| Status::internal("upload lost"))?;
        if writer.size() != size {
            return Err(Status::invalid_argument(format!(
                "truncated upload: part {name} has {} bytes but finish says {size}",
                writer.size()
            )));
        }
        let committed = writer
            .commit(&self.core.artifacts)
            .await
            .map_err(|e| io_status("cannot store the upload", e))?;
        Ok(Response::new(proto::UploadPartResponse {
            part_id: format!("sha256:{}", committed.sha256),
            size: committed.size,
        }))
    }

    async fn get_job(
        &self,
        request: Request<proto::GetJobRequest>,
    ) -> Result<Response<proto::Job>, Status> {
        let job = self.job(&request.into_inner().job_id).await?;
        Ok(Response::new(job_proto(&job)))
    }

    type WatchJobStream = BoxStream<proto::Job>;

    async fn watch_job(
        &self,
        request: Request<proto::WatchJobRequest>,
    ) -> Result<Response<Self::WatchJobStream>, Status> {
        let id = request.into_inner().job_id;
        // Subscribe before reading, so no change between the two is missed.
        let mut events = self.core.events.subscribe();
        let mut draining = self.core.draining.subscribe();
        let first = self.job(&id).await?;
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let api = self.clone();
        tokio::spawn(async move {
            let mut last = first;
            if tx.send(Ok(job_proto(&last))).await.is_err() {
                return;
            }
            // Also re-read now and then: another process sharing the store does not publish here.
            let mut poll = tokio::time::interval(std::time::Duration::from_secs(2));
            while !last.state.is_terminal() {
                let update = tokio::select! {
                    event = events.recv() => match event {
                        Ok(job) if job.id == id => Some(job),
                        Ok(_) => None,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => api.job(&id).await.ok(),
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                    },
                    _ = poll.tick() => api.job(&id).await.ok(),
                    _ = tx.closed() => break,
                    // Shutdown: the job as it is now (a running one was queued again), then
                    // the stream ends instead of being cut.
                    // The guard `wait_for` returns is not Send: dropped inside.
                    _ = async { drop(draining.wait_for(|d| *d).await) } => {
                        let now = api.job(&id).await.unwrap_or_else(|_| last.clone());
                        let _ = tx.send(Ok(job_proto(&now))).await;
                        break;
                    }
                };
                if let Some(job) = update {
                    let changed = job.state != last.state
                        || job.phase != last.phase
                        || job.message != last.message
                        || job.batch_index != last.batch_index
                        || job.attempts != last.attempts;
                    if changed && job.updated_ms >= last.updated_ms {
                        if tx.send(Ok(job_proto(&job))).await.is_err() {
                            break;
                        }
                        last = job;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    type FetchBundleStream = BoxStream<proto::BundleChunk>;

    async fn fetch_bundle(
        &self,
        request: Request<proto::FetchBundleRequest>,
    ) -> Result<Response<Self::FetchBundleStream>, Status> {
        let job = self.job(&request.into_inner().job_id).await?;
        if job.state != JobState::Done {
            return Err(Status::failed_precondition(format!(
                "job {} is {:?}, not DONE: no bundle{}",
                job.id,
                job_proto(&job).state(),
                if job.error.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", job.error)
                }
            )));
        }
        let dir = self.core.artifacts.bundle_dir(&job.id);
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            for name in job.bundle_files {
                let bytes = match tokio::fs::read(dir.join(&name)).await {
                    Ok(b) => b,
                    Err(e) => {
                        let _ = tx
                            .send(Err(io_status(
                                &format!("cannot read bundle file {name}"),
                                e,
                            )))
                            .await;
                        return;
                    }
                };
                let size = bytes.len() as u64;
                let mut offset = 0usize;
                loop {
                    let end = (offset + FETCH_CHUNK).min(bytes.len());
                    let chunk = proto::BundleChunk {
                        file_name: name.clone(),
                        offset: offset as u64,
                        file_size: size,
                        data: bytes[offset..end].to_vec(),
                    };
                    if tx.send(Ok(chunk)).await.is_err() {
                        return;
                    }
                    offset = end;
                    if offset >= bytes.len() {
                        break;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn cancel_job(
        &self,
        request: Request<proto::CancelJobRequest>,
    ) -> Result<Response<proto::Job>, Status> {
        let id = request.into_inner().job_id;
        super::limits::job_id(&id)?;
        let key = id.clone();
        let job = self
            .store(move |s| s.cancel(&key))
            .await?
            .ok_or_else(|| Status::not_found(format!("no job {id:?}")))?;
        if job.state == JobState::Cancelled {
            tracing::info!(id = %job.id, "job cancelled");
        }
        self.core.publish(&job);
        Ok(Response::new(job_proto(&job)))
    }

    async fn retry_job(
        &self,
        request: Request<proto::RetryJobRequest>,
    ) -> Result<Response<proto::Job>, Status> {
        let id = request.into_inner().job_id;
        super::limits::job_id(&id)?;
        let key = id.clone();
        let now = self
            .store(move |s| s.get(&key))
            .await?
            .ok_or_else(|| Status::not_found(format!("no job {id:?}")))?;
        let not_retryable = |state: JobState| {
            Status::failed_precondition(format!(
                "job {id} is {}: only a failed or cancelled job can be retried",
                state.as_str()
            ))
        };
        // Read first so a running or done job is named as such, not as "still stopping"; the
        // store checks the state again when it moves the job.
        if !now.state.is_retryable() {
            return Err(not_retryable(now.state));
        }
        // A cancelled attempt still running would race the new one for the job's checkpoint
        // folder (and could finish it with its own proof); it stops at its next batch, merge,
        // chunk proof or layer. Once shutdown began, claims are given back before their workers stop, so
        // `holds` no longer sees them: refuse then too.
        if self.core.stopping.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Status::unavailable("the service is shutting down"));
        }
        if self.core.holds(&id) {
            return Err(Status::failed_precondition(format!(
                "job {id} is still stopping (its worker first finishes what it is proving: a batch, a merge, a chunk proof, a circuit build or a last layer, up to minutes); retry it then"
            )));
        }
        let key = id.clone();
        let limit = self.core.config.queue_limit;
        let (job, moved) = self
            .store(move |s| s.retry(&key, limit))
            .await?
            .ok_or_else(|| Status::not_found(format!("no job {id:?}")))?;
        if !moved {
            return Err(not_retryable(job.state));
        }
        tracing::info!(id = %job.id, "job queued again (retry)");
        self.core.publish(&job);
        self.core.wake.notify();
        Ok(Response::new(job_proto(&job)))
    }

    async fn delete_job(
        &self,
        request: Request<proto::DeleteJobRequest>,
    ) -> Result<Response<proto::DeleteJobResponse>, Status> {
        let id = request.into_inner().job_id;
        super::limits::job_id(&id)?;
        // A cancelled attempt still proving writes into the job's checkpoint folder.
        if self.core.holds(&id) {
            return Err(Status::failed_precondition(format!(
                "job {id} is still stopping (its worker first finishes what it is proving); delete it then"
            )));
        }
        let core = Arc::clone(&self.core);
        let key = id.clone();
        let deletion = tokio::task::spawn_blocking(move || super::delete_job(&core, &key))
            .await
            .map_err(|e| Status::internal(format!("delete task failed: {e}")))?
            .map_err(store_status)?;
        match deletion {
            super::store::Deletion::NotFound => Err(Status::not_found(format!("no job {id:?}"))),
            super::store::Deletion::Active(state) => Err(Status::failed_precondition(format!(
                "job {id} is {}: cancel it first; only a done, failed or cancelled job can be deleted",
                state.as_str()
            ))),
            super::store::Deletion::Deleted { .. } => {
                tracing::info!(id = %id, "job deleted");
                Ok(Response::new(proto::DeleteJobResponse { deleted: true }))
            }
        }
    }

    async fn list_jobs(
        &self,
        request: Request<proto::ListJobsRequest>,
    ) -> Result<Response<proto::ListJobsResponse>, Status> {
        let req = request.into_inner();
        let size = match req.page_size {
            0 => 50,
            n => n.min(MAX_PAGE),
        };
        let before = match req.page_token.as_str() {
            "" => None,
            t => Some(super::limits::page_token(t)?),
        };
        let state = match known(req.state, "state")? {
            proto::JobState::Unspecified => None,
            proto::JobState::Queued => Some(JobState::Queued),
            proto::JobState::Validating
            | proto::JobState::Proving
            | proto::JobState::Aggregating => Some(JobState::Running),
            proto::JobState::Done => Some(JobState::Done),
            proto::JobState::Failed => Some(JobState::Failed),
            proto::JobState::Cancelled => Some(JobState::Cancelled),
        };
        // One more than a page tells whether another page follows.
        let mut jobs = self.store(move |s| s.list(state, before, size + 1)).await?;
        let more = jobs.len() > size as usize;
        jobs.truncate(size as usize);
        let next_page_token = match (more, jobs.last()) {
            (true, Some(last)) => last.seq.to_string(),
            _ => String::new(),
        };
        Ok(Response::new(proto::ListJobsResponse {
            jobs: jobs.iter().map(job_proto).collect(),
            next_page_token,
        }))
    }

    async fn get_verifying_key(
        &self,
        request: Request<proto::GetVerifyingKeyRequest>,
    ) -> Result<Response<proto::GetVerifyingKeyResponse>, Status> {
        let req = request.into_inner();
        let kind = backend_kind(known(req.backend, "backend")?);
        if !req.shape.is_empty() {
            super::limits::shape(&req.shape)?;
        }
        let core = Arc::clone(&self.core);
        let key = tokio::task::spawn_blocking(move || {
            let backend = core.backends.get(kind)?;
            let shape = match (req.shape.as_str(), req.queries) {
                ("", 0) => {
                    return Err(BackendError::UnknownShape(
                        "give a shape (e.g. \"16x16\") or a query count".into(),
                    ))
                }
                ("", q) => backend.shape_for_queries(q)?,
                (s, _) => s.to_string(),
            };
            backend.verifying_key(&shape)
        })
        .await
        .map_err(|e| Status::internal(format!("key task failed: {e}")))?
        .map_err(backend_status)?;
        Ok(Response::new(proto::GetVerifyingKeyResponse {
            backend: backend_proto(kind.as_str()).into(),
            shape: key.shape,
            verifying_key: key.bytes,
            digest: key.digest,
            pinned_digest: key.pinned.unwrap_or_default(),
            setup: key.setup.name().to_string(),
            unsafe_setup: key.setup.is_unsafe(),
        }))
    }
}

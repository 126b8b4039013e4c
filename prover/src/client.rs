//! The client side of `attribution.v1` (a library for tests and other tools) and the `zkattr`
//! subcommands that talk to a service: `serve`, `submit`, `status`, `fetch`, `cancel`, `retry`,
//! `jobs`.

use crate::proto;
use crate::proto::attribution_service_client::AttributionServiceClient;
use crate::service::auth::BearerToken;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::io::AsyncReadExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

/// A connected client that sends the bearer token with every call.
pub type Client = AttributionServiceClient<InterceptedService<Channel, BearerToken>>;

/// Bytes per upload chunk (the service decodes messages of up to 4 MiB).
pub const UPLOAD_CHUNK: usize = 1 << 20;

/// Why a client call failed.
#[derive(Debug, Error)]
pub enum ClientError {
    #[error("cannot connect to {server}: {source}")]
    Connect {
        server: String,
        source: tonic::transport::Error,
    },
    #[error("the service answered {:?}: {}", .0.code(), .0.message())]
    Status(tonic::Status),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Protocol(String),
}

impl From<tonic::Status> for ClientError {
    fn from(status: tonic::Status) -> Self {
        ClientError::Status(status)
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ClientError + '_ {
    move |source| ClientError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Connects to `server` (`http://HOST:PORT`, or `https://...` for TLS, trusting `ca_pem` if
/// given, else the system's roots).
pub async fn connect(
    server: &str,
    token: Option<&str>,
    ca_pem: Option<Vec<u8>>,
) -> Result<Client, ClientError> {
    let connect_err = |source| ClientError::Connect {
        server: server.to_string(),
        source,
    };
    let mut endpoint = Endpoint::from_shared(server.to_string())
        .map_err(connect_err)?
        .connect_timeout(Duration::from_secs(10));
    if server.starts_with("https://") {
        let mut tls = ClientTlsConfig::new();
        tls = match ca_pem {
            Some(pem) => tls.ca_certificate(Certificate::from_pem(pem)),
            None => tls.with_native_roots(),
        };
        endpoint = endpoint.tls_config(tls).map_err(connect_err)?;
    }
    let channel = endpoint.connect().await.map_err(connect_err)?;
    let token = BearerToken::new(token)?;
    Ok(AttributionServiceClient::with_interceptor(channel, token)
        .max_decoding_message_size(crate::service::MAX_MESSAGE_BYTES))
}

/// An epoch to upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EpochSource {
    /// SPEC's JSON epoch file.
    Json(PathBuf),
    /// The two parties' CSV logs.
    CsvPair {
        activations: PathBuf,
        influence: PathBuf,
        epoch_id: u64,
        rate_bps: u16,
    },
}

/// One part of an upload, as bytes in memory or a file.
#[derive(Debug)]
pub enum PartData {
    Bytes(Vec<u8>),
    File(PathBuf),
}

impl PartData {
    async fn len(&self) -> Result<u64, ClientError> {
        match self {
            PartData::Bytes(b) => Ok(b.len() as u64),
            PartData::File(p) => Ok(tokio::fs::metadata(p).await.map_err(io_err(p))?.len()),
        }
    }
}

impl EpochSource {
    /// The header and the parts to stream.
    pub fn into_upload(
        self,
        backend: proto::Backend,
    ) -> (proto::SubmitHeader, Vec<(proto::Part, PartData)>) {
        match self {
            EpochSource::Json(path) => (
                proto::SubmitHeader {
                    backend: backend.into(),
                    format: proto::EpochFormat::Json.into(),
                    ..Default::default()
                },
                vec![(proto::Part::EpochJson, PartData::File(path))],
            ),
            EpochSource::CsvPair {
                activations,
                influence,
                epoch_id,
                rate_bps,
            } => (
                proto::SubmitHeader {
                    backend: backend.into(),
                    format: proto::EpochFormat::CsvPair.into(),
                    epoch_id,
                    rate_bps: rate_bps.into(),
                    uploaded_parts: Vec::new(),
                },
                vec![
                    (proto::Part::ActivationsCsv, PartData::File(activations)),
                    (proto::Part::InfluenceCsv, PartData::File(influence)),
                ],
            ),
        }
    }
}

/// Streams `header`, the parts in chunks, then finish; `on_sent` hears the bytes sent so far.
pub async fn submit(
    client: &mut Client,
    header: proto::SubmitHeader,
    parts: Vec<(proto::Part, PartData)>,
    mut on_sent: impl FnMut(u64) + Send + 'static,
) -> Result<proto::SubmitEpochResponse, ClientError> {
    use proto::submit_epoch_request::Msg;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let producer = tokio::spawn(async move {
        let msg = |m| proto::SubmitEpochRequest { msg: Some(m) };
        if tx.send(msg(Msg::Header(header))).await.is_err() {
            return Ok(());
        }
        let mut sizes = Vec::new();
        let mut sent = 0u64;
        for (part, data) in parts {
            let size = data.len().await?;
            let mut chunks: Box<dyn tokio::io::AsyncRead + Send + Unpin> = match data {
                PartData::Bytes(b) => Box::new(std::io::Cursor::new(b)),
                PartData::File(p) => Box::new(tokio::fs::File::open(&p).await.map_err(io_err(&p))?),
            };
            let mut buf = vec![0u8; UPLOAD_CHUNK];
            loop {
                let n = chunks
                    .read(&mut buf)
                    .await
                    .map_err(|source| ClientError::Io {
                        path: format!("{part:?}"),
                        source,
                    })?;
                if n == 0 {
                    break;
                }
                let chunk = proto::Chunk {
                    part: part.into(),
                    data: buf[..n].to_vec(),
                };
                if tx.send(msg(Msg::Chunk(chunk))).await.is_err() {
                    // The service stopped reading (it refused the upload); its answer says why.
                    return Ok(());
                }
                sent += n as u64;
                on_sent(sent);
            }
            sizes.push(proto::PartSize {
                part: part.into(),
                size,
            });
        }
        let _ = tx.send(msg(Msg::Finish(proto::Finish { sizes }))).await;
        Ok::<(), ClientError>(())
    });
    let answer = client.submit_epoch(ReceiverStream::new(rx)).await;
    // A local read error explains a refusal better than the service's "truncated".
    match producer.await {
        Ok(Err(e)) => return Err(e),
        Err(e) => return Err(ClientError::Protocol(format!("upload task failed: {e}"))),
        Ok(Ok(())) => {}
    }
    Ok(answer?.into_inner())
}

/// Follows a job until it is done, failed or cancelled; `on_update` hears every change.
pub async fn watch(
    client: &mut Client,
    job_id: &str,
    mut on_update: impl FnMut(&proto::Job),
) -> Result<proto::Job, ClientError> {
    let mut stream = client
        .watch_job(proto::WatchJobRequest {
            job_id: job_id.to_string(),
        })
        .await?
        .into_inner();
    let mut last = None;
    while let Some(job) = stream.message().await? {
        on_update(&job);
        last = Some(job);
    }
    let job = last.ok_or_else(|| ClientError::Protocol("WatchJob sent nothing".into()))?;
    if !is_terminal(job.state()) {
        return Err(ClientError::Protocol(format!(
            "the watch ended while the job was {:?}",
            job.state()
        )));
    }
    Ok(job)
}

/// Done, failed or cancelled.
pub fn is_terminal(state: proto::JobState) -> bool {
    matches!(
        state,
        proto::JobState::Done | proto::JobState::Failed | proto::JobState::Cancelled
    )
}

/// Downloads a done job's bundle into `out` (created if needed); returns the file names.
pub async fn fetch(
    client: &mut Client,
    job_id: &str,
    out: &Path,
) -> Result<Vec<String>, ClientError> {
    use tokio::io::AsyncWriteExt;
    let mut stream = client
        .fetch_bundle(proto::FetchBundleRequest {
            job_id: job_id.to_string(),
        })
        .await?
        .into_inner();
    tokio::fs::create_dir_all(out).await.map_err(io_err(out))?;
    let mut files: Vec<String> = Vec::new();
    let mut current: Option<(tokio::fs::File, PathBuf, u64, u64)> = None;
    while let Some(chunk) = stream.message().await? {
        let name = &chunk.file_name;
        // Only plain file names: the service must not write outside `out`.
        let plain =
            !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0']);
        if !plain {
            return Err(ClientError::Protocol(format!(
                "bad bundle file name {name:?}"
            )));
        }
        if chunk.offset == 0 {
            if let Some((mut f, path, written, size)) = current.take() {
                f.flush().await.map_err(io_err(&path))?;
                if written != size {
                    return Err(ClientError::Protocol(format!(
                        "{} is incomplete",
                        path.display()
                    )));
                }
            }
            let path = out.join(name);
            let f = tokio::fs::File::create(&path)
                .await
                .map_err(io_err(&path))?;
            files.push(name.clone());
            current = Some((f, path, 0, chunk.file_size));
        }
        let Some((f, path, written, _)) = current.as_mut() else {
            return Err(ClientError::Protocol(
                "bundle stream starts mid-file".into(),
            ));
        };
        if chunk.offset != *written || files.last() != Some(name) {
            return Err(ClientError::Protocol(format!(
                "out-of-order chunk of {name}"
            )));
        }
        f.write_all(&chunk.data).await.map_err(io_err(path))?;
        *written += chunk.data.len() as u64;
    }
    if let Some((mut f, path, written, size)) = current.take() {
        f.flush().await.map_err(io_err(&path))?;
        if written != size {
            return Err(ClientError::Protocol(format!(
                "{} is incomplete",
                path.display()
            )));
        }
    }
    Ok(files)
}

/// A job in one line.
pub fn describe(job: &proto::Job) -> String {
    let state = job.state().as_str_name().trim_start_matches("JOB_STATE_");
    let mut line = format!("{} {state}", job.job_id);
    if job.state() == proto::JobState::Proving {
        line += &format!(" batch {} of {}", job.batch_index, job.batch_count);
    }
    if !job.message.is_empty() && !is_terminal(job.state()) {
        line += &format!(": {}", job.message);
    }
    if !job.error.is_empty() {
        line += &format!(": {}", job.error);
    }
    line
}

// ---------------------------------------------------------------------------------------------
// The `zkattr` subcommands.

/// Where the service is and how to reach it.
#[derive(clap::Args, Debug, Clone)]
pub struct ServerArgs {
    /// The service's URL (https:// for TLS).
    #[arg(long, env = "ZKATTR_SERVER", default_value = "http://127.0.0.1:50051")]
    pub server: String,
    /// Bearer token.
    #[arg(long, env = "ZKATTR_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// PEM certificate to trust for https:// (default: the system's roots).
    #[arg(long, env = "ZKATTR_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
}

impl ServerArgs {
    async fn connect(&self) -> anyhow::Result<Client> {
        let ca = match &self.ca_cert {
            Some(p) => Some(std::fs::read(p).map_err(io_err(p))?),
            None => None,
        };
        Ok(connect(&self.server, self.token.as_deref(), ca).await?)
    }
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum BackendArg {
    Plonky2,
    Halo2,
}

/// The service subcommands of `zkattr`.
#[derive(clap::Subcommand, Debug)]
pub enum ServiceCommand {
    /// Run the gRPC proving service (SQLite job store and artifacts under --data-dir).
    Serve {
        #[arg(long, default_value = "zkattr-data")]
        data_dir: PathBuf,
        #[arg(long, default_value = "127.0.0.1:50051")]
        listen: std::net::SocketAddr,
        /// Proving threads (0: accept and queue jobs only).
        #[arg(long, default_value_t = 1)]
        workers: usize,
        /// Most jobs queued or running; more submissions get RESOURCE_EXHAUSTED.
        #[arg(long, default_value_t = 1000)]
        queue_limit: u64,
        /// Largest upload in bytes (all parts together).
        #[arg(long, default_value_t = 1 << 30)]
        max_upload_bytes: u64,
        /// Seconds an upload may send nothing before it is refused.
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
        upload_idle_secs: u64,
        /// Seconds an upload may take in all before it is refused, however steadily it sends
        /// (1 GiB at 1 MB/s takes about 1,100 s).
        #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
        upload_max_secs: u64,
        /// Bearer token required on every call but health.
        #[arg(long, env = "ZKATTR_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// PEM certificate chain: serve TLS (with --tls-key).
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Built circuits kept in memory (the 1024 one holds gigabytes).
        #[arg(long, default_value_t = 2)]
        circuit_cache: usize,
        /// halo2: folder of KZG parameters (`kzg_bn254_{k}.srs`); without a file for a
        /// circuit's size, UNSAFE development parameters are generated and cached there.
        #[arg(long, env = "ZKATTR_PARAMS_DIR", default_value = "params")]
        params: PathBuf,
        /// plonky2: prove every epoch in aggregated batches of at most this many queries (a
        /// power of two). Default: one circuit up to 1,024 queries, batches of 2,048 above
        /// (the pinned layouts).
        #[arg(long)]
        batch_size: Option<usize>,
    },
    /// Upload an epoch to a service and queue its proof.
    Submit {
        /// Epoch JSON file.
        #[arg(required_unless_present = "activations")]
        epoch: Option<PathBuf>,
        /// activations.csv; needs --influence, --epoch-id, --rate-bps.
        #[arg(long, requires_all = ["influence", "epoch_id", "rate_bps"], conflicts_with = "epoch")]
        activations: Option<PathBuf>,
        #[arg(long, requires = "activations")]
        influence: Option<PathBuf>,
        #[arg(long, requires = "activations")]
        epoch_id: Option<u64>,
        #[arg(long, requires = "activations")]
        rate_bps: Option<u16>,
        #[arg(long, value_enum, default_value_t = BackendArg::Plonky2)]
        backend: BackendArg,
        /// Follow the job until it ends (exit status non-zero unless DONE).
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Show a job.
    Status {
        job: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Download a done job's bundle and verify it (a proof under an UNSAFE setup, such as
    /// development KZG parameters, is refused unless --allow-unsafe-setup is given).
    Fetch {
        job: String,
        #[arg(long)]
        out: PathBuf,
        /// Accept a bundle proved under an UNSAFE setup (development only: anyone can forge it).
        #[arg(long)]
        allow_unsafe_setup: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Cancel a job.
    Cancel {
        job: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Queue a failed or cancelled job again (an aggregated job resumes from its checkpoints).
    Retry {
        job: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// List jobs, newest first.
    Jobs {
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// Runs a service subcommand.
pub fn run(command: ServiceCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run_async(command))
}

async fn run_async(command: ServiceCommand) -> anyhow::Result<()> {
    match command {
        ServiceCommand::Serve {
            data_dir,
            listen,
            workers,
            queue_limit,
            max_upload_bytes,
            upload_idle_secs,
            upload_max_secs,
            token,
            tls_cert,
            tls_key,
            circuit_cache,
            params,
            batch_size,
        } => {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
                )
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal())
                .try_init();
            let config = crate::service::ServiceConfig {
                data_dir,
                listen,
                workers,
                queue_limit,
                max_upload_bytes,
                upload_idle_timeout: std::time::Duration::from_secs(upload_idle_secs),
                upload_max_duration: std::time::Duration::from_secs(upload_max_secs),
                token,
                tls: tls_cert
                    .zip(tls_key)
                    .map(|(cert, key)| crate::service::TlsFiles { cert, key }),
                circuit_cache,
                kzg_params_dir: params,
                batch_size,
                ..Default::default()
            };
            if config.token.is_none() && !listen.ip().is_loopback() {
                tracing::warn!("listening beyond loopback without --token: anyone who reaches the port can submit jobs");
            }
            let service = crate::service::start(config, None).await?;
            println!("zkattr serve: listening on {}", service.addr);
            tokio::select! {
                result = shutdown_signal() => result?,
            }
            tracing::info!("shutting down; running jobs go back to the queue for the next start");
            // Open WatchJob streams would hold a graceful shutdown; nothing is lost by not
            // waiting for them (running jobs were given back to the queue already).
            if tokio::time::timeout(Duration::from_secs(5), service.shutdown())
                .await
                .is_err()
            {
                tracing::warn!("open calls did not finish within 5 s; stopping anyway");
            }
        }
        ServiceCommand::Submit {
            epoch,
            activations,
            influence,
            epoch_id,
            rate_bps,
            backend,
            wait,
            server,
        } => {
            let source = match (epoch, activations, influence) {
                (Some(path), _, _) => EpochSource::Json(path),
                (None, Some(activations), Some(influence)) => EpochSource::CsvPair {
                    activations,
                    influence,
                    epoch_id: epoch_id.unwrap_or_default(),
                    rate_bps: rate_bps.unwrap_or_default(),
                },
                _ => anyhow::bail!("give an epoch JSON file, or --activations and --influence"),
            };
            let backend = match backend {
                BackendArg::Plonky2 => proto::Backend::Plonky2,
                BackendArg::Halo2 => proto::Backend::Halo2,
            };
            let mut client = server.connect().await?;
            let (header, parts) = source.into_upload(backend);
            let mut total = 0;
            for (_, p) in &parts {
                total += p.len().await?;
            }
            let view = Progress::new();
            let bar = view.bar.clone();
            if let Some(bar) = &bar {
                bar.set_length(total);
                bar.set_style(bytes_style());
                bar.set_message("uploading");
            }
            let answer = submit(&mut client, header, parts, move |sent| {
                if let Some(bar) = &bar {
                    bar.set_position(sent);
                }
            })
            .await?;
            let job = answer.job.ok_or_else(|| {
                ClientError::Protocol("SubmitEpoch answered without a job".into())
            })?;
            view.line(&format!(
                "{} {} ({} queries, {} circuit)",
                if answer.deduplicated {
                    "already submitted:"
                } else {
                    "submitted:"
                },
                job.job_id,
                job.n_queries,
                job.shape
            ));
            println!("{}", job.job_id);
            if wait {
                let started = Instant::now();
                let mut view = view;
                let job = watch(&mut client, &job.job_id, |job| view.update(job, started)).await?;
                view.finish();
                match job.state() {
                    proto::JobState::Done => eprintln!(
                        "done in {:.1} s; fetch it with: zkattr fetch {} --out DIR",
                        started.elapsed().as_secs_f64(),
                        job.job_id
                    ),
                    _ => anyhow::bail!("{}", describe(&job)),
                }
            }
        }
        ServiceCommand::Status { job, server } => {
            let job = server
                .connect()
                .await?
                .get_job(proto::GetJobRequest { job_id: job })
                .await
                .map_err(ClientError::from)?
                .into_inner();
            print_job(&job);
        }
        ServiceCommand::Fetch {
            job,
            out,
            allow_unsafe_setup,
            server,
        } => {
            let mut client = server.connect().await?;
            let files = fetch(&mut client, &job, &out).await?;
            let options =
                zkattr_verifier::VerifyOptions::strict().allow_unsafe_setup(allow_unsafe_setup);
            let verified = zkattr_verifier::bundle::verify_bundle(&out, &options).map_err(|e| {
                anyhow::anyhow!("fetched {} but it does not verify: {e}", out.display())
            })?;
            if let zkattr_verifier::Setup::Unsafe { source } = &verified.setup {
                eprintln!(
                    "WARNING: proved under the UNSAFE setup {source:?} (its secret is public: \
                     anyone can forge such a proof); accepted only because of \
                     --allow-unsafe-setup. Never settle on it."
                );
            }
            println!(
                "wrote {} ({}); verified: {} proof ({} circuit) of epoch {}",
                out.display(),
                files.join(", "),
                verified.backend,
                verified.shape,
                verified.statement.epoch_id
            );
        }
        ServiceCommand::Cancel { job, server } => {
            let job = server
                .connect()
                .await?
                .cancel_job(proto::CancelJobRequest { job_id: job })
                .await
                .map_err(ClientError::from)?
                .into_inner();
            println!("{}", describe(&job));
        }
        ServiceCommand::Retry { job, server } => {
            let job = server
                .connect()
                .await?
                .retry_job(proto::RetryJobRequest { job_id: job })
                .await
                .map_err(ClientError::from)?
                .into_inner();
            println!("{}", describe(&job));
        }
        ServiceCommand::Jobs { limit, server } => {
            let list = server
                .connect()
                .await?
                .list_jobs(proto::ListJobsRequest {
                    page_size: limit,
                    ..Default::default()
                })
                .await
                .map_err(ClientError::from)?
                .into_inner();
            for job in &list.jobs {
                println!("{}", describe(job));
            }
        }
    }
    Ok(())
}

async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

fn print_job(job: &proto::Job) {
    println!("job        {}", job.job_id);
    println!(
        "state      {}",
        describe(job).split_once(' ').map_or("", |(_, s)| s)
    );
    println!(
        "backend    {}",
        job.backend()
            .as_str_name()
            .trim_start_matches("BACKEND_")
            .to_lowercase()
    );
    println!(
        "epoch      {} ({} queries, {} circuit)",
        job.epoch_id, job.n_queries, job.shape
    );
    println!("attempts   {}", job.attempts);
    println!("content    {}", job.content_hash);
    if !job.verifying_key_digest.is_empty() {
        println!("vk digest  {}", job.verifying_key_digest);
        println!("bundle     {}", job.bundle_files.join(", "));
    }
}

fn bytes_style() -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
}

/// Progress on stderr: a live bar on a terminal, plain lines otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    last: String,
}

impl Progress {
    fn new() -> Self {
        let bar = std::io::stderr()
            .is_terminal()
            .then(|| indicatif::ProgressBar::new(0));
        Progress {
            bar,
            last: String::new(),
        }
    }

    fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    fn update(&mut self, job: &proto::Job, started: Instant) {
        let text = describe(job);
        if text == self.last {
            return;
        }
        match &self.bar {
            Some(bar) => {
                if bar.length() != Some(u64::from(job.batch_count.max(1))) {
                    bar.set_length(u64::from(job.batch_count.max(1)));
                    bar.set_position(0);
                    bar.set_style(
                        indicatif::ProgressStyle::with_template(
                            "{spinner} [{elapsed_precise}] [{bar:20}] {pos}/{len} {wide_msg}",
                        )
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                    );
                    bar.enable_steady_tick(Duration::from_millis(120));
                }
                let done = match job.state() {
                    proto::JobState::Done => u64::from(job.batch_count.max(1)),
                    proto::JobState::Proving => u64::from(job.batch_index.saturating_sub(1)),
                    _ => 0,
                };
                bar.set_position(done);
                bar.set_message(text.clone());
            }
            None => eprintln!("[{:>6.1} s] {text}", started.elapsed().as_secs_f64()),
        }
        self.last = text;
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

//! The client side of `attribution.v1` (a library for tests and other tools) and the `zkattr`
//! subcommands that talk to a service: `serve`, `submit`, `status`, `fetch`, `cancel`, `retry`,
//! `jobs`.

mod connect;
mod jobs;
mod serve;
mod upload;
mod view;

pub use connect::{connect, read_token_file, ServerArgs, TokenArgs, TokenFile};
pub use jobs::{describe, fetch, is_terminal, watch};
pub use serve::ServeArgs;
pub use upload::{submit, EpochSource, PartData, UPLOAD_CHUNK};
pub use view::{progress_message, JOB_PREFIX_COLUMNS};

use crate::proto::attribution_service_client::AttributionServiceClient;
use crate::service::auth::BearerToken;
use std::path::{Path, PathBuf};
use thiserror::Error;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// A connected client that sends the bearer token with every call.
pub type Client = AttributionServiceClient<InterceptedService<Channel, BearerToken>>;

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

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum BackendArg {
    Plonky2,
    Halo2,
}

/// The service subcommands of `zkattr`.
#[derive(clap::Subcommand, Debug)]
pub enum ServiceCommand {
    /// Run the gRPC proving service (SQLite job store and artifacts under --data-dir).
    Serve(ServeArgs),
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
    /// Delete a done, failed or cancelled job: its record, bundle, checkpoints and the
    /// uploaded parts no other job uses (cancel a queued or running job first).
    Delete {
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
        ServiceCommand::Serve(args) => serve::serve(args).await,
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
            jobs::submit_command(
                epoch,
                activations,
                influence,
                epoch_id,
                rate_bps,
                backend,
                wait,
                server,
            )
            .await
        }
        ServiceCommand::Status { job, server } => jobs::status(job, server).await,
        ServiceCommand::Fetch {
            job,
            out,
            allow_unsafe_setup,
            server,
        } => jobs::fetch_command(job, out, allow_unsafe_setup, server).await,
        ServiceCommand::Cancel { job, server } => jobs::cancel(job, server).await,
        ServiceCommand::Retry { job, server } => jobs::retry(job, server).await,
        ServiceCommand::Delete { job, server } => jobs::delete(job, server).await,
        ServiceCommand::Jobs { limit, server } => jobs::list(limit, server).await,
    }
}

//! `zkattr serve`: its flags, the service configuration they make, and the wait for a signal.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

/// The flags of `zkattr serve`.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// Folder of the job store and the artifacts.
    #[arg(long, default_value = "zkattr-data")]
    pub data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub listen: std::net::SocketAddr,
    /// Proving threads (0: accept and queue jobs only).
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Most jobs queued or running; more submissions get RESOURCE_EXHAUSTED.
    #[arg(long, default_value_t = 1000)]
    pub queue_limit: u64,
    /// Largest upload in bytes (all parts together).
    #[arg(long, default_value_t = 1 << 30)]
    pub max_upload_bytes: u64,
    /// Seconds an upload may send nothing before it is refused.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub upload_idle_secs: u64,
    /// Seconds an upload may take in all before it is refused, however steadily it sends
    /// (1 GiB at 1 MB/s takes about 1,100 s).
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub upload_max_secs: u64,
    #[command(flatten)]
    pub token: super::TokenArgs,
    /// PEM certificate chain: serve TLS (with --tls-key).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Built circuits kept in memory (the 1024 one holds gigabytes).
    #[arg(long, default_value_t = 2)]
    pub circuit_cache: usize,
    /// halo2: folder of KZG parameters (`kzg_bn254_{k}.srs`); without a file for a
    /// circuit's size, UNSAFE development parameters are generated and cached there.
    #[arg(long, env = "ZKATTR_PARAMS_DIR", default_value = "params")]
    pub params: PathBuf,
    /// plonky2: prove every epoch in aggregated batches of at most this many queries (a
    /// power of two). Default: one circuit up to 1,024 queries, batches of 2,048 above
    /// (the pinned layouts).
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Delete done, failed and cancelled jobs unchanged for this many days (checked at start
    /// and hourly). Default: keep them until `zkattr delete`.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=36500))]
    pub retain_days: Option<u64>,
}

/// Runs the service until SIGINT or SIGTERM.
pub(super) async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let ServeArgs {
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
        retain_days,
    } = args;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
    let token = token.resolve(|warning| tracing::warn!("{warning}"))?;
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
        retain: retain_days.map(|d| Duration::from_secs(d * 86_400)),
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
    // Bounded inside: open calls get service::DRAIN_CALLS.
    service.shutdown().await?;
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

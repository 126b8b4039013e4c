//! Following, fetching and describing jobs, and the `zkattr` job subcommands.

use super::upload::{submit, EpochSource};
use super::view::Progress;
use super::{io_err, BackendArg, Client, ClientError, ServerArgs};
use crate::proto;
use std::path::{Path, PathBuf};
use std::time::Instant;

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

/// `zkattr submit`: uploads an epoch, prints the job id, and with `wait` follows the job.
#[allow(clippy::too_many_arguments)]
pub(super) async fn submit_command(
    epoch: Option<PathBuf>,
    activations: Option<PathBuf>,
    influence: Option<PathBuf>,
    epoch_id: Option<u64>,
    rate_bps: Option<u16>,
    backend: BackendArg,
    wait: bool,
    server: ServerArgs,
) -> anyhow::Result<()> {
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
    let bar = view.upload(total);
    let answer = submit(&mut client, header, parts, move |sent| {
        if let Some(bar) = &bar {
            bar.set_position(sent);
        }
    })
    .await?;
    let job = answer
        .job
        .ok_or_else(|| ClientError::Protocol("SubmitEpoch answered without a job".into()))?;
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
    Ok(())
}

/// `zkattr status`.
pub(super) async fn status(job: String, server: ServerArgs) -> anyhow::Result<()> {
    let job = server
        .connect()
        .await?
        .get_job(proto::GetJobRequest { job_id: job })
        .await
        .map_err(ClientError::from)?
        .into_inner();
    print_job(&job);
    Ok(())
}

/// `zkattr fetch`: downloads the bundle and verifies it.
pub(super) async fn fetch_command(
    job: String,
    out: PathBuf,
    allow_unsafe_setup: bool,
    server: ServerArgs,
) -> anyhow::Result<()> {
    let mut client = server.connect().await?;
    let files = fetch(&mut client, &job, &out).await?;
    let options = zkattr_verifier::VerifyOptions::strict().allow_unsafe_setup(allow_unsafe_setup);
    let verified = zkattr_verifier::bundle::verify_bundle(&out, &options)
        .map_err(|e| anyhow::anyhow!("fetched {} but it does not verify: {e}", out.display()))?;
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
    Ok(())
}

/// `zkattr cancel`.
pub(super) async fn cancel(job: String, server: ServerArgs) -> anyhow::Result<()> {
    let job = server
        .connect()
        .await?
        .cancel_job(proto::CancelJobRequest { job_id: job })
        .await
        .map_err(ClientError::from)?
        .into_inner();
    println!("{}", describe(&job));
    Ok(())
}

/// `zkattr retry`.
pub(super) async fn retry(job: String, server: ServerArgs) -> anyhow::Result<()> {
    let job = server
        .connect()
        .await?
        .retry_job(proto::RetryJobRequest { job_id: job })
        .await
        .map_err(ClientError::from)?
        .into_inner();
    println!("{}", describe(&job));
    Ok(())
}

/// `zkattr delete`.
pub(super) async fn delete(job: String, server: ServerArgs) -> anyhow::Result<()> {
    server
        .connect()
        .await?
        .delete_job(proto::DeleteJobRequest {
            job_id: job.clone(),
        })
        .await
        .map_err(ClientError::from)?;
    println!("{job}: deleted");
    Ok(())
}

/// `zkattr jobs`.
pub(super) async fn list(limit: u32, server: ServerArgs) -> anyhow::Result<()> {
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
    if list.jobs.is_empty() {
        eprintln!("no jobs");
    }
    for job in &list.jobs {
        println!("{}", describe(job));
    }
    Ok(())
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

//! The operator's items: one server per data directory, bounded identifiers, retention
//! (refused and abandoned uploads, DeleteJob, --retain-days, private modes) and the drain.

mod common;

use common::*;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use tonic::Code;
use zkattr_prover::client::{self, ClientError};
use zkattr_prover::proto;
use zkattr_prover::service::{self, ServiceConfig, ServiceError};

/// Config for an in-process service on `data` without workers.
fn config(data: &Path) -> ServiceConfig {
    ServiceConfig {
        data_dir: data.to_path_buf(),
        listen: "127.0.0.1:0".parse().expect("address"),
        workers: 0,
        kzg_params_dir: std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../params"),
        ..Default::default()
    }
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .collect();
    names.sort();
    names
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_server_per_data_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let first = service::start(config(&data), Some(shared_cache()))
        .await
        .expect("first start");

    // In process: refused, naming the folder and this process as the holder.
    match service::start(config(&data), Some(shared_cache())).await {
        Err(ServiceError::Locked { path, holder }) => {
            assert_eq!(path, data.display().to_string());
            assert_eq!(holder, std::process::id().to_string());
        }
        other => panic!("a second start on the same folder must be refused, got {other:?}"),
    }

    // A real `zkattr serve` on the same folder exits at once, non-zero, saying who holds it.
    let mut child = Command::new(env!("CARGO_BIN_EXE_zkattr"))
        .args(["serve", "--listen", "127.0.0.1:0", "--workers", "0"])
        .arg("--data-dir")
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("zkattr serve starts");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("stderr read");
    let status = child.wait().expect("reaped");
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains(&data.display().to_string()), "{stderr}");
    assert!(
        stderr.contains(&format!("pid {}", std::process::id())),
        "{stderr}"
    );

    // The holder's stop releases the lock; the pid it left in the file does not block.
    first.shutdown().await.expect("shutdown");
    let lock = std::fs::read_to_string(data.join("lock")).expect("lock file");
    assert_eq!(lock.trim(), std::process::id().to_string());
    let again = service::start(config(&data), Some(shared_cache()))
        .await
        .expect("a start after the holder stopped");
    again.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_and_foreign_identifiers_are_refused_before_lookup() {
    let (running, _dir) = start(|c| c.workers = 0).await;
    let mut c = connect(&running, None).await;
    let long = "j".repeat(10 * 1024);
    for bad in [long.as_str(), "jöb-ünïcode", "job/../../etc"] {
        let check = |what: &str, result: Result<(), tonic::Status>| {
            let status = result.expect_err(what);
            assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
            assert!(
                status.message().len() < 160,
                "{what} echoes too much: {} bytes",
                status.message().len()
            );
        };
        let id = || bad.to_string();
        check(
            "GetJob",
            c.get_job(proto::GetJobRequest { job_id: id() })
                .await
                .map(drop),
        );
        check(
            "WatchJob",
            c.watch_job(proto::WatchJobRequest { job_id: id() })
                .await
                .map(drop),
        );
        check(
            "FetchBundle",
            c.fetch_bundle(proto::FetchBundleRequest { job_id: id() })
                .await
                .map(drop),
        );
        check(
            "CancelJob",
            c.cancel_job(proto::CancelJobRequest { job_id: id() })
                .await
                .map(drop),
        );
        check(
            "RetryJob",
            c.retry_job(proto::RetryJobRequest { job_id: id() })
                .await
                .map(drop),
        );
        check(
            "DeleteJob",
            c.delete_job(proto::DeleteJobRequest { job_id: id() })
                .await
                .map(drop),
        );
        check(
            "ListJobs",
            c.list_jobs(proto::ListJobsRequest {
                page_token: id(),
                ..Default::default()
            })
            .await
            .map(drop),
        );
        check(
            "GetVerifyingKey",
            c.get_verifying_key(proto::GetVerifyingKeyRequest {
                shape: id(),
                ..Default::default()
            })
            .await
            .map(drop),
        );
        let header = proto::SubmitHeader {
            uploaded_parts: vec![proto::PartRef {
                part: proto::Part::EpochJson.into(),
                part_id: id(),
            }],
            ..json_header()
        };
        match client::submit(&mut c, header, vec![], |_| {}).await {
            Err(ClientError::Status(s)) => check("SubmitEpoch part_id", Err(s)),
            other => panic!("SubmitEpoch with part_id {bad:.16}: {other:?}"),
        }
    }
    // A well-formed unknown id is still NOT_FOUND.
    let status = c
        .get_job(proto::GetJobRequest {
            job_id: "job-0123456789abcdef".into(),
        })
        .await
        .expect_err("unknown");
    assert_eq!(status.code(), Code::NotFound);
    running.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_and_abandoned_uploads_leave_no_parts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let running = service::start(config(&data), Some(shared_cache()))
        .await
        .expect("start");
    let mut c = connect(&running, None).await;
    // Not an epoch: refused at validation, its streamed part removed.
    let (code, _) = code_of(submit_json(&mut c, b"{\"not\": \"an epoch\"}".to_vec()).await);
    assert_eq!(code, Code::InvalidArgument);
    assert!(files_in(&data.join("parts")).is_empty());

    // An UploadPart whose submission never comes, and a part a job uses.
    let lone = b"abandoned bytes".to_vec();
    let stream = tokio_stream::iter(vec![
        proto::UploadPartRequest {
            msg: Some(proto::upload_part_request::Msg::Part(
                proto::Part::EpochJson.into(),
            )),
        },
        proto::UploadPartRequest {
            msg: Some(proto::upload_part_request::Msg::Data(lone.clone())),
        },
        proto::UploadPartRequest {
            msg: Some(proto::upload_part_request::Msg::FinishSize(
                lone.len() as u64
            )),
        },
    ]);
    let abandoned = c.upload_part(stream).await.expect("upload").into_inner();
    let used = job_of(
        &submit_json(&mut c, json_bytes(&small_epoch(3, 4)))
            .await
            .expect("submit"),
    );
    running.shutdown().await.expect("shutdown");
    let parts = files_in(&data.join("parts"));
    assert_eq!(parts.len(), 2, "{parts:?}");

    // Two days later the lone part is gone at start; the job's part stays.
    let old = std::time::SystemTime::now() - Duration::from_secs(2 * 24 * 3600);
    for name in &parts {
        std::fs::File::options()
            .write(true)
            .open(data.join("parts").join(name))
            .expect("part")
            .set_modified(old)
            .expect("mtime");
    }
    let running = service::start(config(&data), Some(shared_cache()))
        .await
        .expect("restart");
    let left = files_in(&data.join("parts"));
    let lone_hex = abandoned.part_id.trim_start_matches("sha256:");
    assert_eq!(left.len(), 1, "{left:?}");
    assert_ne!(left[0], lone_hex);
    let mut c = connect(&running, None).await;
    let job = c
        .get_job(proto::GetJobRequest {
            job_id: used.job_id.clone(),
        })
        .await
        .expect("job kept")
        .into_inner();
    assert_eq!(job.state(), proto::JobState::Queued);
    running.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_removes_a_job_and_what_only_it_references() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let running = service::start(config(&data), Some(shared_cache()))
        .await
        .expect("start");
    let mut c = connect(&running, None).await;
    let bytes = json_bytes(&small_epoch(5, 4));
    // One part, two jobs: the same file for each backend.
    let plonky2 = job_of(&submit_json(&mut c, bytes.clone()).await.expect("submit"));
    let halo2 = job_of(
        &submit_json_to(&mut c, bytes, proto::Backend::Halo2)
            .await
            .expect("submit halo2"),
    );
    assert_ne!(plonky2.job_id, halo2.job_id);
    let delete = |id: &str| proto::DeleteJobRequest {
        job_id: id.to_string(),
    };
    let status = c
        .delete_job(delete(&plonky2.job_id))
        .await
        .expect_err("queued");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(status.message().contains("cancel it first"), "{status:?}");

    for id in [&plonky2.job_id, &halo2.job_id] {
        c.cancel_job(proto::CancelJobRequest { job_id: id.clone() })
            .await
            .expect("cancel");
    }
    let deleted = c
        .delete_job(delete(&plonky2.job_id))
        .await
        .expect("delete")
        .into_inner();
    assert!(deleted.deleted);
    let status = c
        .get_job(proto::GetJobRequest {
            job_id: plonky2.job_id.clone(),
        })
        .await
        .expect_err("gone");
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(
        files_in(&data.join("parts")).len(),
        1,
        "the halo2 job still uses the part"
    );
    c.delete_job(delete(&halo2.job_id)).await.expect("delete");
    assert!(files_in(&data.join("parts")).is_empty());
    let status = c
        .delete_job(delete(&halo2.job_id))
        .await
        .expect_err("deleted twice");
    assert_eq!(status.code(), Code::NotFound);
    running.shutdown().await.expect("shutdown");
}

/// A proved job's files are owner-only; `DeleteJob` removes its bundle; `--retain-days`
/// removes finished jobs at start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifacts_are_private_and_finished_jobs_expire() {
    let (running, dir) = start(|_| {}).await;
    let data = dir.path().join("data");
    let mut c = connect(&running, None).await;
    let done = job_of(
        &submit_json(&mut c, json_bytes(&small_epoch(8, 4)))
            .await
            .expect("submit"),
    );
    let (_, done) = watch_states(&mut c, &done.job_id).await;
    assert_eq!(done.state(), proto::JobState::Done, "{done:?}");
    #[cfg(unix)]
    {
        let bundle = data.join("bundles").join(&done.job_id);
        for folder in [
            data.clone(),
            data.join("parts"),
            data.join("bundles"),
            bundle.clone(),
        ] {
            assert_eq!(mode(&folder), 0o700, "{}", folder.display());
        }
        for file in std::iter::once(data.join("jobs.sqlite"))
            .chain(std::iter::once(data.join("lock")))
            .chain(
                files_in(&data.join("parts"))
                    .into_iter()
                    .map(|p| data.join("parts").join(p)),
            )
            .chain(files_in(&bundle).into_iter().map(|f| bundle.join(f)))
        {
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
    }
    let other = job_of(
        &submit_json(&mut c, json_bytes(&small_epoch(9, 4)))
            .await
            .expect("submit"),
    );
    let (_, other) = watch_states(&mut c, &other.job_id).await;
    assert_eq!(other.state(), proto::JobState::Done);
    c.delete_job(proto::DeleteJobRequest {
        job_id: done.job_id.clone(),
    })
    .await
    .expect("delete");
    assert!(!data.join("bundles").join(&done.job_id).exists());
    assert!(data.join("bundles").join(&other.job_id).exists());
    running.shutdown().await.expect("shutdown");

    // Kept forever by default; with a retention every finished job older than it goes.
    let kept = service::start(config(&data), Some(shared_cache()))
        .await
        .expect("restart");
    let mut c = connect(&kept, None).await;
    c.get_job(proto::GetJobRequest {
        job_id: other.job_id.clone(),
    })
    .await
    .expect("kept without --retain-days");
    kept.shutdown().await.expect("shutdown");
    let expiring = service::start(
        ServiceConfig {
            retain: Some(Duration::from_millis(1)),
            ..config(&data)
        },
        Some(shared_cache()),
    )
    .await
    .expect("restart with retention");
    let mut c = connect(&expiring, None).await;
    let status = c
        .get_job(proto::GetJobRequest {
            job_id: other.job_id.clone(),
        })
        .await
        .expect_err("expired");
    assert_eq!(status.code(), Code::NotFound);
    assert!(!data.join("bundles").join(&other.job_id).exists());
    assert!(files_in(&data.join("parts")).is_empty());
    expiring.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_reports_not_serving_refuses_submissions_and_ends_watches() {
    let (running, _dir) = start(|c| c.workers = 0).await;
    let mut c = connect(&running, None).await;
    let job = job_of(
        &submit_json(&mut c, json_bytes(&small_epoch(11, 4)))
            .await
            .expect("submit"),
    );
    let mut watch = c
        .watch_job(proto::WatchJobRequest {
            job_id: job.job_id.clone(),
        })
        .await
        .expect("watch")
        .into_inner();
    let first = watch.message().await.expect("watch").expect("first");
    assert_eq!(first.state(), proto::JobState::Queued);

    let channel = tonic::transport::Endpoint::from_shared(url(&running))
        .expect("url")
        .connect()
        .await
        .expect("channel");
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let status_of = |service: &str| tonic_health::pb::HealthCheckRequest {
        service: service.to_string(),
    };
    use tonic_health::pb::health_check_response::ServingStatus;
    running.begin_drain().await;
    for name in ["", "attribution.v1.AttributionService"] {
        let answer = health
            .check(status_of(name))
            .await
            .expect("health")
            .into_inner();
        assert_eq!(answer.status(), ServingStatus::NotServing, "{name:?}");
    }
    // The stream gets the job as it is now, then ends rather than being cut.
    let last = watch.message().await.expect("watch").expect("final job");
    assert_eq!(last.job_id, job.job_id);
    assert_eq!(last.state(), proto::JobState::Queued);
    assert!(watch.message().await.expect("clean end").is_none());

    let (code, message) = code_of(submit_json(&mut c, json_bytes(&small_epoch(12, 4))).await);
    assert_eq!(code, Code::Unavailable, "{message}");
    // Reads are still answered while draining.
    c.get_job(proto::GetJobRequest {
        job_id: job.job_id.clone(),
    })
    .await
    .expect("status while draining");
    running.shutdown().await.expect("shutdown");
}

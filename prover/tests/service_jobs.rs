//! The gRPC service in-process, a job's life after submission: a failed job retried once its
//! part is back, a cancelled job retried once its worker lets go, the queue limit, cancel, and
//! unknown job ids.

mod common;

use common::*;
use tonic::Code;
use zkattr_prover::proto;
use zkattr_prover::service::{self, ServiceConfig};

/// A job that failed (here: its stored part vanished while the service was down) is answered
/// as failed when its bytes are submitted again, and `RetryJob` runs it again; finished and
/// unknown jobs cannot be retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_job_is_retried_once_its_part_is_back() {
    let (queued_only, dir) = start(|c| c.workers = 0).await;
    let mut client = connect(&queued_only, None).await;
    let bytes = json_bytes(&small_epoch(21, 6));
    let job = job_of(
        &submit_json(&mut client, bytes.clone())
            .await
            .expect("submit"),
    );
    queued_only.shutdown().await.expect("shutdown");
    let parts = dir.path().join("data/parts");
    let stored: Vec<_> = std::fs::read_dir(&parts)
        .expect("parts")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(stored.len(), 1, "{stored:?}");
    std::fs::remove_file(&stored[0]).expect("remove the part");

    let config = ServiceConfig {
        data_dir: dir.path().join("data"),
        listen: "127.0.0.1:0".parse().expect("address"),
        workers: 1,
        ..Default::default()
    };
    let running = service::start(config, Some(shared_cache()))
        .await
        .expect("restart");
    let mut client = connect(&running, None).await;
    let (_, failed) = watch_states(&mut client, &job.job_id).await;
    assert_eq!(failed.state(), proto::JobState::Failed, "{failed:?}");
    assert!(failed.error.contains("not valid any more"), "{failed:?}");

    // The same bytes again: the failed job is the answer (and its part is stored again).
    let again = submit_json(&mut client, bytes).await.expect("resubmit");
    assert!(again.deduplicated);
    assert_eq!(job_of(&again).state(), proto::JobState::Failed);

    let retried = client
        .retry_job(proto::RetryJobRequest {
            job_id: job.job_id.clone(),
        })
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(retried.state(), proto::JobState::Queued);
    assert_eq!(retried.error, "");
    let (_, done) = watch_states(&mut client, &job.job_id).await;
    assert_eq!(done.state(), proto::JobState::Done, "{done:?}");
    assert_eq!(done.attempts, 2);
    let verified = fetch_and_verify(&mut client, &job.job_id, &dir.path().join("bundle")).await;
    assert_eq!(verified.statement.n_queries, 6);

    for (id, code) in [
        (job.job_id.as_str(), Code::FailedPrecondition),
        ("job-nope", Code::NotFound),
    ] {
        let refused = client
            .retry_job(proto::RetryJobRequest { job_id: id.into() })
            .await;
        assert_eq!(refused.map_err(|s| s.code()).err(), Some(code), "{id}");
    }
    running.shutdown().await.expect("shutdown");
}

/// A job cancelled while its proof is in flight cannot be retried until its worker has let go
/// (the proof in flight finishes first); then it is proved again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_job_is_retried_once_its_worker_lets_go() {
    let (running, dir) = start(|_| {}).await;
    let mut client = connect(&running, None).await;
    let job = job_of(
        &submit_json(&mut client, json_bytes(&small_epoch(23, 14)))
            .await
            .expect("submit"),
    );
    wait_for_proving(&mut client, &job.job_id).await;
    let retry = |client: &mut zkattr_prover::client::Client| {
        let mut client = client.clone();
        let job_id = job.job_id.clone();
        async move { client.retry_job(proto::RetryJobRequest { job_id }).await }
    };
    let cancelled = client
        .cancel_job(proto::CancelJobRequest {
            job_id: job.job_id.clone(),
        })
        .await
        .expect("cancel")
        .into_inner();
    assert_eq!(cancelled.state(), proto::JobState::Cancelled);
    // The single proof in flight takes seconds; the worker holds the job until it ends.
    let early = retry(&mut client).await.expect_err("retried too early");
    assert_eq!(early.code(), Code::FailedPrecondition, "{early:?}");
    assert!(early.message().contains("still stopping"), "{early:?}");

    let started = std::time::Instant::now();
    let retried = loop {
        match retry(&mut client).await {
            Ok(job) => break job.into_inner(),
            Err(status) if status.message().contains("still stopping") => {
                assert!(started.elapsed() < std::time::Duration::from_secs(120));
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Err(status) => panic!("{status:?}"),
        }
    };
    assert_eq!(retried.state(), proto::JobState::Queued);
    let (_, done) = watch_states(&mut client, &job.job_id).await;
    assert_eq!(done.state(), proto::JobState::Done, "{done:?}");
    assert_eq!(done.attempts, 2);
    fetch_and_verify(&mut client, &job.job_id, &dir.path().join("bundle")).await;
    running.shutdown().await.expect("shutdown");
}

/// A service without workers (an API-only node: jobs stay queued) and a queue limit of two,
/// holding jobs `a` and `b`.
async fn full_queue() -> (
    service::RunningService,
    tempfile::TempDir,
    zkattr_prover::client::Client,
    proto::Job,
    proto::Job,
) {
    let (running, dir) = start(|c| {
        c.workers = 0;
        c.queue_limit = 2;
    })
    .await;
    let mut client = connect(&running, None).await;
    let a = job_of(
        &submit_json(&mut client, json_bytes(&small_epoch(10, 5)))
            .await
            .expect("a"),
    );
    let b = job_of(
        &submit_json(&mut client, json_bytes(&small_epoch(11, 5)))
            .await
            .expect("b"),
    );
    (running, dir, client, a, b)
}

async fn cancel(client: &mut zkattr_prover::client::Client, job: &proto::Job) -> proto::Job {
    client
        .cancel_job(proto::CancelJobRequest {
            job_id: job.job_id.clone(),
        })
        .await
        .expect("cancel")
        .into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_refuses_a_new_job_naming_its_limit() {
    let (running, _dir, mut client, a, b) = full_queue().await;
    assert_eq!(a.state(), proto::JobState::Queued);
    assert_eq!(b.state(), proto::JobState::Queued);
    let (code, message) = code_of(submit_json(&mut client, json_bytes(&small_epoch(12, 5))).await);
    assert_eq!(code, Code::ResourceExhausted);
    assert!(message.contains("limit 2"), "{message}");
    running.shutdown().await.expect("shutdown");
}

/// A resubmission of a queued job is not a new job, even with the queue full.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_job_resubmitted_to_a_full_queue_is_the_same_job() {
    let (running, _dir, mut client, a, _) = full_queue().await;
    let again = submit_json(&mut client, json_bytes(&small_epoch(10, 5))).await;
    assert_eq!(
        again.map(|r| job_of(&r).job_id).ok(),
        Some(a.job_id.clone())
    );
    running.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_queued_job_makes_room() {
    let (running, _dir, mut client, a, _) = full_queue().await;
    assert_eq!(
        cancel(&mut client, &a).await.state(),
        proto::JobState::Cancelled
    );
    submit_json(&mut client, json_bytes(&small_epoch(12, 5)))
        .await
        .expect("room again after a cancel");
    running.shutdown().await.expect("shutdown");
}

/// Retrying a cancelled job when the queue is full again would make three: refused, and it
/// stays cancelled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrying_a_cancelled_job_into_a_full_queue_is_refused() {
    let (running, _dir, mut client, a, _) = full_queue().await;
    cancel(&mut client, &a).await;
    submit_json(&mut client, json_bytes(&small_epoch(12, 5)))
        .await
        .expect("room again after a cancel");
    let retry = client
        .retry_job(proto::RetryJobRequest {
            job_id: a.job_id.clone(),
        })
        .await;
    assert_eq!(
        retry.map_err(|s| s.code()).err(),
        Some(Code::ResourceExhausted)
    );
    let still = client
        .get_job(proto::GetJobRequest {
            job_id: a.job_id.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(still.state(), proto::JobState::Cancelled);
    running.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_job_is_not_found() {
    let (running, _dir) = start(|c| c.workers = 0).await;
    let mut client = connect(&running, None).await;
    let missing = client
        .get_job(proto::GetJobRequest {
            job_id: "job-nope".into(),
        })
        .await;
    assert_eq!(missing.map_err(|s| s.code()).err(), Some(Code::NotFound));
    running.shutdown().await.expect("shutdown");
}

/// Of `a` (cancelled), `b` and a third job, the filter lists the two queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_filter_lists_only_the_jobs_in_that_state() {
    let (running, _dir, mut client, a, _) = full_queue().await;
    cancel(&mut client, &a).await;
    submit_json(&mut client, json_bytes(&small_epoch(12, 5)))
        .await
        .expect("room again after a cancel");
    let queued = client
        .list_jobs(proto::ListJobsRequest {
            state: proto::JobState::Queued.into(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(queued.jobs.len(), 2);
    running.shutdown().await.expect("shutdown");
}

/// Above the largest single circuit (1,024 queries) plonky2 jobs are planned as aggregated
/// batches of 2,048 (the pinned layouts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_epoch_above_one_circuit_is_planned_as_aggregated() {
    let (running, _dir) = start(|c| c.workers = 0).await;
    let mut client = connect(&running, None).await;
    let large = small_epoch(13, 1100);
    let aggregated = job_of(
        &submit_json(&mut client, json_bytes(&large))
            .await
            .expect("a 1,100-query epoch is accepted"),
    );
    assert_eq!(aggregated.shape, "agg-b2048-t0-p8");
    assert_eq!(aggregated.state(), proto::JobState::Queued);
    running.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_size_not_a_power_of_two_is_refused_at_start_up() {
    let refused = service::start(
        ServiceConfig {
            batch_size: Some(3),
            ..Default::default()
        },
        None,
    )
    .await;
    assert!(
        matches!(&refused, Err(service::ServiceError::BatchSize(3))),
        "{:?}",
        refused.err()
    );
}

/// An empty bearer token would switch authentication off without a word: refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_bearer_token_is_refused_at_start_up() {
    let refused = service::start(
        ServiceConfig {
            token: Some(" ".into()),
            ..Default::default()
        },
        None,
    )
    .await;
    assert!(
        matches!(&refused, Err(service::ServiceError::EmptyToken)),
        "{:?}",
        refused.err()
    );
}

//! No job is lost: the real `zkattr serve` is SIGKILLed while proving; after a restart on the
//! same data directory the job is proving again, and a SIGTERM then gives it back to the queue
//! (not counted as a crash); the next start proves it and its bundle verifies; a finished job
//! and its bundle survive a further restart. An aggregated job stopped after a batch proof keeps
//! its checkpoints, and the next start resumes from them instead of starting over. (Each start
//! of the aggregated job builds its layout's circuits, agg-b4-t2-p8: tens of seconds on this
//! 2-core machine, so that test starts the service only twice; a failed
//! job's checkpoints and RetryJob are tested in parts: the store's and `service::mod`'s unit
//! tests and `service_api.rs`.)

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use zkattr_prover::client;
use zkattr_prover::proto;

/// A server process, SIGKILLed when dropped (so a failing test leaves none behind).
struct Server(Child);

impl Server {
    fn kill(&mut self) {
        self.0.kill().expect("SIGKILL");
        self.0.wait().expect("reaped");
    }

    /// A graceful stop, as a supervisor sends it; waits until the process has exited.
    fn terminate(&mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .expect("kill -TERM runs");
        assert!(status.success());
        let exit = self.0.wait().expect("reaped");
        assert!(
            exit.success(),
            "zkattr serve exited with {exit} after SIGTERM"
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `zkattr serve` and returns it with the address it printed.
fn serve(data: &Path) -> (Server, String) {
    serve_with(data, &[])
}

/// [`serve`] with more flags.
fn serve_with(data: &Path, flags: &[&str]) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zkattr"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "1",
            "--token",
            "t0k",
        ])
        .args(flags)
        .arg("--data-dir")
        .arg(data)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("zkattr serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("serve prints its address");
    let addr = line
        .trim()
        .strip_prefix("zkattr serve: listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (Server(child), format!("http://{addr}"))
}

/// Reads the stopped service's store: the job is queued again after a graceful stop, with
/// `attempts` claims of which `stops` did not end in a crash.
fn assert_given_back(data: &Path, job_id: &str, attempts: u32, stops: u32) {
    use zkattr_prover::service::store::{JobState, JobStore, SqliteStore};
    let store = SqliteStore::open(&data.join("jobs.sqlite")).expect("store opens");
    let row = store.get(job_id).expect("store read").expect("job row");
    assert_eq!(row.state, JobState::Queued, "{row:?}");
    assert_eq!((row.attempts, row.stops), (attempts, stops), "{row:?}");
    assert!(row.message.contains("stopped"), "{row:?}");
}

/// Watches a job until `reached` holds for an update, which it returns; the job must not end
/// before.
async fn watch_until(
    c: &mut client::Client,
    job_id: &str,
    reached: impl Fn(&proto::Job) -> bool,
) -> proto::Job {
    let mut stream = c
        .watch_job(proto::WatchJobRequest {
            job_id: job_id.to_string(),
        })
        .await
        .expect("watch")
        .into_inner();
    loop {
        let update = stream
            .message()
            .await
            .expect("watch stream")
            .expect("update");
        assert!(!client::is_terminal(update.state()), "{update:?}");
        if reached(&update) {
            return update;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_survives_sigkill_and_sigterm_mid_proof() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");

    let (mut first, url) = serve(&data);
    let mut c = client::connect(&url, Some("t0k"), None)
        .await
        .expect("connect");
    let job = job_of(
        &submit_json(&mut c, json_bytes(&small_epoch(21, 14)))
            .await
            .expect("submit"),
    );
    // Wait for PROVING, then kill the process without warning.
    watch_until(&mut c, &job.job_id, |update| {
        update.state() == proto::JobState::Proving
    })
    .await;
    first.kill();
    drop(c);

    // Restart: the job is re-queued and proving again (attempt 2). A graceful stop now gives
    // it back to the queue in the store (a crash would leave it running), the stop counted.
    let (mut second, url) = serve(&data);
    let mut c = client::connect(&url, Some("t0k"), None)
        .await
        .expect("connect");
    watch_until(&mut c, &job.job_id, |update| {
        update.attempts == 2 && update.state() == proto::JobState::Proving
    })
    .await;
    drop(c);
    second.terminate();
    // One crash (attempt 1), one stop (attempt 2): only the crash counts against the job.
    assert_given_back(&data, &job.job_id, 2, 1);

    // The next start proves it (attempt 3): one crash and one stop do not fail the job.
    let (mut third, url) = serve(&data);
    let mut c = client::connect(&url, Some("t0k"), None)
        .await
        .expect("connect");
    let (states, done) = watch_states(&mut c, &job.job_id).await;
    assert_eq!(done.state(), proto::JobState::Done, "{done:?}");
    assert_eq!(done.attempts, 3, "{states:?}");
    let verified = fetch_and_verify(&mut c, &job.job_id, &dir.path().join("b1")).await;
    assert_eq!(verified.statement.epoch_id, 21);
    third.kill();

    // The finished job and its bundle survive another restart; nothing is proved again.
    let (_fourth, url) = serve(&data);
    let mut c = client::connect(&url, Some("t0k"), None)
        .await
        .expect("connect");
    let after = c
        .get_job(proto::GetJobRequest {
            job_id: job.job_id.clone(),
        })
        .await
        .expect("get job")
        .into_inner();
    assert_eq!(after.state(), proto::JobState::Done);
    assert_eq!(after.attempts, 3);
    let again = fetch_and_verify(&mut c, &job.job_id, &dir.path().join("b2")).await;
    assert_eq!(again.statement, verified.statement);
    // Resubmitting the finished epoch returns the finished job.
    let resubmitted = submit_json(&mut c, json_bytes(&small_epoch(21, 14)))
        .await
        .expect("resubmit");
    assert!(resubmitted.deduplicated);
    assert_eq!(job_of(&resubmitted).state(), proto::JobState::Done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aggregated_job_stopped_after_a_batch_resumes_from_its_checkpoints() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    // Batches of 4: eight queries are two batch proofs and one merge (agg-b4-t1-p8).
    let flags = ["--batch-size", "4"];
    let epoch = small_epoch(22, 8);

    let (mut first, url) = serve_with(&data, &flags);
    let mut c = client::connect(&url, Some("t0k"), None)
        .await
        .expect("connect");
    let job = job_of(
        &submit_json(&mut c, json_bytes(&epoch))
            .await
            .expect("submit"),
    );
    assert_eq!(job.shape, "agg-b4-t1-p8");
    // Wait for the first batch proof (it is on disk before it is reported), then stop the
    // service gracefully: the job goes back to the queue, its checkpoints stay.
    let update = watch_until(&mut c, &job.job_id, |update| {
        update.message.starts_with("batch ") && update.message.contains(" proved in ")
    })
    .await;
    assert_eq!(update.batch_count, 2, "{update:?}");
    drop(c);
    first.terminate();
    assert_given_back(&data, &job.job_id, 1, 1);
    let checkpoints = data.join("checkpoints").join(&job.job_id);
    assert!(
        checkpoints.join("identity").exists(),
        "checkpoints lost at shutdown: no folder at {}",
        checkpoints.display()
    );

    // Second start: the job is claimed again and resumes from the checkpoints.
    let (_second, url) = serve_with(&data, &flags);
    let mut c = client::connect(&url, Some("t0k"), None)
        .await
        .expect("connect");
    let mut updates = Vec::new();
    let done = client::watch(&mut c, &job.job_id, |job| updates.push(job.clone()))
        .await
        .expect("watch");
    assert_eq!(done.state(), proto::JobState::Done, "{done:?}");
    assert_eq!(done.attempts, 2);
    let messages: Vec<&str> = updates.iter().map(|u| u.message.as_str()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("restored from a checkpoint")),
        "nothing was restored: {messages:?}"
    );
    let proved_again = messages
        .iter()
        .filter(|m| m.starts_with("batch ") && m.contains(" proved in "))
        .count();
    assert!(
        proved_again < 2,
        "every batch was proved again: {messages:?}"
    );
    // Every proving update counts the job's two batches, the first one included.
    let proving: Vec<&proto::Job> = updates
        .iter()
        .filter(|u| u.state() == proto::JobState::Proving)
        .collect();
    assert!(
        !proving.is_empty() && proving.iter().all(|u| u.batch_count == 2),
        "{proving:?}"
    );
    // Merges and the last layers are reported as aggregating, after every batch.
    assert!(
        updates
            .iter()
            .any(|u| u.state() == proto::JobState::Aggregating && u.batch_index == 2),
        "{updates:?}"
    );
    let verified = fetch_and_verify(&mut c, &job.job_id, &dir.path().join("b")).await;
    assert_eq!(verified.statement.epoch_id, 22);
    // The layout's key is served (from the circuits this job built) and is the pinned one.
    let key = c
        .get_verifying_key(proto::GetVerifyingKeyRequest {
            shape: "agg-b4-t1-p8".into(),
            ..Default::default()
        })
        .await
        .expect("verifying key")
        .into_inner();
    assert_eq!(key.digest, key.pinned_digest);
    assert_eq!(key.digest, done.verifying_key_digest);
    // Not canonical, not a power of two, truncated, batches above --batch-size.
    for bad in ["agg-b4-t02-p8", "agg-b3-t2-p8", "agg-b4-t2", "agg-b8-t1-p8"] {
        let refused = c
            .get_verifying_key(proto::GetVerifyingKeyRequest {
                shape: bad.into(),
                ..Default::default()
            })
            .await;
        assert_eq!(
            refused.map_err(|s| s.code()).err(),
            Some(tonic::Code::InvalidArgument),
            "{bad}"
        );
    }
    assert!(
        !checkpoints.exists(),
        "the checkpoints outlived the job: {}",
        checkpoints.display()
    );
}

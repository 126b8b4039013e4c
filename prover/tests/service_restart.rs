//! No job is lost: the real `zkattr serve` is SIGKILLed while proving; after a restart on the
//! same data directory the job is proved again and its bundle verifies; a finished job and its
//! bundle survive a further restart.

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
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `zkattr serve` and returns it with the address it printed.
fn serve(data: &Path) -> (Server, String) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_survives_sigkill_mid_proof_and_restarts() {
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
    let mut stream = c
        .watch_job(proto::WatchJobRequest {
            job_id: job.job_id.clone(),
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
        if update.state() == proto::JobState::Proving {
            break;
        }
    }
    first.kill();
    drop(c);

    // Restart: the job is re-queued and proved again (attempt 2).
    let (mut second, url) = serve(&data);
    let mut c = client::connect(&url, Some("t0k"), None)
        .await
        .expect("connect");
    let (states, done) = watch_states(&mut c, &job.job_id).await;
    assert_eq!(done.state(), proto::JobState::Done, "{done:?}");
    assert_eq!(done.attempts, 2, "{states:?}");
    let verified = fetch_and_verify(&mut c, &job.job_id, &dir.path().join("b1")).await;
    assert_eq!(verified.statement.epoch_id, 21);
    second.kill();

    // The finished job and its bundle survive another restart; nothing is proved again.
    let (_third, url) = serve(&data);
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
    assert_eq!(after.attempts, 2);
    let again = fetch_and_verify(&mut c, &job.job_id, &dir.path().join("b2")).await;
    assert_eq!(again.statement, verified.statement);
    // Resubmitting the finished epoch returns the finished job.
    let resubmitted = submit_json(&mut c, json_bytes(&small_epoch(21, 14)))
        .await
        .expect("resubmit");
    assert!(resubmitted.deduplicated);
    assert_eq!(job_of(&resubmitted).state(), proto::JobState::Done);
}

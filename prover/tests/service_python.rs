//! A client in another language: Python grpcio with stubs generated from proto/ in the test
//! submits an epoch and fetches a bundle, which then verifies in Rust. Needs `python3` with
//! `grpcio` and `grpcio-tools` (`.ci/run` installs them); outside CI the test is skipped, with a
//! message, when they are missing.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

fn python_has_grpc_tools() -> bool {
    Command::new("python3")
        .args(["-c", "import grpc, grpc_tools"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_submits_and_fetches_a_verifying_bundle() {
    if !python_has_grpc_tools() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have python3 with grpcio and grpcio-tools (see .ci/run)"
        );
        eprintln!("skipped: python3 with grpcio and grpcio-tools is not installed");
        return;
    }
    let (running, dir) = start(|c| c.token = Some("py-t0ken".into())).await;
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let proto_dir = manifest.join("../proto");
    let stubs = dir.path().join("stubs");
    std::fs::create_dir_all(&stubs).expect("stubs dir");
    let generated = Command::new("python3")
        .args(["-m", "grpc_tools.protoc", "-I"])
        .arg(&proto_dir)
        .arg(format!("--python_out={}", stubs.display()))
        .arg(format!("--grpc_python_out={}", stubs.display()))
        .arg(proto_dir.join("attribution/v1/attribution.proto"))
        .output()
        .expect("python3 runs");
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );

    let epoch = dir.path().join("epoch.json");
    std::fs::write(&epoch, json_bytes(&small_epoch(31, 9))).expect("epoch file");
    let out = dir.path().join("bundle");
    let server = running.addr.to_string();
    let script = manifest.join("tests/python/client.py");
    let run = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .arg(&stubs)
            .arg(server)
            .arg("py-t0ken")
            .arg(&epoch)
            .arg(&out)
            .output()
            .expect("python3 runs")
    })
    .await
    .expect("python task");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    let job_id = String::from_utf8_lossy(&run.stdout).trim().to_string();
    assert!(job_id.starts_with("job-"), "{job_id:?}");
    assert!(stderr.contains("JOB_STATE_PROVING"), "{stderr}");

    let strict = zkattr_verifier::VerifyOptions::strict();
    let verified = zkattr_verifier::bundle::verify_bundle(&dir.path().join("bundle"), &strict)
        .expect("the Python-fetched bundle verifies");
    assert_eq!(verified.statement.epoch_id, 31);
    assert_eq!(verified.statement.n_queries, 9);
    running.shutdown().await.expect("shutdown");
}

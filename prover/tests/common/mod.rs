//! Shared helpers of the service tests: in-process services, small epochs, uploads.
#![allow(dead_code)]

use std::sync::{Arc, OnceLock};
use zkattr_model::io::{write_csv_pair, write_epoch_json};
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::Epoch;
use zkattr_prover::client::{self, Client, ClientError, PartData};
use zkattr_prover::proto;
use zkattr_prover::service::backend::CircuitCache;
use zkattr_prover::service::{self, RunningService, ServiceConfig};

/// One circuit cache for every in-process service of a test binary: the 16x16 circuit is
/// built once (about 4 s).
pub fn shared_cache() -> Arc<CircuitCache> {
    static CACHE: OnceLock<Arc<CircuitCache>> = OnceLock::new();
    Arc::clone(CACHE.get_or_init(|| Arc::new(CircuitCache::new(1))))
}

/// A service on a free loopback port with its own data directory.
pub async fn start(
    configure: impl FnOnce(&mut ServiceConfig),
) -> (RunningService, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = ServiceConfig {
        data_dir: dir.path().join("data"),
        listen: "127.0.0.1:0".parse().expect("address"),
        workers: 1,
        // The repository's params/, so cached development KZG parameters are reused.
        kzg_params_dir: std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../params"),
        ..Default::default()
    };
    configure(&mut config);
    let running = service::start(config, Some(shared_cache()))
        .await
        .expect("service starts");
    (running, dir)
}

pub fn url(running: &RunningService) -> String {
    format!("http://{}", running.addr)
}

pub async fn connect(running: &RunningService, token: Option<&str>) -> Client {
    client::connect(&url(running), token, None)
        .await
        .expect("client connects")
}

/// A small epoch that the 16x16 circuit proves (at most 16 queries and 7 adapters).
pub fn small_epoch(seed: u64, queries: u64) -> Epoch {
    let mut config = SynthConfig::new(queries, 7, seed);
    config.epoch_id = seed;
    generate(&config)
}

pub fn json_bytes(epoch: &Epoch) -> Vec<u8> {
    let mut out = Vec::new();
    write_epoch_json(epoch, &mut out).expect("epoch JSON");
    out
}

pub fn csv_bytes(epoch: &Epoch) -> (Vec<u8>, Vec<u8>) {
    let (mut act, mut inf) = (Vec::new(), Vec::new());
    write_csv_pair(epoch, &mut act, &mut inf).expect("CSV pair");
    (act, inf)
}

pub fn json_header() -> proto::SubmitHeader {
    proto::SubmitHeader {
        backend: proto::Backend::Plonky2.into(),
        format: proto::EpochFormat::Json.into(),
        ..Default::default()
    }
}

/// Uploads SPEC's JSON epoch file for the plonky2 backend.
pub async fn submit_json(
    client: &mut Client,
    bytes: Vec<u8>,
) -> Result<proto::SubmitEpochResponse, ClientError> {
    submit_json_to(client, bytes, proto::Backend::Plonky2).await
}

/// Uploads SPEC's JSON epoch file for `backend`.
pub async fn submit_json_to(
    client: &mut Client,
    bytes: Vec<u8>,
    backend: proto::Backend,
) -> Result<proto::SubmitEpochResponse, ClientError> {
    let header = proto::SubmitHeader {
        backend: backend.into(),
        ..json_header()
    };
    client::submit(
        client,
        header,
        vec![(proto::Part::EpochJson, PartData::Bytes(bytes))],
        |_| {},
    )
    .await
}

/// The job a submission must have returned.
pub fn job_of(answer: &proto::SubmitEpochResponse) -> proto::Job {
    answer.job.clone().expect("the answer holds a job")
}

/// The status code of a failed call.
pub fn code_of<T: std::fmt::Debug>(result: Result<T, ClientError>) -> (tonic::Code, String) {
    match result {
        Err(ClientError::Status(s)) => (s.code(), s.message().to_string()),
        other => panic!("expected a gRPC status, got {other:?}"),
    }
}

/// Follows a job to its end and returns every state seen, with the final job.
pub async fn watch_states(client: &mut Client, id: &str) -> (Vec<proto::JobState>, proto::Job) {
    let mut states = Vec::new();
    let job = client::watch(client, id, |job| {
        if states.last() != Some(&job.state()) {
            states.push(job.state());
        }
    })
    .await
    .expect("watch");
    (states, job)
}

/// Watches a job until a worker is proving it; it must not end before.
pub async fn wait_for_proving(client: &mut Client, id: &str) {
    let mut stream = client
        .watch_job(proto::WatchJobRequest {
            job_id: id.to_string(),
        })
        .await
        .expect("watch")
        .into_inner();
    while let Some(job) = stream.message().await.expect("watch stream") {
        if job.state() == proto::JobState::Proving {
            return;
        }
        assert!(!client::is_terminal(job.state()), "{job:?}");
    }
    panic!("the watch of {id} ended before PROVING");
}

/// Fetches a done job's bundle and checks it with the verifier; returns the verified statement.
pub async fn fetch_and_verify(
    client: &mut Client,
    id: &str,
    out: &std::path::Path,
) -> zkattr_verifier::bundle::Verified {
    let files = client::fetch(client, id, out).await.expect("fetch");
    assert!(files.contains(&"bundle.json".to_string()), "{files:?}");
    // The service proves halo2 jobs under development parameters here: allowed explicitly.
    let options = zkattr_verifier::VerifyOptions::strict().allow_unsafe_setup(true);
    zkattr_verifier::bundle::verify_bundle(out, &options).expect("the fetched bundle verifies")
}

//! Compatibility of the service with ordinary gRPC clients: reflection v1 and v1alpha, the
//! bearer scheme in any case; and the `zkattr` client's output (progress width, empty list).

mod common;

use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic_reflection::pb::{v1, v1alpha};
use zkattr_prover::client::{progress_message, JOB_PREFIX_COLUMNS};
use zkattr_prover::proto;

const TOKEN: &str = "compat-token";

/// Adds `authorization: VALUE` to every call, as another gRPC client would.
#[derive(Clone)]
struct Header(&'static str);

impl tonic::service::Interceptor for Header {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let value = self
            .0
            .parse()
            .map_err(|_| tonic::Status::internal("bad header value"))?;
        request.metadata_mut().insert("authorization", value);
        Ok(request)
    }
}

async fn channel(running: &zkattr_prover::service::RunningService) -> Channel {
    Channel::from_shared(common::url(running))
        .expect("url")
        .connect()
        .await
        .expect("connects")
}

/// Both reflection versions list the attribution service (v1alpha is what Python's reflection
/// client, older grpcurl and Postman ask for).
#[tokio::test]
async fn reflection_v1_and_v1alpha_list_the_service() {
    let (running, _dir) = common::start(|c| {
        c.workers = 0;
        c.token = Some(TOKEN.into());
    })
    .await;
    let channel = channel(&running).await;
    let auth = Header("Bearer compat-token");

    let mut alpha = v1alpha::server_reflection_client::ServerReflectionClient::new(
        InterceptedService::new(channel.clone(), auth.clone()),
    );
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let mut answers = alpha
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("v1alpha answers")
        .into_inner();
    let answer = answers
        .message()
        .await
        .expect("v1alpha stream")
        .expect("one answer");
    let Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        answer.message_response
    else {
        panic!("v1alpha answered {answer:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names
            .iter()
            .any(|n| n == "attribution.v1.AttributionService"),
        "v1alpha lists {names:?}"
    );

    let mut v1 = v1::server_reflection_client::ServerReflectionClient::new(
        InterceptedService::new(channel, auth),
    );
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut answers = v1
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("v1 answers")
        .into_inner();
    let answer = answers
        .message()
        .await
        .expect("v1 stream")
        .expect("one answer");
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        answer.message_response
    else {
        panic!("v1 answered {answer:?}");
    };
    assert!(list
        .service
        .iter()
        .any(|s| s.name == "attribution.v1.AttributionService"));
}

/// RFC 7235: `bearer` and `BEARER` name the same scheme; a wrong token is still refused.
#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let (running, _dir) = common::start(|c| {
        c.workers = 0;
        c.token = Some(TOKEN.into());
    })
    .await;
    let channel = channel(&running).await;
    let list = |value: &'static str| {
        let mut client =
            proto::attribution_service_client::AttributionServiceClient::with_interceptor(
                channel.clone(),
                Header(value),
            );
        async move {
            client
                .list_jobs(proto::ListJobsRequest::default())
                .await
                .map(|_| ())
                .map_err(|s| s.code())
        }
    };
    for value in [
        "Bearer compat-token",
        "bearer compat-token",
        "BEARER compat-token",
    ] {
        assert_eq!(list(value).await, Ok(()), "{value}");
    }
    assert_eq!(
        list("bearer compat-tokens").await,
        Err(tonic::Code::Unauthenticated)
    );
    assert_eq!(
        list("Basic compat-token").await,
        Err(tonic::Code::Unauthenticated)
    );
}

fn job(state: proto::JobState, message: &str) -> proto::Job {
    let mut job = proto::Job {
        job_id: "0123456789abcdef0123456789abcdef".into(),
        batch_index: 117,
        batch_count: 2369,
        message: message.into(),
        ..Default::default()
    };
    job.set_state(state);
    job
}

/// The live line fits 80 and 60 columns and never cuts the state name (it used to show
/// `PRO`/`DON` at 80 columns).
#[test]
fn progress_fits_80_and_60_columns_with_the_state_whole() {
    let long = "proving batch 117 of 2369 with the aggregation circuit of 2048 queries";
    for columns in [80, 60] {
        for (state, name) in [
            (proto::JobState::Queued, "QUEUED"),
            (proto::JobState::Proving, "PROVING"),
            (proto::JobState::Done, "DONE"),
            (proto::JobState::Cancelled, "CANCELLED"),
        ] {
            let text = progress_message(&job(state, long), columns);
            assert!(
                JOB_PREFIX_COLUMNS + text.chars().count() <= columns,
                "{columns} columns: {text:?} is too long"
            );
            assert!(text.starts_with(name), "{columns} columns: {text:?}");
        }
    }
    let proving = progress_message(&job(proto::JobState::Proving, long), 80);
    assert!(
        proving.starts_with("PROVING batch 117 of 2369"),
        "{proving}"
    );
    assert!(proving.ends_with('…'), "a cut message says so: {proving}");
    let short = progress_message(&job(proto::JobState::Proving, "proving"), 80);
    assert_eq!(short, "PROVING batch 117 of 2369: proving");
}

/// `zkattr jobs` says so when there are no jobs (on stderr; stdout stays one job a line).
#[tokio::test]
async fn jobs_says_when_there_are_none() {
    let (running, _dir) = common::start(|c| c.workers = 0).await;
    let url = common::url(&running);
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_zkattr"))
            .args(["jobs", "--server", &url])
            .env_remove("ZKATTR_TOKEN")
            .output()
    })
    .await
    .expect("task")
    .expect("zkattr runs");
    assert!(output.status.success(), "{output:?}");
    assert!(output.stdout.is_empty(), "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stderr).trim(), "no jobs");
}

/// `--token-file`: the trailing newline is not part of the token, a world-readable file gets a
/// warning, and `zkattr jobs --token-file` authenticates with it.
#[tokio::test]
async fn token_file_is_trimmed_and_checked() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("token");
    std::fs::write(&path, format!("{TOKEN}\n")).expect("write token");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let file = zkattr_prover::client::read_token_file(&path).expect("reads");
    assert_eq!(file.token, TOKEN);
    assert!(!file.world_readable);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    assert!(
        zkattr_prover::client::read_token_file(&path)
            .expect("reads")
            .world_readable
    );
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").expect("write");
    assert!(zkattr_prover::client::read_token_file(&empty).is_err());

    let (running, _data) = common::start(|c| {
        c.workers = 0;
        c.token = Some(TOKEN.into());
    })
    .await;
    let url = common::url(&running);
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_zkattr"))
            .args(["jobs", "--server", &url, "--token-file"])
            .arg(&path)
            .env_remove("ZKATTR_TOKEN")
            .output()
    })
    .await
    .expect("task")
    .expect("zkattr runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{output:?}");
    assert!(stderr.contains("readable by every user"), "{stderr}");
    assert!(stderr.contains("no jobs"), "{stderr}");
}

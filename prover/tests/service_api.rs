//! The gRPC service in-process: submit, watch, fetch and verify; idempotent submission; the
//! CSV pair from two uploads; bad and truncated uploads refused while a job keeps running;
//! bearer-token auth and TLS; epochs above one circuit planned as aggregated; an epoch whose
//! total the aggregation cannot prove refused at submission. Retry, cancel and the queue limit:
//! tests/service_jobs.rs.
//!
//! Proving is the slow part, so two services run once each and record what they answered
//! ([`journey`], [`refusals`]); each test then asserts one behaviour of that record.

mod common;

use common::*;
use std::sync::OnceLock;
use std::time::Duration;
use tonic::Code;
use zkattr_prover::client::{self, PartData};
use zkattr_prover::proto;
use zkattr_verifier::bundle::Verified;

/// Runs `scenario` to its end on a runtime of its own (the services it starts end with it).
fn run<T>(scenario: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(scenario)
}

/// What one service answered along a job's life: a plonky2 job submitted twice, watched,
/// fetched and verified, and its verifying key; the same epoch with halo2; the CSV pair from
/// an uploaded part and a streamed one, then cancelled; the job list one job a page.
struct Journey {
    first: proto::SubmitEpochResponse,
    again: proto::SubmitEpochResponse,
    states: Vec<proto::JobState>,
    done: proto::Job,
    verified: Verified,
    key: proto::GetVerifyingKeyResponse,
    bad_shape: Option<Code>,
    halo2_job: proto::Job,
    halo2_done: proto::Job,
    halo2_verified: Verified,
    halo2_key: proto::GetVerifyingKeyResponse,
    activations_len: u64,
    part: proto::UploadPartResponse,
    csv_job: proto::Job,
    cancelled: proto::Job,
    csv_end: proto::Job,
    csv_fetch: Code,
    pages: Vec<proto::ListJobsResponse>,
}

fn journey() -> &'static Journey {
    static JOURNEY: OnceLock<Journey> = OnceLock::new();
    JOURNEY.get_or_init(|| run(record_journey()))
}

async fn record_journey() -> Journey {
    let (running, dir) = start(|_| {}).await;
    let mut client = connect(&running, None).await;
    let epoch = small_epoch(1, 12);

    let first = submit_json(&mut client, json_bytes(&epoch))
        .await
        .expect("submit");
    let job = job_of(&first);
    let again = submit_json(&mut client, json_bytes(&epoch))
        .await
        .expect("resubmit");
    let (states, done) = watch_states(&mut client, &job.job_id).await;
    let verified = fetch_and_verify(&mut client, &job.job_id, &dir.path().join("bundle")).await;
    let key = client
        .get_verifying_key(proto::GetVerifyingKeyRequest {
            queries: 12,
            ..Default::default()
        })
        .await
        .expect("verifying key")
        .into_inner();
    let bad_shape = client
        .get_verifying_key(proto::GetVerifyingKeyRequest {
            shape: "17x17".into(),
            ..Default::default()
        })
        .await
        .map_err(|s| s.code())
        .err();

    let mut header = json_header();
    header.backend = proto::Backend::Halo2.into();
    let halo2 = client::submit(
        &mut client,
        header,
        vec![(proto::Part::EpochJson, PartData::Bytes(json_bytes(&epoch)))],
        |_| {},
    )
    .await
    .expect("submit halo2");
    let halo2_job = job_of(&halo2);
    let (_, halo2_done) = watch_states(&mut client, &halo2_job.job_id).await;
    let halo2_verified = fetch_and_verify(
        &mut client,
        &halo2_job.job_id,
        &dir.path().join("halo2-bundle"),
    )
    .await;
    let halo2_key = client
        .get_verifying_key(proto::GetVerifyingKeyRequest {
            backend: proto::Backend::Halo2.into(),
            queries: 12,
            ..Default::default()
        })
        .await
        .expect("halo2 verifying key")
        .into_inner();

    // The CSV pair from two parties: activations uploaded on their own, influence streamed.
    let (act, inf) = csv_bytes(&epoch);
    let activations_len = act.len() as u64;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    use proto::upload_part_request::Msg;
    for msg in [
        Msg::Part(proto::Part::ActivationsCsv.into()),
        Msg::Data(act),
        Msg::FinishSize(activations_len),
    ] {
        tx.send(proto::UploadPartRequest { msg: Some(msg) })
            .await
            .expect("queue message");
    }
    drop(tx);
    let part = client
        .upload_part(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .expect("upload part")
        .into_inner();
    let header = proto::SubmitHeader {
        backend: proto::Backend::Plonky2.into(),
        format: proto::EpochFormat::CsvPair.into(),
        // SPEC allows any u64; the job store keeps ids from 2^63 up exactly.
        epoch_id: u64::MAX,
        rate_bps: 2500,
        uploaded_parts: vec![proto::PartRef {
            part: proto::Part::ActivationsCsv.into(),
            part_id: part.part_id.clone(),
        }],
    };
    let csv = client::submit(
        &mut client,
        header,
        vec![(proto::Part::InfluenceCsv, PartData::Bytes(inf))],
        |_| {},
    )
    .await
    .expect("CSV pair submission");
    let csv_job = job_of(&csv);
    let cancelled = client
        .cancel_job(proto::CancelJobRequest {
            job_id: csv_job.job_id.clone(),
        })
        .await
        .expect("cancel")
        .into_inner();
    let (_, csv_end) = watch_states(&mut client, &csv_job.job_id).await;
    let fetch = client::fetch(&mut client, &csv_job.job_id, &dir.path().join("none")).await;
    let csv_fetch = code_of(fetch).0;

    // Three jobs, one a page.
    let mut pages: Vec<proto::ListJobsResponse> = Vec::new();
    for _ in 0..3 {
        let page_token = pages
            .last()
            .map(|p| p.next_page_token.clone())
            .unwrap_or_default();
        let page = client
            .list_jobs(proto::ListJobsRequest {
                page_size: 1,
                page_token,
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner();
        pages.push(page);
    }
    running.shutdown().await.expect("shutdown");
    Journey {
        first,
        again,
        states,
        done,
        verified,
        key,
        bad_shape,
        halo2_job,
        halo2_done,
        halo2_verified,
        halo2_key,
        activations_len,
        part,
        csv_job,
        cancelled,
        csv_end,
        csv_fetch,
        pages,
    }
}

#[test]
fn a_submission_is_answered_with_a_new_job_of_its_shape() {
    let j = journey();
    let job = job_of(&j.first);
    assert!(!j.first.deduplicated);
    assert_eq!(job.n_queries, 12);
    assert_eq!(job.shape, "16x16");
}

#[test]
fn the_same_bytes_again_are_answered_with_the_same_job() {
    let j = journey();
    assert!(j.again.deduplicated);
    assert_eq!(job_of(&j.again).job_id, job_of(&j.first).job_id);
}

#[test]
fn a_watched_job_is_proved_to_done_in_one_batch() {
    let j = journey();
    assert_eq!(j.done.state(), proto::JobState::Done, "{:?}", j.done);
    assert!(
        j.states.contains(&proto::JobState::Proving),
        "{:?}",
        j.states
    );
    assert_eq!(j.done.batch_count, 1);
}

#[test]
fn the_fetched_bundle_verifies_with_the_epoch_statement() {
    let j = journey();
    assert_eq!(j.verified.statement.epoch_id, 1);
    assert_eq!(j.verified.statement.n_queries, 12);
}

/// The key the service hands out is the pinned one, and the one the bundle names.
#[test]
fn the_plonky2_verifying_key_is_the_pinned_one_the_bundle_names() {
    let (j, key) = (journey(), &journey().key);
    assert_eq!(key.shape, "16x16");
    assert_eq!(key.digest, key.pinned_digest);
    assert_eq!(key.digest, j.done.verifying_key_digest);
    // plonky2 has no setup.
    assert_eq!((key.setup.as_str(), key.unsafe_setup), ("", false));
    assert_eq!(
        key.digest,
        zkattr_verifier::bundle::verifying_key_digest(&key.verifying_key)
    );
}

#[test]
fn a_verifying_key_of_an_unknown_shape_is_refused() {
    assert_eq!(journey().bad_shape, Some(Code::InvalidArgument));
}

#[test]
fn the_same_epoch_for_halo2_is_another_job_of_the_same_shape() {
    let j = journey();
    assert_eq!(j.halo2_job.shape, "16x16");
    assert_ne!(
        j.halo2_job.job_id,
        job_of(&j.first).job_id,
        "another backend is another job"
    );
}

/// The same epoch proved with halo2: the bundle verifies and names the pinned key.
#[test]
fn a_halo2_job_is_proved_and_its_bundle_verifies() {
    let j = journey();
    assert_eq!(
        j.halo2_done.state(),
        proto::JobState::Done,
        "{:?}",
        j.halo2_done
    );
    assert_eq!(j.halo2_verified.backend, "halo2");
    assert_eq!(j.halo2_verified.statement.n_queries, 12);
}

#[test]
fn the_halo2_verifying_key_is_the_pinned_one_under_an_unsafe_setup() {
    let (j, key) = (journey(), &journey().halo2_key);
    assert_eq!(key.shape, "16x16");
    assert_eq!(key.digest, key.pinned_digest);
    assert_eq!(key.digest, j.halo2_done.verifying_key_digest);
    // Made under development parameters here: the response says the setup is unsafe.
    assert_eq!((key.setup.as_str(), key.unsafe_setup), ("dev-unsafe", true));
}

#[test]
fn an_uploaded_part_reports_its_size() {
    let j = journey();
    assert_eq!(j.part.size, j.activations_len);
}

/// The CSV pair from two parties: activations uploaded on their own, influence streamed.
#[test]
fn the_csv_pair_from_an_uploaded_and_a_streamed_part_is_another_job() {
    let j = journey();
    assert_ne!(
        j.csv_job.job_id,
        job_of(&j.first).job_id,
        "another format is another job"
    );
    assert_eq!(j.csv_job.n_queries, 12);
    assert_eq!(j.csv_job.epoch_id, u64::MAX);
}

/// Cancelled: the watch ends CANCELLED and no bundle is served.
#[test]
fn a_cancelled_job_ends_cancelled_without_a_bundle() {
    let j = journey();
    assert_eq!(j.cancelled.state(), proto::JobState::Cancelled);
    assert_eq!(j.csv_end.state(), proto::JobState::Cancelled);
    assert_eq!(j.csv_fetch, Code::FailedPrecondition);
}

/// Three jobs, one a page, newest first.
#[test]
fn jobs_are_listed_newest_first_one_a_page() {
    let j = journey();
    let expected = [
        &j.csv_job.job_id,
        &j.halo2_job.job_id,
        &job_of(&j.first).job_id,
    ];
    for (page, id) in j.pages.iter().zip(expected) {
        assert_eq!(page.jobs.len(), 1);
        assert_eq!(&page.jobs[0].job_id, id);
    }
    assert!(j.pages[2].next_page_token.is_empty());
}

/// Streams raw messages as one SubmitEpoch call.
async fn submit_raw(
    client: &mut zkattr_prover::client::Client,
    messages: Vec<proto::submit_epoch_request::Msg>,
) -> (Code, String) {
    let stream = tokio_stream::iter(
        messages
            .into_iter()
            .map(|m| proto::SubmitEpochRequest { msg: Some(m) }),
    );
    match client.submit_epoch(stream).await {
        Ok(r) => panic!("expected a refusal, got {r:?}"),
        Err(s) => (s.code(), s.message().to_string()),
    }
}

/// A refused call's status code and message.
type Refused = (Code, String);

/// The upload limit of the [`refusals`] service.
const LIMIT: u64 = 64 * 1024;

/// What a service with small upload limits (64 KiB, idle 2 s, 5 s in all) answered to bad and
/// truncated uploads thrown at it while it proved a good job, and the good job's end.
struct Refusals {
    half_json: Refused,
    no_finish: Refused,
    short_finish: Refused,
    no_header: Code,
    undefined_backend: Refused,
    undefined_format: Refused,
    undefined_state_filter: Code,
    undefined_key_backend: String,
    unsorted: Refused,
    swapped: [u64; 2],
    over_limit: Refused,
    huge_message: Code,
    empty_chunks: Refused,
    silent: Refused,
    silent_took: Duration,
    endless: Refused,
    endless_took: Duration,
    good_done: proto::Job,
    jobs: Vec<proto::Job>,
    tmp_files: usize,
}

fn refusals() -> &'static Refusals {
    static REFUSALS: OnceLock<Refusals> = OnceLock::new();
    REFUSALS.get_or_init(|| run(record_refusals()))
}

async fn record_refusals() -> Refusals {
    use proto::submit_epoch_request::Msg;
    let (running, dir) = start(|c| {
        c.max_upload_bytes = LIMIT;
        c.upload_idle_timeout = Duration::from_secs(2);
        c.upload_max_duration = Duration::from_secs(5);
    })
    .await;
    let mut client = connect(&running, None).await;

    let good = job_of(
        &submit_json(&mut client, json_bytes(&small_epoch(2, 10)))
            .await
            .expect("submit"),
    );
    // Wait until it is being proved, then throw bad uploads at the service.
    wait_for_proving(&mut connect(&running, None).await, &good.job_id).await;

    let chunk = |bytes: &[u8]| {
        Msg::Chunk(proto::Chunk {
            part: proto::Part::EpochJson.into(),
            data: bytes.to_vec(),
        })
    };
    let finish = |size: usize| {
        Msg::Finish(proto::Finish {
            sizes: vec![proto::PartSize {
                part: proto::Part::EpochJson.into(),
                size: size as u64,
            }],
        })
    };
    let epoch = json_bytes(&small_epoch(3, 12));
    let half = &epoch[..epoch.len() / 2];

    // A complete upload of half a file.
    let half_json = code_of(submit_json(&mut client, half.to_vec()).await);
    // The stream ends mid-epoch, without finish.
    let no_finish = submit_raw(&mut client, vec![Msg::Header(json_header()), chunk(half)]).await;
    // finish claims more bytes than arrived.
    let short_finish = submit_raw(
        &mut client,
        vec![Msg::Header(json_header()), chunk(half), finish(epoch.len())],
    )
    .await;
    let (no_header, _) = submit_raw(&mut client, vec![chunk(&epoch), finish(epoch.len())]).await;

    let with_header = |header| vec![Msg::Header(header), chunk(&epoch), finish(epoch.len())];
    let undefined_backend = submit_raw(
        &mut client,
        with_header(proto::SubmitHeader {
            backend: 7,
            ..json_header()
        }),
    )
    .await;
    let undefined_format = submit_raw(
        &mut client,
        with_header(proto::SubmitHeader {
            format: 9,
            ..json_header()
        }),
    )
    .await;
    let undefined_state_filter = client
        .list_jobs(proto::ListJobsRequest {
            state: 99,
            ..Default::default()
        })
        .await
        .expect_err("an undefined state filter")
        .code();
    let undefined_key_backend = client
        .get_verifying_key(proto::GetVerifyingKeyRequest {
            backend: 7,
            shape: "16x16".into(),
            ..Default::default()
        })
        .await
        .expect_err("an undefined backend")
        .message()
        .to_string();

    // The CSV pair with two queries swapped.
    let mut unsorted_epoch = small_epoch(4, 6);
    unsorted_epoch.queries.swap(2, 3);
    let swapped = [
        unsorted_epoch.queries[2].query_id,
        unsorted_epoch.queries[3].query_id,
    ];
    let (act, inf) = csv_bytes(&unsorted_epoch);
    let header = proto::SubmitHeader {
        backend: proto::Backend::Plonky2.into(),
        format: proto::EpochFormat::CsvPair.into(),
        epoch_id: 4,
        rate_bps: 2500,
        uploaded_parts: vec![],
    };
    let unsorted = code_of(
        client::submit(
            &mut client,
            header,
            vec![
                (proto::Part::ActivationsCsv, PartData::Bytes(act)),
                (proto::Part::InfluenceCsv, PartData::Bytes(inf)),
            ],
            |_| {},
        )
        .await,
    );

    let over_limit = code_of(submit_json(&mut client, vec![b' '; LIMIT as usize + 1]).await);
    let huge = vec![b' '; zkattr_prover::service::MAX_MESSAGE_BYTES + 1];
    let (huge_message, _) =
        submit_raw(&mut client, vec![Msg::Header(json_header()), chunk(&huge)]).await;
    // Each empty chunk counts UPLOAD_MESSAGE_COST.
    let empties = (0..=LIMIT / zkattr_prover::service::UPLOAD_MESSAGE_COST).map(|_| chunk(&[]));
    let messages = std::iter::once(Msg::Header(json_header()))
        .chain(empties)
        .collect();
    let empty_chunks = submit_raw(&mut client, messages).await;

    // A stream that goes silent after its header, while the client still holds it open.
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tx.send(proto::SubmitEpochRequest {
        msg: Some(Msg::Header(json_header())),
    })
    .await
    .expect("queue the header");
    let started = std::time::Instant::now();
    let silent = client
        .submit_epoch(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .expect_err("a silent upload");
    let silent_took = started.elapsed();
    let silent = (silent.code(), silent.message().to_string());
    drop(tx);

    // A stream that keeps sending a byte every half second, never silent for the idle timeout.
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let trickle = tokio::spawn(async move {
        let mut messages =
            std::iter::once(Msg::Header(json_header())).chain(std::iter::repeat_with(|| {
                Msg::Chunk(proto::Chunk {
                    part: proto::Part::EpochJson.into(),
                    data: b" ".to_vec(),
                })
            }));
        // Until the server refuses the stream (the receiver is dropped) or 30 s pass.
        for _ in 0..60 {
            let msg = messages.next();
            if tx.send(proto::SubmitEpochRequest { msg }).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    let started = std::time::Instant::now();
    let endless = client
        .submit_epoch(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .expect_err("an upload that never ends");
    let endless_took = started.elapsed();
    let endless = (endless.code(), endless.message().to_string());
    trickle.abort();

    // The job that was running meanwhile.
    let (_, good_done) = watch_states(&mut client, &good.job_id).await;
    fetch_and_verify(&mut client, &good.job_id, &dir.path().join("bundle")).await;
    let jobs = client
        .list_jobs(proto::ListJobsRequest::default())
        .await
        .expect("list")
        .into_inner()
        .jobs;
    let tmp_files = std::fs::read_dir(dir.path().join("data/tmp"))
        .expect("tmp")
        .count();
    running.shutdown().await.expect("shutdown");
    Refusals {
        half_json,
        no_finish,
        short_finish,
        no_header,
        undefined_backend,
        undefined_format,
        undefined_state_filter,
        undefined_key_backend,
        unsorted,
        swapped,
        over_limit,
        huge_message,
        empty_chunks,
        silent,
        silent_took,
        endless,
        endless_took,
        good_done,
        jobs,
        tmp_files,
    }
}

#[test]
fn invalid_json_is_refused_as_malformed() {
    let (code, message) = &refusals().half_json;
    assert_eq!(*code, Code::InvalidArgument);
    assert!(message.contains("malformed epoch JSON"), "{message}");
}

#[test]
fn a_stream_ending_without_finish_is_refused_as_truncated() {
    let (code, message) = &refusals().no_finish;
    assert_eq!(*code, Code::InvalidArgument);
    assert!(message.contains("truncated"), "{message}");
}

#[test]
fn a_finish_claiming_more_bytes_than_arrived_is_refused_as_truncated() {
    let (code, message) = &refusals().short_finish;
    assert_eq!(*code, Code::InvalidArgument);
    assert!(message.contains("truncated upload"), "{message}");
}

#[test]
fn an_upload_without_a_header_is_refused() {
    assert_eq!(refusals().no_header, Code::InvalidArgument);
}

/// Enum values the API does not define (prost would read them as UNSPECIFIED, so backend 7
/// would have been proved with plonky2 and state 99 would have listed every job).
#[test]
fn undefined_backend_and_format_values_are_refused_by_name() {
    let r = refusals();
    for ((code, message), field) in [
        (&r.undefined_backend, "backend 7"),
        (&r.undefined_format, "format 9"),
    ] {
        assert_eq!(*code, Code::InvalidArgument, "{message}");
        assert!(
            message.contains(&format!("{field} is not defined")),
            "{message}"
        );
    }
}

#[test]
fn an_undefined_state_filter_is_refused() {
    assert_eq!(refusals().undefined_state_filter, Code::InvalidArgument);
}

#[test]
fn a_verifying_key_of_an_undefined_backend_is_refused_by_name() {
    let message = &refusals().undefined_key_backend;
    assert!(message.contains("backend 7 is not defined"), "{message}");
}

/// Unsorted logs: the CSV pair with two queries swapped names the query and the rule.
#[test]
fn unsorted_logs_are_refused_naming_the_query_and_the_rule() {
    let r = refusals();
    let (code, message) = &r.unsorted;
    assert_eq!(*code, Code::InvalidArgument);
    assert!(
        r.swapped
            .iter()
            .any(|q| message.contains(&format!("query {q}")))
            && message.contains("increasing"),
        "{message}"
    );
}

#[test]
fn an_upload_over_the_limit_is_refused_naming_the_limit() {
    let (code, message) = &refusals().over_limit;
    assert_eq!(*code, Code::ResourceExhausted);
    assert!(message.contains(&LIMIT.to_string()), "{message}");
}

#[test]
fn one_message_above_the_decoder_limit_is_refused() {
    let code = refusals().huge_message;
    assert!(
        matches!(code, Code::ResourceExhausted | Code::OutOfRange),
        "{code:?}"
    );
}

/// Empty chunks are not free: each counts UPLOAD_MESSAGE_COST, so a stream of them ends.
#[test]
fn a_stream_of_empty_chunks_is_refused() {
    let (code, message) = &refusals().empty_chunks;
    assert_eq!(*code, Code::ResourceExhausted, "{message}");
}

/// A stream that goes silent after its header is refused after the idle timeout (2 s here),
/// while the client still holds it open.
#[test]
fn a_silent_upload_is_refused_after_the_idle_timeout() {
    let r = refusals();
    let (code, message) = &r.silent;
    assert_eq!(*code, Code::DeadlineExceeded, "{message}");
    assert!(message.contains("sent nothing for 2 s"), "{message}");
    assert!(r.silent_took >= Duration::from_secs(2));
}

/// A stream that keeps sending a byte every half second, never silent for the idle timeout,
/// is refused once the whole upload has taken 5 s (--upload-max-secs).
#[test]
fn a_trickling_upload_is_refused_after_the_upload_time_limit() {
    let r = refusals();
    let (code, message) = &r.endless;
    assert_eq!(*code, Code::DeadlineExceeded, "{message}");
    assert!(message.contains("took longer than 5 s"), "{message}");
    let took = r.endless_took;
    assert!(took >= Duration::from_secs(5), "{took:?}");
    assert!(took < Duration::from_secs(20), "{took:?}");
}

/// The job that was running meanwhile finishes and verifies (in the recording).
#[test]
fn the_job_proving_meanwhile_finishes() {
    let done = &refusals().good_done;
    assert_eq!(done.state(), proto::JobState::Done, "{done:?}");
}

#[test]
fn no_bad_upload_made_a_job() {
    let jobs = &refusals().jobs;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
}

#[test]
fn no_bad_upload_left_files_in_tmp() {
    assert_eq!(refusals().tmp_files, 0);
}
/// `queries` queries, each paying its whole fee to adapter 1: the largest fee, but `last_fee`
/// for the last.
fn epoch_paying_whole_fees(queries: u64, last_fee: u64) -> zkattr_model::Epoch {
    use zkattr_model::types::{EpochParams, Query, Slot, FEE_BOUND, MAX_RATE_BPS, SLOTS};
    let mut slots = [Slot::UNUSED; SLOTS];
    slots[0] = Slot {
        adapter_id: 1,
        gate: u16::MAX,
        score: 1,
    };
    let queries = (1..=queries)
        .map(|query_id| Query {
            query_id,
            fee: if query_id == queries {
                last_fee
            } else {
                FEE_BOUND - 1
            },
            slots,
        })
        .collect();
    let params = EpochParams {
        epoch_id: 1,
        rate_bps: MAX_RATE_BPS,
    };
    zkattr_model::Epoch::new(params, queries).expect("a valid epoch")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_epoch_paying_beyond_the_aggregation_field_is_refused_at_submission() {
    // The plonky2 aggregation checks payouts in the Goldilocks field (p = 2^64 - 2^32 + 1),
    // so SPEC's totals in [p, 2^64) cannot be proved by it: refused before a job is stored,
    // not hours later. 2^16 - 1 whole fees of 2^48 - 1 and a last one of 2^48 - 2^32 + 2^16
    // pay exactly p; a last fee one lower pays p - 1 and is accepted.
    const P: u64 = 0xffff_ffff_0000_0001;
    let last_fee = (1 << 48) - (1 << 32) + (1 << 16);
    let queries = 1 << 16;
    let (running, _dir) = start(|c| c.workers = 0).await;
    let mut client = connect(&running, None).await;
    let at_p = epoch_paying_whole_fees(queries, last_fee);
    let paid = |epoch| zkattr_model::Settlement::compute(epoch).unwrap().total_paid;
    assert_eq!(paid(&at_p), P);
    let (code, message) = code_of(submit_json(&mut client, json_bytes(&at_p)).await);
    assert_eq!(code, Code::FailedPrecondition, "{message}");
    assert!(
        message.contains(&format!("total paid {P} ")) && message.contains("Goldilocks modulus"),
        "{message}"
    );
    let listed = client
        .list_jobs(proto::ListJobsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert!(listed.jobs.is_empty(), "{listed:?}");

    let below_p = epoch_paying_whole_fees(queries, last_fee - 1);
    assert_eq!(paid(&below_p), P - 1);
    let below = job_of(
        &submit_json(&mut client, json_bytes(&below_p))
            .await
            .expect("a total of p - 1 is accepted"),
    );
    assert_eq!(below.shape, "agg-b2048-t5-p8");
    running.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_token_and_tls() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
    let dir = tempfile::tempdir().expect("temp dir");
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).expect("write cert");
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).expect("write key");
    let (running, _data) = start(|c| {
        c.workers = 0;
        c.token = Some("s3cret".into());
        c.tls = Some(zkattr_prover::service::TlsFiles {
            cert: cert_path.clone(),
            key: key_path.clone(),
        });
    })
    .await;
    let url = format!("https://localhost:{}", running.addr.port());
    let ca = cert.cert.pem().into_bytes();

    let list = |mut c: zkattr_prover::client::Client| async move {
        c.list_jobs(proto::ListJobsRequest::default())
            .await
            .map(|r| r.into_inner().jobs.len())
            .map_err(|s| s.code())
    };
    for token in [None, Some("wrong")] {
        let c = client::connect(&url, token, Some(ca.clone()))
            .await
            .expect("TLS connects");
        assert_eq!(list(c).await, Err(Code::Unauthenticated), "token {token:?}");
    }
    let c = client::connect(&url, Some("s3cret"), Some(ca.clone()))
        .await
        .expect("TLS connects");
    assert_eq!(list(c).await, Ok(0));

    // Health stays open without a token.
    let channel = tonic::transport::Endpoint::from_shared(url.clone())
        .expect("url")
        .tls_config(
            tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(ca.clone())),
        )
        .expect("tls")
        .connect()
        .await
        .expect("connect");
    let health = tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: "attribution.v1.AttributionService".into(),
        })
        .await
        .expect("health")
        .into_inner();
    assert_eq!(
        health.status(),
        tonic_health::pb::health_check_response::ServingStatus::Serving
    );

    // Plain text to a TLS port does not get through.
    let plain = client::connect(&format!("http://{}", running.addr), Some("s3cret"), None).await;
    let refused = match plain {
        Err(_) => true,
        Ok(c) => list(c).await.is_err(),
    };
    assert!(refused);
    running.shutdown().await.expect("shutdown");
}

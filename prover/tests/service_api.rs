//! The gRPC service in-process: submit, watch, fetch and verify; idempotent submission; the
//! CSV pair from two uploads; bad and truncated uploads refused while a job keeps running;
//! bearer-token auth and TLS; epochs above one circuit planned as aggregated; an epoch whose
//! total the aggregation cannot prove refused at submission. Retry, cancel and the queue limit:
//! tests/service_jobs.rs.

mod common;

use common::*;
use tonic::Code;
use zkattr_prover::client::{self, PartData};
use zkattr_prover::proto;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_watch_fetch_verify_and_resubmit() {
    let (running, dir) = start(|_| {}).await;
    let mut client = connect(&running, None).await;
    let epoch = small_epoch(1, 12);

    let first = submit_json(&mut client, json_bytes(&epoch))
        .await
        .expect("submit");
    let job = job_of(&first);
    assert!(!first.deduplicated);
    assert_eq!(job.n_queries, 12);
    assert_eq!(job.shape, "16x16");
    let again = submit_json(&mut client, json_bytes(&epoch))
        .await
        .expect("resubmit");
    assert!(again.deduplicated);
    assert_eq!(job_of(&again).job_id, job.job_id);

    let (states, done) = watch_states(&mut client, &job.job_id).await;
    assert_eq!(done.state(), proto::JobState::Done, "{done:?}");
    assert!(states.contains(&proto::JobState::Proving), "{states:?}");
    assert_eq!(done.batch_count, 1);

    let verified = fetch_and_verify(&mut client, &job.job_id, &dir.path().join("bundle")).await;
    assert_eq!(verified.statement.epoch_id, 1);
    assert_eq!(verified.statement.n_queries, 12);

    // The key the service hands out is the pinned one, and the one the bundle names.
    let key = client
        .get_verifying_key(proto::GetVerifyingKeyRequest {
            queries: 12,
            ..Default::default()
        })
        .await
        .expect("verifying key")
        .into_inner();
    assert_eq!(key.shape, "16x16");
    assert_eq!(key.digest, key.pinned_digest);
    assert_eq!(key.digest, done.verifying_key_digest);
    // plonky2 has no setup.
    assert_eq!((key.setup.as_str(), key.unsafe_setup), ("", false));
    assert_eq!(
        key.digest,
        zkattr_verifier::bundle::verifying_key_digest(&key.verifying_key)
    );
    let bad_shape = client
        .get_verifying_key(proto::GetVerifyingKeyRequest {
            shape: "17x17".into(),
            ..Default::default()
        })
        .await;
    assert_eq!(
        bad_shape.map_err(|s| s.code()).err(),
        Some(Code::InvalidArgument)
    );

    // The same epoch proved with halo2: the bundle verifies and names the pinned key.
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
    assert_eq!(halo2_job.shape, "16x16");
    assert_ne!(
        halo2_job.job_id, job.job_id,
        "another backend is another job"
    );
    let (_, halo2_done) = watch_states(&mut client, &halo2_job.job_id).await;
    assert_eq!(halo2_done.state(), proto::JobState::Done, "{halo2_done:?}");
    let verified = fetch_and_verify(
        &mut client,
        &halo2_job.job_id,
        &dir.path().join("halo2-bundle"),
    )
    .await;
    assert_eq!(verified.backend, "halo2");
    assert_eq!(verified.statement.n_queries, 12);
    let halo2_key = client
        .get_verifying_key(proto::GetVerifyingKeyRequest {
            backend: proto::Backend::Halo2.into(),
            queries: 12,
            ..Default::default()
        })
        .await
        .expect("halo2 verifying key")
        .into_inner();
    assert_eq!(halo2_key.shape, "16x16");
    assert_eq!(halo2_key.digest, halo2_key.pinned_digest);
    assert_eq!(halo2_key.digest, halo2_done.verifying_key_digest);
    // Made under development parameters here: the response says the setup is unsafe.
    assert_eq!(
        (halo2_key.setup.as_str(), halo2_key.unsafe_setup),
        ("dev-unsafe", true)
    );

    // The CSV pair from two parties: activations uploaded on their own, influence streamed.
    let (act, inf) = csv_bytes(&epoch);
    let act_len = act.len() as u64;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    use proto::upload_part_request::Msg;
    for msg in [
        Msg::Part(proto::Part::ActivationsCsv.into()),
        Msg::Data(act),
        Msg::FinishSize(act_len),
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
    assert_eq!(part.size, act_len);
    let header = proto::SubmitHeader {
        backend: proto::Backend::Plonky2.into(),
        format: proto::EpochFormat::CsvPair.into(),
        // SPEC allows any u64; the job store keeps ids from 2^63 up exactly.
        epoch_id: u64::MAX,
        rate_bps: 2500,
        uploaded_parts: vec![proto::PartRef {
            part: proto::Part::ActivationsCsv.into(),
            part_id: part.part_id,
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
    assert_ne!(csv_job.job_id, job.job_id, "another format is another job");
    assert_eq!(csv_job.n_queries, 12);
    assert_eq!(csv_job.epoch_id, u64::MAX);

    // Cancel it; the watch ends CANCELLED and no bundle is served.
    let cancelled = client
        .cancel_job(proto::CancelJobRequest {
            job_id: csv_job.job_id.clone(),
        })
        .await
        .expect("cancel")
        .into_inner();
    assert_eq!(cancelled.state(), proto::JobState::Cancelled);
    let (_, end) = watch_states(&mut client, &csv_job.job_id).await;
    assert_eq!(end.state(), proto::JobState::Cancelled);
    let fetch = client::fetch(&mut client, &csv_job.job_id, &dir.path().join("none")).await;
    assert_eq!(code_of(fetch).0, Code::FailedPrecondition);

    // Paging: two jobs, one a page, newest first.
    let page1 = client
        .list_jobs(proto::ListJobsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(page1.jobs.len(), 1);
    assert_eq!(page1.jobs[0].job_id, csv_job.job_id);
    let page2 = client
        .list_jobs(proto::ListJobsRequest {
            page_size: 1,
            page_token: page1.next_page_token,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(page2.jobs.len(), 1);
    assert_eq!(page2.jobs[0].job_id, halo2_job.job_id);
    let page3 = client
        .list_jobs(proto::ListJobsRequest {
            page_size: 1,
            page_token: page2.next_page_token,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(page3.jobs.len(), 1);
    assert_eq!(page3.jobs[0].job_id, job.job_id);
    assert!(page3.next_page_token.is_empty());
    running.shutdown().await.expect("shutdown");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_and_truncated_uploads_are_refused_while_a_job_runs() {
    use proto::submit_epoch_request::Msg;
    let limit = 64 * 1024;
    let (running, dir) = start(|c| {
        c.max_upload_bytes = limit;
        c.upload_idle_timeout = std::time::Duration::from_secs(2);
        c.upload_max_duration = std::time::Duration::from_secs(5);
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

    // Invalid JSON (a complete upload of half a file).
    let (code, message) = submit_json(&mut client, half.to_vec())
        .await
        .map(|r| panic!("accepted {r:?}"))
        .unwrap_or_else(|e| match e {
            zkattr_prover::client::ClientError::Status(s) => (s.code(), s.message().to_string()),
            other => panic!("{other}"),
        });
    assert_eq!(code, Code::InvalidArgument);
    assert!(message.contains("malformed epoch JSON"), "{message}");

    // The stream ends mid-epoch, without finish.
    let (code, message) =
        submit_raw(&mut client, vec![Msg::Header(json_header()), chunk(half)]).await;
    assert_eq!(code, Code::InvalidArgument);
    assert!(message.contains("truncated"), "{message}");

    // finish claims more bytes than arrived.
    let (code, message) = submit_raw(
        &mut client,
        vec![Msg::Header(json_header()), chunk(half), finish(epoch.len())],
    )
    .await;
    assert_eq!(code, Code::InvalidArgument);
    assert!(message.contains("truncated upload"), "{message}");

    // No header.
    let (code, _) = submit_raw(&mut client, vec![chunk(&epoch), finish(epoch.len())]).await;
    assert_eq!(code, Code::InvalidArgument);

    // Enum values the API does not define (prost would read them as UNSPECIFIED, so backend 7
    // would have been proved with plonky2 and state 99 would have listed every job).
    for (header, field) in [
        (
            proto::SubmitHeader {
                backend: 7,
                ..json_header()
            },
            "backend 7",
        ),
        (
            proto::SubmitHeader {
                format: 9,
                ..json_header()
            },
            "format 9",
        ),
    ] {
        let (code, message) = submit_raw(
            &mut client,
            vec![Msg::Header(header), chunk(&epoch), finish(epoch.len())],
        )
        .await;
        assert_eq!(code, Code::InvalidArgument, "{message}");
        assert!(
            message.contains(&format!("{field} is not defined")),
            "{message}"
        );
    }
    let listed = client
        .list_jobs(proto::ListJobsRequest {
            state: 99,
            ..Default::default()
        })
        .await
        .expect_err("an undefined state filter");
    assert_eq!(listed.code(), Code::InvalidArgument);
    let key = client
        .get_verifying_key(proto::GetVerifyingKeyRequest {
            backend: 7,
            shape: "16x16".into(),
            ..Default::default()
        })
        .await
        .expect_err("an undefined backend");
    assert!(
        key.message().contains("backend 7 is not defined"),
        "{key:?}"
    );

    // Unsorted logs: the CSV pair with two queries swapped names the query and the rule.
    let mut unsorted = small_epoch(4, 6);
    unsorted.queries.swap(2, 3);
    let swapped = [unsorted.queries[2].query_id, unsorted.queries[3].query_id];
    let (act, inf) = csv_bytes(&unsorted);
    let header = proto::SubmitHeader {
        backend: proto::Backend::Plonky2.into(),
        format: proto::EpochFormat::CsvPair.into(),
        epoch_id: 4,
        rate_bps: 2500,
        uploaded_parts: vec![],
    };
    let (code, message) = code_of(
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
    assert_eq!(code, Code::InvalidArgument);
    assert!(
        swapped
            .iter()
            .any(|q| message.contains(&format!("query {q}")))
            && message.contains("increasing"),
        "{message}"
    );

    // Over the upload limit: refused naming the limit.
    let big = vec![b' '; limit as usize + 1];
    let (code, message) = code_of(submit_json(&mut client, big).await);
    assert_eq!(code, Code::ResourceExhausted);
    assert!(message.contains(&limit.to_string()), "{message}");

    // One message above the decoder's limit.
    let huge = vec![b' '; zkattr_prover::service::MAX_MESSAGE_BYTES + 1];
    let (code, _) = submit_raw(&mut client, vec![Msg::Header(json_header()), chunk(&huge)]).await;
    assert!(
        matches!(code, Code::ResourceExhausted | Code::OutOfRange),
        "{code:?}"
    );

    // Empty chunks are not free: each counts UPLOAD_MESSAGE_COST, so a stream of them ends.
    let empties = (0..=limit / zkattr_prover::service::UPLOAD_MESSAGE_COST).map(|_| chunk(&[]));
    let messages = std::iter::once(Msg::Header(json_header()))
        .chain(empties)
        .collect();
    let (code, message) = submit_raw(&mut client, messages).await;
    assert_eq!(code, Code::ResourceExhausted, "{message}");

    // A stream that goes silent after its header is refused after the idle timeout (2 s
    // here), while the client still holds it open.
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
    assert_eq!(silent.code(), Code::DeadlineExceeded, "{silent:?}");
    assert!(
        silent.message().contains("sent nothing for 2 s"),
        "{silent:?}"
    );
    assert!(started.elapsed() >= std::time::Duration::from_secs(2));
    drop(tx);

    // A stream that keeps sending a byte every half second, never silent for the idle
    // timeout, is refused once the whole upload has taken 5 s (--upload-max-secs).
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
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    });
    let started = std::time::Instant::now();
    let endless = client
        .submit_epoch(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .expect_err("an upload that never ends");
    let took = started.elapsed();
    assert_eq!(endless.code(), Code::DeadlineExceeded, "{endless:?}");
    assert!(
        endless.message().contains("took longer than 5 s"),
        "{endless:?}"
    );
    assert!(took >= std::time::Duration::from_secs(5), "{took:?}");
    assert!(took < std::time::Duration::from_secs(20), "{took:?}");
    trickle.abort();

    // The job that was running meanwhile finishes and verifies; no bad upload made a job.
    let (_, done) = watch_states(&mut client, &good.job_id).await;
    assert_eq!(done.state(), proto::JobState::Done, "{done:?}");
    fetch_and_verify(&mut client, &good.job_id, &dir.path().join("bundle")).await;
    let all = client
        .list_jobs(proto::ListJobsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(all.jobs.len(), 1, "{:?}", all.jobs);
    // And nothing was left behind in tmp/.
    let tmp = std::fs::read_dir(dir.path().join("data/tmp"))
        .expect("tmp")
        .count();
    assert_eq!(tmp, 0);
    running.shutdown().await.expect("shutdown");
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

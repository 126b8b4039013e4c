//! Submitting an epoch, apart from the gRPC stream that carries it: the header's settings, the
//! parts it names, the checks of the finish message and of the part set, the submission's
//! content id, and the job (an earlier one with the same content, or a new one validated and
//! queued). `api.rs`'s `SubmitEpoch` handler only reads messages and calls these.

use super::api::{backend_status, job_proto, store_status};
use super::artifacts::{is_hex_digest, Artifacts};
use super::backend::{BackendKind, Backends};
use super::store::{JobRecord, JobStore, NewJob, StoreError, StoredPart};
use super::{load_epoch, Core, EpochFormat, LoadError};
use super::{PART_ACTIVATIONS, PART_EPOCH_JSON, PART_INFLUENCE};
use crate::proto;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tonic::Status;

/// What a submission's header asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    pub backend: BackendKind,
    pub format: EpochFormat,
    /// The CSV pair's epoch id and rate (a JSON epoch carries its own: both 0 here).
    pub epoch_id: u64,
    pub rate_bps: u16,
}

impl Settings {
    /// Reads a header: refuses an enum value the API does not define, a backend this service
    /// lacks, a header without an epoch format, and a rate that is no basis-point value.
    pub fn from_header(header: &proto::SubmitHeader, backends: &Backends) -> Result<Self, Status> {
        let backend = backend_kind(known(header.backend, "backend")?);
        // Refuse what cannot run before reading the upload.
        backends.get(backend).map_err(backend_status)?;
        let format = match known(header.format, "format")? {
            proto::EpochFormat::Json => EpochFormat::Json,
            proto::EpochFormat::CsvPair => EpochFormat::CsvPair,
            proto::EpochFormat::Unspecified => {
                return Err(Status::invalid_argument(
                    "the header must name the epoch format (JSON or CSV_PAIR)",
                ))
            }
        };
        let (epoch_id, rate_bps) = match format {
            EpochFormat::Json => (0, 0),
            EpochFormat::CsvPair => (
                header.epoch_id,
                u16::try_from(header.rate_bps).map_err(|_| {
                    Status::invalid_argument(format!("rate_bps {} is above 10000", header.rate_bps))
                })?,
            ),
        };
        Ok(Settings {
            backend,
            format,
            epoch_id,
            rate_bps,
        })
    }

    /// The parts an upload of this format consists of.
    pub fn expected_parts(&self) -> &'static [&'static str] {
        match self.format {
            EpochFormat::Json => &[PART_EPOCH_JSON],
            EpochFormat::CsvPair => &[PART_ACTIVATIONS, PART_INFLUENCE],
        }
    }

    /// The idempotency key of a submission of `parts` with these settings: the settings and
    /// every part's digest (the epoch id and rate only for a CSV pair, which needs them).
    pub fn content_hash(&self, parts: &[StoredPart]) -> String {
        let mut h = Sha256::new();
        h.update(b"zkattr attribution.v1 submission\n");
        h.update(format!(
            "{}\n{}\n",
            self.backend.as_str(),
            self.format.as_str()
        ));
        if self.format == EpochFormat::CsvPair {
            h.update(format!("{}\n{}\n", self.epoch_id, self.rate_bps));
        }
        for p in parts {
            h.update(format!("{} {} {}\n", p.part, p.size, p.sha256));
        }
        format!("sha256:{}", hex::encode(h.finalize()))
    }
}

/// The backend a request names; unspecified is plonky2.
pub(super) fn backend_kind(b: proto::Backend) -> BackendKind {
    match b {
        proto::Backend::Unspecified | proto::Backend::Plonky2 => BackendKind::Plonky2,
        proto::Backend::Halo2 => BackendKind::Halo2,
    }
}

/// An enum field's value, refusing numbers this API does not define: prost's getters would read
/// them as the default (`UNSPECIFIED`), so `backend = 7` would quietly mean plonky2.
pub(super) fn known<E: TryFrom<i32>>(raw: i32, field: &str) -> Result<E, Status> {
    E::try_from(raw).map_err(|_| Status::invalid_argument(format!("{field} {raw} is not defined")))
}

/// The part a message names, refusing numbers the API does not define and `UNSPECIFIED`.
pub(super) fn part_of(raw: i32) -> Result<&'static str, Status> {
    let name = match proto::Part::try_from(raw) {
        Ok(proto::Part::EpochJson) => Some(PART_EPOCH_JSON),
        Ok(proto::Part::ActivationsCsv) => Some(PART_ACTIVATIONS),
        Ok(proto::Part::InfluenceCsv) => Some(PART_INFLUENCE),
        Ok(proto::Part::Unspecified) | Err(_) => None,
    };
    name.ok_or_else(|| Status::invalid_argument(format!("unknown part {raw}")))
}

/// The parts a header names as uploaded earlier (by `UploadPart`), each found in the artifact
/// folder by its content id.
pub async fn referenced_parts(
    artifacts: &Artifacts,
    refs: &[proto::PartRef],
) -> Result<BTreeMap<&'static str, StoredPart>, Status> {
    let mut parts = BTreeMap::new();
    for r in refs {
        let name = part_of(r.part)?;
        super::limits::part_id(&r.part_id)?;
        let hex = r.part_id.strip_prefix("sha256:").unwrap_or(&r.part_id);
        let meta = match is_hex_digest(hex) {
            true => tokio::fs::metadata(artifacts.part_path(hex)).await.ok(),
            false => None,
        };
        let meta = meta.ok_or_else(|| {
            Status::not_found(format!(
                "no uploaded part {} (UploadPart it first)",
                super::limits::quote(&r.part_id)
            ))
        })?;
        parts.insert(
            name,
            StoredPart {
                part: name.into(),
                sha256: hex.into(),
                size: meta.len(),
            },
        );
    }
    Ok(parts)
}

/// Checks `finish` against the bytes `received` per streamed part: every streamed part's size
/// is declared and equals what arrived. Returns the parts declared but never streamed (empty
/// parts, which the caller stores as such).
pub fn check_finish(
    finish: &proto::Finish,
    received: &BTreeMap<&'static str, u64>,
) -> Result<Vec<&'static str>, Status> {
    let mut declared: BTreeMap<&'static str, u64> = BTreeMap::new();
    for s in &finish.sizes {
        declared.insert(part_of(s.part)?, s.size);
    }
    for (name, size) in &declared {
        let got = received.get(name).copied().unwrap_or(0);
        if got != *size {
            return Err(Status::invalid_argument(format!(
                "truncated upload: part {name} has {got} bytes but finish says {size}"
            )));
        }
    }
    if let Some(name) = received.keys().find(|n| !declared.contains_key(*n)) {
        return Err(Status::invalid_argument(format!(
            "finish does not give the size of the streamed part {name}"
        )));
    }
    Ok(declared
        .into_keys()
        .filter(|name| !received.contains_key(name))
        .collect())
}

/// Checks that `parts` (referenced and streamed) are exactly the parts of `settings`' format.
pub fn check_parts(
    settings: &Settings,
    parts: &BTreeMap<&'static str, StoredPart>,
) -> Result<(), Status> {
    let expected = settings.expected_parts();
    if parts
        .keys()
        .copied()
        .ne(expected.iter().copied().collect::<BTreeSet<_>>())
    {
        return Err(Status::invalid_argument(format!(
            "a {} upload needs exactly the parts {expected:?}; got {:?}",
            settings.format.as_str(),
            parts.keys().collect::<Vec<_>>()
        )));
    }
    Ok(())
}

/// The job id of a submission: from its content hash, so a resubmission finds its job.
pub fn job_id(content_hash: &str) -> String {
    let hex = content_hash.strip_prefix("sha256:").unwrap_or(content_hash);
    format!("job-{}", &hex[..32.min(hex.len())])
}

/// Runs a store call on the blocking pool.
pub(super) async fn on_store<T: Send + 'static>(
    core: &Arc<Core>,
    f: impl FnOnce(&dyn JobStore) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, Status> {
    let core = Arc::clone(core);
    tokio::task::spawn_blocking(move || f(core.store.as_ref()))
        .await
        .map_err(|e| Status::internal(format!("store task failed: {e}")))?
        .map_err(store_status)
}

/// The job of a complete upload (its parts stored): the job an earlier submission of the same
/// content made (`false`: not created), else a new one, queued once the epoch is read back,
/// validated and planned by its backend (`true`). Validation runs one epoch at a time (see
/// `Core::validating`); the queue limit is checked only for a new job, so a resubmission of a
/// known job is answered even when the queue is full.
pub async fn submit(
    core: &Arc<Core>,
    settings: Settings,
    parts: Vec<StoredPart>,
) -> Result<(JobRecord, bool), Status> {
    let hash = settings.content_hash(&parts);
    let id = job_id(&hash);
    let existing_id = id.clone();
    if let Some(existing) = on_store(core, move |s| s.get(&existing_id)).await? {
        return Ok((existing, false));
    }

    let _validating = core
        .validating
        .acquire()
        .await
        .map_err(|_| Status::unavailable("the service is shutting down"))?;
    let checking = Arc::clone(core);
    let parts_for_check = parts.clone();
    let (epoch_id, n_queries, plan) = tokio::task::spawn_blocking(move || {
        let (epoch, settlement) = load_epoch(
            &checking.artifacts,
            settings.format,
            settings.epoch_id,
            settings.rate_bps,
            &parts_for_check,
        )
        .map_err(|e| match e {
            // The part was stored a moment ago: failing to open it is the server's fault.
            LoadError::Open { .. } => Status::internal(format!("reading the upload back: {e}")),
            e => Status::invalid_argument(format!("not a valid epoch: {e}")),
        })?;
        let plan = checking
            .backends
            .get(settings.backend)
            .and_then(|b| b.plan(&epoch, &settlement))
            .map_err(backend_status)?;
        Ok::<_, Status>((epoch.params.epoch_id, epoch.queries.len() as u64, plan))
    })
    .await
    .map_err(|e| Status::internal(format!("validation task failed: {e}")))??;

    let new = NewJob {
        id,
        content_hash: hash,
        backend: settings.backend.as_str().into(),
        format: settings.format.as_str().into(),
        epoch_id,
        rate_bps: settings.rate_bps,
        n_queries,
        shape: plan.shape,
        parts,
    };
    let limit = core.config.queue_limit;
    let (job, created) = on_store(core, move |s| s.insert_or_get(&new, limit)).await?;
    if created {
        tracing::info!(id = %job.id, queries = job.n_queries, shape = %job.shape, "job queued");
        core.publish(&job);
        core.wake.notify();
    }
    Ok((job, created))
}

/// The response to a submission that found or made `job`.
pub fn response(job: &JobRecord, created: bool) -> proto::SubmitEpochResponse {
    proto::SubmitEpochResponse {
        job: Some(job_proto(job)),
        deduplicated: !created,
    }
}

#[cfg(test)]
mod tests {
    use super::super::artifacts::PartWriter;
    use super::super::backend::CircuitCache;
    use super::super::store::SqliteStore;
    use super::super::{worker, ServiceConfig};
    use super::*;
    use std::sync::atomic::AtomicBool;
    use tonic::Code;

    /// A service core over a fresh data folder, without workers.
    fn core(dir: &std::path::Path) -> Arc<Core> {
        let config = ServiceConfig {
            data_dir: dir.to_path_buf(),
            kzg_params_dir: dir.join("params"),
            ..ServiceConfig::default()
        };
        let artifacts = Arc::new(Artifacts::open(dir).unwrap());
        Arc::new(Core {
            backends: Backends::new(
                Arc::clone(&artifacts),
                Arc::new(CircuitCache::new(1)),
                config.kzg_params_dir.clone(),
                None,
            ),
            store: Arc::new(SqliteStore::open(&dir.join("jobs.sqlite")).unwrap()),
            artifacts,
            events: tokio::sync::broadcast::channel(16).0,
            wake: worker::Wake::default(),
            stopping: AtomicBool::new(false),
            claims: Default::default(),
            validating: tokio::sync::Semaphore::new(1),
            draining: tokio::sync::watch::channel(false).0,
            config,
        })
    }

    fn header(backend: i32, format: i32, rate_bps: u32) -> proto::SubmitHeader {
        proto::SubmitHeader {
            backend,
            format,
            epoch_id: 7,
            rate_bps,
            uploaded_parts: Vec::new(),
        }
    }

    fn part(name: &str, sha256: &str, size: u64) -> StoredPart {
        StoredPart {
            part: name.into(),
            sha256: sha256.into(),
            size,
        }
    }

    /// Stores `bytes` as an uploaded part.
    async fn store_part(core: &Core, name: &str, bytes: &[u8]) -> StoredPart {
        let mut writer = PartWriter::create(&core.artifacts).await.unwrap();
        writer.write(bytes).await.unwrap();
        let committed = writer.commit(&core.artifacts).await.unwrap();
        part(name, &committed.sha256, committed.size)
    }

    #[test]
    fn headers_are_read_strictly() {
        let dir = tempfile::tempdir().unwrap();
        let core = core(dir.path());
        let json = proto::EpochFormat::Json as i32;
        let csv = proto::EpochFormat::CsvPair as i32;
        let settings = |h: &proto::SubmitHeader| Settings::from_header(h, &core.backends);
        // An unspecified backend is plonky2; a JSON epoch carries its own id and rate.
        assert_eq!(
            settings(&header(0, json, 500)).unwrap(),
            Settings {
                backend: BackendKind::Plonky2,
                format: EpochFormat::Json,
                epoch_id: 0,
                rate_bps: 0,
            }
        );
        let pair = settings(&header(proto::Backend::Halo2 as i32, csv, 500)).unwrap();
        assert_eq!(
            (pair.backend, pair.epoch_id, pair.rate_bps),
            (BackendKind::Halo2, 7, 500)
        );
        assert_eq!(pair.expected_parts(), [PART_ACTIVATIONS, PART_INFLUENCE]);
        for (bad, names) in [
            (header(7, json, 0), "backend 7 is not defined"),
            (header(0, 9, 0), "format 9 is not defined"),
            (header(0, 0, 0), "must name the epoch format"),
            (header(0, csv, 70_000), "rate_bps 70000"),
        ] {
            let status = settings(&bad).unwrap_err();
            assert_eq!(status.code(), Code::InvalidArgument);
            assert!(status.message().contains(names), "{}", status.message());
        }
    }

    #[test]
    fn finish_must_declare_every_streamed_part_exactly() {
        let size = |part: proto::Part, size| proto::PartSize {
            part: part as i32,
            size,
        };
        let finish = |sizes| proto::Finish { sizes };
        let received = BTreeMap::from([(PART_ACTIVATIONS, 10u64)]);
        // A declared part never streamed is an empty part.
        let empty = check_finish(
            &finish(vec![
                size(proto::Part::ActivationsCsv, 10),
                size(proto::Part::InfluenceCsv, 0),
            ]),
            &received,
        )
        .unwrap();
        assert_eq!(empty, [PART_INFLUENCE]);
        let undeclared = format!("does not give the size of the streamed part {PART_ACTIVATIONS}");
        for (bad, names) in [
            (
                finish(vec![size(proto::Part::ActivationsCsv, 11)]),
                "has 10 bytes but finish says 11",
            ),
            (
                finish(vec![size(proto::Part::InfluenceCsv, 0)]),
                undeclared.as_str(),
            ),
            (
                finish(vec![proto::PartSize { part: 0, size: 10 }]),
                "unknown part 0",
            ),
        ] {
            let status = check_finish(&bad, &received).unwrap_err();
            assert_eq!(status.code(), Code::InvalidArgument);
            assert!(status.message().contains(names), "{}", status.message());
        }
    }

    #[test]
    fn an_upload_holds_exactly_its_formats_parts() {
        let settings = |format| Settings {
            backend: BackendKind::Plonky2,
            format,
            epoch_id: 0,
            rate_bps: 0,
        };
        let parts = |names: &[&'static str]| -> BTreeMap<&'static str, StoredPart> {
            names.iter().map(|n| (*n, part(n, "00", 0))).collect()
        };
        assert!(check_parts(&settings(EpochFormat::Json), &parts(&[PART_EPOCH_JSON])).is_ok());
        let pair = parts(&[PART_INFLUENCE, PART_ACTIVATIONS]);
        assert!(check_parts(&settings(EpochFormat::CsvPair), &pair).is_ok());
        for (format, names) in [
            (EpochFormat::Json, parts(&[])),
            (
                EpochFormat::Json,
                parts(&[PART_EPOCH_JSON, PART_ACTIVATIONS]),
            ),
            (EpochFormat::CsvPair, parts(&[PART_ACTIVATIONS])),
        ] {
            let status = check_parts(&settings(format), &names).unwrap_err();
            assert_eq!(status.code(), Code::InvalidArgument);
            assert!(status.message().contains("needs exactly the parts"));
        }
    }

    #[test]
    fn content_hashes_name_settings_and_parts() {
        let json = Settings {
            backend: BackendKind::Plonky2,
            format: EpochFormat::Json,
            epoch_id: 0,
            rate_bps: 0,
        };
        let parts = [part(PART_EPOCH_JSON, "ab", 3)];
        let hash = json.content_hash(&parts);
        assert!(hash.starts_with("sha256:") && hash.len() == 7 + 64);
        assert_eq!(job_id(&hash), format!("job-{}", &hash[7..39]));
        let halo2 = Settings {
            backend: BackendKind::Halo2,
            ..json
        };
        assert_ne!(halo2.content_hash(&parts), hash);
        assert_ne!(json.content_hash(&[part(PART_EPOCH_JSON, "ab", 4)]), hash);
        // The CSV pair's epoch id and rate are part of its content.
        let pair = Settings {
            format: EpochFormat::CsvPair,
            epoch_id: 1,
            rate_bps: 500,
            ..json
        };
        let other_rate = Settings {
            rate_bps: 501,
            ..pair
        };
        assert_ne!(pair.content_hash(&parts), other_rate.content_hash(&parts));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_submission_is_queued_once_and_a_bad_epoch_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let core = core(dir.path());
        let settings = Settings {
            backend: BackendKind::Plonky2,
            format: EpochFormat::Json,
            epoch_id: 0,
            rate_bps: 0,
        };
        let epoch = zkattr_model::synth::generate(&zkattr_model::synth::SynthConfig::new(4, 3, 1));
        let mut json = Vec::new();
        zkattr_model::io::write_epoch_json(&epoch, &mut json).unwrap();
        let parts = vec![store_part(&core, PART_EPOCH_JSON, &json).await];

        let (job, created) = submit(&core, settings, parts.clone()).await.unwrap();
        assert!(created);
        assert_eq!(job.n_queries, 4);
        assert_eq!(job.id, job_id(&settings.content_hash(&parts)));
        let (again, created) = submit(&core, settings, parts).await.unwrap();
        assert!(!created, "the same content queued twice");
        assert_eq!(again.id, job.id);
        assert!(response(&again, created).deduplicated);

        let garbage = vec![store_part(&core, PART_EPOCH_JSON, b"{\"not\": \"an epoch\"}").await];
        let status = submit(&core, settings, garbage).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().starts_with("not a valid epoch"));
    }

    #[tokio::test]
    async fn referenced_parts_must_have_been_uploaded() {
        let dir = tempfile::tempdir().unwrap();
        let core = core(dir.path());
        let stored = store_part(&core, PART_EPOCH_JSON, b"{}").await;
        let reference = |part_id: String| proto::PartRef {
            part: proto::Part::EpochJson as i32,
            part_id,
        };
        let found = referenced_parts(
            &core.artifacts,
            &[reference(format!("sha256:{}", stored.sha256))],
        )
        .await
        .unwrap();
        assert_eq!(found.get(PART_EPOCH_JSON), Some(&stored));
        for (part_id, code) in [
            ("sha256:".to_string() + &"0".repeat(64), Code::NotFound),
            ("../jobs.sqlite".into(), Code::InvalidArgument),
        ] {
            let status = referenced_parts(&core.artifacts, &[reference(part_id)])
                .await
                .unwrap_err();
            assert_eq!(status.code(), code);
        }
    }
}

//! The targets and their oracles. Authenticated inputs (bundles, path files) must never be
//! accepted with another meaning; unauthenticated ones (epoch JSON, the CSV pair, uploads) may
//! be any valid input but must be read as their bytes say, and an upload's job id must name
//! its content.

use crate::mutate::{self, Format};
use crate::{Outcome, Target};
use anyhow::{bail, Context, Result};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zkattr_model::io::{read_csv_pair, read_epoch_json, write_csv_pair, write_epoch_json};
use zkattr_model::paths::{CheckedPath, PathFile, PathKind};
use zkattr_model::vectors::read_epoch_vectors;
use zkattr_model::{CommitmentFamily, Epoch, Log, Settlement};
use zkattr_prover::proto;
use zkattr_prover::service::artifacts::Artifacts;
use zkattr_prover::service::backend::{Backends, CircuitCache};
use zkattr_prover::service::store::StoredPart;
use zkattr_prover::service::submit::{check_finish, check_parts, job_id, Settings};
use zkattr_prover::service::{PART_ACTIVATIONS, PART_EPOCH_JSON, PART_INFLUENCE};
use zkattr_verifier::claims::{check_claim, check_inclusion, FamilyName};
use zkattr_verifier::{ArkBn254Family, GoldilocksTwin, VerifyOptions};

/// The workspace root (this crate's parent folder).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the fuzz crate sits in the workspace")
        .to_path_buf()
}

/// The targets `--target all` runs, in order.
pub const ALL: [&str; 6] = [
    "paths",
    "epoch-json",
    "csv-pair",
    "upload-frames",
    "halo2-bundle",
    "plonky2-bundle",
];

/// Builds the target called `name`. Slow for `plonky2-bundle` the first time (it proves a
/// small epoch and caches the bundle under `target/fuzz-cache`).
pub fn build(name: &str) -> Result<Box<dyn Target>> {
    Ok(match name {
        "paths" => Box::new(Paths::new()?),
        "epoch-json" => Box::new(EpochJson::new()?),
        "csv-pair" => Box::new(CsvPair::new()?),
        "upload-frames" => Box::new(UploadFrames::new()?),
        "halo2-bundle" => Box::new(BundleTarget::halo2()?),
        "plonky2-bundle" => Box::new(BundleTarget::plonky2()?),
        "self-check" => Box::new(SelfCheck),
        other => bail!(
            "no target {other:?}; the targets are {} (and self-check)",
            ALL.join(", ")
        ),
    })
}

/// The epochs of `testvectors/`.
fn vector_epochs() -> Result<Vec<Epoch>> {
    let vectors = read_epoch_vectors(&workspace().join("testvectors"))?;
    Ok(vectors.into_iter().map(|v| v.epoch).collect())
}

fn epoch_json(epoch: &Epoch) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    write_epoch_json(epoch, &mut out)?;
    Ok(out)
}

/// Which rule makes two JSON texts the same: equal values (layout, key order, escapes, number
/// spelling), or values equal once 0x-hex strings are lowercased (hex case).
fn json_rule(original: &[u8], mutant: &[u8]) -> Option<&'static str> {
    if original == mutant {
        return Some("identical bytes");
    }
    let a: Value = serde_json::from_slice(original).ok()?;
    let b: Value = serde_json::from_slice(mutant).ok()?;
    if a == b {
        return Some("JSON layout (whitespace, key order, escapes)");
    }
    if lower(&a) == lower(&b) {
        return Some("hex case in JSON strings");
    }
    None
}

fn lower(v: &Value) -> Value {
    match v {
        Value::String(s) if is_hex(s) => Value::String(s.to_lowercase()),
        Value::Array(items) => Value::Array(items.iter().map(lower).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), lower(v))).collect())
        }
        other => other.clone(),
    }
}

fn is_hex(s: &str) -> bool {
    let digits = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_hexdigit())
}

// ---------------------------------------------------------------------------------------------
// paths

/// One valid path file and the arguments a contributor checks it with.
#[derive(Debug)]
struct PathCase {
    family: FamilyName,
    bytes: Vec<u8>,
    commitment: String,
    /// `Some((adapter, amount))` for a payout claim; `None` for an inclusion.
    claim: Option<(u32, u64)>,
}

/// Path files of both families and all three kinds, checked with `check_claim` and
/// `check_inclusion`. Authenticated: an accepted mutant must check to the same path.
#[derive(Debug)]
pub struct Paths {
    cases: Vec<PathCase>,
}

impl Paths {
    /// Path files from the vector epochs with payees.
    pub fn new() -> Result<Self> {
        let mut cases = Vec::new();
        for epoch in vector_epochs()? {
            let settlement = Settlement::compute(&epoch)?;
            if settlement.payouts.is_empty() || epoch.queries.is_empty() {
                continue;
            }
            cases.extend(cases_for(
                &ArkBn254Family,
                FamilyName::Bn254,
                &epoch,
                &settlement,
            )?);
            cases.extend(cases_for(
                &GoldilocksTwin,
                FamilyName::Goldilocks,
                &epoch,
                &settlement,
            )?);
            if cases.len() >= 12 {
                break;
            }
        }
        if cases.is_empty() {
            bail!("no vector epoch has payees");
        }
        Ok(Paths { cases })
    }

    /// The checked path of `bytes`, with only the record fields the path's leaf binds when
    /// `bound` is set.
    fn checked(case: &PathCase, bytes: &[u8], bound: bool) -> Option<String> {
        let file = PathFile::parse(bytes).ok()?;
        match case.family {
            FamilyName::Bn254 => debug_checked(file.check::<ArkBn254Family>(), bound),
            FamilyName::Goldilocks => debug_checked(file.check::<GoldilocksTwin>(), bound),
        }
    }
}

/// SPEC's activation leaf hashes query id, fee, adapters and gates (no scores); its influence
/// leaf hashes query id, adapters and scores (no fee, no gates).
fn debug_checked<D: std::fmt::Debug, E>(
    c: Result<CheckedPath<D>, E>,
    bound: bool,
) -> Option<String> {
    let mut c = c.ok()?;
    if let (true, Some(q)) = (bound, c.query.as_mut()) {
        for slot in q.slots.iter_mut() {
            match c.kind {
                PathKind::Activation => slot.score = 0,
                PathKind::Influence => slot.gate = 0,
                PathKind::Payout => {}
            }
        }
        if c.kind == PathKind::Influence {
            q.fee = 0;
        }
    }
    Some(format!("{c:?}"))
}

fn cases_for<F: CommitmentFamily>(
    family: &F,
    name: FamilyName,
    epoch: &Epoch,
    settlement: &Settlement,
) -> Result<Vec<PathCase>> {
    let payee = settlement.payouts[settlement.payouts.len() / 2];
    let payout = PathFile::for_payout(family, &settlement.payouts, payee.adapter_id)?;
    let query = epoch.queries[epoch.queries.len() / 2].query_id;
    let mut out = vec![PathCase {
        family: name,
        commitment: payout.commitment.clone(),
        bytes: serde_json::to_vec_pretty(&payout)?,
        claim: Some((payee.adapter_id, payee.amount)),
    }];
    for log in [Log::Activation, Log::Influence] {
        let file = PathFile::for_query(family, &epoch.queries, log, query)?;
        out.push(PathCase {
            family: name,
            commitment: file.commitment.clone(),
            bytes: serde_json::to_vec_pretty(&file)?,
            claim: None,
        });
    }
    Ok(out)
}

impl Target for Paths {
    fn name(&self) -> &'static str {
        "paths"
    }

    fn run(&self, rng: &mut ChaCha8Rng) -> Outcome {
        let case = self.cases.choose(rng).expect("cases are not empty");
        let donor = &self.cases.choose(rng).expect("cases are not empty").bytes;
        let mutant = mutate::mutate(rng, &case.bytes, Format::Json, donor);
        let result = match case.claim {
            Some((adapter, amount)) => {
                check_claim(case.family, &case.commitment, adapter, amount, &mutant)
            }
            None => check_inclusion(case.family, &case.commitment, &mutant),
        };
        if result.is_err() {
            return Outcome::Refused;
        }
        if let Some(rule) = json_rule(&case.bytes, &mutant) {
            return Outcome::Same(rule);
        }
        let (a, b) = (
            Self::checked(case, &case.bytes, false),
            Self::checked(case, &mutant, false),
        );
        if a.is_some() && a == b {
            return Outcome::Same("same checked path, other JSON value");
        }
        match (Self::checked(case, &case.bytes, true), Self::checked(case, &mutant, true)) {
            (Some(a), Some(b)) if a == b => Outcome::Same(
                "a record field the log's leaf does not hash (activation: scores; influence: fee, gates)",
            ),
            (a, b) => Outcome::Changed(format!(
                "an accepted path file checks to {b:?}, the original to {a:?}"
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// epoch-json

/// `read_epoch_json` over the vector epochs. An accepted mutant must be read as it says: its
/// JSON value equals the canonical writing of what was read (or the original's parse).
#[derive(Debug)]
pub struct EpochJson {
    inputs: Vec<(Vec<u8>, Epoch)>,
}

impl EpochJson {
    /// The canonical JSON of every vector epoch.
    pub fn new() -> Result<Self> {
        let inputs = vector_epochs()?
            .into_iter()
            .map(|e| Ok((epoch_json(&e)?, e)))
            .collect::<Result<Vec<_>>>()?;
        Ok(EpochJson { inputs })
    }
}

/// Whether an epoch read from `mutant` says what the bytes say: the mutant's JSON value, with
/// an omitted `slots` read as empty, equals the canonical writing of `read`.
fn faithful_json(mutant: &[u8], read: &Epoch) -> Result<bool> {
    let mut said: Value = serde_json::from_slice(mutant)?;
    if let Some(Value::Array(queries)) = said.get_mut("queries") {
        for q in queries {
            if let Value::Object(map) = q {
                map.entry("slots").or_insert(Value::Array(vec![]));
            }
        }
    }
    let canonical: Value = serde_json::from_slice(&epoch_json(read)?)?;
    Ok(said == canonical)
}

impl Target for EpochJson {
    fn name(&self) -> &'static str {
        "epoch-json"
    }

    fn run(&self, rng: &mut ChaCha8Rng) -> Outcome {
        let (bytes, epoch) = self.inputs.choose(rng).expect("vectors are not empty");
        let donor = &self.inputs.choose(rng).expect("vectors are not empty").0;
        let mutant = mutate::mutate(rng, bytes, Format::Json, donor);
        let Ok(read) = read_epoch_json(&mutant[..]) else {
            return Outcome::Refused;
        };
        if let Err(e) = read.validate() {
            return Outcome::Changed(format!("read_epoch_json accepted an invalid epoch: {e}"));
        }
        if let Some(rule) = json_rule(bytes, &mutant).filter(|_| &read == epoch) {
            return Outcome::Same(rule);
        }
        match faithful_json(&mutant, &read) {
            Ok(true) if &read == epoch => Outcome::Same("omitted empty slots (serde default)"),
            Ok(true) => Outcome::NewInput,
            Ok(false) => Outcome::Changed(format!(
                "read {read:?} from bytes that say {:?}",
                String::from_utf8_lossy(&mutant)
            )),
            Err(e) => Outcome::Changed(format!("accepted bytes serde_json cannot read: {e}")),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// csv-pair

/// `read_csv_pair` over CSV pairs written from the vector epochs, one file mutated at a time.
/// An accepted mutant must be read as it says: its records equal the canonical writing of what
/// was read.
#[derive(Debug)]
pub struct CsvPair {
    inputs: Vec<(Vec<u8>, Vec<u8>, Epoch)>,
}

impl CsvPair {
    /// The CSV pair of every vector epoch.
    pub fn new() -> Result<Self> {
        let mut inputs = Vec::new();
        for e in vector_epochs()? {
            let (mut a, mut i) = (Vec::new(), Vec::new());
            write_csv_pair(&e, &mut a, &mut i)?;
            inputs.push((a, i, e));
        }
        Ok(CsvPair { inputs })
    }
}

/// A CSV text's records, numbers by value. A line ends at `\n`, `\r\n` or a lone `\r`, as the
/// csv crate reads them.
fn records(bytes: &[u8]) -> Option<Vec<Vec<String>>> {
    let text = std::str::from_utf8(bytes).ok()?;
    Some(
        text.split(['\n', '\r'])
            .filter(|l| !l.is_empty())
            .map(|l| {
                l.split(',')
                    .map(|c| {
                        let c = c.trim_matches('"');
                        // Spaces around cells and decimal spelling (leading zeros) are not meaning.
                        c.trim().parse::<i128>().map_or_else(
                            |_| match c.trim() {
                                // A no-slot row's adapter and gate: empty or 0 alike.
                                "" => "0".to_string(),
                                t => t.to_string(),
                            },
                            |n| n.to_string(),
                        )
                    })
                    .collect()
            })
            .collect(),
    )
}

impl Target for CsvPair {
    fn name(&self) -> &'static str {
        "csv-pair"
    }

    fn run(&self, rng: &mut ChaCha8Rng) -> Outcome {
        let (act, inf, epoch) = self.inputs.choose(rng).expect("vectors are not empty");
        let which = rng.gen_bool(0.5);
        let (orig, donor) = if which { (act, inf) } else { (inf, act) };
        let mutant = mutate::mutate(rng, orig, Format::Csv, donor);
        let (a, i) = if which {
            (&mutant[..], &inf[..])
        } else {
            (&act[..], &mutant[..])
        };
        let Ok(read) = read_csv_pair(epoch.params, a, i) else {
            return Outcome::Refused;
        };
        if let Err(e) = read.validate() {
            return Outcome::Changed(format!("read_csv_pair accepted an invalid epoch: {e}"));
        }
        if &mutant == orig {
            return Outcome::Same("identical bytes");
        }
        let (mut ca, mut ci) = (Vec::new(), Vec::new());
        if write_csv_pair(&read, &mut ca, &mut ci).is_err() {
            return Outcome::Changed("an accepted epoch cannot be written back".into());
        }
        if records(a) == records(&ca) && records(i) == records(&ci) {
            if &read == epoch {
                Outcome::Same(
                    "CSV layout or number spelling (quoting, spaces, empty lines, CR, LF or CRLF line ends, leading zeros, empty or 0 in a no-slot row)",
                )
            } else {
                Outcome::NewInput
            }
        } else {
            Outcome::Changed(format!(
                "read {read:?} from activations {:?} and influence {:?}",
                String::from_utf8_lossy(a),
                String::from_utf8_lossy(i)
            ))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// upload-frames

type Frame = proto::submit_epoch_request::Msg;

/// The service's `SubmitEpoch` path in-process: the handler's sequence of checks
/// (`Settings::from_header`, the parts of chunks, `check_finish`, `check_parts`, the content
/// hash and job id, then the epoch loaded from the stored parts) over mutated frame streams.
/// The oracle: a stream carrying the original's settings and part bytes must get the
/// original's job; any other accepted stream must get another job, and its epoch must be the
/// one its bytes say.
#[derive(Debug)]
pub struct UploadFrames {
    backends: Backends,
    _dir: tempfile::TempDir,
    streams: Vec<Upload>,
}

/// One valid upload: its frames, and what the service makes of them.
#[derive(Debug)]
struct Upload {
    frames: Vec<Frame>,
    accepted: Accepted,
}

/// What an accepted stream leads to.
#[derive(Clone, Debug, PartialEq)]
struct Accepted {
    settings: Settings,
    payload: BTreeMap<&'static str, Vec<u8>>,
    job: String,
    epoch: Epoch,
}

fn part_name(raw: i32) -> Option<&'static str> {
    match proto::Part::try_from(raw).ok()? {
        proto::Part::EpochJson => Some(PART_EPOCH_JSON),
        proto::Part::ActivationsCsv => Some(PART_ACTIVATIONS),
        proto::Part::InfluenceCsv => Some(PART_INFLUENCE),
        proto::Part::Unspecified => None,
    }
}

fn part_number(name: &str) -> i32 {
    match name {
        PART_EPOCH_JSON => proto::Part::EpochJson as i32,
        PART_ACTIVATIONS => proto::Part::ActivationsCsv as i32,
        _ => proto::Part::InfluenceCsv as i32,
    }
}

impl UploadFrames {
    /// JSON and CSV-pair uploads of a few vector epochs, chunked.
    pub fn new() -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let artifacts = Arc::new(Artifacts::open(dir.path())?);
        let backends = Backends::new(
            artifacts,
            Arc::new(CircuitCache::new(1)),
            dir.path().join("params"),
            None,
        );
        let mut target = UploadFrames {
            backends,
            _dir: dir,
            streams: Vec::new(),
        };
        for epoch in vector_epochs()?.into_iter().take(4) {
            let json = epoch_json(&epoch)?;
            let header = proto::SubmitHeader {
                backend: proto::Backend::Plonky2 as i32,
                format: proto::EpochFormat::Json as i32,
                ..Default::default()
            };
            target.add(header, vec![(PART_EPOCH_JSON, json)])?;
            let (mut a, mut i) = (Vec::new(), Vec::new());
            write_csv_pair(&epoch, &mut a, &mut i)?;
            let header = proto::SubmitHeader {
                backend: proto::Backend::Halo2 as i32,
                format: proto::EpochFormat::CsvPair as i32,
                epoch_id: epoch.params.epoch_id,
                rate_bps: epoch.params.rate_bps.into(),
                uploaded_parts: vec![],
            };
            target.add(header, vec![(PART_ACTIVATIONS, a), (PART_INFLUENCE, i)])?;
        }
        Ok(target)
    }

    fn add(&mut self, header: proto::SubmitHeader, parts: Vec<(&str, Vec<u8>)>) -> Result<()> {
        let mut frames = vec![Frame::Header(header)];
        let mut sizes = Vec::new();
        for (name, bytes) in &parts {
            for chunk in bytes.chunks(bytes.len().div_ceil(3).max(1)) {
                frames.push(Frame::Chunk(proto::Chunk {
                    part: part_number(name),
                    data: chunk.to_vec(),
                }));
            }
            sizes.push(proto::PartSize {
                part: part_number(name),
                size: bytes.len() as u64,
            });
        }
        frames.push(Frame::Finish(proto::Finish { sizes }));
        let accepted = self
            .accept(&frames)
            .map_err(|e| anyhow::anyhow!("the original upload is refused: {e}"))?;
        self.streams.push(Upload { frames, accepted });
        Ok(())
    }

    /// The handler's steps over `frames`, with parts kept in memory instead of the artifact
    /// folder; `Err` is the status the service would answer.
    fn accept(&self, frames: &[Frame]) -> Result<Accepted, String> {
        let mut iter = frames.iter();
        let Some(Frame::Header(header)) = iter.next() else {
            return Err("the first message must be the header".into());
        };
        let settings =
            Settings::from_header(header, &self.backends).map_err(|s| s.message().to_string())?;
        if !header.uploaded_parts.is_empty() {
            // No part was uploaded before in this folder: the service answers not_found.
            return Err("no uploaded part".into());
        }
        let mut payload: BTreeMap<&'static str, Vec<u8>> = BTreeMap::new();
        let finish = loop {
            match iter.next() {
                None => return Err("truncated".into()),
                Some(Frame::Chunk(c)) => {
                    let name = part_name(c.part).ok_or("unknown part")?;
                    payload.entry(name).or_default().extend_from_slice(&c.data);
                }
                Some(Frame::Finish(f)) => break f,
                Some(Frame::Header(_)) => return Err("a second header".into()),
            }
        };
        let received = payload.iter().map(|(k, v)| (*k, v.len() as u64)).collect();
        for name in check_finish(finish, &received).map_err(|s| s.message().to_string())? {
            payload.insert(name, Vec::new());
        }
        let parts: BTreeMap<&'static str, StoredPart> = payload
            .iter()
            .map(|(name, bytes)| {
                (
                    *name,
                    StoredPart {
                        part: (*name).into(),
                        sha256: hex::encode(Sha256::digest(bytes)),
                        size: bytes.len() as u64,
                    },
                )
            })
            .collect();
        check_parts(&settings, &parts).map_err(|s| s.message().to_string())?;
        let job = job_id(&settings.content_hash(&parts.into_values().collect::<Vec<_>>()));
        let epoch = match settings.format {
            zkattr_prover::service::EpochFormat::Json => {
                read_epoch_json(&payload[PART_EPOCH_JSON][..])
            }
            zkattr_prover::service::EpochFormat::CsvPair => read_csv_pair(
                zkattr_model::EpochParams {
                    epoch_id: settings.epoch_id,
                    rate_bps: settings.rate_bps,
                },
                &payload[PART_ACTIVATIONS][..],
                &payload[PART_INFLUENCE][..],
            ),
        }
        .map_err(|e| e.to_string())?;
        Settlement::compute(&epoch).map_err(|e| e.to_string())?;
        Ok(Accepted {
            settings,
            payload,
            job,
            epoch,
        })
    }
}

/// Mutates a frame stream: frames dropped, duplicated, swapped, chunks split or merged, part
/// numbers and sizes changed, header fields changed, or one chunk's bytes mutated with the
/// declared size following it.
fn mutate_frames(rng: &mut ChaCha8Rng, frames: &[Frame]) -> Vec<Frame> {
    let mut out = frames.to_vec();
    for _ in 0..rng.gen_range(1..=2) {
        let n = out.len();
        let i = rng.gen_range(0..n);
        match rng.gen_range(0..9) {
            0 => {
                out.remove(i);
            }
            1 => {
                let f = out[i].clone();
                out.insert(rng.gen_range(0..=n), f);
            }
            2 => out.swap(i, rng.gen_range(0..n)),
            3 => {
                if let Frame::Chunk(c) = &out[i] {
                    let at = rng.gen_range(0..=c.data.len());
                    let (a, b) = c.data.split_at(at);
                    let (a, b) = (a.to_vec(), b.to_vec());
                    let part = c.part;
                    out[i] = Frame::Chunk(proto::Chunk { part, data: a });
                    out.insert(i + 1, Frame::Chunk(proto::Chunk { part, data: b }));
                }
            }
            4 => {
                if let (Frame::Chunk(a), Some(Frame::Chunk(b))) = (&out[i], out.get(i + 1)) {
                    let mut data = a.data.clone();
                    data.extend_from_slice(&b.data);
                    let part = if rng.gen_bool(0.5) { a.part } else { b.part };
                    out[i] = Frame::Chunk(proto::Chunk { part, data });
                    out.remove(i + 1);
                }
            }
            5 => match &mut out[i] {
                Frame::Chunk(c) => c.part = rng.gen_range(-1..5),
                Frame::Finish(f) => {
                    if let Some(s) = f.sizes.choose_mut(rng) {
                        match rng.gen_range(0..4) {
                            0 => s.size = s.size.wrapping_add(1),
                            1 => s.size = s.size.wrapping_sub(1),
                            2 => s.size = 0,
                            _ => s.part = rng.gen_range(-1..5),
                        }
                    }
                    if rng.gen_bool(0.2) {
                        f.sizes.clear();
                    }
                }
                Frame::Header(h) => header_field(rng, h),
            },
            6 => {
                if let Frame::Header(h) = &mut out[0] {
                    header_field(rng, h);
                }
            }
            _ => {
                // A payload mutation with the finish sizes made to agree with it.
                let chunks: Vec<usize> = (0..n)
                    .filter(|&j| matches!(out[j], Frame::Chunk(_)))
                    .collect();
                if let Some(&j) = chunks.choose(rng) {
                    let Frame::Chunk(c) = &out[j] else { continue };
                    let format = if c.part == proto::Part::EpochJson as i32 {
                        Format::Binary
                    } else {
                        Format::Csv
                    };
                    let data = mutate::mutate(rng, &c.data, format, &[]);
                    let delta = data.len() as i64 - c.data.len() as i64;
                    let part = c.part;
                    out[j] = Frame::Chunk(proto::Chunk { part, data });
                    for f in out.iter_mut() {
                        if let Frame::Finish(f) = f {
                            for s in f.sizes.iter_mut().filter(|s| s.part == part) {
                                s.size = (s.size as i64 + delta) as u64;
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

fn header_field(rng: &mut ChaCha8Rng, h: &mut proto::SubmitHeader) {
    match rng.gen_range(0..5) {
        0 => h.backend = rng.gen_range(-1..4),
        1 => h.format = rng.gen_range(-1..4),
        2 => h.epoch_id = h.epoch_id.wrapping_add(rng.gen_range(0..3)),
        3 => h.rate_bps = [0, 1, 9_999, 10_000, 10_001, u32::MAX][rng.gen_range(0..6)],
        _ => h.uploaded_parts.push(proto::PartRef {
            part: rng.gen_range(0..4),
            part_id: format!("sha256:{}", "0".repeat(64)),
        }),
    }
}

impl Target for UploadFrames {
    fn name(&self) -> &'static str {
        "upload-frames"
    }

    fn run(&self, rng: &mut ChaCha8Rng) -> Outcome {
        let upload = self.streams.choose(rng).expect("streams are not empty");
        let frames = mutate_frames(rng, &upload.frames);
        let Ok(got) = self.accept(&frames) else {
            return Outcome::Refused;
        };
        let original = &upload.accepted;
        let same_content = got.settings == original.settings && got.payload == original.payload;
        if same_content {
            if got.job != original.job || got.epoch != original.epoch {
                return Outcome::Changed(format!(
                    "the original's settings and bytes got job {} and another epoch, not {}",
                    got.job, original.job
                ));
            }
            return Outcome::Same(if frames == upload.frames {
                "identical frames"
            } else {
                "same settings and part bytes in other frames (job id from content)"
            });
        }
        if self.streams.iter().any(|s| s.accepted.job == got.job) {
            return Outcome::Changed(format!(
                "another content ({:?}) got the existing job {}",
                got.settings, got.job
            ));
        }
        Outcome::NewInput
    }
}

// ---------------------------------------------------------------------------------------------
// bundles

/// A bundle folder fuzzed one file at a time through `verify_bundle_with_params`.
/// Authenticated: an accepted mutant must verify the same statement, keep every proof and key
/// byte, and differ in the manifest only by a named rule.
#[derive(Debug)]
pub struct BundleTarget {
    name: &'static str,
    source: PathBuf,
    files: Vec<(String, Vec<u8>)>,
    verified: String,
    params: PathBuf,
}

thread_local! {
    /// Each worker thread's copy of the bundle: (source folder, copy).
    static COPY: RefCell<Option<(PathBuf, tempfile::TempDir)>> = const { RefCell::new(None) };
}

impl BundleTarget {
    /// The 16x16 halo2 dev fixture (development KZG parameters, so verified with unsafe
    /// setups allowed).
    pub fn halo2() -> Result<Self> {
        Self::new(
            "halo2-bundle",
            workspace().join("verifier/evm/fixtures/halo2-16x16"),
        )
    }

    /// A plonky2 bundle of `testvectors/spec_example.json`'s epoch, proved once and cached
    /// under `target/fuzz-cache`.
    pub fn plonky2() -> Result<Self> {
        let dir = workspace().join("target/fuzz-cache/plonky2-spec-example");
        if !dir.join("bundle.json").exists() {
            let epoch = read_epoch_vectors(&workspace().join("testvectors"))?
                .into_iter()
                .find(|v| v.name == "spec_example")
                .context("testvectors/spec_example.json")?
                .epoch;
            let tmp = dir.with_extension("tmp");
            let _ = std::fs::remove_dir_all(&tmp);
            zkattr_plonky2::prover::prove_epoch(&epoch, &tmp, |_| {})?;
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::rename(&tmp, &dir)?;
        }
        Self::new("plonky2-bundle", dir)
    }

    fn new(name: &'static str, source: PathBuf) -> Result<Self> {
        let mut files = Vec::new();
        let mut entries: Vec<_> = std::fs::read_dir(&source)
            .with_context(|| format!("{}", source.display()))?
            .collect::<std::io::Result<_>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            files.push((name, std::fs::read(e.path())?));
        }
        let params = workspace().join("params");
        let verified =
            zkattr_verifier::bundle::verify_bundle_with_params(&source, &params, &options())
                .with_context(|| {
                    format!("the original bundle {} does not verify", source.display())
                })?;
        Ok(BundleTarget {
            name,
            source,
            files,
            verified: format!("{verified:?}"),
            params,
        })
    }

    fn with_copy<T>(&self, f: impl FnOnce(&Path) -> T) -> Result<T> {
        COPY.with(|slot| {
            let mut slot = slot.borrow_mut();
            if slot.as_ref().is_none_or(|(src, _)| src != &self.source) {
                let dir = tempfile::tempdir()?;
                for (name, bytes) in &self.files {
                    std::fs::write(dir.path().join(name), bytes)?;
                }
                *slot = Some((self.source.clone(), dir));
            }
            let (_, dir) = slot.as_ref().expect("set above");
            Ok(f(dir.path()))
        })
    }

    fn judge_manifest(original: &[u8], mutant: &[u8]) -> Option<&'static str> {
        if let Some(rule) = json_rule(original, mutant) {
            return Some(rule);
        }
        let strip = |bytes: &[u8]| -> Option<Value> {
            let mut v: Value = serde_json::from_slice(bytes).ok()?;
            v.as_object_mut()?.remove("prove_seconds");
            Some(v)
        };
        (strip(original)? == strip(mutant)?).then_some("prove_seconds (a record no proof binds)")
    }
}

fn options() -> VerifyOptions {
    VerifyOptions::strict().allow_unsafe_setup(true)
}

impl Target for BundleTarget {
    fn name(&self) -> &'static str {
        self.name
    }

    fn run(&self, rng: &mut ChaCha8Rng) -> Outcome {
        let (file, original) = self.files.choose(rng).expect("a bundle has files");
        let donor = &self.files.choose(rng).expect("a bundle has files").1;
        let format = if file.ends_with(".json") {
            Format::Json
        } else {
            Format::Binary
        };
        let mutant = mutate::mutate(rng, original, format, donor);
        let result = self.with_copy(|dir| {
            let path = dir.join(file);
            std::fs::write(&path, &mutant).expect("the bundle copy is writable");
            let verified =
                zkattr_verifier::bundle::verify_bundle_with_params(dir, &self.params, &options());
            std::fs::write(&path, original).expect("the bundle copy is writable");
            verified
        });
        let verified = match result {
            Ok(Ok(v)) => format!("{v:?}"),
            Ok(Err(_)) => return Outcome::Refused,
            Err(e) => return Outcome::Changed(format!("cannot copy the bundle: {e}")),
        };
        if verified != self.verified {
            return Outcome::Changed(format!("{file} mutant verifies {verified}"));
        }
        if &mutant == original {
            return Outcome::Same("identical bytes");
        }
        if format == Format::Json {
            if let Some(rule) = Self::judge_manifest(original, &mutant) {
                return Outcome::Same(rule);
            }
            return Outcome::Changed(format!(
                "an accepted manifest differs: {}",
                String::from_utf8_lossy(&mutant)
            ));
        }
        Outcome::Changed(format!(
            "{file} accepted with other bytes ({} bytes, the original {}): two encodings of one proof",
            mutant.len(),
            original.len()
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// self-check

/// A target whose decoder is known to be wrong, so a run proves the oracle and the panic
/// catcher see failures: it accepts any byte string of the right length (a changed meaning)
/// and panics on an empty one. Not in `--target all`.
#[derive(Debug)]
pub struct SelfCheck;

impl Target for SelfCheck {
    fn name(&self) -> &'static str {
        "self-check"
    }

    fn run(&self, rng: &mut ChaCha8Rng) -> Outcome {
        let original = b"0123456789";
        let mutant = mutate::bytes(rng, original, b"abc");
        assert!(!mutant.is_empty(), "self-check: empty input");
        match (mutant.len() == original.len(), &mutant[..] == original) {
            (false, _) => Outcome::Refused,
            (true, true) => Outcome::Same("identical bytes"),
            (true, false) => Outcome::Changed("accepted other bytes".into()),
        }
    }
}

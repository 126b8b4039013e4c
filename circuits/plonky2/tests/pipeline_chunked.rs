//! The aggregation pipeline with its payout list proved in chunk proofs, end to end in real
//! proofs, at a size CI affords: batches of 4 under two merge levels and a list of 32 entries
//! in 8 chunks of 4 (the design's chunks hold 16,384, or 32,768 for a list of 2^20;
//! `AggregationShape::for_epoch` picks them above 32,768 payees). The list fills some chunks
//! and leaves several empty, which one proof of the empty chunk stands for; the bundle
//! verifies with the verifier crate against the pinned digest of this layout, and its
//! statement and payouts are the reference's (the prover also checks the final proof's public
//! inputs against the reference model before writing it). Chunk proofs are
//! checkpointed and cancellable: a run cancelled before the chunks proves none, one cancelled
//! by its first chunk's report proves no other, a run that dies after two chunk proofs resumes
//! with them, and a damaged kept proof or a kept proof of another chunk is proved again. The
//! resumed run is the stage-by-stage path (`Circuits::Staged`): each circuit built when its
//! stage begins, the same key as the circuits built at once.
//!
//! The circuits are built and the run's steps made once ([`chunked_run`]), recording what each
//! answered; each test asserts one behaviour of that record.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;
use zkattr_model::bundle::{BundleManifest, PublicStatement};
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::{payout_report, Epoch, Settlement};
use zkattr_plonky2::aggregation::{
    prove_epoch, staged_verifying_key_bytes, AggregationCircuits, AggregationShape,
    AggregationStage, CheckpointDir, CheckpointNode, Checkpoints, EpochProverError, Progress,
    ProveOptions, Resume,
};
use zkattr_plonky2::GoldilocksFamily;
use zkattr_verifier::bundle::{verify_bundle, BundleError, Verified, VerifyOptions};

/// Dies, like a killed process, when the proof of chunk `.1` or a later one is to be kept.
struct CrashAtChunk<'a>(&'a CheckpointDir, usize);

impl Checkpoints for CrashAtChunk<'_> {
    fn load(&self, node: CheckpointNode) -> Option<Vec<u8>> {
        self.0.load(node)
    }

    fn store(&self, node: CheckpointNode, proof: &[u8]) -> Result<(), String> {
        if matches!(node, CheckpointNode::Chunk { index } if index >= self.1) {
            panic!("simulated crash");
        }
        self.0.store(node, proof)
    }
}

/// A run keeping checkpoints in `kept`, stopped by `cancel`, reporting to `progress`.
fn options<'a>(kept: &'a Path, cancel: &'a AtomicBool, progress: Progress<'a>) -> ProveOptions<'a> {
    ProveOptions {
        checkpoints: Some(kept),
        cancel,
        progress,
    }
}

/// The chunk checkpoint files in `dir`, sorted.
fn chunk_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('C'))
        .collect();
    names.sort();
    names
}

const SHAPE: AggregationShape = AggregationShape {
    batch_height: 2,
    levels: 2,
    payee_capacity: 32,
    chunk_height: Some(2),
};

/// 12 queries (three batches) paying 17 to 24 adapters: the list needs a capacity of 32 and
/// leaves at least two of the eight chunks empty.
fn epoch() -> Epoch {
    (0..64)
        .map(|seed| generate(&SynthConfig::new(12, 40, seed)))
        .find(|epoch| {
            let payees = Settlement::compute(epoch).unwrap().payouts.len();
            (17..=24).contains(&payees)
        })
        .expect("an epoch with 17 to 24 payees")
}

/// What each step of one chunked run answered, in order.
struct ChunkedRun {
    /// Payees of the epoch.
    payees: usize,
    circuits_digest: String,
    circuits_key: Vec<u8>,
    cancelled_before_chunks: Result<BundleManifest, EpochProverError>,
    kept_after_cancel: Vec<String>,
    cancelled_at_first_chunk: Result<BundleManifest, EpochProverError>,
    kept_after_first_chunk: Vec<String>,
    crashed: Result<BundleManifest, EpochProverError>,
    kept_after_crash: Vec<String>,
    bundle_after_crash: bool,
    staged_cancelled: Result<BundleManifest, EpochProverError>,
    staged_cancel_stages: Vec<AggregationStage>,
    manifest: BundleManifest,
    /// The reports of the resumed stage-by-stage run.
    resumed_stages: Vec<AggregationStage>,
    kept_after_resume: Vec<String>,
    verified: Result<Verified, BundleError>,
    staged_key: Vec<u8>,
    kept_after_clear: bool,
}

fn chunked_run() -> &'static ChunkedRun {
    static RUN: OnceLock<ChunkedRun> = OnceLock::new();
    RUN.get_or_init(record_chunked_run)
}

fn record_chunked_run() -> ChunkedRun {
    let epoch = epoch();
    let payees = Settlement::compute(&epoch).unwrap().payouts.len();
    let stages = Mutex::new(Vec::new());
    let record = |s: &AggregationStage| stages.lock().unwrap().push(s.clone());
    let circuits = AggregationCircuits::build(SHAPE, &record).unwrap();

    let scratch =
        std::env::temp_dir().join(format!("zkattr-pipeline-chunked-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let (dir, kept) = (scratch.join("bundle"), scratch.join("checkpoints"));
    let never = AtomicBool::new(false);

    // The tree proved and kept.
    let prepared = circuits.prepare(&epoch).unwrap();
    let (folder, _) = CheckpointDir::open(&kept, &circuits.checkpoint_identity(&prepared)).unwrap();
    let root = circuits
        .tree
        .prove_root(
            &epoch,
            prepared.challenges,
            Resume {
                checkpoints: &folder,
                cancel: &never,
            },
            &record,
        )
        .unwrap();
    // On one rayon thread the chunks prove in list order, so the runs below stop at a known
    // chunk whatever the host's cores.
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let finish = |checkpoints: &dyn Checkpoints, cancel: &AtomicBool, progress: Progress<'_>| {
        one_thread.install(|| {
            catch_unwind(AssertUnwindSafe(|| {
                let resume = Resume {
                    checkpoints,
                    cancel,
                };
                circuits.finish(&prepared, &root, Instant::now(), &dir, resume, progress)
            }))
        })
    };
    let cancelled_before_chunks =
        finish(&folder, &AtomicBool::new(true), &record).expect("no panic");
    let kept_after_cancel = chunk_files(&kept);
    let stop = AtomicBool::new(false);
    let stop_at_first_chunk = |s: &AggregationStage| {
        if matches!(s, AggregationStage::Chunk { .. }) {
            stop.store(true, Ordering::Relaxed);
        }
    };
    let cancelled_at_first_chunk = finish(&folder, &stop, &stop_at_first_chunk).expect("no panic");
    let kept_after_first_chunk = chunk_files(&kept);
    let crashed = finish(&CrashAtChunk(&folder, 2), &never, &record).expect("caught by the prover");
    let kept_after_crash = chunk_files(&kept);
    let bundle_after_crash = dir.exists();
    // Chunk 1's proof damaged (a byte flipped mid-proof; its public inputs, at the end, kept)
    // and chunk 0's valid proof kept under chunk 2's name.
    let chunk_1 = kept.join("C1.proof");
    let mut bytes = std::fs::read(&chunk_1).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&chunk_1, bytes).unwrap();
    std::fs::copy(kept.join("C0.proof"), kept.join("C2.proof")).unwrap();

    stages.lock().unwrap().clear();
    let cancel = AtomicBool::new(true);
    let staged_cancelled = prove_epoch(SHAPE, &epoch, &dir, &options(&kept, &cancel, &record));
    let staged_cancel_stages = stages.lock().unwrap().clone();
    stages.lock().unwrap().clear();
    let manifest = prove_epoch(SHAPE, &epoch, &dir, &options(&kept, &never, &record)).unwrap();
    let resumed_stages = stages.lock().unwrap().clone();
    let kept_after_resume = chunk_files(&kept);
    let verified = verify_bundle(&dir, &VerifyOptions::strict());
    let staged_key = staged_verifying_key_bytes(SHAPE, &|_| {}).unwrap();
    CheckpointDir::clear(&kept).unwrap();
    let kept_after_clear = kept.exists();
    let _ = std::fs::remove_dir_all(&scratch);
    ChunkedRun {
        payees,
        circuits_digest: circuits.digest_hex().unwrap(),
        circuits_key: circuits.verifying_key_bytes().unwrap(),
        cancelled_before_chunks,
        kept_after_cancel,
        cancelled_at_first_chunk,
        kept_after_first_chunk,
        crashed,
        kept_after_crash,
        bundle_after_crash,
        staged_cancelled,
        staged_cancel_stages,
        manifest,
        resumed_stages,
        kept_after_resume,
        verified,
        staged_key,
        kept_after_clear,
    }
}

#[test]
fn the_layout_holds_eight_chunks_of_four() {
    assert_eq!(SHAPE.key(), "agg-b4-t2-p32-c4");
    assert_eq!(SHAPE.chunk_count(), Some(8));
}

/// Cancelled before the chunks: none proved.
#[test]
fn a_run_cancelled_before_the_chunks_proves_none() {
    let r = chunked_run();
    assert!(matches!(
        r.cancelled_before_chunks,
        Err(EpochProverError::Cancelled)
    ));
    assert!(r.kept_after_cancel.is_empty());
}

/// Cancelled by the first chunk's report: chunk 0 kept, no other proved.
#[test]
fn a_run_cancelled_by_its_first_chunk_proves_no_other() {
    let r = chunked_run();
    assert!(matches!(
        r.cancelled_at_first_chunk,
        Err(EpochProverError::Cancelled)
    ));
    assert_eq!(r.kept_after_first_chunk, ["C0.proof"]);
}

/// Dies keeping chunk 2: chunk 0 restored, chunk 1 proved and kept, no bundle.
#[test]
fn a_run_that_dies_keeps_the_chunks_proved_and_writes_no_bundle() {
    let r = chunked_run();
    assert!(
        matches!(&r.crashed, Err(EpochProverError::Internal(m)) if m.contains("simulated crash")),
        "{:?}",
        r.crashed
    );
    assert_eq!(r.kept_after_crash, ["C0.proof", "C1.proof"]);
    assert!(!r.bundle_after_crash, "no bundle from a failed run");
}

/// Cancelled before it starts, the stage-by-stage path builds no circuit.
#[test]
fn a_staged_run_cancelled_before_it_starts_builds_nothing() {
    let r = chunked_run();
    assert!(matches!(
        r.staged_cancelled,
        Err(EpochProverError::Cancelled)
    ));
    assert!(r.staged_cancel_stages.is_empty());
}

/// Resumed stage by stage, as `zkattr prove` and the service prove chunked lists: the same
/// circuits as those built at once.
#[test]
fn a_staged_run_proves_under_the_key_of_the_circuits_built_at_once() {
    let r = chunked_run();
    assert_eq!(r.manifest.shape.key(), SHAPE.key());
    assert_eq!(r.manifest.verifying_key_digest, r.circuits_digest);
}

/// Each circuit built when its stage begins; the tree restored.
#[test]
fn a_staged_run_builds_each_circuit_when_its_stage_begins() {
    let mut order: Vec<String> = Vec::new();
    for stage in &chunked_run().resumed_stages {
        let step = match stage {
            AggregationStage::Built { circuit, .. } => circuit.clone(),
            AggregationStage::Building { .. } => "building".into(),
            AggregationStage::Restored { level: 2, .. } => "tree restored".into(),
            AggregationStage::Chunk { .. } | AggregationStage::ChunkRestored { .. } => {
                "chunk proofs".into()
            }
            AggregationStage::Final { .. } => "final proof".into(),
            AggregationStage::Shrunk { .. } => "shrink proof".into(),
            other => panic!("a resumed run of the kept tree: {other}"),
        };
        if order.last() != Some(&step) {
            order.push(step);
        }
    }
    assert_eq!(
        order,
        [
            "building",
            "batch (4 queries)",
            "merge level 1",
            "merge level 2",
            "tree restored",
            "payout-list chunk (4 entries)",
            "chunk proofs",
            "final over 8 chunks (32 payees)",
            "final proof",
            "shrink layer",
            "shrink proof",
        ]
    );
}

/// The tree and chunk 0 come from the checkpoints; the damaged chunk 1 and the misnamed
/// chunk 2 are proved again, as is every other chunk holding payees, and one proof of the
/// empty chunk stands for the rest.
#[test]
fn a_resumed_run_restores_chunk_0_and_proves_every_other_chunk() {
    let r = chunked_run();
    let with_payees = r.payees.div_ceil(4);
    let (mut proved, mut restored) = (Vec::new(), Vec::new());
    for stage in &r.resumed_stages {
        match stage {
            AggregationStage::Chunk {
                index,
                payees,
                total,
                ..
            } => {
                assert_eq!(*total, with_payees + 1);
                proved.push((*index, *payees));
            }
            AggregationStage::ChunkRestored { index, total, .. } => {
                assert_eq!(*total, with_payees + 1);
                restored.push(*index);
            }
            AggregationStage::Batch { .. } | AggregationStage::Merge { .. } => {
                panic!("the tree was kept: {stage}")
            }
            _ => {}
        }
    }
    assert_eq!(restored, [0]);
    // One proof per chunk holding payees and one of the empty chunk.
    proved.sort_unstable();
    let expected: Vec<(usize, u64)> = (1..=with_payees)
        .map(|i| (i, r.payees.saturating_sub(4 * i).min(4) as u64))
        .collect();
    assert_eq!(proved, expected);
    assert!(
        with_payees + 1 < 8,
        "an empty-chunk proof used twice or more"
    );
    let names: Vec<String> = (0..=with_payees).map(|i| format!("C{i}.proof")).collect();
    assert_eq!(r.kept_after_resume, names, "every chunk proof kept");
}

/// The bundle verifies against the pinned key of this layout, with the reference's statement
/// and payouts.
#[test]
fn the_chunked_bundle_verifies_with_the_reference_payouts() {
    let r = chunked_run();
    let verified = r.verified.as_ref().unwrap();
    assert_eq!(verified.shape, SHAPE.key());
    let (_, _, report) = payout_report(&GoldilocksFamily, &epoch()).unwrap();
    assert_eq!(verified.statement, PublicStatement::from_report(&report));
    assert_eq!(verified.n_payees, r.payees as u64);
    assert_eq!(r.manifest.payouts, report);
}

/// The key a service serves for this layout without keeping its circuits.
#[test]
fn the_staged_verifying_key_is_the_circuits_key() {
    let r = chunked_run();
    assert_eq!(r.staged_key, r.circuits_key);
}

#[test]
fn clearing_the_checkpoints_removes_their_folder() {
    assert!(!chunked_run().kept_after_clear);
}

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

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;
use zkattr_model::bundle::PublicStatement;
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::{payout_report, Epoch, Settlement};
use zkattr_plonky2::aggregation::{
    prove_epoch, staged_verifying_key_bytes, AggregationCircuits, AggregationShape,
    AggregationStage, CheckpointDir, CheckpointNode, Checkpoints, EpochProverError, Progress,
    ProveOptions, Resume,
};
use zkattr_plonky2::GoldilocksFamily;
use zkattr_verifier::bundle::{verify_bundle, VerifyOptions};

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

#[test]
fn a_chunked_payout_list_proves_and_the_bundle_verifies() {
    assert_eq!(SHAPE.key(), "agg-b4-t2-p32-c4");
    assert_eq!(SHAPE.chunk_count(), Some(8));
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
    // Cancelled before the chunks: none proved.
    let cancelled = finish(&folder, &AtomicBool::new(true), &record).expect("no panic");
    assert!(matches!(cancelled, Err(EpochProverError::Cancelled)));
    assert!(chunk_files(&kept).is_empty());
    // Cancelled by the first chunk's report: chunk 0 kept, no other proved.
    let stop = AtomicBool::new(false);
    let stop_at_first_chunk = |s: &AggregationStage| {
        if matches!(s, AggregationStage::Chunk { .. }) {
            stop.store(true, Ordering::Relaxed);
        }
    };
    let cancelled = finish(&folder, &stop, &stop_at_first_chunk).expect("no panic");
    assert!(matches!(cancelled, Err(EpochProverError::Cancelled)));
    assert_eq!(chunk_files(&kept), ["C0.proof"]);
    // Dies keeping chunk 2: chunk 0 restored, chunk 1 proved and kept, no bundle.
    let crashed = finish(&CrashAtChunk(&folder, 2), &never, &record).expect("caught by the prover");
    assert!(
        matches!(&crashed, Err(EpochProverError::Internal(m)) if m.contains("simulated crash")),
        "{crashed:?}"
    );
    assert_eq!(chunk_files(&kept), ["C0.proof", "C1.proof"]);
    assert!(!dir.exists(), "no bundle from a failed run");
    // Chunk 1's proof damaged (a byte flipped mid-proof; its public inputs, at the end, kept)
    // and chunk 0's valid proof kept under chunk 2's name: neither is used.
    let chunk_1 = kept.join("C1.proof");
    let mut bytes = std::fs::read(&chunk_1).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&chunk_1, bytes).unwrap();
    std::fs::copy(kept.join("C0.proof"), kept.join("C2.proof")).unwrap();

    // Cancelled before it starts, the stage-by-stage path builds no circuit.
    stages.lock().unwrap().clear();
    let cancel = AtomicBool::new(true);
    let cancelled = prove_epoch(SHAPE, &epoch, &dir, &options(&kept, &cancel, &record));
    assert!(matches!(cancelled, Err(EpochProverError::Cancelled)));
    assert!(stages.lock().unwrap().is_empty());

    // Resumed stage by stage, as `zkattr prove` and the service prove chunked lists: the tree
    // and chunk 0 come from the checkpoints, every other chunk is proved.
    let manifest = prove_epoch(SHAPE, &epoch, &dir, &options(&kept, &never, &record)).unwrap();
    assert_eq!(manifest.shape.key(), SHAPE.key());
    // The same circuits as those built at once, each built when its stage begins.
    assert_eq!(
        manifest.verifying_key_digest,
        circuits.digest_hex().unwrap()
    );
    let mut order: Vec<String> = Vec::new();
    for stage in stages.lock().unwrap().iter() {
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
    let with_payees = payees.div_ceil(4);
    let (mut proved, mut restored) = (Vec::new(), Vec::new());
    for stage in stages.lock().unwrap().iter() {
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
        .map(|i| (i, payees.saturating_sub(4 * i).min(4) as u64))
        .collect();
    assert_eq!(proved, expected);
    assert!(
        with_payees + 1 < 8,
        "an empty-chunk proof used twice or more"
    );
    let names: Vec<String> = (0..=with_payees).map(|i| format!("C{i}.proof")).collect();
    assert_eq!(chunk_files(&kept), names, "every chunk proof kept");

    // The bundle verifies against the pinned key of this layout, with the reference's
    // statement and payouts.
    let verified = verify_bundle(&dir, &VerifyOptions::strict()).unwrap();
    assert_eq!(verified.shape, SHAPE.key());
    let (_, _, report) = payout_report(&GoldilocksFamily, &epoch).unwrap();
    assert_eq!(verified.statement, PublicStatement::from_report(&report));
    assert_eq!(verified.n_payees, payees as u64);
    assert_eq!(manifest.payouts, report);
    // The key a service serves for this layout without keeping its circuits.
    assert_eq!(
        staged_verifying_key_bytes(SHAPE, &|_| {}).unwrap(),
        circuits.verifying_key_bytes().unwrap()
    );
    CheckpointDir::clear(&kept).unwrap();
    assert!(!kept.exists());
    let _ = std::fs::remove_dir_all(&scratch);
}

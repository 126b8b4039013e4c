//! The aggregation pipeline with its payout list proved in chunk proofs, end to end in real
//! proofs, at a size CI affords: batches of 4 under two merge levels and a list of 32 entries
//! in 8 chunks of 4 (the design's chunks hold 16,384; `AggregationShape::for_epoch` picks them
//! above 32,768 payees). The list fills some chunks and leaves several empty, which one proof of
//! the empty chunk stands for; the bundle verifies with the verifier crate against the pinned
//! digest of this layout, and its statement and payouts are the reference's (the prover also checks the final
//! proof's public inputs against the reference model before writing it). Chunk proofs are
//! checkpointed: a cancelled run stops before its first chunk proof, a run that dies after one
//! chunk proof resumes with it, and a kept proof of another chunk is proved again, not used.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;
use std::time::Instant;
use zkattr_model::bundle::PublicStatement;
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::{payout_report, Epoch, Settlement};
use zkattr_plonky2::epoch_prover::{
    AggregationCircuits, AggregationShape, AggregationStage, CheckpointDir, CheckpointNode,
    Checkpoints, EpochProverError, Resume,
};
use zkattr_plonky2::GoldilocksFamily;
use zkattr_verifier::bundle::verify_bundle;

/// Keeps the proof of chunk 0 and dies, like a killed process, when any other chunk proof is
/// to be kept.
struct CrashAfterChunkZero<'a>(&'a CheckpointDir);

impl Checkpoints for CrashAfterChunkZero<'_> {
    fn load(&self, node: CheckpointNode) -> Option<Vec<u8>> {
        self.0.load(node)
    }

    fn store(&self, node: CheckpointNode, proof: &[u8]) -> Result<(), String> {
        if matches!(node, CheckpointNode::Chunk { index } if index > 0) {
            panic!("simulated crash");
        }
        self.0.store(node, proof)
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

    // The tree proved and kept; then a cancelled run proves no chunk, and a run that dies
    // keeping its second chunk proof leaves the first.
    let prepared = circuits.prepare(&epoch).unwrap();
    let (folder, _) = CheckpointDir::open(&kept, &circuits.checkpoint_identity(&prepared)).unwrap();
    let root = circuits
        .prove_root_resumable(
            &epoch,
            prepared.challenges,
            Resume {
                checkpoints: &folder,
                cancel: &never,
            },
            &record,
        )
        .unwrap();
    let finish = |checkpoints: &dyn Checkpoints, cancel: &AtomicBool| {
        catch_unwind(AssertUnwindSafe(|| {
            let resume = Resume {
                checkpoints,
                cancel,
            };
            circuits.finish(&prepared, &root, Instant::now(), &dir, resume, &record)
        }))
    };
    let cancelled = finish(&folder, &AtomicBool::new(true)).expect("no panic");
    assert!(matches!(cancelled, Err(EpochProverError::Cancelled)));
    assert!(chunk_files(&kept).is_empty());
    let crashed = finish(&CrashAfterChunkZero(&folder), &never).expect("caught by the prover");
    assert!(
        matches!(&crashed, Err(EpochProverError::Internal(m)) if m.contains("simulated crash")),
        "{crashed:?}"
    );
    assert_eq!(chunk_files(&kept), ["C0.proof"]);
    assert!(!dir.exists(), "no bundle from a failed run");
    // A valid proof of chunk 0 kept under chunk 1's name is not chunk 1's.
    std::fs::copy(kept.join("C0.proof"), kept.join("C1.proof")).unwrap();

    // Resumed: the tree and chunk 0 come from the checkpoints, every other chunk is proved.
    stages.lock().unwrap().clear();
    let manifest = circuits
        .prove_into_resumable(&epoch, &dir, &kept, &never, &record)
        .unwrap();
    assert_eq!(manifest.shape.key(), SHAPE.key());
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
    let verified = verify_bundle(&dir).unwrap();
    assert_eq!(verified.shape, SHAPE.key());
    let (_, _, report) = payout_report(&GoldilocksFamily, &epoch).unwrap();
    assert_eq!(verified.statement, PublicStatement::from_report(&report));
    assert_eq!(verified.n_payees, payees as u64);
    assert_eq!(manifest.payouts, report);
    CheckpointDir::clear(&kept).unwrap();
    assert!(!kept.exists());
    let _ = std::fs::remove_dir_all(&scratch);
}

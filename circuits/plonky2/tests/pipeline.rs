//! The aggregation pipeline end to end in real proofs: an epoch of three batches (the third
//! partial, the fourth padding) proves through batches, two merge levels and the final layer;
//! the bundle verifies with the verifier crate against the pinned digest and its payouts are
//! the reference's. A flipped public input, a foreign final key and an altered payout list are
//! rejected. A run interrupted after two proofs resumes from its checkpoints to the same root, a
//! corrupted checkpoint is proved again, a cancelled run stops, and a folder holding other files
//! is refused. (The batch circuit alone: tests/batch.rs. Tampered, swapped and dropped batches:
//! tests/merge.rs and tests/aggregate.rs.)
//!
//! The circuits are built and the epoch proved once ([`honest`]), and the checkpoint run is
//! made once ([`checkpoint_run`]), recording what each step answered; each test asserts one
//! behaviour of those records or of one more run over the built circuits.

use plonky2::field::types::Field;
use plonky2::plonk::proof::ProofWithPublicInputs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;
use zkattr_model::bundle::{BundleManifest, PublicStatement, MANIFEST};
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::{payout_report, Epoch};
use zkattr_plonky2::aggregation::native::aggregate_epoch;
use zkattr_plonky2::aggregation::prove::Prepared;
use zkattr_plonky2::aggregation::{
    layout_digests, shape_for_epoch, AggregationCircuits, AggregationShape, AggregationStage,
    CheckpointDir, CheckpointNode, Checkpoints, EpochProverError, NoCheckpoints, Progress, Resume,
};
use zkattr_plonky2::native::F;
use zkattr_plonky2::prover::Config;
use zkattr_plonky2::GoldilocksFamily;
use zkattr_verifier::bundle::{verify_bundle, BundleError, VerifyOptions};

type Proof = ProofWithPublicInputs<F, Config, 2>;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zkattr-pipeline-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn manifest(dir: &Path) -> BundleManifest {
    serde_json::from_slice(&std::fs::read(dir.join(MANIFEST)).unwrap()).unwrap()
}

fn write_manifest(dir: &Path, m: &BundleManifest) {
    std::fs::write(dir.join(MANIFEST), serde_json::to_vec_pretty(m).unwrap()).unwrap();
}

/// Checkpoints that keep `left` proofs and then die like a killed process would.
struct CrashAfter<'a> {
    inner: &'a CheckpointDir,
    left: AtomicUsize,
}

impl Checkpoints for CrashAfter<'_> {
    fn load(&self, node: CheckpointNode) -> Option<Vec<u8>> {
        self.inner.load(node)
    }

    fn store(&self, node: CheckpointNode, proof: &[u8]) -> Result<(), String> {
        if self
            .left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_err()
        {
            panic!("simulated crash");
        }
        self.inner.store(node, proof)
    }
}

fn resume<'a>(checkpoints: &'a dyn Checkpoints, cancel: &'a AtomicBool) -> Resume<'a> {
    Resume {
        checkpoints,
        cancel,
    }
}

/// (restored batches + proved batches, restored merges + proved merges, batches proved).
fn node_counts(stages: &[AggregationStage]) -> (usize, usize, Vec<u64>) {
    let (mut batches, mut merges, mut proved) = (0, 0, Vec::new());
    for stage in stages {
        match stage {
            AggregationStage::Restored {
                batches: b,
                merges: m,
                ..
            } => {
                batches += b;
                merges += m;
            }
            AggregationStage::Batch { index, .. } => {
                batches += 1;
                proved.push(*index);
            }
            AggregationStage::Merge { .. } => merges += 1,
            _ => {}
        }
    }
    proved.sort_unstable();
    (batches, merges, proved)
}

fn epoch() -> Epoch {
    generate(&SynthConfig::new(10, 5, 21))
}

#[test]
fn shapes_follow_the_epoch() {
    let shape = |q, p, cap| AggregationShape::for_epoch(q, p, cap).unwrap().key();
    assert_eq!(shape(10, 5, 4), "agg-b4-t2-p8");
    assert_eq!(shape(3, 9, 4), "agg-b4-t0-p16");
    assert_eq!(shape(0, 0, 1024), "agg-b1-t0-p8");
    assert_eq!(shape(5000, 700, 1024), "agg-b1024-t3-p1024");
    assert_eq!(shape(1 << 20, 4096, 1024), "agg-b1024-t10-p4096");
    assert_eq!(shape(1 << 20, 16_384, 2048), "agg-b2048-t9-p16384");
    assert_eq!(shape(1 << 20, 16_385, 2048), "agg-b2048-t9-p32768");
    // Above the final circuit's own list, chunks of 16,384 entries, up to 32 of them; SPEC's
    // largest list in 32 chunks of 32,768.
    assert_eq!(shape(1 << 20, 32_769, 2048), "agg-b2048-t9-p65536-c16384");
    assert_eq!(shape(1 << 20, 1 << 19, 2048), "agg-b2048-t9-p524288-c16384");
    assert_eq!(
        shape(1 << 20, (1 << 19) + 1, 2048),
        "agg-b2048-t9-p1048576-c32768"
    );
}

#[test]
fn shapes_refuse_bad_batch_sizes_and_too_many_payees() {
    assert!(matches!(
        AggregationShape::for_epoch(10, 5, 3),
        Err(EpochProverError::BatchSize(3))
    ));
    assert!(matches!(
        AggregationShape::for_epoch(10, 5, 1 << 16),
        Err(EpochProverError::BatchSize(_))
    ));
    assert!(matches!(
        AggregationShape::for_epoch(10, (1 << 20) + 1, 4),
        Err(EpochProverError::TooManyPayees(1_048_577))
    ));
}

/// Building `shape`'s circuits, which must be refused before any key generation.
fn refused_build(
    batch_height: u32,
    levels: u32,
    payee_capacity: usize,
    chunk_height: Option<u32>,
) -> EpochProverError {
    let shape = AggregationShape {
        batch_height,
        levels,
        payee_capacity,
        chunk_height,
    };
    AggregationCircuits::build(shape, &|_| {}).unwrap_err()
}

/// Hand-made layouts are checked before any key generation.
#[test]
fn hand_made_layouts_are_refused_before_building() {
    let bad = |batch_height, levels, payee_capacity| {
        refused_build(batch_height, levels, payee_capacity, None)
    };
    assert!(matches!(bad(16, 0, 8), EpochProverError::BatchSize(65536)));
    assert!(matches!(bad(10, 23, 8), EpochProverError::Layout(m) if m.contains("depth-32")));
    assert!(
        matches!(bad(2, 1, 12), EpochProverError::Layout(m) if m.contains("payee capacity 12"))
    );
    assert!(matches!(bad(2, 1, 4), EpochProverError::Layout(_)));
    assert!(
        matches!(bad(2, 1, 1 << 16), EpochProverError::Layout(m) if m.contains("must be proved in chunks"))
    );
    assert!(
        matches!(bad(2, 1, 1 << 21), EpochProverError::Layout(m) if m.contains("payee capacity 2097152"))
    );
}

/// Chunks must hold whole slot-count groups, at most the design's 32,768 entries, and be 2 to
/// 32 (the final layer verifies each; 64 chunks of 16,384 would put it at 2^19 rows).
#[test]
fn chunk_layouts_out_of_bounds_are_refused_before_building() {
    for (capacity, chunk_height) in [
        (16, 1),
        (1 << 17, 16),
        (16, 4),
        (1 << 20, 2),
        (1 << 9, 2),
        (1 << 20, 14),
    ] {
        assert!(
            matches!(refused_build(2, 1, capacity, Some(chunk_height)), EpochProverError::Layout(m) if m.contains("chunks of")),
            "{capacity} entries in chunks of 2^{chunk_height}"
        );
    }
}

/// The pin builder refuses the same shapes (and other batch sizes) before building anything.
#[test]
fn the_pin_builder_refuses_bad_layouts_before_building() {
    let pins = |shape| layout_digests(&[shape], &|_| {}).unwrap_err();
    let shape = |levels, payee_capacity| AggregationShape {
        batch_height: 11,
        levels,
        payee_capacity,
        chunk_height: None,
    };
    assert!(
        matches!(pins(shape(1, 1 << 16)), EpochProverError::Layout(m) if m.contains("must be proved in chunks"))
    );
    assert!(
        matches!(pins(shape(1, 12)), EpochProverError::Layout(m) if m.contains("payee capacity 12"))
    );
    assert!(matches!(pins(shape(22, 8)), EpochProverError::Layout(m) if m.contains("depth-32")));
    let other_batch = AggregationShape {
        batch_height: 2,
        ..shape(1, 8)
    };
    assert!(
        matches!(pins(other_batch), EpochProverError::Layout(m) if m.contains("batches of 2048"))
    );
    assert_eq!(layout_digests(&[], &|_| {}).unwrap(), Vec::new());
}

/// The epoch's circuits, built once, and its honest run through them.
struct Honest {
    epoch: Epoch,
    circuits: AggregationCircuits,
    prepared: Prepared,
    root: Proof,
    /// Every progress report of the build, the tree and the final and shrink layers.
    stages: Vec<AggregationStage>,
    written: BundleManifest,
    /// The bundle's files (its folder is removed; tests write copies).
    files: Vec<(&'static str, Vec<u8>)>,
}

fn honest() -> &'static Honest {
    static HONEST: OnceLock<Honest> = OnceLock::new();
    HONEST.get_or_init(|| {
        let epoch = epoch();
        let shape = shape_for_epoch(&epoch, 4).unwrap();
        let stages = Mutex::new(Vec::new());
        let record = |s: &AggregationStage| stages.lock().unwrap().push(s.clone());
        let started = Instant::now();
        let circuits = AggregationCircuits::build(shape, &record).unwrap();
        let build_seconds = started.elapsed().as_secs_f64();
        let prepared = circuits.prepare(&epoch).unwrap();
        let started = Instant::now();
        let root = circuits
            .tree
            .prove_root(&epoch, prepared.challenges, Resume::none(), &record)
            .unwrap();
        let dir = scratch("honest");
        let written = circuits
            .finish(&prepared, &root, started, &dir, Resume::none(), &record)
            .unwrap();
        let prove_seconds = started.elapsed().as_secs_f64();
        let files = [MANIFEST, "proof.bin", "verifier.bin"]
            .map(|name| (name, std::fs::read(dir.join(name)).unwrap()))
            .to_vec();
        std::fs::remove_dir_all(&dir).unwrap();
        eprintln!(
            "agg-b4-t2-p8: circuits built in {build_seconds:.1} s, 3 batches + 3 merges + final + shrink layer proved in {prove_seconds:.1} s, final layer 2^{} rows, shrink layer 2^{} rows",
            circuits.last.data().common.degree_bits(),
            circuits.shrink.data.common.degree_bits()
        );
        Honest {
            epoch,
            circuits,
            prepared,
            root,
            stages: stages.into_inner().unwrap(),
            written,
            files,
        }
    })
}

/// A folder holding the honest bundle, removed when dropped.
struct BundleCopy(PathBuf);

impl BundleCopy {
    fn new(name: &str) -> Self {
        let dir = scratch(name);
        std::fs::create_dir_all(&dir).unwrap();
        for (file, bytes) in &honest().files {
            std::fs::write(dir.join(file), bytes).unwrap();
        }
        BundleCopy(dir)
    }
}

impl std::ops::Deref for BundleCopy {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for BundleCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn the_epoch_takes_the_b4_t2_p8_layout() {
    assert_eq!(shape_for_epoch(&epoch(), 4).unwrap().key(), "agg-b4-t2-p8");
}

/// A bigger epoch does not fit these circuits: a typed error before any proof.
#[test]
fn a_bigger_epoch_does_not_fit_the_circuits() {
    let bigger = generate(&SynthConfig::new(17, 5, 21));
    assert!(matches!(
        honest().circuits.prepare(&bigger),
        Err(EpochProverError::ShapeMismatch { .. })
    ));
}

/// Cancelled before the final layer, or by its report (before the shrink layer): no bundle
/// either way.
#[test]
fn a_run_cancelled_before_the_bundle_writes_none() {
    let h = honest();
    let dir = scratch("cancelled");
    let stop = AtomicBool::new(false);
    let stop_after_final = |s: &AggregationStage| {
        if matches!(s, AggregationStage::Final { .. }) {
            stop.store(true, Ordering::Relaxed);
        }
    };
    for (cancel, progress) in [
        (
            &AtomicBool::new(true),
            &(|_: &AggregationStage| {}) as Progress<'_>,
        ),
        (&stop, &stop_after_final),
    ] {
        let cancelled = h.circuits.finish(
            &h.prepared,
            &h.root,
            Instant::now(),
            &dir,
            resume(&NoCheckpoints, cancel),
            progress,
        );
        assert!(matches!(cancelled, Err(EpochProverError::Cancelled)));
        assert!(!dir.exists());
    }
    assert!(stop.load(Ordering::Relaxed), "the final layer was proved");
}

/// One report per batch and per merge (padding merges too).
#[test]
fn each_batch_and_merge_is_reported() {
    let stages = &honest().stages;
    let mut batches: Vec<u64> = stages
        .iter()
        .filter_map(|s| match s {
            AggregationStage::Batch { index, total, .. } => {
                assert_eq!(*total, 3);
                Some(*index)
            }
            _ => None,
        })
        .collect();
    batches.sort_unstable();
    assert_eq!(batches, [0, 1, 2]);
    let merges = stages
        .iter()
        .filter(|s| matches!(s, AggregationStage::Merge { total: 3, .. }))
        .count();
    assert_eq!(merges, 3);
}

/// A time estimate once two batches set the pace and while one remains: the second of three
/// proved, only (reports of parallel batches may arrive in either order).
#[test]
fn a_time_estimate_is_reported_once_two_batches_set_the_pace() {
    let estimates = honest()
        .stages
        .iter()
        .filter(|s| matches!(s, AggregationStage::Batch { left: Some(l), .. } if *l > 0.0))
        .count();
    assert_eq!(estimates, 1);
}

/// The final and shrink layers are reported last; the shrink layer is what makes the bundle's
/// proof small.
#[test]
fn the_shrink_layer_is_reported_last_and_its_proof_is_smaller() {
    let stages = &honest().stages;
    let final_bytes = stages
        .iter()
        .find_map(|s| match s {
            AggregationStage::Final { proof_bytes, .. } => Some(*proof_bytes),
            _ => None,
        })
        .expect("a final-layer stage");
    match stages.last() {
        Some(AggregationStage::Shrunk { proof_bytes, .. }) => assert!(
            *proof_bytes < final_bytes * 2 / 3,
            "shrink proof {proof_bytes} B against the final layer's {final_bytes} B"
        ),
        other => panic!("the last stage is {other:?}, not the shrink layer"),
    }
}

/// The verifier crate accepts it; payouts and statement are the reference's, and the native
/// twin of the pipeline gives the same public inputs.
#[test]
fn the_bundle_verifies_with_the_reference_payouts() {
    let h = honest();
    let dir = BundleCopy::new("verified");
    let verified = verify_bundle(&dir, &VerifyOptions::strict()).unwrap();
    assert_eq!(verified.shape, "agg-b4-t2-p8");
    let (_, _, report) = payout_report(&GoldilocksFamily, &h.epoch).unwrap();
    assert_eq!(verified.statement, PublicStatement::from_report(&report));
    assert_eq!(h.written.payouts, report);
    assert_eq!(manifest(&dir).payouts, report);
    assert_eq!(
        aggregate_epoch(&h.epoch, 4).unwrap().to_fields(),
        h.prepared.expected
    );
}

/// The honest proof with its epoch id flipped.
fn flipped_proof() -> Vec<u8> {
    let h = honest();
    let common = &h.circuits.shrink.data.common;
    let bytes = h
        .files
        .iter()
        .find(|(n, _)| *n == "proof.bin")
        .unwrap()
        .1
        .clone();
    let mut proof = Proof::from_bytes(bytes, common).unwrap();
    proof.public_inputs[0] += F::ONE;
    proof.to_bytes()
}

/// One public input flipped (epoch id), bundle.json claiming the flipped value so every
/// shape check passes: the proof itself fails.
#[test]
fn a_flipped_public_input_fails_the_proof() {
    let flipped = BundleCopy::new("flipped");
    std::fs::write(flipped.join("proof.bin"), flipped_proof()).unwrap();
    let mut m = manifest(&flipped);
    m.public_inputs.epoch_id += 1;
    m.payouts.epoch_id += 1;
    write_manifest(&flipped, &m);
    assert!(matches!(
        verify_bundle(&flipped, &VerifyOptions::strict()),
        Err(BundleError::Proof(_))
    ));
}

/// The flipped proof under the honest bundle.json: the claimed statement differs.
#[test]
fn a_proof_of_another_statement_is_refused_by_the_public_input() {
    let claimed = BundleCopy::new("claimed");
    std::fs::write(claimed.join("proof.bin"), flipped_proof()).unwrap();
    assert!(matches!(
        verify_bundle(&claimed, &VerifyOptions::strict()),
        Err(BundleError::PublicInput {
            name: "epoch_id",
            ..
        })
    ));
}

/// A foreign final key (the first merge circuit's), also recorded as the bundle's digest.
#[test]
fn a_foreign_final_key_is_refused_by_its_digest() {
    let foreign = BundleCopy::new("foreign");
    let key = honest().circuits.tree.merges[0]
        .data
        .verifier_data()
        .to_bytes(&zkattr_plonky2_gates::AttributionGateSerializer)
        .unwrap();
    let mut m = manifest(&foreign);
    m.verifying_key_digest = zkattr_plonky2::prover::verifying_key_digest(&key);
    std::fs::write(foreign.join("verifier.bin"), key).unwrap();
    write_manifest(&foreign, &m);
    assert!(matches!(
        verify_bundle(&foreign, &VerifyOptions::strict()),
        Err(BundleError::KeyDigest { .. })
    ));
}

#[test]
fn a_layout_nobody_pinned_is_refused() {
    let unpinned = BundleCopy::new("unpinned");
    let mut m = manifest(&unpinned);
    m.shape.aggregation.as_mut().unwrap().levels = 3;
    m.shape.queries = 32;
    write_manifest(&unpinned, &m);
    assert!(matches!(
        verify_bundle(&unpinned, &VerifyOptions::strict()),
        Err(BundleError::UnknownShape { .. })
    ));
}

#[test]
fn a_capacity_that_is_not_the_layouts_is_refused() {
    let inconsistent = BundleCopy::new("inconsistent");
    let mut m = manifest(&inconsistent);
    m.shape.queries = 64;
    write_manifest(&inconsistent, &m);
    assert!(matches!(
        verify_bundle(&inconsistent, &VerifyOptions::strict()),
        Err(BundleError::Manifest(message)) if message.contains("agg-b4-t2-p8")
    ));
}

/// One unit moved between two payees: totals still add, the accumulator does not.
#[test]
fn an_altered_payout_list_is_not_proved() {
    let h = honest();
    let mut moved = h.prepared.payees.clone();
    let from = moved.iter().position(|x| x.payout.amount > 0).unwrap();
    let to = (from + 1) % moved.len();
    moved[from].payout.amount -= 1;
    moved[to].payout.amount += 1;
    let forged = catch_unwind(AssertUnwindSafe(|| {
        h.circuits
            .prove_final(&h.root, &moved, Resume::none(), &|_| {})
    }));
    let accepted =
        matches!(forged, Ok(Ok(proof)) if h.circuits.last.data().verify(proof.clone()).is_ok());
    assert!(!accepted, "an altered payout list was accepted");
}

/// What one checkpoint folder answered, in order: a run that dies after saving two proofs, a
/// run resuming from them, the same after a corrupted batch proof, a cancelled run, another
/// run's identity, and a folder holding another file.
struct CheckpointRun {
    kept_at_first: usize,
    died: Result<Proof, EpochProverError>,
    kept_after_crash: usize,
    resumed: Proof,
    resumed_stages: Vec<AggregationStage>,
    after_corruption: Proof,
    after_corruption_stages: Vec<AggregationStage>,
    cancelled: Result<Proof, EpochProverError>,
    kept_for_another_run: usize,
    proofs_left: bool,
    refused: Result<usize, String>,
    notes_kept_by_clear: bool,
    identity_kept_by_clear: bool,
    folder_left: bool,
}

fn checkpoint_run() -> &'static CheckpointRun {
    static RUN: OnceLock<CheckpointRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let h = honest();
        let (circuits, epoch, challenges) = (&h.circuits, &h.epoch, h.prepared.challenges);
        let folder = scratch("checkpoints");
        let identity = circuits.checkpoint_identity(&h.prepared);
        let (saved, kept_at_first) = CheckpointDir::open(&folder, &identity).unwrap();
        let crashing = CrashAfter {
            inner: &saved,
            left: AtomicUsize::new(2),
        };
        let go_on = AtomicBool::new(false);
        let died = circuits
            .tree
            .prove_root(epoch, challenges, resume(&crashing, &go_on), &|_| {});
        let (saved, kept_after_crash) = CheckpointDir::open(&folder, &identity).unwrap();
        let run = |checkpoints: &CheckpointDir| {
            let stages = Mutex::new(Vec::new());
            let root = circuits
                .tree
                .prove_root(epoch, challenges, resume(checkpoints, &go_on), &|s| {
                    stages.lock().unwrap().push(s.clone())
                })
                .unwrap();
            (root, stages.into_inner().unwrap())
        };
        let (resumed, resumed_stages) = run(&saved);
        // A corrupted batch proof; the nodes above it deleted.
        let batch_1 = folder.join("L0-1.proof");
        let mut bytes = std::fs::read(&batch_1).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 1;
        std::fs::write(&batch_1, bytes).unwrap();
        for above in ["L1-0.proof", "L2-0.proof"] {
            std::fs::remove_file(folder.join(above)).unwrap();
        }
        let (after_corruption, after_corruption_stages) = run(&saved);
        std::fs::remove_file(folder.join("L2-0.proof")).unwrap();
        let cancelled = circuits.tree.prove_root(
            epoch,
            challenges,
            resume(&saved, &AtomicBool::new(true)),
            &|_| {},
        );
        let (_, kept_for_another_run) = CheckpointDir::open(&folder, "another run").unwrap();
        let proofs_left = std::fs::read_dir(&folder)
            .unwrap()
            .any(|e| e.unwrap().path().extension().is_some_and(|x| x == "proof"));
        std::fs::write(folder.join("notes.txt"), "mine").unwrap();
        let refused = CheckpointDir::open(&folder, &identity)
            .map(|(_, kept)| kept)
            .map_err(|e| e.to_string());
        CheckpointDir::clear(&folder).unwrap();
        let notes_kept_by_clear = folder.join("notes.txt").exists();
        let identity_kept_by_clear = folder.join("identity").exists();
        std::fs::remove_file(folder.join("notes.txt")).unwrap();
        CheckpointDir::clear(&folder).unwrap();
        let folder_left = folder.exists();
        let _ = std::fs::remove_dir_all(&folder);
        CheckpointRun {
            kept_at_first,
            died,
            kept_after_crash,
            resumed,
            resumed_stages,
            after_corruption,
            after_corruption_stages,
            cancelled,
            kept_for_another_run,
            proofs_left,
            refused,
            notes_kept_by_clear,
            identity_kept_by_clear,
            folder_left,
        }
    })
}

/// A run that dies after saving two proofs leaves those two in the folder.
#[test]
fn a_run_that_dies_keeps_the_proofs_it_saved() {
    let r = checkpoint_run();
    assert_eq!(r.kept_at_first, 0);
    assert!(
        matches!(&r.died, Err(EpochProverError::Internal(m)) if m.contains("simulated crash")),
        "{:?}",
        r.died.as_ref().err()
    );
    assert_eq!(r.kept_after_crash, 2);
}

/// A run over the same checkpoint folder takes them and proves only the rest, to the same root.
#[test]
fn a_resumed_run_proves_only_the_rest_to_the_same_root() {
    let r = checkpoint_run();
    assert_eq!(r.resumed.public_inputs, honest().root.public_inputs);
    let (batches, merges, proved) = node_counts(&r.resumed_stages);
    assert_eq!((batches, merges), (3, 3), "{:?}", r.resumed_stages);
    assert!(
        proved.len() < 3,
        "nothing was restored: {:?}",
        r.resumed_stages
    );
}

/// A corrupted batch proof is proved again; the nodes above it were deleted.
#[test]
fn a_corrupted_checkpoint_is_proved_again() {
    let r = checkpoint_run();
    let stages = &r.after_corruption_stages;
    assert_eq!(
        r.after_corruption.public_inputs,
        honest().root.public_inputs
    );
    let (batches, merges, proved) = node_counts(stages);
    assert_eq!((batches, merges, proved), (3, 3, vec![1]), "{stages:?}");
}

/// A cancelled run stops before its next node.
#[test]
fn a_cancelled_run_stops_before_its_next_node() {
    assert!(matches!(
        checkpoint_run().cancelled,
        Err(EpochProverError::Cancelled)
    ));
}

/// Another epoch's run empties the folder.
#[test]
fn another_runs_identity_empties_the_folder() {
    let r = checkpoint_run();
    assert_eq!(r.kept_for_another_run, 0);
    assert!(!r.proofs_left);
}

/// A folder holding anything else is refused untouched; clearing removes only checkpoints.
#[test]
fn a_folder_holding_other_files_is_refused_and_kept() {
    let r = checkpoint_run();
    assert!(
        matches!(&r.refused, Err(e) if e.contains("notes.txt")),
        "{:?}",
        r.refused
    );
    assert!(r.notes_kept_by_clear);
    assert!(!r.identity_kept_by_clear);
    assert!(!r.folder_left);
}

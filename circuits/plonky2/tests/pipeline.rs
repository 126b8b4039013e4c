//! The aggregation pipeline end to end in real proofs: an epoch of three batches (the third
//! partial, the fourth padding) proves through batches, two merge levels and the final layer;
//! the bundle verifies with the verifier crate against the pinned digest and its payouts are
//! the reference's. A flipped public input, a foreign final key and an altered payout list are
//! rejected, and the batch circuit alone exposes the native summary of a partial batch and
//! refuses records out of order, a real record flagged as padding, flags with a hole, a repeated
//! id and a batch index beyond the tree, each with an honest control. A run interrupted after two proofs resumes from its checkpoints
//! to the same root, a corrupted checkpoint is proved again, a cancelled run stops, and a
//! folder holding other files is refused. (Tampered, swapped and dropped batches: tests/merge.rs and
//! tests/aggregate.rs.) One test, so every circuit is built once.

mod overrides;

use overrides::with_overrides;
use plonky2::field::types::Field;
use plonky2::iop::witness::PartialWitness;
use plonky2::plonk::proof::ProofWithPublicInputs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;
use zkattr_model::bundle::{BundleManifest, PublicStatement, MANIFEST};
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::types::SLOTS;
use zkattr_model::{payout_report, Epoch, Slot};
use zkattr_plonky2::aggregation::batch::expected_summary;
use zkattr_plonky2::aggregation::native::{aggregate_epoch, Challenges};
use zkattr_plonky2::aggregation::{
    layout_digests, shape_for_epoch, AggregationCircuits, AggregationShape, AggregationStage,
    CheckpointDir, CheckpointNode, Checkpoints, EpochProverError, NoCheckpoints, Progress, Resume,
};
use zkattr_plonky2::native::F;
use zkattr_plonky2::prover::Config;
use zkattr_plonky2::GoldilocksFamily;
use zkattr_verifier::bundle::{verify_bundle, BundleError, VerifyOptions};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zkattr-pipeline-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn copy_bundle(from: &Path, name: &str) -> PathBuf {
    let to = scratch(name);
    std::fs::create_dir_all(&to).unwrap();
    for file in [MANIFEST, "proof.bin", "verifier.bin"] {
        std::fs::copy(from.join(file), to.join(file)).unwrap();
    }
    to
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
fn shapes_follow_the_epoch_and_refuse_bad_sizes() {
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
    // Hand-made layouts are checked before any key generation.
    let bad_chunks = |batch_height, levels, payee_capacity, chunk_height| {
        let shape = AggregationShape {
            batch_height,
            levels,
            payee_capacity,
            chunk_height,
        };
        AggregationCircuits::build(shape, &|_| {}).unwrap_err()
    };
    let bad = |batch_height, levels, payee_capacity| {
        bad_chunks(batch_height, levels, payee_capacity, None)
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
    // Chunks must hold whole slot-count groups, at most the design's 32,768 entries, and be 2
    // to 32 (the final layer verifies each; 64 chunks of 16,384 would put it at 2^19 rows).
    for (capacity, chunk_height) in [
        (16, 1),
        (1 << 17, 16),
        (16, 4),
        (1 << 20, 2),
        (1 << 9, 2),
        (1 << 20, 14),
    ] {
        assert!(
            matches!(bad_chunks(2, 1, capacity, Some(chunk_height)), EpochProverError::Layout(m) if m.contains("chunks of")),
            "{capacity} entries in chunks of 2^{chunk_height}"
        );
    }
    // The pin builder refuses the same shapes (and other batch sizes) before building anything.
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

#[test]
fn three_batches_prove_verify_and_reject_tampering() {
    let epoch = epoch();
    let shape = shape_for_epoch(&epoch, 4).unwrap();
    assert_eq!(shape.key(), "agg-b4-t2-p8");
    let stages = Mutex::new(Vec::new());
    let record = |s: &AggregationStage| stages.lock().unwrap().push(s.clone());

    let start = Instant::now();
    let circuits = AggregationCircuits::build(shape, &record).unwrap();
    let build_seconds = start.elapsed().as_secs_f64();

    // A bigger epoch does not fit these circuits: a typed error before any proof.
    let bigger = generate(&SynthConfig::new(17, 5, 21));
    assert!(matches!(
        circuits.prepare(&bigger),
        Err(EpochProverError::ShapeMismatch { .. })
    ));

    let dir = scratch("honest");
    let prepared = circuits.prepare(&epoch).unwrap();
    let start = Instant::now();
    let root = circuits
        .tree
        .prove_root(&epoch, prepared.challenges, Resume::none(), &record)
        .unwrap();
    // Cancelled before the final layer, or by its report (before the shrink layer): no
    // bundle either way.
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
        let cancelled = circuits.finish(
            &prepared,
            &root,
            start,
            &dir,
            resume(&NoCheckpoints, cancel),
            progress,
        );
        assert!(matches!(cancelled, Err(EpochProverError::Cancelled)));
        assert!(!dir.exists());
    }
    assert!(stop.load(Ordering::Relaxed), "the final layer was proved");
    let written = circuits
        .finish(&prepared, &root, start, &dir, Resume::none(), &record)
        .unwrap();
    let prove_seconds = start.elapsed().as_secs_f64();

    // One report per batch and per merge (padding merges too), then the final and shrink
    // layers.
    let bundle_bytes = {
        let stages = stages.lock().unwrap();
        let batches: Vec<u64> = stages
            .iter()
            .filter_map(|s| match s {
                AggregationStage::Batch { index, total, .. } => {
                    assert_eq!(*total, 3);
                    Some(*index)
                }
                _ => None,
            })
            .collect();
        let mut sorted = batches.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [0, 1, 2]);
        // A time estimate once two batches set the pace and while one remains: the second
        // of three proved, only (reports of parallel batches may arrive in either order).
        let estimates = stages
            .iter()
            .filter(|s| matches!(s, AggregationStage::Batch { left: Some(l), .. } if *l > 0.0))
            .count();
        assert_eq!(estimates, 1);
        let merges = stages
            .iter()
            .filter(|s| matches!(s, AggregationStage::Merge { total: 3, .. }))
            .count();
        assert_eq!(merges, 3);
        let final_bytes = stages
            .iter()
            .find_map(|s| match s {
                AggregationStage::Final { proof_bytes, .. } => Some(*proof_bytes),
                _ => None,
            })
            .expect("a final-layer stage");
        match stages.last() {
            // The shrink layer is what makes the bundle's proof small.
            Some(AggregationStage::Shrunk { proof_bytes, .. }) => {
                assert!(
                    *proof_bytes < final_bytes * 2 / 3,
                    "shrink proof {proof_bytes} B against the final layer's {final_bytes} B"
                );
                *proof_bytes
            }
            other => panic!("the last stage is {other:?}, not the shrink layer"),
        }
    };

    // The verifier crate accepts it; payouts and statement are the reference's, and the
    // native twin of the pipeline gives the same public inputs.
    let verified = verify_bundle(&dir, &VerifyOptions::strict()).unwrap();
    assert_eq!(verified.shape, "agg-b4-t2-p8");
    let (_, _, report) = payout_report(&GoldilocksFamily, &epoch).unwrap();
    assert_eq!(verified.statement, PublicStatement::from_report(&report));
    assert_eq!(written.payouts, report);
    assert_eq!(manifest(&dir).payouts, report);
    assert_eq!(
        aggregate_epoch(&epoch, 4).unwrap().to_fields(),
        prepared.expected
    );

    // One public input flipped (epoch id), bundle.json claiming the flipped value so every
    // shape check passes: the proof itself fails.
    let common = &circuits.shrink.data.common;
    let proof_bytes = std::fs::read(dir.join("proof.bin")).unwrap();
    let mut proof = ProofWithPublicInputs::<F, Config, 2>::from_bytes(proof_bytes, common).unwrap();
    proof.public_inputs[0] += F::ONE;
    let flipped = copy_bundle(&dir, "flipped");
    std::fs::write(flipped.join("proof.bin"), proof.to_bytes()).unwrap();
    let mut m = manifest(&flipped);
    m.public_inputs.epoch_id += 1;
    m.payouts.epoch_id += 1;
    write_manifest(&flipped, &m);
    assert!(matches!(
        verify_bundle(&flipped, &VerifyOptions::strict()),
        Err(BundleError::Proof(_))
    ));
    // The same proof under the honest bundle.json: the claimed statement differs.
    let claimed = copy_bundle(&flipped, "claimed");
    write_manifest(&claimed, &manifest(&dir));
    assert!(matches!(
        verify_bundle(&claimed, &VerifyOptions::strict()),
        Err(BundleError::PublicInput {
            name: "epoch_id",
            ..
        })
    ));

    // A foreign final key (the first merge circuit's), also recorded as the bundle's digest.
    let foreign = copy_bundle(&dir, "foreign");
    let key = circuits.tree.merges[0]
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
    // A layout nobody pinned.
    let unpinned = copy_bundle(&dir, "unpinned");
    let mut m = manifest(&unpinned);
    m.shape.aggregation.as_mut().unwrap().levels = 3;
    m.shape.queries = 32;
    write_manifest(&unpinned, &m);
    assert!(matches!(
        verify_bundle(&unpinned, &VerifyOptions::strict()),
        Err(BundleError::UnknownShape { .. })
    ));

    // The batch circuit alone (folded in from tests/batch.rs, reusing the built circuit): a
    // partial batch exposes exactly the native summary; records out of order are refused.
    let (p, q, ch) = (epoch.params, &epoch.queries, prepared.challenges);
    let partial = circuits.tree.batch.prove(p, ch, 2, &q[8..10]).unwrap();
    assert_eq!(
        partial.public_inputs,
        expected_summary(p, ch, 2, 2, &q[8..10]).unwrap()
    );
    assert_eq!(partial.public_inputs[17], F::from_canonical_u64(2));
    let swapped = [q[1], q[0], q[2], q[3]];
    let bad = catch_unwind(AssertUnwindSafe(|| {
        circuits.tree.batch.prove(p, ch, 0, &swapped)
    }));
    let accepted =
        matches!(bad, Ok(Ok(proof)) if circuits.tree.batch.data.verify(proof.clone()).is_ok());
    assert!(!accepted, "a batch out of order was accepted");
    batch_circuit_refuses_tampered_witnesses(&circuits, &epoch, prepared.challenges);

    // A capacity that is not the layout's.
    let inconsistent = copy_bundle(&dir, "inconsistent");
    let mut m = manifest(&inconsistent);
    m.shape.queries = 64;
    write_manifest(&inconsistent, &m);
    assert!(matches!(
        verify_bundle(&inconsistent, &VerifyOptions::strict()),
        Err(BundleError::Manifest(message)) if message.contains("agg-b4-t2-p8")
    ));

    // One unit moved between two payees: totals still add, the accumulator does not.
    let mut moved = prepared.payees.clone();
    let from = moved.iter().position(|x| x.payout.amount > 0).unwrap();
    let to = (from + 1) % moved.len();
    moved[from].payout.amount -= 1;
    moved[to].payout.amount += 1;
    let forged = catch_unwind(AssertUnwindSafe(|| {
        circuits.prove_final(&root, &moved, Resume::none(), &|_| {})
    }));
    let accepted =
        matches!(forged, Ok(Ok(proof)) if circuits.last.data().verify(proof.clone()).is_ok());
    assert!(!accepted, "an altered payout list was accepted");

    // Resuming. A run that dies after saving two proofs; a run over the same checkpoint folder
    // takes them and proves only the rest, to the same root.
    let folder = scratch("checkpoints");
    let identity = circuits.checkpoint_identity(&prepared);
    let (saved, kept) = CheckpointDir::open(&folder, &identity).unwrap();
    assert_eq!(kept, 0);
    let crashing = CrashAfter {
        inner: &saved,
        left: AtomicUsize::new(2),
    };
    let go_on = AtomicBool::new(false);
    let died = circuits.tree.prove_root(
        &epoch,
        prepared.challenges,
        resume(&crashing, &go_on),
        &|_| {},
    );
    assert!(
        matches!(&died, Err(EpochProverError::Internal(m)) if m.contains("simulated crash")),
        "{died:?}"
    );
    let (saved, kept) = CheckpointDir::open(&folder, &identity).unwrap();
    assert_eq!(kept, 2);
    let run = |checkpoints: &CheckpointDir| {
        let stages = Mutex::new(Vec::new());
        let root = circuits
            .tree
            .prove_root(
                &epoch,
                prepared.challenges,
                resume(checkpoints, &go_on),
                &|s| stages.lock().unwrap().push(s.clone()),
            )
            .unwrap();
        (root, stages.into_inner().unwrap())
    };
    let (resumed, stages) = run(&saved);
    assert_eq!(resumed.public_inputs, root.public_inputs);
    let (batches, merges, proved) = node_counts(&stages);
    assert_eq!((batches, merges), (3, 3), "{stages:?}");
    assert!(proved.len() < 3, "nothing was restored: {stages:?}");
    // A corrupted batch proof is proved again; the nodes above it were deleted.
    let batch_1 = folder.join("L0-1.proof");
    let mut bytes = std::fs::read(&batch_1).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&batch_1, bytes).unwrap();
    for above in ["L1-0.proof", "L2-0.proof"] {
        std::fs::remove_file(folder.join(above)).unwrap();
    }
    let (again, stages) = run(&saved);
    assert_eq!(again.public_inputs, root.public_inputs);
    let (batches, merges, proved) = node_counts(&stages);
    assert_eq!((batches, merges, proved), (3, 3, vec![1]), "{stages:?}");
    // A cancelled run stops before its next node.
    std::fs::remove_file(folder.join("L2-0.proof")).unwrap();
    let cancelled = circuits.tree.prove_root(
        &epoch,
        prepared.challenges,
        resume(&saved, &AtomicBool::new(true)),
        &|_| {},
    );
    assert!(matches!(cancelled, Err(EpochProverError::Cancelled)));
    // Another epoch's run empties the folder.
    let (_, kept) = CheckpointDir::open(&folder, "another run").unwrap();
    assert_eq!(kept, 0);
    assert!(std::fs::read_dir(&folder).unwrap().all(|e| e
        .unwrap()
        .path()
        .extension()
        .is_none_or(|x| x != "proof")));
    // A folder holding anything else is refused untouched; clearing removes only checkpoints.
    std::fs::write(folder.join("notes.txt"), "mine").unwrap();
    let refused = CheckpointDir::open(&folder, &identity);
    assert!(
        matches!(&refused, Err(e) if e.to_string().contains("notes.txt")),
        "{refused:?}"
    );
    CheckpointDir::clear(&folder).unwrap();
    assert!(folder.join("notes.txt").exists());
    assert!(!folder.join("identity").exists());
    std::fs::remove_file(folder.join("notes.txt")).unwrap();
    CheckpointDir::clear(&folder).unwrap();
    assert!(!folder.exists());

    for name in [
        "checkpoints",
        "honest",
        "flipped",
        "claimed",
        "foreign",
        "unpinned",
        "inconsistent",
    ] {
        let _ = std::fs::remove_dir_all(scratch(name));
    }
    eprintln!(
        "agg-b4-t2-p8: circuits built in {build_seconds:.1} s, 3 batches + 3 merges + final + shrink layer proved in {prove_seconds:.1} s, bundle proof {} bytes, final layer 2^{} rows, shrink layer 2^{} rows",
        bundle_bytes,
        circuits.last.data().common.degree_bits(),
        circuits.shrink.data.common.degree_bits()
    );
}

/// Each check of the batch circuit, isolated: the witness is honest but for one change that
/// only that check rules out (mutation-checked: with the check removed, the cheat proves).
fn batch_circuit_refuses_tampered_witnesses(
    circuits: &AggregationCircuits,
    epoch: &Epoch,
    challenges: Challenges,
) {
    let batch = &circuits.tree.batch;
    assert_eq!(batch.height, 2, "the cases below assume four records");
    let (p, q) = (epoch.params, &epoch.queries);
    let proves = |pw: PartialWitness<F>| {
        let attempt = catch_unwind(AssertUnwindSafe(|| batch.data.prove(pw)));
        matches!(attempt, Ok(Ok(proof)) if batch.data.verify(proof.clone()).is_ok())
    };
    let four = [q[0], q[1], q[2], q[3]];
    let honest = || batch.witness(p, challenges, 0, &four).unwrap();
    assert!(proves(honest()), "the control: four honest records");
    let flags = &batch.prefix().real;
    let count = batch.prefix().count;

    // A real record flagged as padding: its shares would enter the totals and the accumulator
    // while the log root leaves it out. The stray-value check refuses it.
    let hidden = with_overrides(
        honest(),
        &[
            (flags[3].target, F::ZERO),
            (count, F::from_canonical_u64(3)),
        ],
    );
    assert!(!proves(hidden), "a record hidden as padding was proved");

    // Flags with a hole (1, 0, 1, 1; count 3). Record 1 carries no fee and no adapter, so only
    // the prefix check can object.
    let mut holed = four;
    holed[1].fee = 0;
    holed[1].slots = [Slot::UNUSED; SLOTS];
    let control = batch.witness(p, challenges, 0, &holed).unwrap();
    assert!(
        proves(control),
        "the control: a real record without fee or slots"
    );
    let hole = with_overrides(
        batch.witness(p, challenges, 0, &holed).unwrap(),
        &[
            (flags[1].target, F::ZERO),
            (count, F::from_canonical_u64(3)),
        ],
    );
    assert!(!proves(hole), "real-record flags with a hole were proved");

    // A repeated query id (ids must strictly increase).
    let repeated = with_overrides(
        honest(),
        &[
            (batch.query_targets(1).query_id()[0], limb(q[0].query_id, 0)),
            (batch.query_targets(1).query_id()[1], limb(q[0].query_id, 1)),
        ],
    );
    assert!(!proves(repeated), "a repeated query id was proved");

    // A wrong inverse of `α − adapter` is the payout-terms gate's own generator's to fill; its
    // constraint is tampered with in real proofs in `zkattr-plonky2-gates` (payout.rs,
    // `real_proofs_refuse_each_tampered_wire`).

    // A batch index beyond the tree: 2^(32 - height) batches fit at depth 32.
    let beyond = catch_unwind(AssertUnwindSafe(|| {
        batch.prove(p, challenges, 1 << (32 - batch.height), &four)
    }));
    assert!(
        !matches!(beyond, Ok(Ok(proof)) if batch.data.verify(proof.clone()).is_ok()),
        "a batch index beyond the tree was proved"
    );
    let last_index = batch
        .prove(p, challenges, (1 << (32 - batch.height)) - 1, &four)
        .expect("the last index proves");
    assert!(batch.data.verify(last_index).is_ok());
}

fn limb(value: u64, which: usize) -> F {
    F::from_canonical_u64((value >> (32 * which)) & 0xffff_ffff)
}

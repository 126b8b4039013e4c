//! The aggregation pipeline with its payout list proved in chunk proofs, end to end in real
//! proofs, at a size CI affords: batches of 4 under two merge levels and a list of 32 entries
//! in 8 chunks of 4 (the design's chunks hold 16,384; `AggregationShape::for_epoch` picks them
//! above 32,768 payees). The list fills some chunks and leaves several empty, which one proof of
//! the empty chunk stands for; the bundle verifies with the verifier crate against the pinned
//! digest of this layout, and its statement and payouts are the reference's (the prover also checks the final
//! proof's public inputs against the reference model before writing it).

use std::sync::Mutex;
use zkattr_model::bundle::PublicStatement;
use zkattr_model::synth::{generate, SynthConfig};
use zkattr_model::{payout_report, Epoch, Settlement};
use zkattr_plonky2::epoch_prover::{AggregationCircuits, AggregationShape, AggregationStage};
use zkattr_plonky2::GoldilocksFamily;
use zkattr_verifier::bundle::verify_bundle;

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

    let dir = std::env::temp_dir().join(format!("zkattr-pipeline-chunked-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let manifest = circuits.prove_into(&epoch, &dir, &record).unwrap();
    assert_eq!(manifest.shape.key(), SHAPE.key());

    // One proof per chunk holding payees and one of the empty chunk, reported as proved.
    let with_payees = payees.div_ceil(4);
    let mut chunks: Vec<(usize, u64)> = stages
        .lock()
        .unwrap()
        .iter()
        .filter_map(|s| match s {
            AggregationStage::Chunk {
                index,
                payees,
                total,
                ..
            } => {
                assert_eq!(*total, with_payees + 1);
                Some((*index, *payees))
            }
            _ => None,
        })
        .collect();
    chunks.sort_unstable();
    let expected: Vec<(usize, u64)> = (0..=with_payees)
        .map(|i| (i, payees.saturating_sub(4 * i).min(4) as u64))
        .collect();
    assert_eq!(chunks, expected);
    assert!(
        with_payees + 1 < 8,
        "an empty-chunk proof used twice or more"
    );

    // The bundle verifies against the pinned key of this layout, with the reference's
    // statement and payouts.
    let verified = verify_bundle(&dir).unwrap();
    assert_eq!(verified.shape, SHAPE.key());
    let (_, _, report) = payout_report(&GoldilocksFamily, &epoch).unwrap();
    assert_eq!(verified.statement, PublicStatement::from_report(&report));
    assert_eq!(verified.n_payees, payees as u64);
    assert_eq!(manifest.payouts, report);
    let _ = std::fs::remove_dir_all(&dir);
}

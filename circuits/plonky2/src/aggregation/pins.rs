//! Pinned layouts: the layouts `zkattr prove` picks by default, and the verifying-key digests
//! `params/plonky2_vk_digests.json` pins for them (the shrink layer's key, which pins every
//! circuit below it).

use super::chunks::circuit::ChunkCircuit;
use super::chunks::final_layer::ChunkedFinalCircuit;
use super::error::EpochProverError;
use super::final_layer::FinalCircuit;
use super::last_layers::{
    build_chunk_circuit, build_shrink_circuit, verifier_data_bytes, LastCircuit,
};
use super::layout::{
    chunk_height_for, AggregationShape, DEFAULT_BATCH_CAP, MAX_PAYEE_CAPACITY, MIN_PAYEE_CAPACITY,
};
use super::merge::MergeCircuit;
use super::progress::{AggregationStage, Progress};
use super::shrink::ShrinkCircuit;
use super::tree::TreeCircuits;
use crate::aggregation::batch::BatchCircuit;
use crate::prover::verifying_key_digest;
use std::collections::BTreeMap;
use std::time::Instant;
use zkattr_model::types::SLOTS;

/// The verifying key bytes of `shape` (the shrink layer's verifier data, as
/// [`super::AggregationCircuits::verifying_key_bytes`] gives them), building its circuits one at a
/// time and keeping only the verifier data each next one is built over.
pub fn staged_verifying_key_bytes(
    shape: AggregationShape,
    progress: Progress<'_>,
) -> Result<Vec<u8>, EpochProverError> {
    shape.check()?;
    progress(&AggregationStage::Building { shape: shape.key() });
    let root = TreeCircuits::build(shape, progress).root_verifier_data();
    let chunk = shape
        .chunk_height
        .map(|height| build_chunk_circuit(height, progress).data.verifier_data());
    let over_chunks = chunk.as_ref().zip(shape.chunk_height);
    let last = LastCircuit::build(&root, &shape, over_chunks, progress)
        .data()
        .verifier_data();
    verifier_data_bytes(&build_shrink_circuit(&last, progress).data.verifier_data())
}

/// Merge levels of the pinned default layouts: batches of [`DEFAULT_BATCH_CAP`] under 9 levels
/// hold 2^20 queries, past a 1M-query epoch.
pub const PINNED_DEFAULT_LEVELS: u32 = 9;

/// The largest chunked payout list among the pinned default layouts: SPEC's largest, so every
/// layout `zkattr prove` picks with its default batches is pinned (a smaller value would leave
/// the larger lists provable but their bundles refused by `zkattr-verify` until
/// `ZKATTR_REGEN_VK=aggregation-missing` pins them).
pub const PINNED_CHUNKED_CAPACITY: usize = MAX_PAYEE_CAPACITY;

/// Every pinned layout `zkattr prove` picks by default for epochs above the single-proof
/// ladder: batches of [`DEFAULT_BATCH_CAP`], 0 to `max_levels` merge levels, every payee
/// capacity the final circuit holds, and every chunked capacity above it up to
/// [`PINNED_CHUNKED_CAPACITY`] at the levels an epoch paying that many payees can have (more
/// than half the capacity, at most [`SLOTS`] a query: 2 levels or more for 65,536, 6 or more
/// for 2^20); ordered by levels, then capacity.
pub fn default_layouts(max_levels: u32) -> Vec<AggregationShape> {
    let capacity_bits =
        MIN_PAYEE_CAPACITY.trailing_zeros()..=PINNED_CHUNKED_CAPACITY.trailing_zeros();
    (0..=max_levels)
        .flat_map(|levels| {
            capacity_bits.clone().filter_map(move |bits| {
                let payee_capacity = 1usize << bits;
                let fewest_queries = (payee_capacity / 2 + 1).div_ceil(SLOTS);
                let fewest_levels = fewest_queries
                    .div_ceil(DEFAULT_BATCH_CAP)
                    .next_power_of_two()
                    .trailing_zeros();
                let chunk_height = chunk_height_for(payee_capacity);
                (chunk_height.is_none() || levels >= fewest_levels).then_some(AggregationShape {
                    batch_height: DEFAULT_BATCH_CAP.trailing_zeros(),
                    levels,
                    payee_capacity,
                    chunk_height,
                })
            })
        })
        .collect()
}

/// `(key, digest)` of every [`default_layouts`] entry; see [`layout_digests`].
pub fn default_layout_digests(
    max_levels: u32,
    progress: Progress<'_>,
) -> Result<Vec<(String, String)>, EpochProverError> {
    layout_digests(&default_layouts(max_levels), progress)
}

/// `(key, digest)` of each of `shapes` with the default batch size, in order of merge levels.
/// Builds the batch circuit and each merge level once (a level's circuit depends only on the
/// levels below it), then one final circuit and its shrink layer per layout: the same
/// circuits [`super::AggregationCircuits::build`] makes for each of those shapes. Refuses a shape with
/// another batch size.
pub fn layout_digests(
    shapes: &[AggregationShape],
    progress: Progress<'_>,
) -> Result<Vec<(String, String)>, EpochProverError> {
    let batch_height = DEFAULT_BATCH_CAP.trailing_zeros();
    for shape in shapes {
        shape.check()?;
        if shape.batch_height != batch_height {
            return Err(EpochProverError::Layout(format!(
                "{}: only layouts with batches of {DEFAULT_BATCH_CAP} are built here",
                shape.key()
            )));
        }
    }
    if shapes.is_empty() {
        return Ok(Vec::new());
    }
    let mut shapes = shapes.to_vec();
    shapes.sort_by_key(|s| (s.levels, s.payee_capacity));
    let batch = BatchCircuit::build(batch_height);
    let mut child = batch.data.verifier_data();
    let mut child_levels = 0;
    let mut chunk_circuits = BTreeMap::new();
    let mut digests = Vec::new();
    for shape in shapes {
        while child_levels < shape.levels {
            child = MergeCircuit::build(&child, batch_height + child_levels)
                .data
                .verifier_data();
            child_levels += 1;
        }
        let start = Instant::now();
        let height = batch_height + shape.levels;
        let last = match shape.chunk_height {
            None => FinalCircuit::build(&child, height, shape.payee_capacity).data,
            Some(chunk_height) => {
                let chunk = chunk_circuits
                    .entry(chunk_height)
                    .or_insert_with(|| ChunkCircuit::build(chunk_height).data.verifier_data());
                let chunks = shape.payee_capacity >> chunk_height;
                ChunkedFinalCircuit::build(&child, height, chunk, chunk_height, chunks).data
            }
        };
        let shrink = ShrinkCircuit::build(&last.verifier_data());
        let bytes = verifier_data_bytes(&shrink.data.verifier_data())?;
        progress(&AggregationStage::Built {
            circuit: format!(
                "final layer (2^{} rows) and shrink layer of {}",
                last.common.degree_bits(),
                shape.key()
            ),
            degree_bits: shrink.data.common.degree_bits(),
            seconds: start.elapsed().as_secs_f64(),
        });
        digests.push((shape.key(), verifying_key_digest(&bytes)));
    }
    Ok(digests)
}

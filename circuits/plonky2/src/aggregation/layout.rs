//! The layout of an aggregation: batch height, merge levels, payout-list capacity and chunking
//! ([`AggregationShape`]), the limits that bound it, and its key (`agg-b2048-t6-p4096`), written
//! by [`fmt::Display`] and read back by [`FromStr`].

use super::chunks::native::MAX_CHUNK_HEIGHT;
use super::error::EpochProverError;
use crate::native::F;
use plonky2::field::types::Field64;
use std::fmt;
use std::str::FromStr;
use zkattr_model::bundle::{AggregationLayout, BundleShape};
use zkattr_model::Epoch;

/// Default largest batch: 2048 queries, a 2^16-row circuit (two batches proving at once peak
/// under 5 GB; batches of 2^17 rows need about twice that). Larger batches gain little per
/// query (rows, not fixed costs, dominate).
pub const DEFAULT_BATCH_CAP: usize = 2048;
/// The batch circuit's limit (its sums must stay below 2^63).
pub const MAX_BATCH: usize = 1 << 15;
/// The final layer's smallest payout list; smaller lists share its key.
pub const MIN_PAYEE_CAPACITY: usize = 8;
/// The largest payout list the final circuit holds itself (2^18 rows: its prover data, about
/// 1.4 GB, is held while batches prove when the circuits are kept as
/// [`super::AggregationCircuits`], and its proof takes about as much memory as two batch proofs
/// once they are done); a larger list is proved in chunk proofs of subtrees
/// ([`chunk_height_for`]) that the final layer verifies.
pub const MAX_WHOLE_LIST: usize = 1 << 15;
/// The largest payout list: SPEC's depth-20 payout tree.
pub const MAX_PAYEE_CAPACITY: usize = 1 << zkattr_model::types::PAYOUT_TREE_DEPTH;
/// The most chunk proofs a final layer verifies: SPEC's largest list in the largest chunks
/// (32: the final over them is 2^18 rows; over 64 chunks of 16,384 it would be 2^19, and its
/// proof the peak of a 2^20-payee job).
pub const MAX_CHUNKS: usize = MAX_PAYEE_CAPACITY >> MAX_CHUNK_HEIGHT;
/// The chunk height picked for lists up to 2^19 entries: 16,384 entries, a 2^17-row chunk
/// circuit whose proofs take about half the memory of the largest chunk's.
pub const SMALL_CHUNK_HEIGHT: u32 = 14;

/// The chunk height of a payout list of `payee_capacity` entries (`None`: the final circuit
/// holds it): [`SMALL_CHUNK_HEIGHT`], or higher where that would need more than [`MAX_CHUNKS`]
/// chunks (2^20 entries: chunks of 2^15). Two chunk proofs in flight set a chunked job's peak
/// memory, so the smaller chunk is kept wherever the final layer stays within 32 chunks.
pub fn chunk_height_for(payee_capacity: usize) -> Option<u32> {
    (payee_capacity > MAX_WHOLE_LIST).then(|| {
        let fewest = payee_capacity
            .trailing_zeros()
            .saturating_sub(MAX_CHUNKS.trailing_zeros());
        fewest.max(SMALL_CHUNK_HEIGHT)
    })
}

/// Refuses a total paid that the aggregation cannot prove: the final layer checks payouts in
/// the Goldilocks field, so the total must be below its modulus p (docs/aggregation.md,
/// Bounds). The service calls it when a job is submitted, [`super::AggregationCircuits::prepare`]
/// before proving.
pub fn check_total_paid(total_paid: u64) -> Result<(), EpochProverError> {
    if total_paid >= F::ORDER {
        return Err(EpochProverError::PaidAboveModulus(total_paid));
    }
    Ok(())
}

/// The circuits an epoch needs: batch height, merge levels above it, payout list capacity, and
/// whether the list is proved in chunk proofs (of `2^chunk_height` entries) or by the final
/// circuit itself (`None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AggregationShape {
    pub batch_height: u32,
    pub levels: u32,
    pub payee_capacity: usize,
    pub chunk_height: Option<u32>,
}

impl AggregationShape {
    /// Refuses a shape [`AggregationShape::for_epoch`] would never pick: batches above
    /// [`MAX_BATCH`], levels beyond the depth-32 log trees, a payee capacity that is not a
    /// power of two from [`MIN_PAYEE_CAPACITY`] to [`MAX_PAYEE_CAPACITY`].
    pub fn check(&self) -> Result<(), EpochProverError> {
        if self.batch_size() > MAX_BATCH {
            return Err(EpochProverError::BatchSize(self.batch_size()));
        }
        if self.batch_height.saturating_add(self.levels) > 32 {
            return Err(EpochProverError::Layout(format!(
                "{} levels over batches of {} exceed the depth-32 log trees",
                self.levels,
                self.batch_size()
            )));
        }
        if !self.payee_capacity.is_power_of_two()
            || !(MIN_PAYEE_CAPACITY..=MAX_PAYEE_CAPACITY).contains(&self.payee_capacity)
        {
            return Err(EpochProverError::Layout(format!(
                "payee capacity {} is not a power of two from {MIN_PAYEE_CAPACITY} to {MAX_PAYEE_CAPACITY}",
                self.payee_capacity
            )));
        }
        match self.chunk_height {
            None if self.payee_capacity > MAX_WHOLE_LIST => Err(EpochProverError::Layout(format!(
                "a payout list of {} entries must be proved in chunks (the final circuit holds at most {MAX_WHOLE_LIST})",
                self.payee_capacity
            ))),
            // Two to MAX_CHUNKS (32) chunks of whole slot-count groups, no larger than the
            // design's: the final layer verifies every chunk proof, so the count bounds its size
            // (a key naming 2^18 chunks must not reach key generation).
            Some(h)
                if !(2..=MAX_CHUNK_HEIGHT).contains(&h)
                    || !(2..=MAX_CHUNKS).contains(&(self.payee_capacity >> h)) =>
            {
                Err(EpochProverError::Layout(format!(
                    "chunks of 2^{h} entries for a payout list of {}: a chunk holds 4 to 2^{MAX_CHUNK_HEIGHT} entries and the list 2 to {MAX_CHUNKS} chunks",
                    self.payee_capacity
                )))
            }
            _ => Ok(()),
        }
    }

    /// Chunk proofs of the payout list (`None`: the final circuit holds it).
    pub fn chunk_count(&self) -> Option<usize> {
        self.chunk_height.map(|h| self.payee_capacity >> h)
    }

    /// The shape for `queries` queries and `payees` payees: batches as small as the epoch
    /// allows (the smallest power of two holding it) up to `batch_cap`, enough merge levels
    /// for all batches, and a payout list of the next power of two (at least 8), proved in
    /// chunks above [`MAX_WHOLE_LIST`] ([`chunk_height_for`]).
    pub fn for_epoch(
        queries: usize,
        payees: usize,
        batch_cap: usize,
    ) -> Result<Self, EpochProverError> {
        if !batch_cap.is_power_of_two() || batch_cap > MAX_BATCH {
            return Err(EpochProverError::BatchSize(batch_cap));
        }
        if queries as u64 > 1 << 32 {
            return Err(EpochProverError::TooManyQueries(queries));
        }
        if payees > MAX_PAYEE_CAPACITY {
            return Err(EpochProverError::TooManyPayees(payees));
        }
        let batch = queries.max(1).next_power_of_two().min(batch_cap);
        let payee_capacity = payees.next_power_of_two().max(MIN_PAYEE_CAPACITY);
        let mut shape = AggregationShape {
            batch_height: batch.trailing_zeros(),
            levels: 0,
            payee_capacity,
            chunk_height: chunk_height_for(payee_capacity),
        };
        shape.levels = shape
            .batch_count(queries)
            .next_power_of_two()
            .trailing_zeros();
        Ok(shape)
    }

    pub fn batch_size(&self) -> usize {
        1 << self.batch_height
    }

    /// The root summary's subtree height: the batch height plus the merge levels.
    pub fn root_height(&self) -> u32 {
        self.batch_height + self.levels
    }

    /// Batch proofs for an epoch of `queries` queries (an empty epoch still has one).
    pub fn batch_count(&self, queries: usize) -> usize {
        queries.div_ceil(self.batch_size()).max(1)
    }

    /// Merge proofs for an epoch of `queries` queries: at each level, one per pair of nodes
    /// below (an odd last node is merged with the empty right child).
    pub fn merge_count(&self, queries: usize) -> usize {
        let batches = self.batch_count(queries);
        (1..=self.levels)
            .map(|level| batches.div_ceil(1 << level))
            .sum()
    }

    /// The shape recorded in the bundle; its key (`agg-b4-t2-p8`) names the pinned digest.
    pub fn bundle_shape(&self) -> BundleShape {
        BundleShape {
            queries: (self.batch_size() as u64) << self.levels,
            payees: self.payee_capacity as u64,
            aggregation: Some(AggregationLayout {
                batch: self.batch_size() as u64,
                levels: self.levels,
                chunk: self.chunk_height.map(|h| 1 << h),
            }),
        }
    }

    /// The layout's key, as bundles and `params/plonky2_vk_digests.json` name it.
    pub fn key(&self) -> String {
        self.bundle_shape().key()
    }
}

impl fmt::Display for AggregationShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

impl FromStr for AggregationShape {
    type Err = EpochProverError;

    /// Reads a key `agg-b{batch}-t{levels}-p{payees}`, with `-c{chunk}` when the payout list is
    /// proved in chunks. Refuses a layout [`AggregationShape::check`] refuses, and any spelling
    /// but the one [`fmt::Display`] writes (no leading zeros, no sign), so one layout has one key.
    fn from_str(key: &str) -> Result<Self, Self::Err> {
        let malformed = || {
            EpochProverError::Layout(format!(
                "{key:?} is not an aggregation layout key (agg-b{{batch}}-t{{levels}}-p{{payees}}, with -c{{chunk}} for a chunked list)"
            ))
        };
        let rest = key.strip_prefix("agg-b").ok_or_else(malformed)?;
        let (batch, rest) = rest.split_once("-t").ok_or_else(malformed)?;
        let (levels, rest) = rest.split_once("-p").ok_or_else(malformed)?;
        let (payees, chunk) = match rest.split_once("-c") {
            Some((payees, chunk)) => (payees, Some(chunk)),
            None => (rest, None),
        };
        let height = |digits: &str| {
            digits
                .parse::<usize>()
                .ok()
                .and_then(usize::checked_ilog2)
                .ok_or_else(malformed)
        };
        let shape = AggregationShape {
            batch_height: height(batch)?,
            levels: levels.parse().map_err(|_| malformed())?,
            payee_capacity: payees.parse().map_err(|_| malformed())?,
            chunk_height: chunk.map(height).transpose()?,
        };
        // Checked before `key`, which shifts by `levels`.
        shape.check()?;
        if shape.key() != key {
            return Err(EpochProverError::Layout(format!(
                "{key:?} is not spelled as its layout's key {:?}",
                shape.key()
            )));
        }
        Ok(shape)
    }
}

/// The shape `epoch` needs with batches of at most `batch_cap` queries.
pub fn shape_for_epoch(
    epoch: &Epoch,
    batch_cap: usize,
) -> Result<AggregationShape, EpochProverError> {
    let settlement = zkattr_model::Settlement::compute(epoch)?;
    // Refused here, before minutes of circuit building, not only in `prepare`.
    check_total_paid(settlement.total_paid)?;
    AggregationShape::for_epoch(epoch.queries.len(), settlement.payouts.len(), batch_cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_keys_round_trip() {
        for shape in [
            AggregationShape::for_epoch(1, 1, 4).unwrap(),
            AggregationShape::for_epoch(100_000, 4_000, DEFAULT_BATCH_CAP).unwrap(),
            AggregationShape::for_epoch(300_000, MAX_PAYEE_CAPACITY, DEFAULT_BATCH_CAP).unwrap(),
            AggregationShape {
                batch_height: 2,
                levels: 2,
                payee_capacity: 32,
                chunk_height: Some(2),
            },
        ] {
            let key = shape.to_string();
            assert_eq!(key, shape.key());
            assert_eq!(key.parse::<AggregationShape>().unwrap(), shape, "{key}");
        }
        assert_eq!(
            "agg-b2048-t6-p1048576-c32768"
                .parse::<AggregationShape>()
                .unwrap()
                .to_string(),
            "agg-b2048-t6-p1048576-c32768"
        );
    }

    #[test]
    fn layout_keys_parse_only_in_their_canonical_spelling() {
        let shape: AggregationShape = "agg-b2048-t6-p4096".parse().expect("a layout");
        assert_eq!(
            (shape.batch_size(), shape.levels, shape.payee_capacity),
            (2048, 6, 4096)
        );
        for bad in [
            "agg-b2048-t6",
            "agg-b2047-t6-p4096",
            "agg-b2048-t06-p4096",
            "agg-b0-t1-p8",
            "agg-b2048-t-1-p8",
            "agg-bx-t1-p8",
            "agg-b2048-t22-p8",
            "agg-b2048-t99-p8",
            "agg-b2048-t1-p4",
            "agg-b2048-t1-p24",
            "agg-b65536-t0-p8",
            "16x16",
            "",
        ] {
            assert!(bad.parse::<AggregationShape>().is_err(), "{bad}");
        }
        // The capacity bounds follow this crate's constants.
        let largest_whole: AggregationShape =
            format!("agg-b2048-t1-p{MAX_WHOLE_LIST}").parse().unwrap();
        assert_eq!(largest_whole.payee_capacity, MAX_WHOLE_LIST);
        let chunk = 1 << MAX_CHUNK_HEIGHT;
        let largest: AggregationShape = format!("agg-b2048-t6-p{MAX_PAYEE_CAPACITY}-c{chunk}")
            .parse()
            .unwrap();
        assert_eq!(
            (largest.payee_capacity, largest.chunk_height),
            (MAX_PAYEE_CAPACITY, Some(MAX_CHUNK_HEIGHT))
        );
        for bad in [
            format!("agg-b2048-t6-p{}-c{chunk}", 2 * MAX_PAYEE_CAPACITY),
            // A list above the final circuit's own needs chunks; chunks of a power of two.
            format!("agg-b2048-t6-p{}", 2 * MAX_WHOLE_LIST),
            format!("agg-b2048-t6-p{}-c3", 2 * MAX_WHOLE_LIST),
            format!("agg-b2048-t6-p{}-c{}", 2 * MAX_WHOLE_LIST, 2 * chunk),
            format!("agg-b2048-t6-p65536-c{chunk}-c{chunk}"),
            // 2^18 chunk proofs in one final layer: refused before any key generation.
            format!("agg-b4-t0-p{MAX_PAYEE_CAPACITY}-c4"),
            format!("agg-b2048-t{}-p8", u32::MAX),
        ] {
            assert!(bad.parse::<AggregationShape>().is_err(), "{bad}");
        }
    }
}

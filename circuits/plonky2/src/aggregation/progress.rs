//! What the pipeline reports while it runs ([`AggregationStage`], through a [`Progress`]
//! callback), and the clock that times its proving.

use super::checkpoint::CheckpointNode;
use crate::native::F;
use crate::prover::Config;
use crate::statement::D;
use plonky2::plonk::circuit_data::CircuitData;
use std::fmt;
use std::time::{Duration, Instant};

/// What the pipeline reports while it runs (from several threads).
#[derive(Clone, Debug, PartialEq)]
pub enum AggregationStage {
    /// Key generation for the circuits of `shape` began (all of them for
    /// [`super::AggregationCircuits::build`]; a staged run ([`super::Circuits::Staged`]) builds
    /// the later layers when it reaches them, each reported [`AggregationStage::Built`]).
    Building { shape: String },
    /// One circuit is ready.
    Built {
        circuit: String,
        degree_bits: usize,
        seconds: f64,
    },
    /// Batch `index` is proved; `done` of `total` batches so far. `left`: an estimate of the
    /// seconds until the last batch and its merges are proved, from this run's pace so far
    /// (wall time per batch proved in this run, merges included); `None` until two batches
    /// of this run are proved, and after the last.
    Batch {
        index: u64,
        done: usize,
        total: usize,
        seconds: f64,
        left: Option<f64>,
    },
    /// A merge at `level` (1 = over batches) is proved in `seconds` (its own proof, not its
    /// children's); `done` of `total` merges so far.
    Merge {
        level: u32,
        index: u64,
        done: usize,
        total: usize,
        seconds: f64,
    },
    /// The proof of the node at (`level`, `index`) was taken from a checkpoint of an earlier
    /// run (level 0: a batch); it stands for `batches` batches and `merges` merges, counted as
    /// done.
    Restored {
        level: u32,
        index: u64,
        batches: usize,
        merges: usize,
    },
    /// A finished proof could not be saved as a checkpoint (proving goes on; a restart would
    /// prove that node again).
    CheckpointNotSaved {
        node: CheckpointNode,
        reason: String,
    },
    /// A chunk proof of the payout list is proved: chunk `index` (with `payees` payees; a chunk
    /// without payees stands for every empty chunk after the list); `done` of `total` chunk
    /// proofs so far.
    Chunk {
        index: usize,
        payees: u64,
        done: usize,
        total: usize,
        seconds: f64,
    },
    /// Chunk proof `index` of the payout list was taken from a checkpoint of an earlier run;
    /// `done` of `total` chunk proofs so far.
    ChunkRestored {
        index: usize,
        done: usize,
        total: usize,
    },
    /// The final layer is proved.
    Final { seconds: f64, proof_bytes: usize },
    /// The shrink layer over the final proof is proved: the bundle's proof.
    Shrunk { seconds: f64, proof_bytes: usize },
}

/// Seconds as a person reads a wait: "40 s", "25 min", "3.4 h".
struct Wait(f64);

impl fmt::Display for Wait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0.max(0.0);
        if seconds < 90.0 {
            write!(f, "{seconds:.0} s")
        } else if seconds < 90.0 * 60.0 {
            write!(f, "{:.0} min", seconds / 60.0)
        } else {
            write!(f, "{:.1} h", seconds / 3600.0)
        }
    }
}

impl fmt::Display for AggregationStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AggregationStage::Building { shape } => {
                write!(f, "building the aggregation circuits {shape}")
            }
            AggregationStage::Built {
                circuit,
                degree_bits,
                seconds,
            } => write!(
                f,
                "{circuit} circuit ready: 2^{degree_bits} rows ({seconds:.1} s)"
            ),
            AggregationStage::Batch {
                index,
                done,
                total,
                seconds,
                left,
            } => {
                write!(
                    f,
                    "batch {index} proved in {seconds:.1} s ({done}/{total} batches"
                )?;
                match left {
                    Some(left) => write!(f, "; about {} left)", Wait(*left)),
                    None => write!(f, ")"),
                }
            }
            AggregationStage::Merge {
                level,
                index,
                done,
                total,
                seconds,
            } => write!(
                f,
                "merge {index} at level {level} proved in {seconds:.1} s ({done}/{total} merges)"
            ),
            AggregationStage::Restored {
                level: 0, index, ..
            } => write!(f, "batch {index} restored from a checkpoint"),
            AggregationStage::Restored {
                level,
                index,
                batches,
                merges,
            } => write!(
                f,
                "merge {index} at level {level} restored from a checkpoint ({batches} batches, {merges} merges)"
            ),
            AggregationStage::Chunk {
                index,
                payees,
                done,
                total,
                seconds,
            } => write!(
                f,
                "payout-list chunk {index} ({payees} payees) proved in {seconds:.1} s ({done}/{total} chunk proofs)"
            ),
            AggregationStage::ChunkRestored { index, done, total } => write!(
                f,
                "payout-list chunk {index} restored from a checkpoint ({done}/{total} chunk proofs)"
            ),
            AggregationStage::CheckpointNotSaved { node, reason } => write!(
                f,
                "warning: the proof of {node} was not saved as a checkpoint: {reason}"
            ),
            AggregationStage::Final {
                seconds,
                proof_bytes,
            } => write!(
                f,
                "final layer proved in {seconds:.1} s ({proof_bytes} bytes)"
            ),
            AggregationStage::Shrunk {
                seconds,
                proof_bytes,
            } => write!(
                f,
                "shrink layer proved in {seconds:.1} s ({proof_bytes} bytes, the bundle's proof)"
            ),
        }
    }
}

/// A progress callback; called from the rayon workers.
pub type Progress<'a> = &'a (dyn Fn(&AggregationStage) + Sync);

/// Reports a circuit ready: its name, size and build time.
pub(crate) fn report_built(
    progress: Progress<'_>,
    circuit: String,
    data: &CircuitData<F, Config, D>,
    start: Instant,
) {
    progress(&AggregationStage::Built {
        circuit,
        degree_bits: data.common.degree_bits(),
        seconds: start.elapsed().as_secs_f64(),
    });
}

/// Wall time spent proving an epoch: from its first batch to its bundle, less the circuits
/// built on the way (a staged run builds each layer when it is reached).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ProvingClock {
    started: Instant,
    building: Duration,
}

impl ProvingClock {
    pub(crate) fn from(started: Instant) -> Self {
        ProvingClock {
            started,
            building: Duration::ZERO,
        }
    }

    /// Builds with `build`, its time not counted as proving.
    pub(crate) fn building<T>(&mut self, build: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let built = build();
        self.building += start.elapsed();
        built
    }

    pub(crate) fn proving_seconds(&self) -> f64 {
        self.started
            .elapsed()
            .saturating_sub(self.building)
            .as_secs_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_lines_carry_the_estimate_in_readable_units() {
        let line = |left| {
            AggregationStage::Batch {
                index: 17,
                done: 18,
                total: 49,
                seconds: 50.26,
                left,
            }
            .to_string()
        };
        assert_eq!(line(None), "batch 17 proved in 50.3 s (18/49 batches)");
        assert_eq!(
            line(Some(40.2)),
            "batch 17 proved in 50.3 s (18/49 batches; about 40 s left)"
        );
        assert_eq!(
            line(Some(1_560.0)),
            "batch 17 proved in 50.3 s (18/49 batches; about 26 min left)"
        );
        assert_eq!(
            line(Some(15_548.0)),
            "batch 17 proved in 50.3 s (18/49 batches; about 4.3 h left)"
        );
    }
}

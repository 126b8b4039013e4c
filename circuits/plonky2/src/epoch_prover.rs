//! The aggregation pipeline (docs/aggregation.md): an epoch of any size proved as batch proofs
//! (in parallel with rayon), merged pairwise by recursion as soon as both children exist, and
//! closed by the final layer, whose proof carries SPEC's 22 public inputs and is written as a
//! bundle `zkattr-verify verify DIR` checks against the final circuit's pinned key digest.
//!
//! Memory: the epoch is held once; each batch's witness lives only while its proof is made,
//! and the depth-first merge order keeps at most about `levels` proofs per worker waiting.

use crate::aggregate::{
    listed_payees, listed_slot_counts, AggregateError, BatchSummary, Challenges, ListedPayee,
};
use crate::batch::BatchCircuit;
use crate::chunked_final::ChunkedFinalCircuit;
use crate::final_layer::FinalCircuit;
use crate::list_chunk::ChunkCircuit;
use crate::merge::MergeCircuit;
use crate::native::F;
use crate::payout_chunks::{chunk_list, MAX_CHUNK_HEIGHT};
use crate::prover::{verifying_key_digest, Config};
use crate::shrink::ShrinkCircuit;
use crate::statement::{StatementPublicInputs, D};
use crate::GoldilocksFamily;
use plonky2::field::types::Field64;
use plonky2::plonk::circuit_data::{CircuitData, VerifierCircuitData};
use plonky2::plonk::proof::ProofWithPublicInputs;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;
use thiserror::Error;
use zkattr_model::bundle::{
    AggregationLayout, BundleManifest, BundleShape, PublicStatement, BUNDLE_VERSION, MANIFEST,
};
use zkattr_model::types::SLOTS;
use zkattr_model::{payout_report, Epoch, PayoutReport, StatementError};
use zkattr_plonky2_gates::AttributionGateSerializer;

type Proof = ProofWithPublicInputs<F, Config, D>;

/// Default largest batch: 2048 queries, 2^16 rows since the division and payout-terms gates
/// (stop 24: a pair of batches proving at once 65 s on a slow day, a whole 4,096-query run
/// peaking at 4.7 GB; at 2^17 rows two batches stayed under 10 GB, 11.2 GiB with a
/// 32,768-payee final circuit held meanwhile). Larger batches gain little per
/// query (rows, not fixed costs, dominate).
pub const DEFAULT_BATCH_CAP: usize = 2048;
/// The batch circuit's limit (its sums must stay below 2^63).
pub const MAX_BATCH: usize = 1 << 15;
/// The final layer's smallest payout list; smaller lists share its key.
pub const MIN_PAYEE_CAPACITY: usize = 8;
/// The largest payout list the final circuit holds itself (2^18 rows: its prover data, about
/// 1.4 GB, is held while batches prove when the circuits are kept as [`AggregationCircuits`],
/// and its proof takes about as much memory as two batch proofs once they are done); a larger
/// list is proved in chunk proofs of subtrees ([`chunk_height_for`]) that the final layer
/// verifies.
pub const MAX_WHOLE_LIST: usize = 1 << 15;
/// The largest payout list: SPEC's depth-20 payout tree.
pub const MAX_PAYEE_CAPACITY: usize = 1 << zkattr_model::types::PAYOUT_TREE_DEPTH;
/// The most chunk proofs a final layer verifies: SPEC's largest list in the largest chunks
/// (32: the final over them is 2^18 rows; over 64 chunks of 16,384 it was 2^19, and its proof
/// the peak of a 2^20-payee job).
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

/// Why an epoch was not proved by the pipeline. Each names what is wrong.
#[derive(Debug, Error)]
pub enum EpochProverError {
    #[error("batch size {0} is not a power of two between 1 and {MAX_BATCH}")]
    BatchSize(usize),
    #[error("{0} queries exceed the depth-32 log trees")]
    TooManyQueries(usize),
    #[error("{0} payees exceed the depth-20 payout tree ({MAX_PAYEE_CAPACITY})")]
    TooManyPayees(usize),
    #[error("total paid {0} is at least the Goldilocks modulus 2^64 - 2^32 + 1: the plonky2 aggregation checks payouts in that field and cannot prove it (SPEC allows totals up to 2^64 - 1): split the epoch so each pays less")]
    PaidAboveModulus(u64),
    #[error("the epoch is not valid: {0}")]
    Epoch(#[from] StatementError),
    #[error("the payout challenges: {0}")]
    Challenges(#[from] AggregateError),
    #[error("aggregation layout: {0}")]
    Layout(String),
    #[error(
        "this epoch needs the aggregation shape {needed}, but the circuits were built for {built}"
    )]
    ShapeMismatch { needed: String, built: String },
    #[error("proving {stage}: {message}")]
    Proving { stage: String, message: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot use the checkpoint folder {path}: {source}")]
    CheckpointDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cancelled")]
    Cancelled,
    #[error("internal error: {0}")]
    Internal(String),
}

fn proving(stage: impl Into<String>) -> impl FnOnce(anyhow::Error) -> EpochProverError {
    move |e| EpochProverError::Proving {
        stage: stage.into(),
        message: format!("{e:#}"),
    }
}

/// Refuses a total paid that the aggregation cannot prove: the final layer checks payouts in
/// the Goldilocks field, so the total must be below its modulus p (docs/aggregation.md,
/// Bounds). The service calls it when a job is submitted, [`AggregationCircuits::prepare`]
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

    pub fn key(&self) -> String {
        self.bundle_shape().key()
    }
}

/// What the pipeline reports while it runs (from several threads).
#[derive(Clone, Debug, PartialEq)]
pub enum AggregationStage {
    /// Key generation for the circuits of `shape` began (all of them for
    /// [`AggregationCircuits::build`]; [`prove_into_staged`] builds the later layers when it
    /// reaches them, each reported [`AggregationStage::Built`]).
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
    /// The size-tuned layer over the final proof is proved: the bundle's proof.
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
                "size-tuned layer proved in {seconds:.1} s ({proof_bytes} bytes, the bundle's proof)"
            ),
        }
    }
}

/// A progress callback; called from the rayon workers.
pub type Progress<'a> = &'a (dyn Fn(&AggregationStage) + Sync);

/// A proof a run can keep as a checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckpointNode {
    /// The batch (level 0) or merge at (`level`, `index`) of the aggregation tree.
    Tree { level: u32, index: u64 },
    /// Chunk proof `index` of a payout list proved in chunks.
    Chunk { index: usize },
}

impl fmt::Display for CheckpointNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckpointNode::Tree { level: 0, index } => write!(f, "batch {index}"),
            CheckpointNode::Tree { level, index } => write!(f, "merge {index} at level {level}"),
            CheckpointNode::Chunk { index } => write!(f, "payout-list chunk {index}"),
        }
    }
}

/// Where a run keeps the proofs of its finished batches, merges and payout-list chunks, so
/// that a run stopped midway (a crash, a restart of the service) resumes from them instead of
/// from scratch. Called from the rayon workers. A proof read back is checked before use (it
/// must verify against this run's circuit and carry the public inputs this node of this epoch
/// has); anything else is ignored and the node proved again.
pub trait Checkpoints: Sync {
    /// The serialised proof of `node` kept by an earlier run, if any.
    fn load(&self, node: CheckpointNode) -> Option<Vec<u8>>;
    /// Keeps the serialised proof of `node`.
    fn store(&self, node: CheckpointNode, proof: &[u8]) -> Result<(), String>;
}

/// No checkpoints: every node is proved.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoCheckpoints;

impl Checkpoints for NoCheckpoints {
    fn load(&self, _node: CheckpointNode) -> Option<Vec<u8>> {
        None
    }

    fn store(&self, _node: CheckpointNode, _proof: &[u8]) -> Result<(), String> {
        Ok(())
    }
}

/// How a run resumes and stops: where it keeps its finished proofs (and finds an earlier run's),
/// and the flag its owner sets to stop it before its next proof.
#[derive(Clone, Copy)]
pub struct Resume<'a> {
    pub checkpoints: &'a dyn Checkpoints,
    pub cancel: &'a AtomicBool,
}

impl Resume<'static> {
    /// No checkpoints, never cancelled.
    pub fn none() -> Self {
        static NEVER: AtomicBool = AtomicBool::new(false);
        Resume {
            checkpoints: &NoCheckpoints,
            cancel: &NEVER,
        }
    }
}

impl fmt::Debug for Resume<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resume")
            .field("cancel", &self.cancel)
            .finish_non_exhaustive()
    }
}

/// Checkpoints in a folder: one file per node (`L{level}-{index}.proof` for the tree,
/// `C{index}.proof` for a payout-list chunk; written to a temporary name and renamed, so a crash never leaves half a proof), and an `identity` file naming the
/// epoch and layout they belong to.
#[derive(Debug)]
pub struct CheckpointDir {
    dir: std::path::PathBuf,
}

impl CheckpointDir {
    const IDENTITY: &'static str = "identity";

    /// Opens (creating) `dir` for the run named `identity` (from
    /// [`AggregationCircuits::checkpoint_identity`]). Proofs of another run found there are
    /// deleted; a folder that holds anything but checkpoints is refused, so a mistyped path
    /// never loses files. Returns the folder and how many proofs of this run it holds.
    pub fn open(dir: &Path, identity: &str) -> std::io::Result<(Self, usize)> {
        create_private_dir(dir)?;
        let identity_path = dir.join(Self::IDENTITY);
        let found = std::fs::read_to_string(&identity_path).ok();
        let mut ours = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name == Self::IDENTITY {
                continue;
            }
            if !Self::is_checkpoint_file(&name) || found.is_none() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    format!(
                        "{} is not a checkpoint folder (it holds {name}); give an empty or new folder",
                        dir.display()
                    ),
                ));
            }
            ours.push(entry.path());
        }
        if found.as_deref() == Some(identity) {
            let kept = ours
                .iter()
                .filter(|p| p.extension().is_some_and(|e| e == "proof"))
                .count();
            return Ok((
                CheckpointDir {
                    dir: dir.to_path_buf(),
                },
                kept,
            ));
        }
        for path in ours {
            std::fs::remove_file(path)?;
        }
        write_private(&identity_path, identity.as_bytes())?;
        Ok((
            CheckpointDir {
                dir: dir.to_path_buf(),
            },
            0,
        ))
    }

    /// Deletes the checkpoint files in `dir` and then the folder if nothing else is left in it.
    pub fn clear(dir: &Path) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name == Self::IDENTITY || Self::is_checkpoint_file(&name) {
                std::fs::remove_file(entry.path())?;
            }
        }
        match std::fs::remove_dir(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::DirectoryNotEmpty => Err(e),
            _ => Ok(()),
        }
    }

    /// `L{level}-{index}.proof`, `C{index}.proof` or their temporary `.tmp`.
    fn is_checkpoint_file(name: &str) -> bool {
        let Some(stem) = name
            .strip_suffix(".proof")
            .or_else(|| name.strip_suffix(".tmp"))
        else {
            return false;
        };
        if let Some(index) = stem.strip_prefix('C') {
            return index.parse::<usize>().is_ok();
        }
        let Some((level, index)) = stem.strip_prefix('L').and_then(|s| s.split_once('-')) else {
            return false;
        };
        level.parse::<u32>().is_ok() && index.parse::<u64>().is_ok()
    }

    fn path(&self, node: CheckpointNode) -> std::path::PathBuf {
        self.dir.join(match node {
            CheckpointNode::Tree { level, index } => format!("L{level}-{index}.proof"),
            CheckpointNode::Chunk { index } => format!("C{index}.proof"),
        })
    }
}

impl Checkpoints for CheckpointDir {
    fn load(&self, node: CheckpointNode) -> Option<Vec<u8>> {
        std::fs::read(self.path(node)).ok()
    }

    fn store(&self, node: CheckpointNode, proof: &[u8]) -> Result<(), String> {
        let path = self.path(node);
        let tmp = path.with_extension("tmp");
        write_private(&tmp, proof)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// Creates `dir` and its missing parents readable by the owner only (Unix: 0700; an existing
/// folder keeps its mode). Batch, merge and chunk proofs have no zero knowledge, so a
/// checkpoint tells as much about the epoch as the epoch file itself.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Writes `bytes` to `path`, a new file readable by the owner only (Unix: 0600).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}

/// Every circuit of one [`AggregationShape`], built once and reused for every batch and merge
/// (and for further epochs of the same shape). A one-shot run that need not keep them proves
/// with [`prove_into_staged`] instead, which holds one stage's circuits at a time.
#[derive(Debug)]
pub struct AggregationCircuits {
    pub shape: AggregationShape,
    pub tree: TreeCircuits,
    pub last: FinalLayer,
    /// The size-tuned layer over the final proof; its proof and key are the bundle's.
    pub shrink: ShrinkCircuit,
}

/// The circuits under the root summary: the batch circuit and one merge circuit per level.
#[derive(Debug)]
pub struct TreeCircuits {
    pub shape: AggregationShape,
    pub batch: BatchCircuit,
    /// `merges[l]` merges two proofs of level `l` (0: batches) into level `l + 1`.
    pub merges: Vec<MergeCircuit>,
}

/// The final layer of a shape: the payout-list chunk circuit when the list is proved in
/// chunks, and the final circuit.
#[derive(Debug)]
pub struct FinalLayer {
    pub chunk: Option<Box<ChunkCircuit>>,
    pub last: LastCircuit,
}

/// The final circuit: over the whole payout list, or over chunk proofs of it.
#[derive(Debug)]
pub enum LastCircuit {
    Whole(Box<FinalCircuit>),
    OverChunks(Box<ChunkedFinalCircuit>),
}

/// Reports a circuit ready: its name, size and build time.
fn report_built(
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

fn build_chunk_circuit(chunk_height: u32, progress: Progress<'_>) -> ChunkCircuit {
    let start = Instant::now();
    let chunk = ChunkCircuit::build(chunk_height);
    report_built(
        progress,
        format!("payout-list chunk ({} entries)", chunk.capacity()),
        &chunk.data,
        start,
    );
    chunk
}

fn build_shrink_circuit(
    last: &VerifierCircuitData<F, Config, D>,
    progress: Progress<'_>,
) -> ShrinkCircuit {
    let start = Instant::now();
    let shrink = ShrinkCircuit::build(last);
    report_built(progress, "size-tuned layer".into(), &shrink.data, start);
    shrink
}

impl LastCircuit {
    /// Builds the final circuit of `shape` over root proofs of `root`, and over proofs of the
    /// chunk circuit `over_chunks` (its verifier data and chunk height) if the list is chunked.
    fn build(
        root: &VerifierCircuitData<F, Config, D>,
        shape: &AggregationShape,
        over_chunks: Option<(&VerifierCircuitData<F, Config, D>, u32)>,
        progress: Progress<'_>,
    ) -> Self {
        let start = Instant::now();
        let capacity = shape.payee_capacity;
        match over_chunks {
            None => {
                let last = FinalCircuit::build(root, shape.root_height(), capacity);
                report_built(
                    progress,
                    format!("final ({capacity} payees)"),
                    &last.data,
                    start,
                );
                LastCircuit::Whole(Box::new(last))
            }
            Some((chunk, chunk_height)) => {
                let chunks = capacity >> chunk_height;
                let last = ChunkedFinalCircuit::build(
                    root,
                    shape.root_height(),
                    chunk,
                    chunk_height,
                    chunks,
                );
                report_built(
                    progress,
                    format!("final over {chunks} chunks ({capacity} payees)"),
                    &last.data,
                    start,
                );
                LastCircuit::OverChunks(Box::new(last))
            }
        }
    }

    /// The final circuit (the size-tuned layer's inner circuit).
    pub fn data(&self) -> &CircuitData<F, Config, D> {
        match self {
            LastCircuit::Whole(last) => &last.data,
            LastCircuit::OverChunks(last) => &last.data,
        }
    }

    /// The final proof over `root` and the payout list (`chunk_proofs` in list order when the
    /// list is chunked), unless `cancel` is set first; reported with its own proving time.
    fn prove(
        &self,
        root: &Proof,
        payees: &[ListedPayee],
        chunk_proofs: &[Proof],
        cancel: &AtomicBool,
        progress: Progress<'_>,
    ) -> Result<Proof, EpochProverError> {
        stop_if_cancelled(cancel)?;
        let start = Instant::now();
        let proof = match self {
            LastCircuit::Whole(last) => {
                last.prove(root, payees).map_err(proving("the final layer"))
            }
            LastCircuit::OverChunks(last) => {
                let in_order: Vec<&Proof> = chunk_proofs.iter().collect();
                last.prove(root, &in_order)
                    .map_err(proving("the final layer over the chunks"))
            }
        }?;
        progress(&AggregationStage::Final {
            seconds: start.elapsed().as_secs_f64(),
            proof_bytes: proof.to_bytes().len(),
        });
        Ok(proof)
    }
}

impl FinalLayer {
    /// Builds the chunk circuit (if `shape` chunks its list), then the final circuit over root
    /// proofs of `root`.
    fn build(
        root: &VerifierCircuitData<F, Config, D>,
        shape: &AggregationShape,
        progress: Progress<'_>,
    ) -> Self {
        let chunk = shape
            .chunk_height
            .map(|height| Box::new(build_chunk_circuit(height, progress)));
        let chunk_data = chunk.as_ref().map(|c| c.data.verifier_data());
        let over_chunks = chunk_data.as_ref().zip(shape.chunk_height);
        let last = LastCircuit::build(root, shape, over_chunks, progress);
        FinalLayer { chunk, last }
    }

    /// The final circuit (the size-tuned layer's inner circuit).
    pub fn data(&self) -> &CircuitData<F, Config, D> {
        self.last.data()
    }
}

/// What the native pass computes before proving.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The payout table written into the bundle.
    pub report: PayoutReport,
    pub challenges: Challenges,
    /// The payout list with slot counts the final layer witnesses.
    pub payees: Vec<ListedPayee>,
    /// SPEC's public inputs as the reference model computes them.
    pub expected: Vec<F>,
}

impl Prepared {
    /// The native pass before proving: settlement, commitments, payout table, challenges and
    /// the payout list; refuses an epoch `shape` does not fit.
    pub fn new(shape: &AggregationShape, epoch: &Epoch) -> Result<Self, EpochProverError> {
        let (settlement, commitments, report) = payout_report(&GoldilocksFamily, epoch)?;
        check_shape(shape, epoch, settlement.payouts.len())?;
        check_total_paid(settlement.total_paid)?;
        let payees = listed_payees(epoch, &settlement);
        let challenges =
            Challenges::derive(&epoch.params, &commitments, &listed_slot_counts(&payees))?;
        let expected = StatementPublicInputs::new(epoch, &settlement, &commitments).to_fields();
        Ok(Prepared {
            report,
            challenges,
            payees,
            expected,
        })
    }
}

/// Fails unless `epoch` (paying `payees` payees) needs exactly `shape`.
fn check_shape(
    shape: &AggregationShape,
    epoch: &Epoch,
    payees: usize,
) -> Result<(), EpochProverError> {
    let mut needed = AggregationShape::for_epoch(epoch.queries.len(), payees, shape.batch_size())?;
    // A list the final circuit could hold may also be proved in chunks (tests prove small
    // chunked layouts so).
    if needed.chunk_height.is_none() {
        needed.chunk_height = shape.chunk_height;
    }
    if needed != *shape {
        return Err(EpochProverError::ShapeMismatch {
            needed: needed.key(),
            built: shape.key(),
        });
    }
    Ok(())
}

/// Names a run for [`CheckpointDir::open`]: the layout and the epoch's challenges, a hash of
/// its three commitments and slot counts (so of every log record and of the payout list).
pub fn checkpoint_identity(shape: &AggregationShape, prepared: &Prepared) -> String {
    use plonky2::field::types::PrimeField64;
    let challenges: Vec<String> = prepared
        .challenges
        .to_fields()
        .iter()
        .map(|f| format!("{:016x}", f.to_canonical_u64()))
        .collect();
    format!(
        "zkattr plonky2 checkpoints v1\nlayout {}\nchallenges {}\n",
        shape.key(),
        challenges.join(" ")
    )
}

/// The start of a run of `shape` writing its bundle into `out`: the checkpoint folder's place
/// checked (not inside the bundle folder nor around it: clearing one would take the other),
/// then the native pass, then the folder opened under the run's identity.
fn start_run(
    shape: &AggregationShape,
    epoch: &Epoch,
    out: &Path,
    checkpoints: Option<&Path>,
) -> Result<(Prepared, Option<CheckpointDir>), EpochProverError> {
    let folder_error = |dir: &Path| {
        let path = dir.display().to_string();
        move |source| EpochProverError::CheckpointDir { path, source }
    };
    if let Some(dir) = checkpoints.filter(|dir| out.starts_with(dir) || dir.starts_with(out)) {
        return Err(folder_error(dir)(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "the bundle folder {} must lie outside it (and it outside the bundle folder)",
                out.display()
            ),
        )));
    }
    let prepared = Prepared::new(shape, epoch)?;
    let folder = match checkpoints {
        Some(dir) => {
            let identity = checkpoint_identity(shape, &prepared);
            let (folder, _kept) = CheckpointDir::open(dir, &identity).map_err(folder_error(dir))?;
            Some(folder)
        }
        None => None,
    };
    Ok((prepared, folder))
}

/// Runs `prove`, turning a panic into an error: a constraint the honest witness misses makes
/// plonky2 panic.
fn unpanicked<T>(
    prove: impl FnOnce() -> Result<T, EpochProverError>,
) -> Result<T, EpochProverError> {
    catch_unwind(AssertUnwindSafe(prove))
        .map_err(|panic| EpochProverError::Internal(panic_message(&panic)))?
}

/// Wall time spent proving an epoch: from its first batch to its bundle, less the circuits
/// built on the way ([`prove_into_staged`] builds each layer when it is reached).
#[derive(Clone, Copy, Debug)]
struct ProvingClock {
    started: Instant,
    building: std::time::Duration,
}

impl ProvingClock {
    fn from(started: Instant) -> Self {
        ProvingClock {
            started,
            building: std::time::Duration::ZERO,
        }
    }

    /// Builds with `build`, its time not counted as proving.
    fn building<T>(&mut self, build: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let built = build();
        self.building += start.elapsed();
        built
    }

    fn proving_seconds(&self) -> f64 {
        self.started
            .elapsed()
            .saturating_sub(self.building)
            .as_secs_f64()
    }
}

/// Checks a final proof against the reference model's public inputs and its circuit.
fn check_final(
    last: &CircuitData<F, Config, D>,
    proof: &Proof,
    prepared: &Prepared,
) -> Result<(), EpochProverError> {
    if proof.public_inputs != prepared.expected {
        return Err(EpochProverError::Internal(
            "the final proof's public inputs differ from the reference model's".into(),
        ));
    }
    last.verify(proof.clone())
        .map_err(|e| EpochProverError::Internal(format!("the final proof does not verify: {e:#}")))
}

/// The size-tuned layer over a checked final proof (unless `cancel` is set first), checked,
/// and the bundle of `shape` written into `out`.
#[allow(clippy::too_many_arguments)]
fn shrink_into(
    shrink: &ShrinkCircuit,
    shape: &AggregationShape,
    prepared: &Prepared,
    final_proof: &Proof,
    clock: &ProvingClock,
    out: &Path,
    cancel: &AtomicBool,
    progress: Progress<'_>,
) -> Result<BundleManifest, EpochProverError> {
    stop_if_cancelled(cancel)?;
    let shrink_start = Instant::now();
    let proof = unpanicked(|| {
        shrink
            .prove(final_proof)
            .map_err(proving("the size-tuned layer"))
    })?;
    let prove_seconds = clock.proving_seconds();
    let proof_bytes = proof.to_bytes();
    progress(&AggregationStage::Shrunk {
        seconds: shrink_start.elapsed().as_secs_f64(),
        proof_bytes: proof_bytes.len(),
    });
    if proof.public_inputs != prepared.expected {
        return Err(EpochProverError::Internal(
            "the size-tuned proof's public inputs differ from the final proof's".into(),
        ));
    }
    shrink.data.verify(proof).map_err(|e| {
        EpochProverError::Internal(format!("the size-tuned proof does not verify: {e:#}"))
    })?;

    let verifier_bytes = verifier_data_bytes(&shrink.data.verifier_data())?;
    let manifest = BundleManifest {
        version: BUNDLE_VERSION,
        backend: "plonky2".into(),
        shape: shape.bundle_shape(),
        verifying_key_digest: verifying_key_digest(&verifier_bytes),
        proof_file: "proof.bin".into(),
        verifying_key_file: "verifier.bin".into(),
        public_inputs: PublicStatement::from_report(&prepared.report),
        payouts: prepared.report.clone(),
        prove_seconds,
        halo2: None,
    };
    let write = |name: &str, bytes: &[u8]| {
        let path = out.join(name);
        std::fs::write(&path, bytes).map_err(|source| EpochProverError::Write {
            path: path.display().to_string(),
            source,
        })
    };
    std::fs::create_dir_all(out).map_err(|source| EpochProverError::Write {
        path: out.display().to_string(),
        source,
    })?;
    let json = serde_json::to_string_pretty(&manifest)
        .map_err(|e| EpochProverError::Internal(format!("bundle.json: {e}")))?;
    write(&manifest.proof_file, &proof_bytes)?;
    write(&manifest.verifying_key_file, &verifier_bytes)?;
    write(MANIFEST, (json + "\n").as_bytes())?;
    Ok(manifest)
}

/// Inputs shared by every node of one epoch's tree.
struct Run<'a> {
    epoch: &'a Epoch,
    challenges: Challenges,
    batches: usize,
    merges: usize,
    batches_done: AtomicUsize,
    merges_done: AtomicUsize,
    /// Batches proved by this run (not restored), and when it began: its pace. Counted under
    /// the lock together with `batches_done`, so two batches finishing at once see distinct
    /// pairs.
    batches_proved: std::sync::Mutex<usize>,
    started: Instant,
    checkpoints: &'a dyn Checkpoints,
    /// Set by the caller to stop before the next node.
    cancel: &'a AtomicBool,
    progress: Progress<'a>,
}

impl Run<'_> {
    /// Batches and merges (the node's own included) under the node at (`level`, `index`); nodes
    /// wholly right of the last batch do not exist.
    fn nodes_under(&self, level: u32, index: u64) -> (usize, usize) {
        let exists = |l: u32, i: u64| (i << l) < self.batches as u64;
        let count = |l: u32| {
            let first = index << (level - l);
            let end = (index + 1) << (level - l);
            (first..end).take_while(|&i| exists(l, i)).count()
        };
        let merges = (1..=level).map(count).sum();
        (count(0), merges)
    }
}

impl TreeCircuits {
    /// Key generation for the batch circuit and every merge level of `shape` (checked by the
    /// caller), reporting each as it is ready.
    fn build(shape: AggregationShape, progress: Progress<'_>) -> Self {
        let start = Instant::now();
        let batch = BatchCircuit::build(shape.batch_height);
        report_built(
            progress,
            format!("batch ({} queries)", shape.batch_size()),
            &batch.data,
            start,
        );
        let mut merges: Vec<MergeCircuit> = Vec::with_capacity(shape.levels as usize);
        for level in 0..shape.levels {
            let start = Instant::now();
            let child = merges
                .last()
                .map_or_else(|| batch.data.verifier_data(), |m| m.data.verifier_data());
            let merge = MergeCircuit::build(&child, shape.batch_height + level);
            report_built(
                progress,
                format!("merge level {}", level + 1),
                &merge.data,
                start,
            );
            merges.push(merge);
        }
        TreeCircuits {
            shape,
            batch,
            merges,
        }
    }

    /// The verifier data of the root proof's circuit (the top merge level, or the batch
    /// circuit if there is none): what the final layer is built over.
    pub fn root_verifier_data(&self) -> VerifierCircuitData<F, Config, D> {
        self.merges.last().map_or_else(
            || self.batch.data.verifier_data(),
            |m| m.data.verifier_data(),
        )
    }

    /// Proves every batch and merge of `epoch` under `challenges`: the proof of the root
    /// summary (height `batch_height + levels`, index 0).
    pub fn prove_root(
        &self,
        epoch: &Epoch,
        challenges: Challenges,
        progress: Progress<'_>,
    ) -> Result<Proof, EpochProverError> {
        self.prove_root_resumable(epoch, challenges, Resume::none(), progress)
    }

    /// [`Self::prove_root`], keeping every batch and merge proof in `resume.checkpoints` and
    /// taking the ones an earlier run of the same epoch kept instead of proving them again.
    /// Setting `resume.cancel` stops the run before its next batch or merge
    /// ([`EpochProverError::Cancelled`]).
    pub fn prove_root_resumable(
        &self,
        epoch: &Epoch,
        challenges: Challenges,
        resume: Resume<'_>,
        progress: Progress<'_>,
    ) -> Result<Proof, EpochProverError> {
        let batches = self.shape.batch_count(epoch.queries.len());
        if batches > 1 << self.shape.levels {
            return Err(EpochProverError::ShapeMismatch {
                needed: AggregationShape::for_epoch(
                    epoch.queries.len(),
                    0,
                    self.shape.batch_size(),
                )?
                .key(),
                built: self.shape.key(),
            });
        }
        let merges = self.shape.merge_count(epoch.queries.len());
        let run = Run {
            epoch,
            challenges,
            batches,
            merges,
            batches_done: AtomicUsize::new(0),
            merges_done: AtomicUsize::new(0),
            batches_proved: std::sync::Mutex::new(0),
            started: Instant::now(),
            checkpoints: resume.checkpoints,
            cancel: resume.cancel,
            progress,
        };
        unpanicked(|| self.prove_node(&run, self.shape.levels, 0))
    }

    /// The proof of the subtree at (`level`, `index`); its children in parallel.
    fn prove_node(&self, run: &Run<'_>, level: u32, index: u64) -> Result<Proof, EpochProverError> {
        if let Some(proof) = self.restore(run, level, index) {
            let (batches, merges) = run.nodes_under(level, index);
            run.batches_done.fetch_add(batches, Ordering::Relaxed);
            run.merges_done.fetch_add(merges, Ordering::Relaxed);
            (run.progress)(&AggregationStage::Restored {
                level,
                index,
                batches,
                merges,
            });
            return Ok(proof);
        }
        stop_if_cancelled(run.cancel)?;
        let (proof, stage) = self.prove_fresh(run, level, index)?;
        // Saved before it is reported: whoever sees the report finds the proof on disk.
        keep(
            run.checkpoints,
            CheckpointNode::Tree { level, index },
            &proof,
            run.progress,
        );
        (run.progress)(&stage);
        Ok(proof)
    }
    /// The checkpointed proof of (`level`, `index`) if there is one and it is this node's of
    /// this epoch: it parses under the node's circuit, names this epoch's parameters, this
    /// height, index and challenges, and verifies.
    fn restore(&self, run: &Run<'_>, level: u32, index: u64) -> Option<Proof> {
        let bytes = run
            .checkpoints
            .load(CheckpointNode::Tree { level, index })?;
        // A malformed file that makes the parser panic is no checkpoint either.
        catch_unwind(AssertUnwindSafe(|| {
            self.check_restored(run, level, index, bytes)
        }))
        .ok()
        .flatten()
    }

    fn check_restored(
        &self,
        run: &Run<'_>,
        level: u32,
        index: u64,
        bytes: Vec<u8>,
    ) -> Option<Proof> {
        let data = match level {
            0 => &self.batch.data,
            l => &self.merges.get(l as usize - 1)?.data,
        };
        let proof = Proof::from_bytes(bytes, &data.common).ok()?;
        // Parameters, height and index lead every summary at this position, the challenges
        // follow at CHALLENGES_AT; the rest depends on the batch's records.
        let here = BatchSummary::empty(
            run.epoch.params,
            run.challenges,
            self.shape.batch_height + level,
            index,
        )
        .to_fields();
        let (head, at) = (BatchSummary::NODE_NAME_LEN, BatchSummary::CHALLENGES_AT);
        let pis = &proof.public_inputs;
        let names_this_node = pis.len() == BatchSummary::LEN
            && pis[..head] == here[..head]
            && pis[at..at + 4] == here[at..at + 4];
        (names_this_node && data.verify(proof.clone()).is_ok()).then_some(proof)
    }

    /// Proves the node at (`level`, `index`): a batch, or a merge over its children; with the
    /// stage that reports it.
    fn prove_fresh(
        &self,
        run: &Run<'_>,
        level: u32,
        index: u64,
    ) -> Result<(Proof, AggregationStage), EpochProverError> {
        let start = Instant::now();
        if level == 0 {
            let size = self.shape.batch_size();
            let queries = &run.epoch.queries;
            let from = (index as usize * size).min(queries.len());
            let to = (from + size).min(queries.len());
            let proof = self
                .batch
                .prove(run.epoch.params, run.challenges, index, &queries[from..to])
                .map_err(proving(format!("batch {index}")))?;
            let (done, proved) = {
                let mut proved = run.batches_proved.lock().unwrap_or_else(|e| e.into_inner());
                *proved += 1;
                (
                    run.batches_done.fetch_add(1, Ordering::Relaxed) + 1,
                    *proved,
                )
            };
            let remaining = run.batches.saturating_sub(done);
            // Wall time over batches proved: parallel batches and the merges between them are
            // in the pace; restored ones are not (they cost next to nothing).
            let left = (proved >= 2 && remaining > 0)
                .then(|| run.started.elapsed().as_secs_f64() * remaining as f64 / proved as f64);
            let stage = AggregationStage::Batch {
                index,
                done,
                total: run.batches,
                seconds: start.elapsed().as_secs_f64(),
                left,
            };
            return Ok((proof, stage));
        }
        let merge = &self.merges[level as usize - 1];
        // The right child holds batches from this one on; beyond the last, it is padding.
        let right_first_batch = (2 * index + 1) << (level - 1);
        let children = if right_first_batch >= run.batches as u64 {
            (self.prove_node(run, level - 1, 2 * index)?, None)
        } else {
            let (left, right) = rayon::join(
                || self.prove_node(run, level - 1, 2 * index),
                || self.prove_node(run, level - 1, 2 * index + 1),
            );
            (left?, Some(right?))
        };
        // The merge's own time, not its subtree's.
        let start = Instant::now();
        let proof = match &children {
            (left, None) => merge.prove_with_empty_right(left),
            (left, Some(right)) => merge.prove(left, right),
        }
        .map_err(proving(format!("merge {index} at level {level}")))?;
        drop(children);
        let done = run.merges_done.fetch_add(1, Ordering::Relaxed) + 1;
        let stage = AggregationStage::Merge {
            level,
            index,
            done,
            total: run.merges,
            seconds: start.elapsed().as_secs_f64(),
        };
        Ok((proof, stage))
    }
}

impl AggregationCircuits {
    /// Key generation for all circuits of `shape`, reporting each as it is ready. Refuses a
    /// shape [`AggregationShape::for_epoch`] would never pick.
    pub fn build(
        shape: AggregationShape,
        progress: Progress<'_>,
    ) -> Result<Self, EpochProverError> {
        shape.check()?;
        progress(&AggregationStage::Building { shape: shape.key() });
        let tree = TreeCircuits::build(shape, progress);
        let last = FinalLayer::build(&tree.root_verifier_data(), &shape, progress);
        let shrink = build_shrink_circuit(&last.data().verifier_data(), progress);
        Ok(AggregationCircuits {
            shape,
            tree,
            last,
            shrink,
        })
    }

    /// The size-tuned layer's verifier data: all a verifier needs (it pins the final circuit,
    /// which pins every circuit below).
    pub fn verifier_data(&self) -> VerifierCircuitData<F, Config, D> {
        self.shrink.data.verifier_data()
    }

    /// The serialised verifying key written into bundles (`verifier.bin`).
    pub fn verifying_key_bytes(&self) -> Result<Vec<u8>, EpochProverError> {
        verifier_data_bytes(&self.verifier_data())
    }

    /// The digest pinned in `params/plonky2_vk_digests.json` under [`AggregationShape::key`].
    pub fn digest_hex(&self) -> Result<String, EpochProverError> {
        Ok(verifying_key_digest(&self.verifying_key_bytes()?))
    }

    /// The final proof over the root proof and the payout list with slot counts (proved in
    /// chunk proofs first when the shape says so).
    pub fn prove_final(
        &self,
        root: &Proof,
        payees: &[ListedPayee],
    ) -> Result<Proof, EpochProverError> {
        self.prove_final_resumable(root, payees, Resume::none(), &|_| {})
    }

    /// [`Self::prove_final`], keeping chunk proofs in `resume.checkpoints` and taking the ones
    /// an earlier run kept; `resume.cancel` stops it before its next chunk proof or the final
    /// layer.
    pub fn prove_final_resumable(
        &self,
        root: &Proof,
        payees: &[ListedPayee],
        resume: Resume<'_>,
        progress: Progress<'_>,
    ) -> Result<Proof, EpochProverError> {
        unpanicked(|| {
            let chunk_proofs = match (&self.last.chunk, self.shape.chunk_count()) {
                (Some(chunk), Some(chunks)) => {
                    prove_chunks(chunk, chunks, root, payees, resume, progress)?
                }
                (None, None) => Vec::new(),
                _ => {
                    return Err(EpochProverError::Internal(format!(
                        "the chunk circuit does not match the layout {}",
                        self.shape.key()
                    )))
                }
            };
            self.last
                .last
                .prove(root, payees, &chunk_proofs, resume.cancel, progress)
        })
    }

    /// Proves `epoch` with these circuits and writes the bundle into `out` (`bundle.json`,
    /// `proof.bin`: the size-tuned layer's proof, `verifier.bin`: its verifier data, nothing of
    /// the prover).
    pub fn prove_into(
        &self,
        epoch: &Epoch,
        out: &Path,
        progress: Progress<'_>,
    ) -> Result<BundleManifest, EpochProverError> {
        let prepared = self.prepare(epoch)?;
        let start = Instant::now();
        let root = self.tree.prove_root(epoch, prepared.challenges, progress)?;
        self.finish(&prepared, &root, start, out, Resume::none(), progress)
    }

    /// [`Self::prove_into`], keeping batch, merge and chunk proofs in the folder `checkpoints` (see
    /// [`CheckpointDir`]): run again after an interruption with the same folder, it proves only
    /// what the earlier run had not finished. The folder is left as it is; the caller clears it
    /// ([`CheckpointDir::clear`]) once the bundle is safe. Setting `cancel` stops the run
    /// before its next batch, merge or chunk proof, or its next layer
    /// ([`EpochProverError::Cancelled`]); the proofs in flight finish first.
    pub fn prove_into_resumable(
        &self,
        epoch: &Epoch,
        out: &Path,
        checkpoints: &Path,
        cancel: &AtomicBool,
        progress: Progress<'_>,
    ) -> Result<BundleManifest, EpochProverError> {
        let (prepared, folder) = start_run(&self.shape, epoch, out, Some(checkpoints))?;
        let start = Instant::now();
        let resume = Resume {
            checkpoints: folder.as_ref().map_or(&NoCheckpoints, |f| f),
            cancel,
        };
        let root = self
            .tree
            .prove_root_resumable(epoch, prepared.challenges, resume, progress)?;
        self.finish(&prepared, &root, start, out, resume, progress)
    }

    /// [`checkpoint_identity`] of a run of these circuits.
    pub fn checkpoint_identity(&self, prepared: &Prepared) -> String {
        checkpoint_identity(&self.shape, prepared)
    }

    /// [`Prepared::new`] for these circuits' shape.
    pub fn prepare(&self, epoch: &Epoch) -> Result<Prepared, EpochProverError> {
        Prepared::new(&self.shape, epoch)
    }

    /// The final layer over `root` (from [`Self::prove_root`], started at `start`), checked
    /// against the reference model, and the bundle written into `out`. Chunk proofs are kept
    /// in and taken from `resume.checkpoints`; `resume.cancel` stops the run before its next
    /// chunk proof or layer.
    pub fn finish(
        &self,
        prepared: &Prepared,
        root: &Proof,
        start: Instant,
        out: &Path,
        resume: Resume<'_>,
        progress: Progress<'_>,
    ) -> Result<BundleManifest, EpochProverError> {
        let proof = self.prove_final_resumable(root, &prepared.payees, resume, progress)?;
        check_final(self.last.data(), &proof, prepared)?;
        shrink_into(
            &self.shrink,
            &self.shape,
            prepared,
            &proof,
            &ProvingClock::from(start),
            out,
            resume.cancel,
            progress,
        )
    }
}

/// Proves `epoch` in the layout `shape` and writes its bundle into `out`, as
/// [`AggregationCircuits::prove_into_resumable`] does (`checkpoints`: its folder, or `None` to
/// keep none), but holding the circuits of one stage at a time: the batch and merge circuits
/// while the tree proves, then the chunk circuit while the chunk proofs do, then the final
/// circuit, then the size-tuned layer. Each is built when its stage begins and dropped, all but
/// its verifier data, when the stage ends; so the peak is the largest stage's, not the sum of
/// every circuit's (at 2^20 payees the circuits alone hold 12 GB). Every circuit is still built
/// once and the bundle is the same; only a caller that proves several epochs of one layout
/// gains from keeping an [`AggregationCircuits`]. The bundle's proving time leaves out the
/// builds.
pub fn prove_into_staged(
    shape: AggregationShape,
    epoch: &Epoch,
    out: &Path,
    checkpoints: Option<&Path>,
    cancel: &AtomicBool,
    progress: Progress<'_>,
) -> Result<BundleManifest, EpochProverError> {
    shape.check()?;
    // Refuses an epoch of another shape before any circuit is built.
    let (prepared, folder) = start_run(&shape, epoch, out, checkpoints)?;
    let resume = Resume {
        checkpoints: folder.as_ref().map_or(&NoCheckpoints, |f| f),
        cancel,
    };
    stop_if_cancelled(cancel)?;
    progress(&AggregationStage::Building { shape: shape.key() });
    let tree = TreeCircuits::build(shape, progress);
    let mut clock = ProvingClock::from(Instant::now());
    let root = tree.prove_root_resumable(epoch, prepared.challenges, resume, progress)?;
    let root_data = tree.root_verifier_data();
    drop(tree);

    let (chunk_data, chunk_proofs) = match shape.chunk_height.zip(shape.chunk_count()) {
        None => (None, Vec::new()),
        Some((height, chunks)) => {
            stop_if_cancelled(cancel)?;
            let chunk = clock.building(|| build_chunk_circuit(height, progress));
            let proofs = unpanicked(|| {
                prove_chunks(&chunk, chunks, &root, &prepared.payees, resume, progress)
            })?;
            (Some(chunk.data.verifier_data()), proofs)
        }
    };

    stop_if_cancelled(cancel)?;
    let over_chunks = chunk_data.as_ref().zip(shape.chunk_height);
    let last = clock.building(|| LastCircuit::build(&root_data, &shape, over_chunks, progress));
    let final_proof =
        unpanicked(|| last.prove(&root, &prepared.payees, &chunk_proofs, cancel, progress))?;
    drop(chunk_proofs);
    check_final(last.data(), &final_proof, &prepared)?;
    let final_data = last.data().verifier_data();
    drop(last);

    stop_if_cancelled(cancel)?;
    let shrink = clock.building(|| build_shrink_circuit(&final_data, progress));
    shrink_into(
        &shrink,
        &shape,
        &prepared,
        &final_proof,
        &clock,
        out,
        cancel,
        progress,
    )
}

/// The verifying key bytes of `shape` (the size-tuned layer's verifier data, as
/// [`AggregationCircuits::verifying_key_bytes`] gives them), building its circuits one at a
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

/// The `chunks` chunk proofs of the payout list in list order, under the root summary's
/// challenges: one per chunk holding payees, in parallel, and one proof of the empty chunk
/// standing for every chunk after the list (their public inputs are identical). A chunk proof
/// kept in `resume.checkpoints` is used if it verifies and carries exactly this chunk's
/// summary; every proof made is kept there.
fn prove_chunks(
    chunk: &ChunkCircuit,
    chunks: usize,
    root: &Proof,
    payees: &[ListedPayee],
    resume: Resume<'_>,
    progress: Progress<'_>,
) -> Result<Vec<Proof>, EpochProverError> {
    use rayon::prelude::*;
    let challenges = root
        .public_inputs
        .get(BatchSummary::CHALLENGES_AT..BatchSummary::CHALLENGES_AT + 4)
        .and_then(|fields| <[F; 4]>::try_from(fields).ok())
        .map(Challenges::from_fields)
        .ok_or_else(|| EpochProverError::Internal("a root proof without challenges".into()))?;
    let split = chunk_list(
        challenges,
        chunk.capacity().trailing_zeros(),
        chunks,
        payees,
    )
    .map_err(|e| EpochProverError::Internal(format!("splitting the payout list: {e}")))?;
    // Chunks with payees, then the first empty one if the list leaves any.
    let distinct = split
        .iter()
        .position(|c| c.n_payees == 0)
        .map_or(chunks, |first_empty| first_empty + 1);
    let done = AtomicUsize::new(0);
    let mut proofs: Vec<Proof> = split[..distinct]
        .par_iter()
        .enumerate()
        .map(|(index, summary)| {
            let node = CheckpointNode::Chunk { index };
            let expected = summary.to_fields();
            // The summary is the epoch's own, computed natively: a kept proof that verifies
            // with exactly these public inputs is this chunk's.
            let kept = resume.checkpoints.load(node).and_then(|bytes| {
                catch_unwind(AssertUnwindSafe(|| {
                    Proof::from_bytes(bytes, &chunk.data.common)
                        .ok()
                        .filter(|p| p.public_inputs == expected)
                        .filter(|p| chunk.data.verify(p.clone()).is_ok())
                }))
                .ok()
                .flatten()
            });
            if let Some(proof) = kept {
                progress(&AggregationStage::ChunkRestored {
                    index,
                    done: done.fetch_add(1, Ordering::Relaxed) + 1,
                    total: distinct,
                });
                return Ok(proof);
            }
            stop_if_cancelled(resume.cancel)?;
            let start = Instant::now();
            let from = (index * chunk.capacity()).min(payees.len());
            let to = (from + chunk.capacity()).min(payees.len());
            let proof = chunk
                .prove(summary, &payees[from..to])
                .map_err(proving(format!("payout-list chunk {index}")))?;
            // Else no resumed run could ever use it (and the final layer would refuse it).
            if proof.public_inputs != expected {
                return Err(EpochProverError::Internal(format!(
                    "payout-list chunk {index}: the proof's public inputs differ from the native summary"
                )));
            }
            keep(resume.checkpoints, node, &proof, progress);
            progress(&AggregationStage::Chunk {
                index,
                payees: summary.n_payees,
                done: done.fetch_add(1, Ordering::Relaxed) + 1,
                total: distinct,
                seconds: start.elapsed().as_secs_f64(),
            });
            Ok(proof)
        })
        .collect::<Result<_, EpochProverError>>()?;
    if distinct < chunks {
        // The last proof is the empty chunk's.
        let empty = proofs[distinct - 1].clone();
        proofs.resize(chunks, empty);
    }
    Ok(proofs)
}

/// Keeps `proof` as the checkpoint of `node`; a failure is reported, not fatal (a restart
/// proves the node again).
fn keep(
    checkpoints: &dyn Checkpoints,
    node: CheckpointNode,
    proof: &Proof,
    progress: Progress<'_>,
) {
    if let Err(reason) = checkpoints.store(node, &proof.to_bytes()) {
        progress(&AggregationStage::CheckpointNotSaved { node, reason });
    }
}

fn stop_if_cancelled(cancel: &AtomicBool) -> Result<(), EpochProverError> {
    if cancel.load(Ordering::Relaxed) {
        Err(EpochProverError::Cancelled)
    } else {
        Ok(())
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    let text = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    format!("the prover panicked: {text}")
}

/// Verifier data as bundles carry it, read back by the verifier's gate serializer.
fn verifier_data_bytes(
    data: &VerifierCircuitData<F, Config, D>,
) -> Result<Vec<u8>, EpochProverError> {
    data.to_bytes(&AttributionGateSerializer)
        .map_err(|e| EpochProverError::Internal(format!("serialising the verifier data: {e:?}")))
}

/// Merge levels of the pinned default layouts: batches of [`DEFAULT_BATCH_CAP`] under 9 levels
/// hold 2^20 queries, past a 1M-query epoch.
pub const PINNED_DEFAULT_LEVELS: u32 = 9;

/// The largest chunked payout list among the pinned default layouts: SPEC's largest, so every
/// layout `zkattr prove` picks with its default batches is pinned (since stop 27; a smaller
/// value leaves the larger lists provable but their bundles refused by `zkattr-verify` until
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
/// levels below it), then one final circuit and its size-tuned layer per layout: the same
/// circuits [`AggregationCircuits::build`] makes for each of those shapes. Refuses a shape with
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
    let mut chunk_circuits = std::collections::BTreeMap::new();
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
                "final layer (2^{} rows) and size-tuned layer of {}",
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

/// Proves `epoch` stage by stage ([`prove_into_staged`], batches of at most `batch_cap`
/// queries) and writes the bundle into `out`.
pub fn prove_epoch_aggregated(
    epoch: &Epoch,
    out: &Path,
    batch_cap: usize,
    progress: Progress<'_>,
) -> Result<BundleManifest, EpochProverError> {
    let shape = shape_for_epoch(epoch, batch_cap)?;
    let never = AtomicBool::new(false);
    prove_into_staged(shape, epoch, out, None, &never, progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checkpoints are not zero-knowledge: the folder and its files are the owner's alone.
    #[cfg(unix)]
    #[test]
    fn checkpoints_are_written_private() {
        use std::os::unix::fs::PermissionsExt;
        let root = std::env::temp_dir().join(format!("zkattr-ckpt-{}", std::process::id()));
        let dir = root.join("nested").join("ckpt");
        let (checkpoints, kept) = CheckpointDir::open(&dir, "run-1").unwrap();
        assert_eq!(kept, 0);
        checkpoints
            .store(CheckpointNode::Tree { level: 0, index: 3 }, b"proof bytes")
            .unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&root.join("nested")), 0o700);
        assert_eq!(mode(&dir.join("identity")), 0o600);
        assert_eq!(mode(&dir.join("L0-3.proof")), 0o600);
        assert_eq!(
            checkpoints
                .load(CheckpointNode::Tree { level: 0, index: 3 })
                .as_deref(),
            Some(&b"proof bytes"[..])
        );
        checkpoints
            .store(CheckpointNode::Chunk { index: 2 }, b"chunk proof")
            .unwrap();
        assert_eq!(mode(&dir.join("C2.proof")), 0o600);
        // Reopened by the same run, both proofs are kept; clearing takes them and the folder.
        assert_eq!(CheckpointDir::open(&dir, "run-1").unwrap().1, 2);
        CheckpointDir::clear(&dir).unwrap();
        assert!(!dir.exists());
        std::fs::remove_dir_all(&root).unwrap();
    }

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

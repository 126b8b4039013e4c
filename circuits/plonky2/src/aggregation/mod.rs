//! Aggregation (docs/aggregation.md): an epoch of any size proved as [`crate::aggregation::batch`] proofs
//! merged pairwise by recursion ([`merge`]), closed by the [`final_layer`] (SPEC's 22 public
//! inputs) and the [`shrink`] layer over it, whose proof and key are the bundle's. Payout lists
//! above 32,768 payees are proved in [`chunks`] under a final layer over the chunk proofs.
//! Each circuit's native twin: [`native`] for the tree and the final layer,
//! [`chunks::native`] for chunked lists.
//!
//! The pipeline that proves a whole epoch that way: its layout ([`layout`]), tree proving
//! ([`tree`]), the layers over the root ([`last_layers`]), checkpoints ([`checkpoint`]),
//! progress reports ([`progress`]), the entry point [`prove_epoch`] ([`prove`]) and the pinned
//! layouts ([`pins`]).

pub mod batch;
pub mod checkpoint;
pub mod chunks;
pub mod error;
pub mod final_layer;
pub mod last_layers;
pub mod layout;
pub mod merge;
pub mod native;
pub mod pins;
pub mod progress;
pub mod prove;
pub mod shrink;
pub mod tree;

pub use checkpoint::{
    checkpoint_identity, CheckpointDir, CheckpointNode, Checkpoints, NoCheckpoints, Resume,
};
pub use error::EpochProverError;
pub use last_layers::{FinalLayer, LastCircuit};
pub use layout::{
    check_total_paid, chunk_height_for, shape_for_epoch, AggregationShape, DEFAULT_BATCH_CAP,
    MAX_BATCH, MAX_CHUNKS, MAX_PAYEE_CAPACITY, MAX_WHOLE_LIST, MIN_PAYEE_CAPACITY,
    SMALL_CHUNK_HEIGHT,
};
pub use pins::{
    default_layout_digests, default_layouts, layout_digests, staged_verifying_key_bytes,
    PINNED_CHUNKED_CAPACITY, PINNED_DEFAULT_LEVELS,
};
pub use progress::{AggregationStage, Progress};
pub use prove::{prove_epoch, AggregationCircuits, Circuits, Prepared, ProveOptions};
pub use tree::TreeCircuits;

use crate::native::F;
use crate::prover::Config;
use crate::statement::D;

/// A proof of any circuit of the pipeline.
pub(crate) type Proof = plonky2::plonk::proof::ProofWithPublicInputs<F, Config, D>;

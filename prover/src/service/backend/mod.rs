//! Proving backends, as the service sees them: plan a job (which circuit, how many batches),
//! prove it into a bundle folder, hand out verifying keys.
//!
//! [`Backends::get`] is the one place that says which backends exist; each backend is in its
//! own file ([`plonky2`], [`halo2`]), with the plonky2 backend's circuit caches in [`cache`] and
//! the per-key build locks in [`key_locks`].

mod cache;
mod halo2;
mod key_locks;
mod plonky2;
mod shape_keys;

pub use cache::CircuitCache;

use super::artifacts::Artifacts;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use thiserror::Error;
use zkattr_model::bundle::BundleManifest;
use zkattr_model::{Epoch, Settlement};

/// The backends the API names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BackendKind {
    Plonky2,
    Halo2,
}

impl BackendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Plonky2 => "plonky2",
            BackendKind::Halo2 => "halo2",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "plonky2" => Some(BackendKind::Plonky2),
            "halo2" => Some(BackendKind::Halo2),
            _ => None,
        }
    }
}

/// Why a backend could not plan, prove or give a key.
#[derive(Debug, Error)]
pub enum BackendError {
    /// The epoch is valid but no circuit of this backend holds it.
    #[error("{0}")]
    TooLarge(String),
    /// The requested shape is not one of the backend's circuits.
    #[error("{0}")]
    UnknownShape(String),
    #[error("{0:#}")]
    Failed(anyhow::Error),
}

/// What proving an epoch takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The circuit, e.g. `16x16`, or the aggregation layout, e.g. `agg-b2048-t6-p4096`.
    pub shape: String,
    /// Batch proofs (one for a single circuit).
    pub batches: u32,
}

/// One progress report of a proof in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProveProgress<'a> {
    /// What is happening, in words.
    pub message: &'a str,
    /// Batches proved so far (restored from checkpoints included), and in all.
    pub batches_done: u32,
    pub batches: u32,
    /// Every batch is proved; merges and the last layers are running.
    pub aggregating: bool,
}

impl<'a> ProveProgress<'a> {
    /// A stage of a single-circuit proof.
    pub(crate) fn single(message: &'a str) -> Self {
        ProveProgress {
            message,
            batches_done: 0,
            batches: 1,
            aggregating: false,
        }
    }
}

/// A serialised verifying key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyingKey {
    pub shape: String,
    pub bytes: Vec<u8>,
    pub digest: String,
    /// The digest pinned in `params/` for this shape, if any.
    pub pinned: Option<String>,
    /// The setup the key was made under (halo2: the KZG parameters' source, UNSAFE for
    /// development parameters; plonky2: none).
    pub setup: zkattr_verifier::Setup,
}

/// A proving backend. `prove` runs on a worker thread and may take minutes.
pub trait ProvingBackend: Send + Sync + std::fmt::Debug {
    fn kind(&self) -> BackendKind;
    /// Which circuit and how many batches `epoch` needs (the epoch is already validated and
    /// `settlement` is its reference settlement); refuses an epoch this backend cannot prove,
    /// so a job that would fail is refused at submission rather than after hours of proving.
    fn plan(&self, epoch: &Epoch, settlement: &Settlement) -> Result<Plan, BackendError>;
    /// Proves `epoch` into the folder `out`; `progress` receives one report per stage and
    /// answers whether to go on (`false`: the job was cancelled; a backend that proves in
    /// batches stops before the next one). A backend that proves in batches keeps finished
    /// proofs in the folder `checkpoints` and, run again on the same job after an
    /// interruption, resumes from them. `payees` is the epoch's payee count (the caller has
    /// computed its settlement already).
    fn prove(
        &self,
        epoch: &Epoch,
        payees: usize,
        out: &Path,
        checkpoints: &Path,
        progress: &mut dyn FnMut(ProveProgress<'_>) -> bool,
    ) -> Result<BundleManifest, BackendError>;
    /// The verifying key of `shape` (a shape key like `16x16`).
    fn verifying_key(&self, shape: &str) -> Result<VerifyingKey, BackendError>;
    /// The shape key of the smallest circuit that holds `queries` queries.
    fn shape_for_queries(&self, queries: u64) -> Result<String, BackendError>;
}

/// The backends of this build.
#[derive(Debug)]
pub struct Backends {
    plonky2: plonky2::Plonky2Backend,
    halo2: halo2::Halo2Backend,
}

impl Backends {
    /// `kzg_params_dir`: where the halo2 backend finds (or caches UNSAFE development) KZG
    /// parameters, as for `zkattr prove --params`. `batch_size`: as `zkattr prove
    /// --batch-size` (plonky2: aggregate every epoch in batches of at most this many queries);
    /// `None`: one circuit while one holds the epoch, else batches of [`DEFAULT_BATCH_CAP`].
    pub fn new(
        artifacts: Arc<Artifacts>,
        cache: Arc<CircuitCache>,
        kzg_params_dir: PathBuf,
        batch_size: Option<usize>,
    ) -> Self {
        use self::{halo2::Halo2Backend, plonky2::Plonky2Backend};
        Backends {
            plonky2: Plonky2Backend::new(Arc::clone(&artifacts), cache, batch_size),
            halo2: Halo2Backend::new(artifacts, kzg_params_dir),
        }
    }

    /// The backend for `kind`, or why there is none.
    pub fn get(&self, kind: BackendKind) -> Result<&dyn ProvingBackend, BackendError> {
        match kind {
            BackendKind::Plonky2 => Ok(&self.plonky2),
            BackendKind::Halo2 => Ok(&self.halo2),
        }
    }
}

//! Proving backends, as the service sees them: plan a job (which circuit, how many batches),
//! prove it into a bundle folder, hand out verifying keys.
//!
//! [`Backends::get`] is the one place that says which backends exist.

use super::artifacts::Artifacts;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use thiserror::Error;
use zkattr_model::bundle::BundleManifest;
use zkattr_model::Epoch;
use zkattr_plonky2::prover::{shape_for, StatementCircuit, SHAPE_LADDER};
use zkattr_plonky2::statement::StatementShape;
use zkattr_verifier::bundle::{pinned_plonky2_digest, verifying_key_digest};

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
    /// The circuit, e.g. `16x16`.
    pub shape: String,
    /// Batch proofs (more than one only once aggregation lands).
    pub batches: u32,
}

/// A serialised verifying key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyingKey {
    pub shape: String,
    pub bytes: Vec<u8>,
    pub digest: String,
    /// The digest pinned in `params/` for this shape, if any.
    pub pinned: Option<String>,
}

/// A proving backend. `prove` runs on a worker thread and may take minutes.
pub trait ProvingBackend: Send + Sync + std::fmt::Debug {
    fn kind(&self) -> BackendKind;
    /// Which circuit and how many batches `epoch` needs (the epoch is already validated).
    fn plan(&self, epoch: &Epoch, payees: usize) -> Result<Plan, BackendError>;
    /// Proves `epoch` into the folder `out`; `progress` receives one line per stage.
    fn prove(
        &self,
        epoch: &Epoch,
        out: &Path,
        progress: &mut dyn FnMut(&str),
    ) -> Result<BundleManifest, BackendError>;
    /// The verifying key of `shape` (a shape key like `16x16`).
    fn verifying_key(&self, shape: &str) -> Result<VerifyingKey, BackendError>;
    /// The shape key of the smallest circuit that holds `queries` queries.
    fn shape_for_queries(&self, queries: u64) -> Result<String, BackendError>;
}

/// The backends of this build.
#[derive(Debug)]
pub struct Backends {
    plonky2: Plonky2Backend,
    halo2: Halo2Backend,
}

impl Backends {
    /// `kzg_params_dir`: where the halo2 backend finds (or caches UNSAFE development) KZG
    /// parameters, as for `zkattr prove --params`.
    pub fn new(
        artifacts: Arc<Artifacts>,
        cache: Arc<CircuitCache>,
        kzg_params_dir: PathBuf,
    ) -> Self {
        Backends {
            plonky2: Plonky2Backend {
                artifacts: Arc::clone(&artifacts),
                cache,
            },
            halo2: Halo2Backend {
                artifacts,
                kzg_params_dir,
            },
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

/// Built plonky2 circuits, most recently used first. Building is deterministic and costs
/// seconds to a minute, so the service keeps one or two; a 1024-query circuit holds gigabytes.
#[derive(Debug)]
pub struct CircuitCache {
    capacity: usize,
    circuits: Mutex<Vec<Arc<StatementCircuit>>>,
    /// Held while building, so two workers never build the same circuit at once.
    building: Mutex<()>,
}

impl CircuitCache {
    pub fn new(capacity: usize) -> Self {
        CircuitCache {
            capacity: capacity.max(1),
            circuits: Mutex::new(Vec::new()),
            building: Mutex::new(()),
        }
    }

    fn lookup(&self, shape: StatementShape) -> Option<Arc<StatementCircuit>> {
        let mut circuits = self.circuits.lock().unwrap_or_else(|e| e.into_inner());
        let at = circuits.iter().position(|c| c.shape == shape)?;
        let circuit = circuits.remove(at);
        circuits.insert(0, Arc::clone(&circuit));
        Some(circuit)
    }

    /// The circuit of `shape`, built if not cached; `on_build` is told before a build.
    pub fn get(&self, shape: StatementShape, on_build: impl FnOnce()) -> Arc<StatementCircuit> {
        if let Some(circuit) = self.lookup(shape) {
            return circuit;
        }
        let _building = self.building.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(circuit) = self.lookup(shape) {
            return circuit;
        }
        on_build();
        let started = std::time::Instant::now();
        let circuit = Arc::new(StatementCircuit::build(shape));
        tracing::info!(
            shape = %format!("{}x{}", shape.queries, shape.payees),
            seconds = started.elapsed().as_secs_f64(),
            "built circuit"
        );
        let mut circuits = self.circuits.lock().unwrap_or_else(|e| e.into_inner());
        circuits.insert(0, Arc::clone(&circuit));
        circuits.truncate(self.capacity);
        circuit
    }
}

#[derive(Debug)]
struct Plonky2Backend {
    artifacts: Arc<Artifacts>,
    cache: Arc<CircuitCache>,
}

/// The capacity of a shape key `CxC` naming one of `ladder`'s circuits.
fn parse_ladder_shape(backend: &str, key: &str, ladder: &[usize]) -> Result<usize, BackendError> {
    let unknown = || {
        let shapes: Vec<String> = ladder.iter().map(|c| format!("{c}x{c}")).collect();
        BackendError::UnknownShape(format!(
            "no {backend} circuit of shape {key:?}; the shapes are {}",
            shapes.join(", ")
        ))
    };
    let (q, p) = key.split_once('x').ok_or_else(unknown)?;
    match (q.parse::<usize>(), p.parse::<usize>()) {
        (Ok(q), Ok(p)) if q == p && ladder.contains(&q) => Ok(q),
        _ => Err(unknown()),
    }
}

fn shape_key(shape: StatementShape) -> String {
    format!("{}x{}", shape.queries, shape.payees)
}

impl Plonky2Backend {
    fn parse_shape(&self, key: &str) -> Result<StatementShape, BackendError> {
        let capacity = parse_ladder_shape("plonky2", key, &SHAPE_LADDER)?;
        StatementShape::new(capacity, capacity)
            .map_err(|e| BackendError::UnknownShape(format!("{e:#}")))
    }

    fn circuit(
        &self,
        shape: StatementShape,
        progress: &mut dyn FnMut(&str),
    ) -> Arc<StatementCircuit> {
        self.cache.get(shape, || {
            progress(&format!("building the {} circuit", shape_key(shape)))
        })
    }
}

impl ProvingBackend for Plonky2Backend {
    fn kind(&self) -> BackendKind {
        BackendKind::Plonky2
    }

    fn plan(&self, epoch: &Epoch, payees: usize) -> Result<Plan, BackendError> {
        let shape = shape_for(epoch.queries.len(), payees)
            .map_err(|e| BackendError::TooLarge(format!("{e:#}")))?;
        Ok(Plan {
            shape: shape_key(shape),
            batches: 1,
        })
    }

    fn prove(
        &self,
        epoch: &Epoch,
        out: &Path,
        progress: &mut dyn FnMut(&str),
    ) -> Result<BundleManifest, BackendError> {
        let shape = zkattr_plonky2::prover::required_shape(epoch).map_err(BackendError::Failed)?;
        let circuit = self.circuit(shape, progress);
        circuit
            .prove_into(epoch, out, |line| progress(line))
            .map_err(BackendError::Failed)
    }

    fn verifying_key(&self, key: &str) -> Result<VerifyingKey, BackendError> {
        let shape = self.parse_shape(key)?;
        let key = shape_key(shape);
        let path = self.artifacts.key_path("plonky2", &key);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(_) => {
                let bytes = self
                    .circuit(shape, &mut |_| {})
                    .verifying_key_bytes()
                    .map_err(BackendError::Failed)?;
                if let Err(e) = self.artifacts.write_atomic(&path, &bytes) {
                    tracing::warn!(path = %path.display(), error = %e, "cannot store the verifying key");
                }
                bytes
            }
        };
        Ok(VerifyingKey {
            digest: verifying_key_digest(&bytes),
            pinned: pinned_plonky2_digest(&key),
            shape: key,
            bytes,
        })
    }

    fn shape_for_queries(&self, queries: u64) -> Result<String, BackendError> {
        let queries = usize::try_from(queries).unwrap_or(usize::MAX);
        shape_for(queries, 0)
            .map(shape_key)
            .map_err(|e| BackendError::TooLarge(format!("{e:#}")))
    }
}

/// halo2 (KZG over BN254). Keys are generated per job: at the ladder's sizes key generation is
/// a fraction of proving (1.5 s of 5 s at 16 queries), and a proving key is as large as the
/// circuit, so none is kept in memory between jobs.
#[derive(Debug)]
struct Halo2Backend {
    artifacts: Arc<Artifacts>,
    kzg_params_dir: PathBuf,
}

impl Halo2Backend {
    fn parse_shape(&self, key: &str) -> Result<zkattr_halo2::statement::Halo2Shape, BackendError> {
        let capacity = parse_ladder_shape("halo2", key, &zkattr_halo2::prover::HALO2_LADDER)?;
        zkattr_halo2::statement::Halo2Shape::new(capacity, capacity)
            .map_err(BackendError::UnknownShape)
    }

    fn params(&self, k: usize) -> Result<zkattr_halo2::prover::KzgParams, BackendError> {
        use zkattr_halo2::prover::KzgParams;
        let failed = |e: zkattr_halo2::prover::Halo2Error| BackendError::Failed(e.into());
        match KzgParams::load(&self.kzg_params_dir, k).map_err(failed)? {
            Some(params) => Ok(params),
            None => KzgParams::dev_unsafe(&self.kzg_params_dir, k).map_err(failed),
        }
    }
}

impl ProvingBackend for Halo2Backend {
    fn kind(&self) -> BackendKind {
        BackendKind::Halo2
    }

    fn plan(&self, epoch: &Epoch, payees: usize) -> Result<Plan, BackendError> {
        let shape = zkattr_halo2::prover::shape_for(epoch.queries.len(), payees)
            .map_err(|e| BackendError::TooLarge(e.to_string()))?;
        Ok(Plan {
            shape: format!("{}x{}", shape.queries, shape.payees),
            batches: 1,
        })
    }

    fn prove(
        &self,
        epoch: &Epoch,
        out: &Path,
        progress: &mut dyn FnMut(&str),
    ) -> Result<BundleManifest, BackendError> {
        zkattr_halo2::prover::prove_epoch(epoch, out, &self.kzg_params_dir, |line| progress(line))
            .map_err(|e| BackendError::Failed(e.into()))
    }

    fn verifying_key(&self, key: &str) -> Result<VerifyingKey, BackendError> {
        use zkattr_halo2::prover::{halo2_key_digest, verifying_key_bytes, Halo2Keys, Layout};
        let shape = self.parse_shape(key)?;
        let key = format!("{}x{}", shape.queries, shape.payees);
        let layout = Layout::for_shape(shape);
        let params = self.params(layout.k)?;
        // Cached per parameter file: a ceremony file gives another key than dev parameters.
        let cached = self
            .artifacts
            .key_path("halo2", &format!("{key}-{}", &params.sha256[..16]));
        let digest_path = cached.with_extension("digest");
        if let (Ok(bytes), Ok(digest)) = (
            std::fs::read(&cached),
            std::fs::read_to_string(&digest_path),
        ) {
            return Ok(VerifyingKey {
                pinned: zkattr_verifier::halo2::pinned_halo2_digest(&params.source, &key),
                shape: key,
                bytes,
                digest,
            });
        }
        let keys = Halo2Keys::generate(&layout, &params.params)
            .map_err(|e| BackendError::Failed(e.into()))?;
        let bytes = verifying_key_bytes(keys.vk());
        let digest = halo2_key_digest(keys.vk());
        for (path, data) in [(&cached, &bytes[..]), (&digest_path, digest.as_bytes())] {
            if let Err(e) = self.artifacts.write_atomic(path, data) {
                tracing::warn!(path = %path.display(), error = %e, "cannot store the verifying key");
            }
        }
        Ok(VerifyingKey {
            pinned: zkattr_verifier::halo2::pinned_halo2_digest(&params.source, &key),
            shape: key,
            bytes,
            digest,
        })
    }

    fn shape_for_queries(&self, queries: u64) -> Result<String, BackendError> {
        let queries = usize::try_from(queries).unwrap_or(usize::MAX);
        zkattr_halo2::prover::shape_for(queries, 0)
            .map(|shape| format!("{}x{}", shape.queries, shape.payees))
            .map_err(|e| BackendError::TooLarge(e.to_string()))
    }
}

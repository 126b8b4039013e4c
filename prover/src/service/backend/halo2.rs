//! The halo2 backend (KZG over BN254): one circuit of its ladder per epoch.

use super::shape_keys::parse_ladder_shape;
use super::{BackendError, BackendKind, Plan, ProveProgress, ProvingBackend, VerifyingKey};
use crate::service::artifacts::Artifacts;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zkattr_model::bundle::BundleManifest;
use zkattr_model::{Epoch, Settlement};

/// halo2 (KZG over BN254). Keys are generated per job: at the ladder's sizes key generation is
/// a fraction of proving (1.5 s of 5 s at 16 queries), and a proving key is as large as the
/// circuit, so none is kept in memory between jobs.
#[derive(Debug)]
pub(super) struct Halo2Backend {
    artifacts: Arc<Artifacts>,
    kzg_params_dir: PathBuf,
}

impl Halo2Backend {
    /// `kzg_params_dir`: where KZG parameters are found (or UNSAFE development ones cached).
    pub(super) fn new(artifacts: Arc<Artifacts>, kzg_params_dir: PathBuf) -> Self {
        Halo2Backend {
            artifacts,
            kzg_params_dir,
        }
    }

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

    fn plan(&self, epoch: &Epoch, settlement: &Settlement) -> Result<Plan, BackendError> {
        let shape = zkattr_halo2::prover::shape_for(epoch.queries.len(), settlement.payouts.len())
            .map_err(|e| BackendError::TooLarge(e.to_string()))?;
        Ok(Plan {
            shape: format!("{}x{}", shape.queries, shape.payees),
            batches: 1,
        })
    }

    fn prove(
        &self,
        epoch: &Epoch,
        _payees: usize,
        out: &Path,
        _checkpoints: &Path,
        progress: &mut dyn FnMut(ProveProgress<'_>) -> bool,
    ) -> Result<BundleManifest, BackendError> {
        zkattr_halo2::prover::prove_epoch(epoch, out, &self.kzg_params_dir, |line| {
            progress(ProveProgress::single(line));
        })
        .map_err(|e| BackendError::Failed(e.into()))
    }

    fn verifying_key(&self, key: &str) -> Result<VerifyingKey, BackendError> {
        use zkattr_halo2::prover::{halo2_key_digest, verifying_key_bytes, Halo2Keys, Layout};
        let shape = self.parse_shape(key)?;
        let key = format!("{}x{}", shape.queries, shape.payees);
        let layout = Layout::for_shape(shape);
        let params = self.params(layout.k)?;
        let setup = zkattr_verifier::Setup::of_kzg_source(&params.source)
            .map_err(|e| BackendError::Failed(e.into()))?;
        // Imported ceremony parameters carry their pins beside them, as the verifier reads them.
        let pinned = zkattr_verifier::halo2::pinned_halo2_digest_in(
            &self.kzg_params_dir,
            &params.source,
            &key,
        )
        .map_err(|e| BackendError::Failed(e.into()))?;
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
                pinned,
                shape: key,
                bytes,
                digest,
                setup,
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
            pinned,
            shape: key,
            bytes,
            digest,
            setup,
        })
    }

    fn shape_for_queries(&self, queries: u64) -> Result<String, BackendError> {
        let queries = usize::try_from(queries).unwrap_or(usize::MAX);
        zkattr_halo2::prover::shape_for(queries, 0)
            .map(|shape| format!("{}x{}", shape.queries, shape.payees))
            .map_err(|e| BackendError::TooLarge(e.to_string()))
    }
}

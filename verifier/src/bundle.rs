//! Checking a proof bundle: the setup it declares against the caller's [`VerifyOptions`], then
//! the backend's checks (shape, key digest against the pinned one, public inputs, payout table
//! against the claimed commitment and totals, then the proof): [`crate::plonky2_bundle`] and
//! [`crate::halo2`]. The error type, limits and digests they use are re-exported here.

use std::path::Path;

pub use crate::error::BundleError;
pub use crate::files::{MAX_MANIFEST_BYTES, MAX_PROOF_FILE_BYTES};
pub use crate::options::{Setup, SetupPolicy, VerifyOptions};
pub use crate::plonky2_bundle::{pinned_plonky2_digest, GOLDILOCKS_PUBLIC_INPUTS};
pub use crate::statement::Verified;
pub use zkattr_plonky2_gates::verifying_key_digest;

/// Verifies the bundle in `dir` under `options`; a halo2 bundle's KZG parameters come from
/// [`crate::halo2::params_dir`].
pub fn verify_bundle(dir: &Path, options: &VerifyOptions) -> Result<Verified, BundleError> {
    verify_bundle_with_params(dir, &crate::halo2::params_dir(), options)
}

/// Verifies the bundle in `dir` under `options`, reading halo2 KZG parameters from
/// `params_dir`. The declared setup is checked first, before any proof or key is read.
pub fn verify_bundle_with_params(
    dir: &Path,
    params_dir: &Path,
    options: &VerifyOptions,
) -> Result<Verified, BundleError> {
    let manifest = crate::files::read_manifest(dir)?;
    options.check_setup(&manifest)?;
    match manifest.backend.as_str() {
        "plonky2" => crate::plonky2_bundle::verify_plonky2_bundle(dir, manifest),
        "halo2" => crate::halo2::verify_halo2_bundle(dir, params_dir, manifest, options),
        _ => Err(BundleError::Backend(manifest.backend)),
    }
}

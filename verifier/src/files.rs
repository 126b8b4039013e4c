//! Reading what a verifier is given: bundle files by name inside their folder, path files, and
//! the manifest; the size limits of each; and the guard that runs a dependency's decoder or
//! verifier on untrusted bytes.

use crate::error::BundleError;
use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Component, Path};
use zkattr_model::bundle::{BundleManifest, BUNDLE_VERSION, MANIFEST};

/// Largest `bundle.json` read: a payout table of 2^20 entries is about 100 MB.
pub const MAX_MANIFEST_BYTES: u64 = 256 << 20;
/// Largest proof or verifying-key file read (the bundles here hold proofs under 1 MB; a halo2
/// key of 2^26 rows with its selectors is the largest key).
pub const MAX_PROOF_FILE_BYTES: u64 = 64 << 20;
/// A path file holds one depth-32 path of digests, a few kilobytes.
pub const MAX_PATH_FILE_BYTES: u64 = 1 << 20;

/// Reads the bundle file `name` of `dir`: a plain file name (the manifest names files, and a
/// path could leave the folder), a regular file, at most `limit` bytes.
pub fn read(dir: &Path, name: &str, limit: u64) -> Result<Vec<u8>, BundleError> {
    let mut components = Path::new(name).components();
    if !matches!(
        (components.next(), components.next()),
        (Some(Component::Normal(_)), None)
    ) {
        return Err(BundleError::Manifest(format!(
            "{name:?} is not the name of a file in the bundle folder"
        )));
    }
    let path = dir.join(name);
    let failed = |source| BundleError::Read {
        path: path.display().to_string(),
        source,
    };
    // Checked before opening: opening a FIFO blocks, and a symbolic link could lead out of
    // the folder. (The prover writes regular files only.)
    let kind = std::fs::symlink_metadata(&path)
        .map_err(failed)?
        .file_type();
    if !kind.is_file() {
        let what = if kind.is_symlink() {
            "a symbolic link, not a regular file"
        } else {
            "not a regular file"
        };
        return Err(failed(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            what,
        )));
    }
    let file = std::fs::File::open(&path).map_err(failed)?;
    let metadata = file.metadata().map_err(failed)?;
    let too_large = || BundleError::FileTooLarge {
        path: path.display().to_string(),
        limit,
    };
    if metadata.len() > limit {
        return Err(too_large());
    }
    // The size can change between the check and the read: the read is bounded too.
    read_at_most(file, limit)
        .map_err(failed)?
        .ok_or_else(too_large)
}

/// All of `reader` if it holds at most `limit` bytes, `None` if more (never reading past
/// `limit + 1`).
pub fn read_at_most(reader: impl Read, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut bytes = Vec::new();
    reader.take(limit + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

/// Reads a path file of at most [`MAX_PATH_FILE_BYTES`] (a device or a huge file is refused,
/// not read whole).
pub fn read_path_file(path: &Path) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    read_at_most(file, MAX_PATH_FILE_BYTES)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("larger than {MAX_PATH_FILE_BYTES} bytes: not a path file"))
}

/// Reads and shape-checks a bundle's manifest (no proof or key is read).
pub fn read_manifest(dir: &Path) -> Result<BundleManifest, BundleError> {
    let manifest: BundleManifest =
        serde_json::from_slice(&read(dir, MANIFEST, MAX_MANIFEST_BYTES)?)
            .map_err(|e| BundleError::Manifest(e.to_string()))?;
    if manifest.version != BUNDLE_VERSION {
        return Err(BundleError::Version(manifest.version));
    }
    Ok(manifest)
}

/// Runs a deserializer or verifier of a dependency on untrusted bytes: some of their checks are
/// assertions (plonky2 reads field elements with a `debug_assert!` that they are canonical), so
/// a panic is turned into `error` with its message instead of ending the process.
pub(crate) fn guarded<T>(what: &str, run: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(result) => result,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            Err(format!("{what} failed on malformed input: {message}"))
        }
    }
}

//! The artifact folder under the data directory:
//!
//! ```text
//! DATA/jobs.sqlite         the job store
//! DATA/parts/HEX           uploaded epoch parts, named by the SHA-256 of their bytes
//! DATA/bundles/JOB/        finished proof bundles
//! DATA/keys/BACKEND-SHAPE  serialised verifying keys, built once
//! DATA/tmp/                uploads and bundles being written; emptied at start-up
//! ```
//!
//! Everything reaches its final name by an atomic rename after an fsync, so a crash leaves
//! either the whole file or folder or nothing (and some litter in `tmp/`).

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::AsyncWriteExt;

/// The artifact folder.
#[derive(Debug)]
pub struct Artifacts {
    root: PathBuf,
}

/// Whether `name` is a plain hex digest (so it is safe as a file name).
pub fn is_hex_digest(name: &str) -> bool {
    name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

impl Artifacts {
    /// Creates the folders under `root` and empties `tmp/`.
    pub fn open(root: &Path) -> std::io::Result<Self> {
        for sub in ["parts", "bundles", "keys", "tmp", "checkpoints"] {
            super::create_private_dir(&root.join(sub))?;
            make_private(&root.join(sub), 0o700)?;
        }
        for entry in std::fs::read_dir(root.join("tmp"))? {
            let path = entry?.path();
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            if let Err(e) = removed {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove leftover temp file");
            }
        }
        Ok(Artifacts {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A fresh path under `tmp/`.
    pub fn temp_path(&self, what: &str) -> PathBuf {
        // Process-wide, so two services in one process (tests) never share a path.
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        self.root
            .join("tmp")
            .join(format!("{what}-{}-{n}", std::process::id()))
    }

    /// The stored part with this hex SHA-256.
    pub fn part_path(&self, sha256_hex: &str) -> PathBuf {
        self.root.join("parts").join(sha256_hex)
    }

    pub fn bundle_dir(&self, job_id: &str) -> PathBuf {
        self.root.join("bundles").join(job_id)
    }

    /// Where a job keeps its batch, merge and payout-list chunk proofs until it ends (so a
    /// restart resumes).
    pub fn checkpoint_dir(&self, job_id: &str) -> PathBuf {
        self.root.join("checkpoints").join(job_id)
    }

    /// Job ids with a checkpoint folder.
    pub fn checkpointed_jobs(&self) -> std::io::Result<Vec<String>> {
        let mut jobs = Vec::new();
        for entry in std::fs::read_dir(self.root.join("checkpoints"))? {
            if let Ok(name) = entry?.file_name().into_string() {
                jobs.push(name);
            }
        }
        Ok(jobs)
    }

    /// Removes a job's checkpoints (nothing to do if it has none).
    pub fn remove_checkpoints(&self, job_id: &str) {
        let dir = self.checkpoint_dir(job_id);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %dir.display(), error = %e, "cannot remove checkpoints")
            }
        }
    }

    /// Removes a job's bundle folder (nothing to do if it has none).
    pub fn remove_bundle(&self, job_id: &str) {
        let dir = self.bundle_dir(job_id);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(path = %dir.display(), error = %e, "cannot remove a bundle"),
        }
    }

    /// Removes the stored part with this hex SHA-256 (nothing to do if it is gone).
    pub fn remove_part(&self, sha256_hex: &str) {
        if !is_hex_digest(sha256_hex) {
            return;
        }
        let path = self.part_path(sha256_hex);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot remove a part"),
        }
    }

    /// Digests of the stored parts last modified more than `age` ago.
    pub fn parts_older_than(&self, age: std::time::Duration) -> std::io::Result<Vec<String>> {
        let now = std::time::SystemTime::now();
        let mut old = Vec::new();
        for entry in std::fs::read_dir(self.root.join("parts"))? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let modified = entry.metadata()?.modified()?;
            let elapsed = now.duration_since(modified).unwrap_or_default();
            if is_hex_digest(&name) && elapsed > age {
                old.push(name);
            }
        }
        Ok(old)
    }

    pub fn key_path(&self, backend: &str, shape: &str) -> PathBuf {
        self.root
            .join("keys")
            .join(format!("{backend}-{shape}.bin"))
    }

    /// Moves a finished bundle folder into place, replacing what an earlier, interrupted attempt
    /// may have left there.
    pub fn commit_bundle(&self, tmp_dir: &Path, job_id: &str) -> std::io::Result<PathBuf> {
        sync_dir_files(tmp_dir)?;
        let dest = self.bundle_dir(job_id);
        if dest.exists() {
            std::fs::remove_dir_all(&dest)?;
        }
        std::fs::rename(tmp_dir, &dest)?;
        sync_dir(&self.root.join("bundles"))?;
        Ok(dest)
    }

    /// Writes `bytes` to `dest` atomically (temp file, fsync, rename).
    pub fn write_atomic(&self, dest: &Path, bytes: &[u8]) -> std::io::Result<()> {
        let tmp = self.temp_path("file");
        {
            use std::io::Write;
            let mut file = super::private_file_options()
                .write(true)
                .create_new(true)
                .open(&tmp)?;
            file.write_all(bytes)?;
        }
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, dest)?;
        if let Some(parent) = dest.parent() {
            sync_dir(parent)?;
        }
        Ok(())
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Sets `path`'s mode (Unix; elsewhere nothing).
fn make_private(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// Makes a finished folder's files owner-only (0600, the folder 0700) and fsyncs them: the
/// provers write them with the process's umask.
fn sync_dir_files(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() {
            make_private(&path, 0o600)?;
            std::fs::File::open(&path)?.sync_all()?;
        }
    }
    make_private(dir, 0o700)?;
    sync_dir(dir)
}

/// One part being uploaded: written to a temp file and hashed as it arrives. Dropped before
/// [`PartWriter::commit`], it removes its temp file.
#[derive(Debug)]
pub struct PartWriter {
    file: Option<tokio::fs::File>,
    tmp: PathBuf,
    hasher: Sha256,
    size: u64,
}

/// A part stored under its content id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedPart {
    pub sha256: String,
    pub size: u64,
    pub path: PathBuf,
}

impl PartWriter {
    pub async fn create(artifacts: &Artifacts) -> std::io::Result<Self> {
        let tmp = artifacts.temp_path("part");
        let mut options = tokio::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(0o600);
        let file = options.open(&tmp).await?;
        Ok(PartWriter {
            file: Some(file),
            tmp,
            hasher: Sha256::new(),
            size: 0,
        })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub async fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| std::io::Error::other("part already committed"))?;
        file.write_all(data).await?;
        self.hasher.update(data);
        self.size += data.len() as u64;
        Ok(())
    }

    /// Flushes and fsyncs the bytes, then renames them to `parts/SHA256` (keeping an identical
    /// part already there).
    pub async fn commit(mut self, artifacts: &Artifacts) -> std::io::Result<CommittedPart> {
        let mut file = self
            .file
            .take()
            .ok_or_else(|| std::io::Error::other("part already committed"))?;
        file.flush().await?;
        file.sync_all().await?;
        drop(file);
        let sha256 = hex::encode(self.hasher.clone().finalize());
        let path = artifacts.part_path(&sha256);
        if tokio::fs::try_exists(&path).await? {
            tokio::fs::remove_file(&self.tmp).await?;
            // Fresh again: the start-up sweep of abandoned parts goes by age.
            let existing = tokio::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .await?;
            existing
                .into_std()
                .await
                .set_modified(std::time::SystemTime::now())?;
        } else {
            tokio::fs::rename(&self.tmp, &path).await?;
            // On tokio's blocking pool, like the file's own fsync: this runs on the runtime.
            tokio::fs::File::open(artifacts.root.join("parts"))
                .await?
                .sync_all()
                .await?;
        }
        Ok(CommittedPart {
            sha256,
            size: self.size,
            path,
        })
    }
}

impl Drop for PartWriter {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

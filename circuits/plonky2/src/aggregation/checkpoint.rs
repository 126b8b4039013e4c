//! Checkpoints: the proofs of finished batches, merges and payout-list chunks kept so that a run
//! stopped midway resumes from them ([`Checkpoints`], kept in a folder by [`CheckpointDir`]),
//! and [`Resume`], what a run is given to keep them and to be stopped.

use super::layout::AggregationShape;
use super::progress::{AggregationStage, Progress};
use super::prove::Prepared;
use super::Proof;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

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
/// `C{index}.proof` for a payout-list chunk; written to a temporary name and renamed, so a crash
/// never leaves half a proof), and an `identity` file naming the epoch and layout they belong
/// to.
#[derive(Debug)]
pub struct CheckpointDir {
    dir: PathBuf,
}

impl CheckpointDir {
    const IDENTITY: &'static str = "identity";

    /// Opens (creating) `dir` for the run named `identity` (from
    /// [`checkpoint_identity`]). Proofs of another run found there are
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

    fn path(&self, node: CheckpointNode) -> PathBuf {
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

/// Keeps `proof` as the checkpoint of `node`; a failure is reported, not fatal (a restart
/// proves the node again).
pub(crate) fn keep(
    checkpoints: &dyn Checkpoints,
    node: CheckpointNode,
    proof: &Proof,
    progress: Progress<'_>,
) {
    if let Err(reason) = checkpoints.store(node, &proof.to_bytes()) {
        progress(&AggregationStage::CheckpointNotSaved { node, reason });
    }
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
}

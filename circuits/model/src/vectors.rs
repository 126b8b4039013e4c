//! The committed epoch vectors (`testvectors/*.json`): an epoch in SPEC's JSON form with its
//! payout table and commitments in both hash families. They are the contract between the
//! project's implementations (both backends, the verifier's twins, circomlibjs and the Python
//! Goldilocks check); this is the one reader the Rust tests share.

use crate::io::{read_epoch_json, InputError};
use crate::report::PayoutReport;
use crate::types::Epoch;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// One vector file.
#[derive(Clone, Debug)]
pub struct EpochVector {
    /// The file's `name` (its stem).
    pub name: String,
    pub description: String,
    pub epoch: Epoch,
    /// The payout table with BN254 commitments.
    pub bn254: PayoutReport,
    /// The payout table with Goldilocks commitments.
    pub goldilocks: PayoutReport,
}

/// Why a vector file could not be read.
#[derive(Debug, Error)]
pub enum VectorError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not an epoch vector: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: its epoch is not valid: {source}")]
    Epoch { path: PathBuf, source: InputError },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VectorFile {
    name: String,
    description: String,
    epoch: serde_json::Value,
    bn254: PayoutReport,
    goldilocks: PayoutReport,
}

/// Every epoch vector in `dir`, sorted by name. Files without an `epoch` (the hash vectors)
/// are skipped; any other file that does not read is an error.
pub fn read_epoch_vectors(dir: &Path) -> Result<Vec<EpochVector>, VectorError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| VectorError::Io { path, source }
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let json = |source| VectorError::Json {
            path: path.clone(),
            source,
        };
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(json)?;
        if value.get("epoch").is_none() {
            continue;
        }
        let file: VectorFile = serde_json::from_value(value).map_err(json)?;
        let epoch = read_epoch_json(file.epoch.to_string().as_bytes()).map_err(|source| {
            VectorError::Epoch {
                path: path.clone(),
                source,
            }
        })?;
        out.push(EpochVector {
            name: file.name,
            description: file.description,
            epoch,
            bn254: file.bn254,
            goldilocks: file.goldilocks,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

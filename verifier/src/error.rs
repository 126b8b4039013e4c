//! Why a bundle was not accepted: one error type for both backends, the file reads and the
//! setup policy.

use thiserror::Error;
use zkattr_model::bundle::BUNDLE_VERSION;

/// Why a bundle was not accepted. Each names what is wrong.
#[derive(Debug, Error)]
pub enum BundleError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is larger than the {limit} bytes a bundle file may have")]
    FileTooLarge { path: String, limit: u64 },
    #[error("bundle.json is malformed: {0}")]
    Manifest(String),
    #[error("bundle version {0} is not supported (this verifier reads version {BUNDLE_VERSION})")]
    Version(u32),
    #[error("backend {0:?} is not supported by this verifier")]
    Backend(String),
    #[error(
        "proved under the UNSAFE setup {setup:?} (its secret is public: anyone can forge such \
         a proof); refused without --allow-unsafe-setup"
    )]
    UnsafeSetup { setup: String },
    #[error("no pinned verifying key for a {backend} circuit of shape {shape}")]
    UnknownShape { backend: String, shape: String },
    #[error("verifying key digest {found} is not the pinned {pinned} for shape {shape}")]
    KeyDigest {
        shape: String,
        pinned: String,
        found: String,
    },
    #[error("the verifying key file is malformed: {0}")]
    KeyFile(String),
    #[error("the circuit has {found} public inputs; the statement has {expected}")]
    PublicInputCount { found: usize, expected: usize },
    #[error("public input {index} of the proof is {value}, out of range for {what}")]
    PublicInputRange {
        index: usize,
        value: u64,
        what: &'static str,
    },
    #[error("the proof file is malformed: {0}")]
    ProofFile(String),
    #[error("the proof file has {found} bytes; a proof of this circuit has exactly {expected}")]
    ProofLength { found: usize, expected: usize },
    #[error("public input {name} is {proven} in the proof but {claimed} in bundle.json")]
    PublicInput {
        name: &'static str,
        proven: String,
        claimed: String,
    },
    #[error("payout table: {0}")]
    PayoutTable(String),
    #[error("the proof does not verify: {0}")]
    Proof(String),
    #[error("KZG parameters: {0}")]
    Params(String),
}

//! Why a run of the pipeline failed ([`EpochProverError`]), and the helpers that turn a
//! prover's error, panic or cancellation into one.

use super::layout::{MAX_BATCH, MAX_PAYEE_CAPACITY};
use super::native::AggregateError;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use thiserror::Error;
use zkattr_model::StatementError;

/// Why an epoch was not proved by the pipeline. Each names what is wrong.
#[derive(Debug, Error)]
pub enum EpochProverError {
    #[error("batch size {0} is not a power of two between 1 and {MAX_BATCH}")]
    BatchSize(usize),
    #[error("{0} queries exceed the depth-32 log trees")]
    TooManyQueries(usize),
    #[error("{0} payees exceed the depth-20 payout tree ({MAX_PAYEE_CAPACITY})")]
    TooManyPayees(usize),
    #[error("total paid {0} is at least the Goldilocks modulus 2^64 - 2^32 + 1: the plonky2 aggregation checks payouts in that field and cannot prove it (SPEC allows totals up to 2^64 - 1): split the epoch so each pays less")]
    PaidAboveModulus(u64),
    #[error("the epoch is not valid: {0}")]
    Epoch(#[from] StatementError),
    #[error("the payout challenges: {0}")]
    Challenges(#[from] AggregateError),
    #[error("aggregation layout: {0}")]
    Layout(String),
    #[error(
        "this epoch needs the aggregation shape {needed}, but the circuits were built for {built}"
    )]
    ShapeMismatch { needed: String, built: String },
    #[error("proving {stage}: {message}")]
    Proving { stage: String, message: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot use the checkpoint folder {path}: {source}")]
    CheckpointDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cancelled")]
    Cancelled,
    #[error("internal error: {0}")]
    Internal(String),
}

/// Wraps a prover's error as the failure of `stage`.
pub(crate) fn proving(stage: impl Into<String>) -> impl FnOnce(anyhow::Error) -> EpochProverError {
    move |e| EpochProverError::Proving {
        stage: stage.into(),
        message: format!("{e:#}"),
    }
}

/// Runs `prove`, turning a panic into an error: a constraint the honest witness misses makes
/// plonky2 panic.
pub(crate) fn unpanicked<T>(
    prove: impl FnOnce() -> Result<T, EpochProverError>,
) -> Result<T, EpochProverError> {
    catch_unwind(AssertUnwindSafe(prove))
        .map_err(|panic| EpochProverError::Internal(panic_message(&panic)))?
}

/// [`EpochProverError::Cancelled`] once `cancel` is set.
pub(crate) fn stop_if_cancelled(cancel: &AtomicBool) -> Result<(), EpochProverError> {
    if cancel.load(Ordering::Relaxed) {
        Err(EpochProverError::Cancelled)
    } else {
        Ok(())
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    let text = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    format!("the prover panicked: {text}")
}

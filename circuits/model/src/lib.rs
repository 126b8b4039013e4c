//! The attribution statement, v1: what every proof of this project says.
//!
//! Types and canonical form ([`types`], [`validate`]), the reference royalty rule ([`rule`]),
//! the commitment structure over any hash family ([`commit`], [`merkle`]), the interchange
//! formats ([`io`]), the payout table ([`report`]), a synthetic workload ([`synth`]) and the
//! reader of the committed test vectors ([`vectors`]).
//! Both proof backends, the service and the verifier consume this crate; it has no proof-system
//! dependency, so the verifier stays small.

pub mod bundle;
pub mod commit;
pub mod io;
pub mod merkle;
pub mod paths;
pub mod report;
pub mod rule;
pub mod synth;
pub mod types;
pub mod validate;
pub mod vectors;

pub use commit::{CommitmentFamily, EpochCommitments, Log};
pub use io::InputError;
pub use report::{PayoutEntry, PayoutReport};
pub use rule::{Payout, QueryShares, Settlement};
pub use types::{Epoch, EpochParams, Query, Slot};
pub use validate::{QueryRule, StatementError};

/// Runs the rule and computes the commitments of one family: the payout table of an epoch.
pub fn payout_report<F: CommitmentFamily>(
    family: &F,
    epoch: &Epoch,
) -> Result<(Settlement, EpochCommitments<F::Digest>, PayoutReport), StatementError> {
    let settlement = Settlement::compute(epoch)?;
    let commitments = commit::commit_epoch(family, epoch, &settlement)?;
    let report = PayoutReport::new::<F>(epoch, &settlement, &commitments);
    Ok((settlement, commitments, report))
}

//! Contributor checks: a payee's payout against a published payout commitment (`claim`), and
//! one query record against a published log commitment (`inclusion`).
//!
//! Path files are read strictly (zkattr_model::paths); the hashing is the verifier's own:
//! BN254 on the ark-bn254 twin, Goldilocks on the verifier's twin, never the prover's code.
//! A commitment is either given (it then stands for whatever published it) or taken from a
//! bundle verified first ([`check_claim_in_bundle`], [`check_inclusion_in_bundle`]).

use crate::statement::Verified;
use crate::{ArkBn254Family, GoldilocksTwin};
use zkattr_model::commit::{verify_payout_claim, verify_query_inclusion};
use zkattr_model::merkle::MerkleError;
use zkattr_model::paths::{CheckedPath, PathFile, PathFileError, PathKind};
use zkattr_model::{CommitmentFamily, Payout};

/// The hash family of a commitment and its path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FamilyName {
    Bn254,
    Goldilocks,
}

/// Why a claim or an inclusion was not accepted. Each names what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error("{0}")]
    Path(#[from] PathFileError),
    #[error("--commitment {0:?} is not a canonical {1} digest")]
    Commitment(String, &'static str),
    #[error("the path file opens commitment {file}, not the given {given}")]
    OtherCommitment { file: String, given: String },
    #[error("the path file is a {found} path; this check needs a {expected} path")]
    Kind { expected: String, found: PathKind },
    #[error("the path file is for adapter {file_adapter} with amount {file_amount}, not adapter {adapter} with amount {amount}")]
    Record {
        file_adapter: u32,
        file_amount: u64,
        adapter: u32,
        amount: u64,
    },
    #[error("{what} does not open commitment {commitment}: the path leads elsewhere")]
    NotOpen { what: String, commitment: String },
    #[error(transparent)]
    Merkle(#[from] MerkleError),
    #[error("backend {0:?} has no commitment family this verifier knows")]
    Backend(String),
}

/// A claim or inclusion that checked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    pub family: &'static str,
    pub kind: PathKind,
    pub index: u64,
    pub count: u64,
    pub what: String,
}

fn parse<F: CommitmentFamily>(
    commitment: &str,
    bytes: &[u8],
) -> Result<CheckedPath<F::Digest>, ClaimError> {
    let given = F::from_hex(commitment)
        .ok_or_else(|| ClaimError::Commitment(commitment.into(), F::NAME))?;
    let checked = PathFile::parse(bytes)?.check::<F>()?;
    if checked.commitment != given {
        return Err(ClaimError::OtherCommitment {
            file: F::to_hex(&checked.commitment),
            given: F::to_hex(&given),
        });
    }
    Ok(checked)
}

fn claim_in<F: CommitmentFamily>(
    family: &F,
    commitment: &str,
    payout: Payout,
    bytes: &[u8],
) -> Result<Opened, ClaimError> {
    let checked = parse::<F>(commitment, bytes)?;
    let Some(file) = checked.payout else {
        return Err(ClaimError::Kind {
            expected: "payout".into(),
            found: checked.kind,
        });
    };
    if file != payout {
        return Err(ClaimError::Record {
            file_adapter: file.adapter_id,
            file_amount: file.amount,
            adapter: payout.adapter_id,
            amount: payout.amount,
        });
    }
    let what = format!(
        "adapter {} with amount {}",
        payout.adapter_id, payout.amount
    );
    let opens = verify_payout_claim(
        family,
        &checked.commitment,
        checked.count,
        &payout,
        &checked.path,
    )?;
    verdict::<F>(opens, &checked, what)
}

fn inclusion_in<F: CommitmentFamily>(
    family: &F,
    commitment: &str,
    bytes: &[u8],
) -> Result<Opened, ClaimError> {
    let checked = parse::<F>(commitment, bytes)?;
    let (Some(log), Some(query)) = (checked.kind.log(), checked.query) else {
        return Err(ClaimError::Kind {
            expected: "activation or influence".into(),
            found: checked.kind,
        });
    };
    let what = format!(
        "query {} ({} used slots) in the {} log",
        query.query_id,
        query.used_count(),
        checked.kind
    );
    let opens = verify_query_inclusion(
        family,
        &checked.commitment,
        checked.count,
        log,
        &query,
        &checked.path,
    )?;
    verdict::<F>(opens, &checked, what)
}

/// What a path that did (`opens`) or did not open its commitment reports.
fn verdict<F: CommitmentFamily>(
    opens: bool,
    checked: &CheckedPath<F::Digest>,
    what: String,
) -> Result<Opened, ClaimError> {
    if !opens {
        return Err(ClaimError::NotOpen {
            what,
            commitment: F::to_hex(&checked.commitment),
        });
    }
    Ok(Opened {
        family: F::NAME,
        kind: checked.kind,
        index: checked.path.index,
        count: checked.count,
        what,
    })
}

/// Checks that payee `adapter_id` is owed `amount` under payout commitment `commitment`, with
/// the path file's bytes.
pub fn check_claim(
    family: FamilyName,
    commitment: &str,
    adapter_id: u32,
    amount: u64,
    path_file: &[u8],
) -> Result<Opened, ClaimError> {
    let payout = Payout { adapter_id, amount };
    match family {
        FamilyName::Bn254 => claim_in(&ArkBn254Family, commitment, payout, path_file),
        FamilyName::Goldilocks => claim_in(&GoldilocksTwin, commitment, payout, path_file),
    }
}

/// Checks that the query record in the path file is in the log committed to by `commitment`.
pub fn check_inclusion(
    family: FamilyName,
    commitment: &str,
    path_file: &[u8],
) -> Result<Opened, ClaimError> {
    match family {
        FamilyName::Bn254 => inclusion_in(&ArkBn254Family, commitment, path_file),
        FamilyName::Goldilocks => inclusion_in(&GoldilocksTwin, commitment, path_file),
    }
}

impl FamilyName {
    /// The family of a bundle's commitments: bn254 for halo2, goldilocks for plonky2.
    pub fn of_backend(backend: &str) -> Result<Self, ClaimError> {
        match backend {
            "halo2" => Ok(FamilyName::Bn254),
            "plonky2" => Ok(FamilyName::Goldilocks),
            other => Err(ClaimError::Backend(other.into())),
        }
    }
}

/// [`check_claim`] against the payout commitment of a bundle already verified (with its
/// setup held to the caller's options), in the bundle's family.
pub fn check_claim_in_bundle(
    verified: &Verified,
    adapter_id: u32,
    amount: u64,
    path_file: &[u8],
) -> Result<Opened, ClaimError> {
    check_claim(
        FamilyName::of_backend(&verified.backend)?,
        &verified.statement.payout_commitment,
        adapter_id,
        amount,
        path_file,
    )
}

/// [`check_inclusion`] against the log commitment of a bundle already verified: the
/// activation or influence commitment, as the path file's kind names.
pub fn check_inclusion_in_bundle(
    verified: &Verified,
    path_file: &[u8],
) -> Result<Opened, ClaimError> {
    let statement = &verified.statement;
    let commitment = match PathFile::parse(path_file)?.kind {
        PathKind::Activation => &statement.activation_commitment,
        PathKind::Influence => &statement.influence_commitment,
        found => {
            return Err(ClaimError::Kind {
                expected: "activation or influence".into(),
                found,
            })
        }
    };
    check_inclusion(
        FamilyName::of_backend(&verified.backend)?,
        commitment,
        path_file,
    )
}

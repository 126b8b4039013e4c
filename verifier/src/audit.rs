//! Payout audits: hold a bundle's public inputs and payout table to the published logs.
//!
//! With the logs, both log commitments and every payout are re-derived here (the reference rule
//! of zkattr_model, the verifier's own hashes: ark-bn254 for halo2 bundles, plonky2's Poseidon
//! for plonky2 bundles) and the first difference is reported. Without them, only what the
//! bundle says about itself is checked. The proof is not checked here: `verify DIR` does that.

use crate::error::BundleError;
use crate::options::{Setup, VerifyOptions};
use crate::statement::{check_table, compare};
use crate::{ArkBn254Family, GoldilocksTwin};
use std::path::Path;
use zkattr_model::bundle::BundleManifest;
use zkattr_model::{payout_report, CommitmentFamily, Epoch, PayoutReport, StatementError};

pub use crate::files::read_manifest;

/// Why an audit failed. `Mismatch` is the first difference between the bundle and the logs.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("the logs break the statement: {0}")]
    Statement(#[from] StatementError),
    #[error("{what}: the logs give {expected}, the bundle has {found}")]
    Mismatch {
        what: String,
        expected: String,
        found: String,
    },
}

/// What an audit checked, and what it could not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditReport {
    pub backend: String,
    pub family: &'static str,
    pub epoch_id: u64,
    pub n_payees: u64,
    pub checked: Vec<&'static str>,
    pub not_checked: Vec<&'static str>,
    /// The setup the bundle declares (unsafe only if the options allowed it).
    pub setup: Setup,
}

fn mismatch(what: impl Into<String>, expected: impl ToString, found: impl ToString) -> AuditError {
    AuditError::Mismatch {
        what: what.into(),
        expected: expected.to_string(),
        found: found.to_string(),
    }
}

/// Compares in the order a reader follows the statement; returns the first difference.
fn first_difference(expected: &PayoutReport, found: &PayoutReport) -> Result<(), AuditError> {
    let scalars: [(&str, String, String); 6] = [
        (
            "epoch_id",
            expected.epoch_id.to_string(),
            found.epoch_id.to_string(),
        ),
        (
            "rate_bps",
            expected.rate_bps.to_string(),
            found.rate_bps.to_string(),
        ),
        (
            "n_queries",
            expected.n_queries.to_string(),
            found.n_queries.to_string(),
        ),
        (
            "activation commitment",
            expected.activation_commitment.clone(),
            found.activation_commitment.clone(),
        ),
        (
            "influence commitment",
            expected.influence_commitment.clone(),
            found.influence_commitment.clone(),
        ),
        (
            "total_pool",
            expected.total_pool.to_string(),
            found.total_pool.to_string(),
        ),
    ];
    for (what, e, f) in scalars {
        if e != f {
            return Err(mismatch(what, e, f));
        }
    }
    let longest = expected.payouts.len().max(found.payouts.len());
    for i in 0..longest {
        match (expected.payouts.get(i), found.payouts.get(i)) {
            (Some(e), Some(f)) if e.adapter_id != f.adapter_id => {
                return Err(mismatch(
                    format!("payout entry {i}"),
                    format!("adapter {}", e.adapter_id),
                    format!("adapter {}", f.adapter_id),
                ))
            }
            (Some(e), Some(f)) if e.amount != f.amount => {
                return Err(mismatch(
                    format!("payout of adapter {}", e.adapter_id),
                    e.amount,
                    f.amount,
                ))
            }
            (Some(e), None) => {
                return Err(mismatch(
                    format!("payout entry {i}"),
                    format!("adapter {} paid {}", e.adapter_id, e.amount),
                    "no entry",
                ))
            }
            (None, Some(f)) => {
                return Err(mismatch(
                    format!("payout entry {i}"),
                    "no entry",
                    format!("adapter {} paid {}", f.adapter_id, f.amount),
                ))
            }
            _ => {}
        }
    }
    let rest: [(&str, String, String); 4] = [
        (
            "total_paid",
            expected.total_paid.to_string(),
            found.total_paid.to_string(),
        ),
        (
            "treasury",
            expected.treasury.to_string(),
            found.treasury.to_string(),
        ),
        (
            "n_payees",
            expected.n_payees.to_string(),
            found.n_payees.to_string(),
        ),
        (
            "payout commitment",
            expected.payout_commitment.clone(),
            found.payout_commitment.clone(),
        ),
    ];
    for (what, e, f) in rest {
        if e != f {
            return Err(mismatch(what, e, f));
        }
    }
    Ok(())
}

fn audit_in<F: CommitmentFamily>(
    family: &F,
    manifest: &BundleManifest,
    logs: Option<&Epoch>,
) -> Result<AuditReport, AuditError> {
    // The bundle against itself: the table's values are the public inputs, in order, adding
    // up, hashing to the payout commitment.
    compare(
        &manifest.public_inputs,
        &zkattr_model::bundle::PublicStatement::from_report(&manifest.payouts),
    )?;
    for (name, text) in [
        (
            "activation_commitment",
            &manifest.public_inputs.activation_commitment,
        ),
        (
            "influence_commitment",
            &manifest.public_inputs.influence_commitment,
        ),
        (
            "payout_commitment",
            &manifest.public_inputs.payout_commitment,
        ),
    ] {
        if F::from_hex(text).is_none() {
            return Err(BundleError::Manifest(format!(
                "{name} {text:?} is not a canonical {} digest",
                F::NAME
            ))
            .into());
        }
    }
    let n_payees = check_table(family, manifest, &manifest.public_inputs)?;
    let mut report = AuditReport {
        backend: manifest.backend.clone(),
        family: F::NAME,
        epoch_id: manifest.public_inputs.epoch_id,
        n_payees,
        checked: vec![
            "the payout table repeats the public inputs",
            "payees in strictly increasing adapter order; amounts add up to total_paid",
            "total_paid + treasury = total_pool",
            "the payout table hashes to the payout commitment",
        ],
        not_checked: vec!["the proof (run `zkattr-verify verify DIR`)"],
        setup: Setup::Transparent,
    };
    match logs {
        Some(epoch) => {
            let expected = payout_report(family, epoch)?.2;
            first_difference(&expected, &manifest.payouts)?;
            report.checked.extend([
                "both log commitments re-derived from the logs",
                "every payout, total_pool, total_paid and treasury re-derived by the reference rule",
            ]);
        }
        None => report.not_checked.extend([
            "the log commitments (no logs given: --logs EPOCH.json or --activations/--influence)",
            "the per-adapter payouts and totals against the logs",
        ]),
    }
    Ok(report)
}

/// Audits the bundle in `dir`, against the logs when given. The setup the bundle declares is
/// held to `options` first: an audit of a proof under an unsafe setup would vouch for numbers
/// anyone could have proven.
pub fn audit_bundle(
    dir: &Path,
    logs: Option<&Epoch>,
    options: &VerifyOptions,
) -> Result<AuditReport, AuditError> {
    let manifest = read_manifest(dir)?;
    let setup = options.check_setup(&manifest)?;
    let mut report = match manifest.backend.as_str() {
        "halo2" => audit_in(&ArkBn254Family, &manifest, logs),
        "plonky2" => audit_in(&GoldilocksTwin, &manifest, logs),
        other => Err(BundleError::Backend(other.into()).into()),
    }?;
    if setup.is_unsafe() {
        report
            .not_checked
            .push("a safe setup: the proof was made under an UNSAFE setup (allowed by option)");
    }
    report.setup = setup;
    Ok(report)
}

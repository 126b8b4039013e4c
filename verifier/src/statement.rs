//! What both backends check of a bundle besides the proof: the proven public values against
//! the manifest's, and the payout table against the proven statement.

use crate::error::BundleError;
use crate::options::Setup;
use zkattr_model::bundle::{BundleManifest, PublicStatement};
use zkattr_model::commit::payout_commitment;
use zkattr_model::CommitmentFamily;

/// What a verified bundle proves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub backend: String,
    pub shape: String,
    pub statement: PublicStatement,
    pub n_payees: u64,
    /// The setup the proof was made under. [`Setup::Unsafe`] (development KZG parameters,
    /// public toxic waste) is only returned when the caller allowed it: such a proof proves
    /// nothing to anyone else. Never settle on it.
    pub setup: Setup,
}

/// Compares the proven public values with the claimed ones; the first difference is the error.
pub(crate) fn compare(
    proven: &PublicStatement,
    claimed: &PublicStatement,
) -> Result<(), BundleError> {
    let fields: [(&'static str, String, String); 9] = [
        (
            "epoch_id",
            proven.epoch_id.to_string(),
            claimed.epoch_id.to_string(),
        ),
        (
            "rate_bps",
            proven.rate_bps.to_string(),
            claimed.rate_bps.to_string(),
        ),
        (
            "activation_commitment",
            proven.activation_commitment.clone(),
            claimed.activation_commitment.clone(),
        ),
        (
            "influence_commitment",
            proven.influence_commitment.clone(),
            claimed.influence_commitment.clone(),
        ),
        (
            "n_queries",
            proven.n_queries.to_string(),
            claimed.n_queries.to_string(),
        ),
        (
            "total_pool",
            proven.total_pool.to_string(),
            claimed.total_pool.to_string(),
        ),
        (
            "total_paid",
            proven.total_paid.to_string(),
            claimed.total_paid.to_string(),
        ),
        (
            "treasury",
            proven.treasury.to_string(),
            claimed.treasury.to_string(),
        ),
        (
            "payout_commitment",
            proven.payout_commitment.clone(),
            claimed.payout_commitment.clone(),
        ),
    ];
    for (name, proven, claimed) in fields {
        if proven != claimed {
            return Err(BundleError::PublicInput {
                name,
                proven,
                claimed,
            });
        }
    }
    Ok(())
}

/// Checks the payout table against the proven statement: same public values, amounts that add
/// up, payees in strictly increasing order, and a payout commitment that opens to the table.
pub(crate) fn check_table<Family: CommitmentFamily>(
    family: &Family,
    manifest: &BundleManifest,
    proven: &PublicStatement,
) -> Result<u64, BundleError> {
    let table = &manifest.payouts;
    compare(proven, &PublicStatement::from_report(table))?;
    let err = |m: String| Err(BundleError::PayoutTable(m));
    if table.family != Family::NAME {
        return err(format!(
            "family {} does not match the {} backend",
            table.family, manifest.backend
        ));
    }
    let mut paid: u128 = 0;
    let mut previous = 0u32;
    for (i, entry) in table.payouts.iter().enumerate() {
        if entry.adapter_id <= previous {
            return err(format!(
                "entry {i}: adapter {} does not follow adapter {previous} in increasing order",
                entry.adapter_id
            ));
        }
        previous = entry.adapter_id;
        paid += u128::from(entry.amount);
    }
    if paid != u128::from(table.total_paid) {
        return err(format!(
            "amounts add up to {paid}, not total_paid {}",
            table.total_paid
        ));
    }
    if u128::from(table.total_paid) + u128::from(table.treasury) != u128::from(table.total_pool) {
        return err("total_paid + treasury is not total_pool".into());
    }
    if table.n_payees != table.payouts.len() as u64 {
        return err(format!(
            "n_payees {} but {} entries",
            table.n_payees,
            table.payouts.len()
        ));
    }
    if table.n_payees > manifest.shape.payees {
        return err(format!(
            "{} payees, but the circuit of shape {} lists at most {}",
            table.n_payees,
            manifest.shape.key(),
            manifest.shape.payees
        ));
    }
    let payouts = table.payout_list();
    let commitment =
        payout_commitment(family, &payouts).map_err(|e| BundleError::PayoutTable(e.to_string()))?;
    let hex = Family::to_hex(&commitment);
    if hex != proven.payout_commitment {
        return err(format!(
            "the entries hash to {hex}, not the proven payout commitment {}",
            proven.payout_commitment
        ));
    }
    Ok(table.n_payees)
}

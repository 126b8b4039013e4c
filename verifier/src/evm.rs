//! `zkattr-verify evm DIR` (feature `evm`): the whole on-chain flow for a halo2 bundle in an
//! in-memory EVM (revm). The bundle is checked natively first; then the Solidity verifier is
//! generated from the bundle's verifying key and compiled (solc-js 0.8.19), and the verifier,
//! a test token and the settlement contract are deployed. Both commitments are registered, the
//! epoch is settled with the bundle's proof, and one contributor, registered as owner of every
//! payee, claims the chosen (default: largest) and the smallest payout one transaction each,
//! then all the others in one transaction, with paths computed from the bundle's payout table.
//! The setup policy of `options` applies before anything is deployed: a bundle made under UNSAFE
//! development parameters runs only if they are allowed.

use crate::error::BundleError;
use crate::files::read_manifest;
use crate::halo2::{load_halo2_bundle, Halo2Bundle};
use crate::options::{Setup, VerifyOptions};
use std::path::Path;
use zkattr_evm::{address, verifier_solidity, Claim, Deployment, EvmError, U256};
use zkattr_halo2::keys::verify;
use zkattr_halo2::Bn254Family;
use zkattr_model::commit::payout_tree;

/// Why the flow stopped. Each names the step.
#[derive(Debug, thiserror::Error)]
pub enum EvmRunError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("adapter {adapter} is not a payee of this bundle (payees: {payees})")]
    NotAPayee { adapter: u32, payees: String },
    #[error("the bundle pays no one: nothing to claim")]
    NoPayees,
    #[error("payout tree: {0}")]
    Tree(String),
    #[error("{step}: {source}")]
    Evm {
        step: &'static str,
        source: EvmError,
    },
    #[error("after the claim the recipient holds {found} tokens, not the {expected} claimed")]
    Balance { expected: u64, found: String },
    #[error("adapter {0} is paid 0: nothing to claim")]
    ZeroPayout(u32),
}

/// What the run measured. Gas is whole-transaction gas (21k intrinsic and calldata included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvmRun {
    pub epoch_id: u64,
    pub verifier_code_size: usize,
    pub verify_gas: u64,
    pub register_activation_gas: u64,
    pub register_influence_gas: u64,
    pub settle_gas: u64,
    /// The most expensive single claim (the chosen and the smallest payee).
    pub claim_gas: u64,
    /// One transaction claiming every other non-zero payout (None if there is none).
    pub batch_claim_gas: Option<u64>,
    /// How many payouts that transaction claimed.
    pub batch_claims: usize,
    pub adapter: u32,
    pub amount: u64,
    /// The setup the proof was made under (unsafe only if the options allowed it).
    pub setup: Setup,
}

fn step<T>(step: &'static str, r: Result<T, EvmError>) -> Result<T, EvmRunError> {
    r.map_err(|source| EvmRunError::Evm { step, source })
}

/// Runs the flow on the bundle in `dir` (KZG parameters from `params_dir`) under `options`;
/// `adapter` is the payee who claims (default: the first in the payout table).
pub fn run_evm(
    dir: &Path,
    params_dir: &Path,
    adapter: Option<u32>,
    options: &VerifyOptions,
) -> Result<EvmRun, EvmRunError> {
    let manifest = read_manifest(dir)?;
    let Halo2Bundle {
        manifest,
        vk,
        proof,
        instances,
        params,
        n_payees,
        setup,
    } = load_halo2_bundle(dir, params_dir, manifest, options)?;
    // The native check comes first: a bundle the small verifier rejects is never sent on.
    verify(&params.params, &vk, &proof, &instances)
        .map_err(|e| BundleError::Proof(e.to_string()))?;

    let payouts = manifest.payouts.payout_list();
    let index = match adapter {
        None if payouts.is_empty() => return Err(EvmRunError::NoPayees),
        None => (0..payouts.len())
            .max_by_key(|&i| payouts[i].amount)
            .unwrap_or(0),
        Some(a) => payouts
            .iter()
            .position(|p| p.adapter_id == a)
            .ok_or_else(|| EvmRunError::NotAPayee {
                adapter: a,
                payees: payouts
                    .iter()
                    .map(|p| p.adapter_id.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?,
    };
    if payouts[index].amount == 0 {
        return Err(EvmRunError::ZeroPayout(payouts[index].adapter_id));
    }
    let tree = payout_tree(&Bn254Family, &payouts).map_err(|e| EvmRunError::Tree(e.to_string()))?;
    let claim_of = |i: usize| -> Result<Claim, EvmRunError> {
        let path = tree
            .path(i as u64)
            .map_err(|e| EvmRunError::Tree(e.to_string()))?;
        Ok(Claim {
            adapter: payouts[i].adapter_id,
            amount: payouts[i].amount,
            index: i as u32,
            siblings: path.siblings,
        })
    };
    let smallest = (0..payouts.len())
        .filter(|&i| payouts[i].amount > 0)
        .min_by_key(|&i| payouts[i].amount)
        .unwrap_or(index);
    let mut singles = vec![index];
    if smallest != index {
        singles.push(smallest);
    }
    let batch: Vec<usize> = (0..payouts.len())
        .filter(|i| payouts[*i].amount > 0 && !singles.contains(i))
        .collect();

    let statement = &manifest.public_inputs;
    let epoch = statement.epoch_id;
    let sol = step(
        "generating the Solidity verifier",
        verifier_solidity(&params.params, &vk, instances.len()),
    )?;
    let mut d = step(
        "compiling and deploying the contracts",
        Deployment::new(&sol, statement.rate_bps, proof.len(), statement.total_pool),
    )?;
    let verify_gas = step(
        "calling the generated verifier",
        d.verify(&instances, &proof),
    )?;
    let register_activation_gas = step(
        "registering the activation commitment",
        d.register_activation(epoch, &instances[2]),
    )?;
    let register_influence_gas = step(
        "registering the influence commitment",
        d.register_influence(epoch, &instances[3]),
    )?;
    let settle_gas = step(
        "settle",
        d.settle(epoch, &instances, &proof, &tree.root(), n_payees),
    )?;
    let contributor = address(1000);
    for p in payouts.iter().filter(|p| p.amount > 0) {
        step(
            "registering an adapter's owner",
            d.set_owner(p.adapter_id, contributor),
        )?;
    }
    let mut claim_gas = 0;
    for &i in &singles {
        let claim = claim_of(i)?;
        let recipient = address(2000 + u64::from(claim.adapter));
        let gas = step(
            "claim",
            d.claim_many(contributor, &[(epoch, claim.clone())], recipient),
        )?;
        claim_gas = claim_gas.max(gas);
        let balance = step("reading the recipient's balance", d.balance(recipient))?;
        if balance != U256::from(claim.amount) {
            return Err(EvmRunError::Balance {
                expected: claim.amount,
                found: balance.to_string(),
            });
        }
    }
    let batch_claim_gas = if batch.is_empty() {
        None
    } else {
        let claims = batch
            .iter()
            .map(|&i| Ok((epoch, claim_of(i)?)))
            .collect::<Result<Vec<_>, EvmRunError>>()?;
        let recipient = address(3000);
        let gas = step(
            "claiming several payouts in one transaction",
            d.claim_many(contributor, &claims, recipient),
        )?;
        let expected: u64 = batch.iter().map(|&i| payouts[i].amount).sum();
        let balance = step("reading the recipient's balance", d.balance(recipient))?;
        if balance != U256::from(expected) {
            return Err(EvmRunError::Balance {
                expected,
                found: balance.to_string(),
            });
        }
        Some(gas)
    };
    let claim = claim_of(index)?;
    Ok(EvmRun {
        epoch_id: epoch,
        verifier_code_size: d.verifier_code_size,
        verify_gas,
        register_activation_gas,
        register_influence_gas,
        settle_gas,
        claim_gas,
        batch_claim_gas,
        batch_claims: batch.len(),
        adapter: claim.adapter,
        amount: claim.amount,
        setup,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A revert during the flow names the step and the contract's error.
    #[test]
    fn a_revert_names_its_step_and_reason() {
        let mut output = zkattr_evm::abi::selector("InstanceMismatch(uint256)").to_vec();
        output.extend(zkattr_evm::abi::word_u64(2));
        let e = EvmRunError::Evm {
            step: "settle",
            source: EvmError::Revert {
                gas_used: 30_000,
                output,
            },
        };
        assert_eq!(
            e.to_string(),
            "settle: reverted with InstanceMismatch(2) (gas used 30000)"
        );
    }

    #[test]
    fn a_missing_bundle_is_named() {
        let dir = std::env::temp_dir().join(format!("zkattr-evm-none-{}", std::process::id()));
        let e = run_evm(&dir, Path::new("params"), None, &VerifyOptions::strict()).unwrap_err();
        assert!(
            matches!(e, EvmRunError::Bundle(BundleError::Read { .. })),
            "{e}"
        );
        assert!(e.to_string().contains("bundle.json"), "{e}");
    }
}

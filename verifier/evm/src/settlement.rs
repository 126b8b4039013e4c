//! The settlement driver: deploys Settlement.sol with its verifier and a test token on a
//! [`Chain`], and calls it.

use std::path::PathBuf;

use halo2_base::halo2_proofs::halo2curves::bn256::Fr;

use crate::chain::{address, Chain};
use crate::solidity::{compile_solidity, compile_solidity_with, compile_source, tools_dir};
use crate::{abi, Address, EvmError, U256};

/// The custom errors of contracts/Settlement.sol (with OpenZeppelin's `require` messages
/// handled as `Error(string)`), to name a revert. Every argument is one ABI word.
const SETTLEMENT_ERRORS: &[&str] = &[
    "NotAuthorized()",
    "ZeroAddress()",
    "EqualRoles()",
    "NoCode(address)",
    "BadParameter()",
    "AlreadyRegistered()",
    "BadCommitment()",
    "NotRegistered()",
    "AlreadySettled()",
    "LogsAlreadySettled()",
    "InstanceMismatch(uint256)",
    "ProofLength(uint256,uint256)",
    "ProofRejected()",
    "PayoutOpeningMismatch()",
    "ReceivedLess(uint256,uint256)",
    "NotSettled()",
    "AlreadyClaimed()",
    "ZeroAmount()",
    "IndexBeyondPayees(uint256,uint256)",
    "BadPath()",
    "NotAFieldElement()",
    "ExceedsRemaining(uint256,uint256)",
    "ClaimWindowClosed(uint64)",
    "ClaimWindowOpen(uint64)",
    "NoClaims()",
    "OwnerAlreadySet()",
    "NoOwner()",
    "NoPendingChange()",
    "OverrideNotDue(uint64)",
];

/// Names a revert from its return data: a Settlement error with its arguments (an address in
/// hex, a number in decimal), a `require` message, empty data (the generated verifier reverts
/// without data), or raw hex.
pub fn revert_reason(output: &[u8]) -> String {
    if output.is_empty() {
        return "no data (the generated verifier rejects a proof this way)".into();
    }
    if output.len() >= 4 {
        let (sel, args) = output.split_at(4);
        for sig in SETTLEMENT_ERRORS {
            if sel != abi::selector(sig) {
                continue;
            }
            let (name, params) = sig.split_once('(').unwrap_or((sig, ")"));
            let types: Vec<&str> = params
                .trim_end_matches(')')
                .split(',')
                .filter(|t| !t.is_empty())
                .collect();
            if args.len() != 32 * types.len() {
                break;
            }
            let values: Vec<String> = types
                .iter()
                .zip(args.chunks(32))
                .map(|(t, w)| match *t {
                    "address" => format!("0x{}", hex::encode(&w[12..])),
                    _ => U256::from_be_slice(w).to_string(),
                })
                .collect();
            return format!("{name}({})", values.join(", "));
        }
        // Error(string): offset word, length word, bytes.
        if sel == abi::selector("Error(string)") && args.len() >= 64 {
            let len = U256::from_be_slice(&args[32..64]);
            if let Some(end) = usize::try_from(len).ok().and_then(|l| l.checked_add(64)) {
                if let Some(text) = args.get(64..end) {
                    return format!("\"{}\"", String::from_utf8_lossy(text));
                }
            }
        }
    }
    format!("0x{}", hex::encode(output))
}

/// The revert reason of a failed call, or `None` if it did not revert (for tests).
pub fn reverted_with<T>(r: &Result<T, EvmError>) -> Option<String> {
    match r {
        Err(EvmError::Revert { output, .. }) => Some(revert_reason(output)),
        _ => None,
    }
}

/// The calldata of `Settlement.settle(epoch, instances, proof, payoutRoot, nPayees)`.
pub fn settle_calldata(
    epoch: u64,
    instances: &[Fr],
    proof: &[u8],
    payout_root: &Fr,
    n_payees: u64,
) -> Vec<u8> {
    let mut data = abi::selector("settle(uint64,uint256[9],bytes,uint256,uint256)").to_vec();
    data.extend(abi::word_u64(epoch));
    for x in instances {
        data.extend(abi::word_fr(x));
    }
    // Head: epoch, 9 words, offset of proof, root, n; the proof tail follows.
    data.extend(abi::word_u64(32 * 13));
    data.extend(abi::word_fr(payout_root));
    data.extend(abi::word_u64(n_payees));
    data.extend(abi::bytes_tail(proof));
    data
}

/// The calldata of `Settlement.claim(claims, recipient)`: claims against any epochs, paid to
/// `recipient` in one transfer.
pub fn claim_calldata(claims: &[(u64, Claim)], recipient: Address) -> Result<Vec<u8>, EvmError> {
    let mut data =
        abi::selector("claim((uint64,uint32,uint64,uint32,uint256[20])[],address)").to_vec();
    // Head: offset of the array, recipient; the array of static structs follows inline.
    data.extend(abi::word_u64(64));
    data.extend(abi::word_address(recipient));
    data.extend(abi::word_u64(claims.len() as u64));
    for (epoch, c) in claims {
        if c.siblings.len() != PAYOUT_DEPTH {
            return Err(EvmError::Evm(format!(
                "{} siblings, want {PAYOUT_DEPTH}",
                c.siblings.len()
            )));
        }
        data.extend(abi::word_u64(*epoch));
        data.extend(abi::word_u64(c.adapter.into()));
        data.extend(abi::word_u64(c.amount));
        data.extend(abi::word_u64(c.index.into()));
        for s in &c.siblings {
            data.extend(abi::word_fr(s));
        }
    }
    Ok(data)
}

/// The payout tree's depth (SPEC), the sibling count of every claim.
pub const PAYOUT_DEPTH: usize = 20;

/// Settlement (with PoseidonSponge) is compiled with the optimizer (200 runs). The generated
/// verifier is not: the Yul optimizer fails on it ("Stack too deep") and the legacy one makes
/// verify cost ~2.5k more gas.
pub const SETTLEMENT_OPTIMIZED: bool = true;

/// What a deployment is configured with (constructor arguments and test funds).
#[derive(Debug, Clone)]
pub struct DeployConfig {
    pub rate_bps: u16,
    /// The verifier's exact proof length in bytes.
    pub proof_length: usize,
    /// Token base units per statement unit.
    pub unit: u64,
    pub claim_window: u64,
    pub override_delay: u64,
    /// Tokens minted to the payer and approved to the settlement contract.
    pub funds: U256,
    /// Deploy FeeToken (1% burnt on every transfer) instead of MiniToken.
    pub fee_token: bool,
    /// Compile Settlement with the optimizer (for gas comparisons; the verifier never is).
    pub optimize: bool,
}

impl DeployConfig {
    /// Unit 1, a 30-day claim window, a 2-day override delay, MiniToken, optimizer on.
    pub fn new(rate_bps: u16, proof_length: usize, funds: u64) -> Self {
        DeployConfig {
            rate_bps,
            proof_length,
            unit: 1,
            claim_window: 30 * 86_400,
            override_delay: 2 * 86_400,
            funds: U256::from(funds),
            fee_token: false,
            optimize: SETTLEMENT_OPTIMIZED,
        }
    }
}

/// The settlement contracts deployed on a [`Chain`], with the roles' addresses.
#[derive(Debug)]
pub struct Deployment {
    pub chain: Chain,
    pub verifier: Address,
    pub verifier_code_size: usize,
    pub token: Address,
    pub settlement: Address,
    pub settlement_code: Vec<u8>,
    pub admin: Address,
    pub operator: Address,
    pub engine: Address,
    pub registrar: Address,
    pub guardian: Address,
    pub treasury: Address,
    pub payer: Address,
}

/// A payee's claim: the leaf index and its depth-20 sibling path (leaf level first).
#[derive(Debug, Clone)]
pub struct Claim {
    pub adapter: u32,
    pub amount: u64,
    pub index: u32,
    pub siblings: Vec<Fr>,
}

/// A file of contracts/.
pub fn contract_file(name: &str) -> PathBuf {
    tools_dir().join("contracts").join(name)
}

/// The constructor arguments of Settlement.
#[allow(clippy::too_many_arguments)]
pub fn settlement_args(
    admin: Address,
    verifier: Address,
    proof_length: usize,
    token: Address,
    unit: u64,
    roles: [Address; 5],
    rate_bps: u16,
    claim_window: u64,
    override_delay: u64,
) -> Vec<u8> {
    let mut args = Vec::new();
    args.extend(abi::word_address(admin));
    args.extend(abi::word_address(verifier));
    args.extend(abi::word_u64(proof_length as u64));
    args.extend(abi::word_address(token));
    args.extend(abi::word_u64(unit));
    for r in roles {
        args.extend(abi::word_address(r));
    }
    args.extend(abi::word_u64(rate_bps.into()));
    args.extend(abi::word_u64(claim_window));
    args.extend(abi::word_u64(override_delay));
    args
}

impl Deployment {
    /// Deploys the generated verifier (from `verifier_sol`), a test token (minting `funds` to
    /// the payer) and the settlement contract for `rate_bps` and proofs of `proof_length` bytes.
    pub fn new(
        verifier_sol: &str,
        rate_bps: u16,
        proof_length: usize,
        funds: u64,
    ) -> Result<Self, EvmError> {
        Self::with_config(
            verifier_sol,
            &DeployConfig::new(rate_bps, proof_length, funds),
        )
    }

    /// [`Deployment::new`] under `config`.
    pub fn with_config(verifier_sol: &str, config: &DeployConfig) -> Result<Self, EvmError> {
        let tmp = std::env::temp_dir().join(format!(
            "zkattr-evm-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&tmp).map_err(|source| EvmError::Node {
            cmd: format!("mkdir {}", tmp.display()),
            source,
        })?;
        let verifier_code = compile_source(&tmp, "Halo2Verifier", verifier_sol)?;
        let settlement_code = compile_solidity_with(
            &[
                &contract_file("Settlement.sol"),
                &contract_file("PoseidonSponge.sol"),
            ],
            "Settlement",
            config.optimize,
        )?;
        let token_name = if config.fee_token {
            "FeeToken"
        } else {
            "MiniToken"
        };
        let token_code = compile_solidity(&[&contract_file("MiniToken.sol")], token_name)?;

        let (admin, operator, engine, registrar, payer, guardian, treasury) = (
            address(1),
            address(2),
            address(3),
            address(4),
            address(5),
            address(6),
            address(7),
        );
        let mut chain = Chain::new();
        let (verifier, _) = chain.deploy(admin, "Halo2Verifier", &verifier_code.creation, &[])?;
        let verifier_code_size = chain.code_size(verifier);
        let (token, _) = chain.deploy(admin, token_name, &token_code.creation, &[])?;
        let args = settlement_args(
            admin,
            verifier,
            config.proof_length,
            token,
            config.unit,
            [operator, engine, registrar, guardian, treasury],
            config.rate_bps,
            config.claim_window,
            config.override_delay,
        );
        let (settlement, _) =
            chain.deploy(admin, "Settlement", &settlement_code.creation, &args)?;

        let mut mint = abi::selector("mint(address,uint256)").to_vec();
        mint.extend(abi::word_address(payer));
        mint.extend(abi::word_u256(config.funds));
        chain.call(admin, token, mint)?;
        let mut approve = abi::selector("approve(address,uint256)").to_vec();
        approve.extend(abi::word_address(settlement));
        approve.extend(abi::word_u256(config.funds));
        chain.call(payer, token, approve)?;
        Ok(Deployment {
            chain,
            verifier,
            verifier_code_size,
            token,
            settlement,
            settlement_code: settlement_code.creation,
            admin,
            operator,
            engine,
            registrar,
            guardian,
            treasury,
            payer,
        })
    }

    /// Calls the generated verifier directly; returns whole-transaction gas.
    pub fn verify(&mut self, instances: &[Fr], proof: &[u8]) -> Result<u64, EvmError> {
        let calldata = crate::verifier_calldata(instances, proof);
        Ok(self
            .chain
            .call(self.payer, self.verifier, calldata)?
            .gas_used)
    }

    /// Calls Settlement's `signature` with `words` from `from`; returns whole-transaction gas.
    pub fn send(
        &mut self,
        from: Address,
        signature: &str,
        words: &[[u8; 32]],
    ) -> Result<u64, EvmError> {
        let mut data = abi::selector(signature).to_vec();
        for w in words {
            data.extend(w);
        }
        Ok(self.chain.call(from, self.settlement, data)?.gas_used)
    }

    /// The operator registers the activation commitment.
    pub fn register_activation(&mut self, epoch: u64, c: &Fr) -> Result<u64, EvmError> {
        self.register_from(self.operator, true, epoch, c)
    }

    /// The attribution engine registers the influence commitment.
    pub fn register_influence(&mut self, epoch: u64, c: &Fr) -> Result<u64, EvmError> {
        self.register_from(self.engine, false, epoch, c)
    }

    /// Calls `register*` from an arbitrary address (for tests of the access rule).
    pub fn register_from(
        &mut self,
        from: Address,
        activation: bool,
        epoch: u64,
        c: &Fr,
    ) -> Result<u64, EvmError> {
        let which = if activation {
            "registerActivation(uint64,uint256)"
        } else {
            "registerInfluence(uint64,uint256)"
        };
        self.send(from, which, &[abi::word_u64(epoch), abi::word_fr(c)])
    }

    /// The registrar records the first owner of `adapter`.
    pub fn set_owner(&mut self, adapter: u32, owner: Address) -> Result<u64, EvmError> {
        self.send(
            self.registrar,
            "registerAdapter(uint32,address)",
            &[abi::word_u64(adapter.into()), abi::word_address(owner)],
        )
    }

    /// The payer settles `epoch`; returns whole-transaction gas.
    pub fn settle(
        &mut self,
        epoch: u64,
        instances: &[Fr],
        proof: &[u8],
        payout_root: &Fr,
        n_payees: u64,
    ) -> Result<u64, EvmError> {
        if instances.len() != 9 {
            return Err(EvmError::Evm(format!(
                "{} public inputs, want 9",
                instances.len()
            )));
        }
        let data = settle_calldata(epoch, instances, proof, payout_root, n_payees);
        Ok(self.chain.call(self.payer, self.settlement, data)?.gas_used)
    }

    /// `from` claims `claims` (epoch, claim) to `recipient` in one transaction.
    pub fn claim_many(
        &mut self,
        from: Address,
        claims: &[(u64, Claim)],
        recipient: Address,
    ) -> Result<u64, EvmError> {
        let data = claim_calldata(claims, recipient)?;
        Ok(self.chain.call(from, self.settlement, data)?.gas_used)
    }

    /// `owner` claims one payout of `epoch` to itself; returns whole-transaction gas.
    pub fn claim(&mut self, owner: Address, epoch: u64, claim: &Claim) -> Result<u64, EvmError> {
        self.claim_many(owner, &[(epoch, claim.clone())], owner)
    }

    /// The token balance of `who`.
    pub fn balance(&mut self, who: Address) -> Result<U256, EvmError> {
        let mut data = abi::selector("balanceOf(address)").to_vec();
        data.extend(abi::word_address(who));
        let out = self.chain.call(address(9), self.token, data)?.output;
        Ok(U256::from_be_slice(&out))
    }
}

//! An in-memory EVM (revm, no C precompile backends) to deploy and call contracts and report
//! gas.

use revm::context::result::{ExecutionResult, Output};
use revm::context::TxEnv;
use revm::database::InMemoryDB;
use revm::primitives::TxKind;
use revm::{Context, ExecuteCommitEvm, MainBuilder, MainContext};

use crate::{Address, EvmError, EIP170_LIMIT, U256};

/// The calldata part of a transaction's intrinsic gas (EIP-2028: 4 per zero byte, 16 per other).
pub fn calldata_gas(data: &[u8]) -> u64 {
    data.iter().map(|&b| if b == 0 { 4 } else { 16 }).sum()
}

/// The result of a successful call.
#[derive(Debug, Clone)]
pub struct CallResult {
    /// Whole-transaction gas (21k intrinsic and calldata included).
    pub gas_used: u64,
    pub output: Vec<u8>,
}

type Evm = revm::MainnetEvm<revm::handler::MainnetContext<InMemoryDB>>;

/// An in-memory chain: transactions commit in order; nonces are tracked per sender.
pub struct Chain {
    evm: Evm,
    nonces: std::collections::HashMap<Address, u64>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("nonces", &self.nonces)
            .finish()
    }
}

impl Default for Chain {
    fn default() -> Self {
        Self::new()
    }
}

impl Chain {
    pub fn new() -> Self {
        Chain {
            evm: Context::mainnet()
                .with_db(InMemoryDB::default())
                .build_mainnet(),
            nonces: Default::default(),
        }
    }

    fn transact(
        &mut self,
        from: Address,
        kind: TxKind,
        data: Vec<u8>,
    ) -> Result<ExecutionResult, EvmError> {
        let nonce = self.nonces.entry(from).or_default();
        let tx = TxEnv {
            caller: from,
            gas_limit: 30_000_000,
            gas_price: 0,
            kind,
            data: data.into(),
            nonce: *nonce,
            ..Default::default()
        };
        let result = self
            .evm
            .transact_commit(tx)
            .map_err(|e| EvmError::Evm(format!("{e:?}")))?;
        *nonce += 1;
        Ok(result)
    }

    /// Deploys `creation || args` from `from`; checks the EIP-170 limit on the deployed code.
    pub fn deploy(
        &mut self,
        from: Address,
        name: &str,
        creation: &[u8],
        args: &[u8],
    ) -> Result<(Address, u64), EvmError> {
        let mut data = creation.to_vec();
        data.extend_from_slice(args);
        match self.transact(from, TxKind::Create, data)? {
            ExecutionResult::Success {
                output: Output::Create(_, Some(address)),
                gas_used,
                ..
            } => {
                let size = self.code_size(address);
                if size > EIP170_LIMIT {
                    return Err(EvmError::CodeTooLarge {
                        name: name.into(),
                        size,
                    });
                }
                Ok((address, gas_used))
            }
            ExecutionResult::Revert { gas_used, output } => Err(EvmError::Revert {
                gas_used,
                output: output.to_vec(),
            }),
            other => Err(EvmError::Deploy {
                name: name.into(),
                reason: format!("{other:?}"),
            }),
        }
    }

    /// Sets the timestamp of the blocks that follow (seconds).
    pub fn set_timestamp(&mut self, seconds: u64) {
        self.evm.ctx.block.timestamp = U256::from(seconds);
    }

    /// The timestamp of the next block.
    pub fn timestamp(&self) -> u64 {
        self.evm.ctx.block.timestamp.saturating_to()
    }

    /// The size of the code at `address`.
    pub fn code_size(&mut self, address: Address) -> usize {
        use revm::database_interface::Database;
        self.evm
            .ctx
            .journaled_state
            .database
            .basic(address)
            .ok()
            .flatten()
            .and_then(|a| a.code)
            .map(|c| c.original_byte_slice().len())
            .unwrap_or(0)
    }

    /// Calls `to` with `data` from `from`; a revert or halt is an error.
    pub fn call(
        &mut self,
        from: Address,
        to: Address,
        data: Vec<u8>,
    ) -> Result<CallResult, EvmError> {
        match self.transact(from, TxKind::Call(to), data)? {
            ExecutionResult::Success {
                gas_used, output, ..
            } => Ok(CallResult {
                gas_used,
                output: output.into_data().to_vec(),
            }),
            ExecutionResult::Revert { gas_used, output } => Err(EvmError::Revert {
                gas_used,
                output: output.to_vec(),
            }),
            ExecutionResult::Halt { reason, gas_used } => Err(EvmError::Halt {
                gas_used,
                reason: format!("{reason:?}"),
            }),
        }
    }
}

/// A test address from a small number.
pub fn address(n: u64) -> Address {
    Address::left_padding_from(&n.to_be_bytes())
}

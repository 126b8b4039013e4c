//! EVM settlement for halo2 bundles.
//!
//! - [`verifier_solidity`]: the Solidity verifier generated from a halo2 verifying key by
//!   snark-verifier (SHPLONK, Keccak transcript: the same proof bytes the bundle holds).
//! - [`compile_solidity`]: compiles Solidity with the pinned npm `solc@0.8.19` (solc-js, run by
//!   `node scripts/compile.js`; optimizer off, see FIELD-NOTES).
//! - [`Chain`]: an in-memory EVM (revm, no C precompile backends) to deploy and call contracts and
//!   report gas.

pub use revm::primitives::{Address, U256};

mod chain;
mod poseidon;
mod settlement;
mod solidity;

pub use chain::{address, calldata_gas, CallResult, Chain};
pub use poseidon::poseidon_sponge_solidity;
pub use settlement::*;
pub use solidity::*;

use halo2_base::halo2_proofs::halo2curves::bn256::Fr;
use halo2_base::halo2_proofs::halo2curves::ff::PrimeField;

/// EIP-170: the largest runtime code a contract may have.
pub const EIP170_LIMIT: usize = 24_576;

/// What went wrong on the EVM path.
#[derive(Debug, thiserror::Error)]
pub enum EvmError {
    #[error("generating the Solidity verifier failed: {0}")]
    Generate(String),
    #[error("running node ({cmd}) failed: {source}")]
    Node { cmd: String, source: std::io::Error },
    #[error("solc-js failed: {0}")]
    Solc(String),
    #[error("contract {0} missing from the solc output")]
    MissingContract(String),
    #[error("bad hex in solc output for {0}")]
    Hex(String),
    #[error("deployed code of {name} is {size} bytes, over the EIP-170 limit of {EIP170_LIMIT}")]
    CodeTooLarge { name: String, size: usize },
    #[error("deploying {name} failed: {reason}")]
    Deploy { name: String, reason: String },
    #[error("reverted with {} (gas used {gas_used})", revert_reason(output))]
    Revert { gas_used: u64, output: Vec<u8> },
    #[error("call halted (gas used {gas_used}): {reason}")]
    Halt { gas_used: u64, reason: String },
    #[error("EVM error: {0}")]
    Evm(String),
}

/// ABI helpers: 4-byte selectors and 32-byte words.
pub mod abi {
    use super::*;

    pub fn selector(signature: &str) -> [u8; 4] {
        let h = revm::primitives::keccak256(signature.as_bytes());
        [h[0], h[1], h[2], h[3]]
    }

    pub fn word_u256(x: U256) -> [u8; 32] {
        x.to_be_bytes()
    }

    pub fn word_u64(x: u64) -> [u8; 32] {
        word_u256(U256::from(x))
    }

    pub fn word_address(a: Address) -> [u8; 32] {
        let mut w = [0u8; 32];
        w[12..].copy_from_slice(a.as_slice());
        w
    }

    pub fn word_fr(x: &Fr) -> [u8; 32] {
        let mut w = [0u8; 32];
        for (i, b) in x.to_repr().as_ref().iter().rev().enumerate() {
            w[i] = *b;
        }
        w
    }

    /// Pads dynamic `bytes` to a length word plus whole words.
    pub fn bytes_tail(data: &[u8]) -> Vec<u8> {
        let mut out = word_u64(data.len() as u64).to_vec();
        out.extend_from_slice(data);
        out.resize(32 + data.len().div_ceil(32) * 32, 0);
        out
    }
}

#[cfg(test)]
mod tests;

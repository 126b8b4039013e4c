//! The small verifier. Depends on the statement model and on ark-bn254 only: no prover code.
//!
//! It verifies plonky2 proof bundles ([`bundle`]) and holds the auditors' independent
//! commitments ([`bn254`] and [`poseidon`] on ark-bn254, [`goldilocks`] on plonky2's hash).
//! Payout audits against the published logs ([`audit`]) and contributor claim and inclusion
//! checks on path files ([`claims`]); [`cli`] holds their subcommands. With the `evm` feature,
//! [`evm`] runs the on-chain settlement flow for a halo2 bundle in revm.

pub mod audit;
pub mod bn254;
pub mod bundle;
pub mod claims;
pub mod cli;
#[cfg(feature = "evm")]
pub mod evm;
pub mod goldilocks;
pub mod halo2;
pub mod poseidon;

pub use bn254::ArkBn254Family;
pub use goldilocks::GoldilocksTwin;

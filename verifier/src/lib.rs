//! The small verifier. Depends on the statement model and on ark-bn254 only: no prover code.
//!
//! It verifies plonky2 proof bundles ([`bundle`]) and holds the auditors' independent
//! commitments ([`bn254`] and [`poseidon`] on ark-bn254, [`goldilocks`] on plonky2's hash).
//! Payout audits, claim checks and halo2 bundles arrive with the verifier and halo2 issues.

pub mod bn254;
pub mod bundle;
pub mod goldilocks;
pub mod halo2;
pub mod poseidon;

pub use bn254::ArkBn254Family;

//! The small verifier. Depends on the statement model and on ark-bn254 only: no prover code.
//!
//! Today it holds the auditors' independent BN254 commitments ([`bn254`], [`poseidon`]); proof
//! verification, payout audits and claim checks arrive with the verifier issue.

pub mod bn254;
pub mod poseidon;

pub use bn254::ArkBn254Family;

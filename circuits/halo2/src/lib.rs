//! The BN254 backend: SPEC's Poseidon commitments natively ([`poseidon`], [`native`]) and the
//! halo2 (KZG) circuit that proves the attribution statement.
//!
//! - [`checks`]: the statement's checks by name, and which of them a mock run finds broken;
//! - [`chip`]: the Poseidon permutation chip (custom gates) and [`chip::PoseidonInstructions`];
//! - [`circuit`]: the configuration (halo2-base columns plus the chip) and synthesis;
//! - [`statement`]: the statement's constraints and its witness;
//! - [`keys`]: parameters, verifying keys and verification (what a verifier needs);
//! - [`ptau`]: a snarkjs Powers of Tau file converted into halo2 parameters, checked first
//!   (feature `prover`);
//! - [`prover`]: layouts, key generation and proving (feature `prover`, on by default).

#[cfg(feature = "prover")]
pub mod checks;
pub mod chip;
pub mod circuit;
pub mod keys;
pub mod native;
pub mod poseidon;
#[cfg(feature = "prover")]
pub mod prover;
#[cfg(feature = "prover")]
pub mod ptau;
#[cfg(feature = "prover")]
pub mod statement;

pub use native::Bn254Family;

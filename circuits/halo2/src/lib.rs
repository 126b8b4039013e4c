//! The BN254 backend: SPEC's Poseidon commitments natively ([`poseidon`], [`native`]) and the
//! halo2 (KZG) circuit that proves the attribution statement.
//!
//! - [`chip`]: the Poseidon permutation chip (custom gates) and [`chip::PoseidonInstructions`];
//! - [`circuit`]: the configuration (halo2-base columns plus the chip) and synthesis;
//! - [`statement`]: the statement's constraints and its witness;
//! - [`keys`]: parameters, verifying keys and verification (what a verifier needs);
//! - [`prover`]: layouts, key generation and proving (feature `prover`, on by default).

pub mod chip;
pub mod circuit;
pub mod keys;
pub mod native;
pub mod poseidon;
#[cfg(feature = "prover")]
pub mod prover;
#[cfg(feature = "prover")]
pub mod statement;

pub use native::Bn254Family;

//! The BN254 backend: SPEC's Poseidon commitments natively ([`poseidon`], [`native`]).
//! The halo2 (KZG) circuit over the same hash is built in a later issue.

pub mod native;
pub mod poseidon;

pub use native::Bn254Family;

//! The Goldilocks backend: SPEC's Goldilocks commitments natively ([`native`]).
//! The plonky2 circuit over the same hash is built in a later issue.

pub mod native;

pub use native::GoldilocksFamily;

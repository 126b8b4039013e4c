//! The Goldilocks backend: SPEC's Goldilocks commitments natively ([`native`]).
//! In-circuit commitment gadgets ([`gadgets`]) are the first part of the plonky2 circuit.
//! Epochs that fit one circuit are proved by [`prover`] ([`statement`], with SPEC's rule in
//! [`statement::rule`]); larger ones in [`aggregation::batch`] proofs under the [`aggregation`]
//! pipeline, which writes the same bundle.

pub mod native;

pub use native::GoldilocksFamily;
pub mod aggregation;
pub mod gadgets;
pub mod prover;
pub mod statement;
pub mod wrap;

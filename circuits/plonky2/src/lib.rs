//! The Goldilocks backend: SPEC's Goldilocks commitments natively ([`native`]).
//! In-circuit commitment gadgets ([`gadgets`]) are the first part of the plonky2 circuit.
//! Epochs beyond one circuit: [`batch`] proofs, [`merge`]d by recursion, [`final_layer`] to
//! SPEC's public inputs, [`shrink`]ed by one size-tuned recursion step, with the native twin in
//! [`aggregate`] (docs/aggregation.md); payout lists above 32,768 payees in [`list_chunk`]
//! proofs under [`chunked_final`], twin in [`payout_chunks`]; the
//! pipeline that proves a whole epoch that way and writes its bundle is [`epoch_prover`].

pub mod native;

pub use native::GoldilocksFamily;
pub mod aggregate;
pub mod batch;
pub mod chunked_final;
pub mod epoch_prover;
pub mod final_layer;
pub mod gadgets;
pub mod list_chunk;
pub mod merge;
pub mod payout_chunks;
pub mod prover;
pub mod rule;
pub mod shrink;
pub mod statement;

//! Payout lists above 32,768 payees (docs/aggregation.md, "Payout lists above 32,768 payees"),
//! proved in chunk proofs of aligned subtrees of the payout tree ([`circuit`]) that a final
//! layer over them links ([`final_layer`]); their native twin is [`native`].

pub mod circuit;
pub mod final_layer;
pub mod native;

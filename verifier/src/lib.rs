//! The small verifier: plain functions, no command-line parsing (`zkattr-verify`, in
//! `src/bin/`, is the only user of clap), and no prover code.
//!
//! [`bundle`] verifies proof bundles under the caller's [`VerifyOptions`] (an unsafe setup is
//! refused unless they allow it), dispatching to each backend's checks: [`plonky2_bundle`] and
//! [`halo2`]. What both share sits below them: [`error`], [`files`] (reads and size limits),
//! [`options`] and [`statement`] (public values and payout table). Payout audits against the
//! published logs ([`audit`]) and contributor claim and inclusion checks on path files
//! ([`claims`]) use the auditors' independent commitments ([`bn254`] and [`poseidon`] on
//! ark-bn254, [`goldilocks`]). With the `evm` feature, [`evm`] runs the on-chain settlement
//! flow for a halo2 bundle in revm.

pub mod audit;
pub mod bn254;
pub mod bundle;
pub mod claims;
pub mod error;
#[cfg(feature = "evm")]
pub mod evm;
pub mod files;
pub mod goldilocks;
pub mod halo2;
pub mod options;
pub mod plonky2_bundle;
pub mod poseidon;
pub mod statement;

pub use bn254::ArkBn254Family;
pub use goldilocks::GoldilocksTwin;
pub use options::{Setup, SetupPolicy, VerifyOptions};

//! The halo2 circuit that verifies the outer plonky2 proof: Goldilocks and its quadratic
//! extension in BN254 cells ([`goldilocks`]), and plonky2's gate constraints evaluated over
//! them ([`gates`]).
//!
//! Costs, counted from the `Context` after synthesis (`tests/extension.rs` and `tests/gates.rs`
//! print them), with a 13-bit range-check lookup table at k = 14, where one advice column (two
//! for the extension test) holds them:
//!
//! | operation | advice cells | lookup cells |
//! |---|---|---|
//! | Goldilocks load (canonical witness) | 39 | 12 |
//! | Goldilocks mul, reduced | 61 | 17 |
//! | extension mul, reduced | 148 | 37 |
//! | `ArithmeticGate` (20 ops), inputs loaded apart | 6800 | - |
//! | `ConstantGate` (2 constants) | 224 | - |
//! | `PublicInputGate` | 452 | - |
//! | `NoopGate` | 0 | 0 |
//!
//! A canonical value costs two 64-bit range checks (the value and `p - 1 - value`); a reduction
//! adds the quotient's range check, so products and sums are kept unreduced and reduced once.

pub mod gates;
pub mod goldilocks;

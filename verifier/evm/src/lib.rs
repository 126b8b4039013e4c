//! EVM settlement.

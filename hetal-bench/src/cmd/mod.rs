//! Subcommands of the `hetal` tool, one module each.

pub mod ckks_ops;
pub mod demo;

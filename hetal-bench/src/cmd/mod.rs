//! Subcommands of the `hetal` tool, one module each.

pub mod demo;

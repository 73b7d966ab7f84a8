//! Subcommands of the `hetal` tool, one module each.

pub mod ckks_ops;
pub mod client;
pub mod compare;
pub mod demo;
pub mod matmul;
pub mod method;
pub mod presets;
pub mod server;
pub mod softmax_error;
pub mod train;

//! Subcommands of the `hetal` tool, one module each.

pub mod ckks_ops;
pub mod client;
pub mod compare;
pub mod demo;
pub mod matmul;
pub mod method;
#[cfg(feature = "mpi")]
pub mod mpi;
pub mod presets;
pub mod server;
pub mod softmax_error;
pub mod train;

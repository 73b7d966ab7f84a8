//! # hetal-nn
//!
//! HETAL-style encrypted transfer learning: a softmax-regression classifier (with bias) trained
//! on encrypted features, generic over any [`hetal_traits::Evaluator`].
//!
//! * [`data`]: HETAL's `.npy` layout, CSV, and the embedded 8x8 digits.
//! * [`config`]: hyperparameters (learning rate, batch, epochs, NAG or SGD, patience).
//! * [`client`] and [`server`]: the two roles; the server is generic over `E: Evaluator` only and
//!   so cannot decrypt.
//! * [`protocol`]: the messages between them, checkpoints, and their file format.
//! * [`softmax`]: the homomorphic softmax behind a trait.
//! * [`session`]: both roles in one process, with checkpoints and resume.
//! * [`plain`]: the plaintext f64 reference training and the metrics (accuracy, loss, per-class report).
//! * [`report`]: run.py-style reports and the SVG loss plot.

pub mod client;
pub mod config;
pub mod data;
pub mod error;
pub mod plain;
pub mod protocol;
pub mod report;
pub mod server;
pub mod session;
pub mod softmax;

pub use error::{Error, Result};

//! # hetal-nn
//!
//! HETAL-style encrypted transfer learning: a softmax-regression classifier (with bias) trained
//! on encrypted features, generic over any [`hetal_traits::Evaluator`].
//!
//! * [`data`]: HETAL's `.npy` layout, CSV, and the embedded 8x8 digits.
//! * [`config`]: hyperparameters (learning rate, batch, epochs, NAG or SGD, patience).
//! * [`plain`]: the plaintext f64 reference training and the metrics (accuracy, loss, per-class report).
//! * [`report`]: run.py-style reports and the SVG loss plot.

pub mod config;
pub mod data;
pub mod error;
pub mod plain;
pub mod report;

pub use error::{Error, Result};

//! # hetal-linalg
//!
//! Encrypted linear algebra and function approximation, generic over any
//! [`hetal_traits::Evaluator`]: the same code runs on the mock (exact arithmetic, the error of the
//! algorithm itself) and on CKKS (plus scheme noise).
//!
//! * [`packed`]: block-packed matrices and their tilings.
//! * [`matmul`]: `A B^T` (DiagABT and baselines) and `A^T B` (DiagATB and baselines).
//! * [`poly`]: Chebyshev/power-basis polynomial evaluation with baby-step giant-step.
//! * [`compact`]: compaction of a step's logits into a dense, periodic virtual row layout and back.
//! * [`approx`]: exp, inverse, comparison and max, domain extension, ASoftmax and baselines, sigmoid.

pub mod approx;
pub mod compact;
pub mod error;
pub mod matmul;
pub mod packed;
pub mod poly;

pub use error::{Error, Result};

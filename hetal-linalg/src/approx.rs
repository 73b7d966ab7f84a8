//! Function approximations for encrypted training, each a reusable piece generic over
//! [`hetal_traits::Evaluator`], with a plaintext (`f64`) reference of the same computation.
//!
//! | piece | input range | depth | error (exact arithmetic) |
//! |---|---|---|---|
//! | [`exp::ExpApprox::hetal`] | `x ∈ [-8, 8]` | 4 + 3 | relative `< 6e-7` |
//! | [`exp::ExpApprox::tuned`] | `x ∈ [-128, 16]` | 4 + 7 | relative, up to a constant factor, `< 1e-11` on `[-32, 16]` |
//! | [`inverse::GoldschmidtInverse`] | `z ∈ (0, 2R)` | `n + 2` | relative `|1 - z/R|^(2^(n+1))` |
//! | [`inverse::GoldschmidtInverse::for_range`] | `z ∈ [z_lo, z_hi]` | `n + 2`, `n` the least for the target | relative `2^-bits` |
//! | [`compare::Comparison::hetal`] (`f∘g∘g`) | `d ∈ [-1, 1]` | 9 | see [`compare`] |
//! | [`compare::Comparison::max`] | `a, b ∈ [-1/2, 1/2]` | 10 | `< 5.2e-3` |
//! | [`domain::DomainExtension`] | `x ∈ [-r L^n, r L^n]` | `2n` (+3 precise) | see [`domain`] |
//! | [`softmax::asoftmax`] | scores in `[-R_max, R_max]` | tuned 68, HETAL's 77 for `c = 10` | see [`softmax`] |
//! | [`softmax::AsoftmaxParams::windowed`] | as tuned ASoftmax | tuned 64 for `c = 10` | as tuned ASoftmax |
//! | [`normalize_square::NormalizeSquareParams`] | scores in `[-B, B]` (proven by the caller) | 42 / 37 / 32 / 27 for `B = 128 / 64 / 32 / 16`, `c = 10` | `< 5e-4` absolute |
//! | [`sigmoid::SigmoidApprox`] | documented per variant | 2 or more | documented per variant |
//!
//! Depths are the levels consumed without bootstrapping. When an evaluator offers bootstrapping
//! ([`hetal_traits::Evaluator::bootstrap_info`]), every stage goes through a [`Refresher`], which
//! bootstraps a ciphertext right before a stage that would otherwise take it below the lowest
//! level bootstrapping accepts; without bootstrapping, a computation that needs more levels than
//! its input has fails up front with [`crate::Error::DepthExhausted`].

pub mod compare;
pub mod domain;
pub mod exp;
pub mod inverse;
pub mod layout;
pub mod normalize_square;
pub mod refresh;
pub mod sigmoid;
pub mod softmax;

pub use refresh::Refresher;

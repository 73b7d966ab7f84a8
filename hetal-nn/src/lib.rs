//! # hetal-nn
//!
//! HETAL-style encrypted transfer learning: a softmax-regression classifier (with bias) trained
//! on encrypted features, generic over any [`hetal_traits::Evaluator`].
//!
//! * [`data`]: HETAL's `.npy` layout, CSV, and the embedded 8x8 digits.
//! * [`config`]: hyperparameters (learning rate, batch, epochs, NAG or SGD, patience).
//! * [`client`] and [`server`]: the two roles. The server is generic over `E: Evaluator` only,
//!   a trait without decryption, so it cannot see data, labels, logits or model by construction.
//! * [`protocol`]: the messages between them, checkpoints, and their file format.
//! * [`method`]: what a training method needs on the client's side (its plan and keys, and
//!   HE.CNNtraining's quadratic-gradient preconditioners); one [`server::Server`] runs every
//!   method (HETAL's, HE.CNNtraining's per-class sigmoid with the SLE loss, NAG with the
//!   quadratic gradient and the Volley Revolver layout, and their mixes).
//! * [`scaling`]: the client's feature standardisation before encryption.
//! * [`ops`]: stage helpers of the server (refresh with counting, linear combinations).
//! * [`softmax`]: the homomorphic softmax behind a trait (hetal-linalg's ASoftmax by default).
//! * [`session`]: both roles in one process, with checkpoints and resume.
//! * [`distributed`]: the data-parallel server, several processes (MPI ranks) sharing every
//!   step by row blocks, bit-identical to one process.
//! * [`plain`]: the plaintext f64 reference training and the metrics (accuracy, loss, per-class report).
//! * [`report`]: run.py-style reports and the SVG loss plot.
//!
//! # Data flow (docs/architecture.md, "One training step")
//!
//! The client plans the run ([`protocol::Plan`]: HETAL's unit shape for the batch size and the
//! padded class count), generates keys, and encrypts the batches (features with a bias column,
//! one-hot labels), the validation features and zero initial weights. The server trains one
//! epoch at a time (DiagABT, ASoftmax, DiagATB, NAG; bootstraps placed where levels run out) and
//! returns encrypted validation logits; the client decrypts them, computes the validation loss,
//! and answers with a [`protocol::Decision`] (best so far? stop?). At the end the server returns
//! the encrypted weights of the best epoch.
//!
//! ```
//! use hetal_nn::client::Client;
//! use hetal_nn::config::TrainConfig;
//! use hetal_nn::data::Splits;
//! use hetal_nn::protocol::Plan;
//! use hetal_nn::server::Server;
//! use hetal_nn::session::{self, Outcome, RunOptions};
//! use hetal_nn::softmax::LinalgSoftmax;
//! use hetal_traits::KeyGenerator;
//! use hetal_traits::mock::{MockClient, MockEvaluator, MockParams};
//!
//! let splits = Splits::digits(0)?.truncated(256, 60, 100);
//! let cfg = TrainConfig { batch_size: 64, epochs: 2, ..TrainConfig::default() };
//! // A mock with HEaaN FGb's level structure: 12 levels, bootstrapping from 3 back to 12.
//! let params = MockParams::ideal(1024, 12, 40.0).with_bootstrap(3, 12, 1.0);
//!
//! // Client: plan, keys, encryption.
//! let plan = Plan::new(&splits, &cfg, params.slots, 64.0, "asoftmax")?;
//! let softmax = LinalgSoftmax::asoftmax();
//! let request = plan.key_request(&softmax.required_keys(plan.shape()?, plan.classes)?, true)?;
//! let mut backend = MockClient::new(params, 1);
//! let keys = backend.generate_evaluation_keys(&request)?;
//! let mut client = Client::new(backend, plan)?;
//! let data = client.encrypt_data(&splits)?;
//!
//! // Server: evaluation keys and ciphertexts only.
//! let mut server = Server::new(MockEvaluator::new(keys), Some(Box::new(softmax)), &data)?;
//! let Outcome::Finished(model) = session::run(&mut client, &mut server, &splits, &RunOptions::default(), &mut |_| {})? else {
//!     unreachable!("no interruption was asked for")
//! };
//! let weights = client.decrypt_model(&model)?;
//! assert!(weights.accuracy(&splits.test) > 0.7);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod client;
pub mod config;
pub mod data;
pub mod distributed;
pub mod error;
pub mod method;
pub mod ops;
pub mod plain;
pub mod protocol;
pub mod refresh;
pub mod report;
pub mod scaling;
pub mod server;
pub mod session;
pub mod softmax;
mod state;

pub use error::{Error, Result};

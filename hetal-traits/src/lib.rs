//! # hetal-traits
//!
//! The homomorphic-encryption abstraction every other hetal crate is written against.
//!
//! * [`Encoder`]: slot encoding and parameter queries, shared by both roles.
//! * [`Evaluator`]: the server's homomorphic operations. Code generic over `E: Evaluator` has no
//!   way to decrypt: decryption lives in [`Decryptor`], which only the client implements.
//! * [`Encryptor`], [`Decryptor`], [`KeyGenerator`]: the client roles.
//! * [`EvaluatorExt`]: algorithms written once over the core (slot sums, masks, replication,
//!   diagonal linear transforms), so backends cannot diverge on them.
//! * [`mock`]: a plaintext backend that follows the level and scale rules of CKKS and fails where
//!   CKKS would; the oracle of the property tests.
//! * [`counting`]: a wrapper that counts every operation and the level it ran at.
//! * `conformance` (feature `conformance`): the test suite every backend must pass.
//!
//! Level and scale rules are documented in [`evaluator`].
//!
//! ```
//! use hetal_traits::mock::{MockClient, MockEvaluator, MockParams};
//! use hetal_traits::{Decryptor, Encoder, Encryptor, EvaluatorExt, KeyGenerator, KeyRequest};
//!
//! // The client: 8 slots, 3 levels, scale 2^40.
//! let mut client = MockClient::new(MockParams::ideal(8, 3, 40.0), 7);
//! let keys = client.generate_evaluation_keys(&KeyRequest::with_rotations([1, 2, 4]))?;
//! // The server holds evaluation keys only.
//! let server = MockEvaluator::new(keys);
//! let x = client.encrypt_real(&[1.0, 2.0, 3.0, 4.0], server.max_level())?;
//! let s = server.sum_slots(&x)?;
//! assert!((client.decrypt_real(&s)?[0] - 10.0).abs() < 1e-9);
//! # Ok::<(), hetal_traits::Error>(())
//! ```

pub mod counting;
pub mod error;
pub mod evaluator;
pub mod ext;
pub mod mock;
pub mod types;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use error::{Error, Operation, Result};
pub use evaluator::{
    Ciphertext, Client, ClientFor, Decryptor, Encoder, Encryptor, Evaluator, KeyGenerator, Leveled,
    Plaintext, check_encode_input, check_sparse_slots, drop_scale_factor,
};
pub use ext::EvaluatorExt;
pub use types::{BootstrapInfo, Complex64, KeyRequest, Level, RotStep, Scale};

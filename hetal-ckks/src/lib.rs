//! # hetal-ckks
//!
//! A leveled RNS-CKKS backend for hetal, implementing the [`hetal_traits`] roles:
//! [`CkksEvaluator`] (the server: [`hetal_traits::Evaluator`]) and [`CkksClient`] (encryption,
//! decryption, key generation).
//!
//! * RNS polynomials with one `u64` per residue, kept in the NTT domain; NTTs by `tfhe-ntt`
//!   (AVX-512, IFMA for primes below 2^50) behind [`ntt::NttBackend`], with a scalar reference.
//! * Encoding by the special FFT in the `5^j` slot order, sparse packing (`log_slots`).
//! * Fixed-Hamming-weight ternary secrets; hybrid key switching with `dnum` digits and special
//!   primes `P`; hoisted rotations; key-switching keys whose `a` parts are expanded from seeds.
//! * Exact scale tracking: canonical scales `Δ_{l-1} = Δ_l²/q_l` as `hetal_traits` defines.
//! * Versioned, validated serialisation ([`serial`]).
//! * Key switching ([`keyswitch`]): exact centred fast basis conversion (blocked, with an AVX-512
//!   IFMA kernel chosen at run time), 128-bit lazy inner products, NTT-domain ModDown; the
//!   decomposition is public so that many keys can share it (hoisting, bootstrapping).
//! * Hot loops in [`simd`]: AVX-512/IFMA kernels chosen at run time (pointwise and tensor
//!   products, inner products, conversions, Shoup constants) with scalar fallbacks; outputs
//!   written in one pass into pooled buffers that dropped ciphertexts return.
//! * Parallelism: rayon over residues (limbs) and coefficient blocks. Operations use rayon's
//!   global pool (`RAYON_NUM_THREADS=1` for one thread) or a dedicated pool
//!   ([`CkksEvaluator::with_threads`]).
//!
//! Presets ([`presets`]): one registry of named parameter sets, looked up by
//! [`presets::by_name`] (`insecure-n10` … `insecure-n12` for tests; `n14-l7`, `n15-l16`,
//! `n16-l12`, `n16-l20` with 128-bit security checked against the HomomorphicEncryption.org bound
//! for ternary secrets; the bootstrappable `boot-n16`, `boot-n16-dense` and their small insecure
//! test versions), each describing its levels, security, precision and key-set memory
//! ([`presets::Preset::info`]) without generating keys. Building parameters reports a typed
//! [`ParamsError`]. Benchmarks: `cargo bench -p hetal-ckks --bench ops`; peer comparison (OpenFHE,
//! HEaaN, bootstrapping): `scripts/compare_peers.py` (see `hetal-ckks/BENCHMARKS.md`).
//!
//! ```
//! use hetal_ckks::{CkksClient, CkksEvaluator, CkksParams, presets};
//! use hetal_traits::{Decryptor, Encoder, Encryptor, Evaluator, KeyGenerator, KeyRequest, RotStep};
//!
//! let params = CkksParams::new(&presets::insecure_test_n10())?;
//! let mut client = CkksClient::from_seed(params.clone(), 1);
//! let keys = client.generate_evaluation_keys(&KeyRequest::with_rotations([1]))?;
//! let server = CkksEvaluator::new(params, keys)?;
//! let x = client.encrypt_real(&[1.0, 2.0, 3.0], server.max_level())?;
//! let y = server.rescale(&server.mul(&x, &x)?)?;
//! let y = server.rotate(&y, RotStep(1))?;
//! let out = client.decrypt_real(&y)?;
//! assert!((out[0] - 4.0).abs() < 1e-6 && (out[1] - 9.0).abs() < 1e-6);
//! # Ok::<(), hetal_traits::Error>(())
//! ```

pub mod arith;
pub mod bootstrap;
pub mod ciphertext;
pub mod client;
pub mod encoder;
pub mod encoding;
pub mod error;
pub mod evaluator;
pub mod keys;
pub mod keyswitch;
pub mod ntt;
pub mod params;
pub mod presets;
pub mod ring;
pub mod sampling;
pub mod security;
pub mod serial;
pub mod simd;

pub use ciphertext::{Ciphertext, Plaintext};
pub use client::CkksClient;
pub use encoder::CkksEncoder;
pub use error::ParamsError;
pub use evaluator::CkksEvaluator;
pub use keys::{EvaluationKeys, PublicKey, SecretKey, SwitchingKey};
pub use params::{CkksParams, Moduli, ParamsLiteral, ResolvedModuli, Security};

//! A plaintext backend that behaves like CKKS as far as levels, scales, keys and ranges go.
//!
//! Ciphertexts are vectors of complex slot values plus a level, a scale and the identity of the
//! parameters and secret key they belong to. Every rule of [`crate::evaluator`] is enforced: a
//! multiplication at level 0, an addition of mismatched scales, a rotation without its key, a
//! bootstrap below its minimum level or outside its input range, a value that would overflow
//! the modulus, a ciphertext from another parameter set or another secret key: each returns the
//! matching [`Error`], exactly where the CKKS backend fails (or would silently go wrong).
//!
//! Optionally, seeded Gaussian noise of a configured standard deviation is added to every slot
//! (real and imaginary part) at encryption and after every operation that adds noise in CKKS
//! (key switching, rescaling, bootstrapping), to imitate CKKS error.
//!
//! The mock can mirror a real modulus chain ([`MockParams::from_chain`]): its scales then evolve
//! bit for bit like those of the CKKS ciphertexts.

use crate::error::{Error, Operation, Result};
use crate::evaluator::{
    Decryptor, Encoder, Encryptor, Evaluator, KeyGenerator, Leveled, check_encode_input,
    check_sparse_slots, drop_scale_factor,
};
use crate::types::{BootstrapInfo, Complex64, KeyRequest, Level, RotStep, Scale};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// Parameters of the mock: slot count, modulus chain, default scale, bootstrapping and noise.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MockParams {
    /// Number of slots (a power of two).
    pub slots: usize,
    /// The modulus chain `q_0 .. q_L` (values, not bits); `L` is the maximum level.
    pub primes: Vec<f64>,
    /// The scale `Δ_L` of a fresh encryption at the top level.
    pub default_scale: f64,
    /// Bootstrapping behaviour, if any.
    pub bootstrap: Option<BootstrapInfo>,
    /// Standard deviation (in slot units) of the Gaussian noise added to each slot component at
    /// encryption and after each noisy operation; 0 for exact arithmetic.
    pub noise_std: f64,
}

impl MockParams {
    /// An ideal chain: `q_0 = 2^(log_scale + 20)`, `q_1 = ... = q_L = 2^log_scale`, default scale
    /// `2^log_scale`. All canonical scales are then exactly `2^log_scale`.
    pub fn ideal(slots: usize, max_level: u32, log_scale: f64) -> Self {
        let mut primes = vec![(log_scale + 20.0).exp2()];
        primes.extend((0..max_level).map(|_| log_scale.exp2()));
        MockParams {
            slots,
            primes,
            default_scale: log_scale.exp2(),
            bootstrap: None,
            noise_std: 0.0,
        }
    }

    /// Mirrors a real modulus chain `q_0 .. q_L` (e.g. a CKKS preset's primes).
    pub fn from_chain(slots: usize, primes: &[u64], default_scale: f64) -> Self {
        MockParams {
            slots,
            primes: primes.iter().map(|&q| q as f64).collect(),
            default_scale,
            bootstrap: None,
            noise_std: 0.0,
        }
    }

    /// Enables bootstrapping from `min_input_level` to `output_level` for slot components in
    /// `[-input_bound, input_bound]`.
    pub fn with_bootstrap(
        mut self,
        min_input_level: u32,
        output_level: u32,
        input_bound: f64,
    ) -> Self {
        self.bootstrap = Some(BootstrapInfo {
            min_input_level: Level(min_input_level),
            output_level: Level(output_level),
            input_bound,
        });
        self
    }

    /// Sets the noise standard deviation.
    pub fn with_noise(mut self, noise_std: f64) -> Self {
        self.noise_std = noise_std;
        self
    }

    /// The maximum level `L`.
    pub fn max_level(&self) -> Level {
        Level(self.primes.len().saturating_sub(1) as u32)
    }

    fn validate(&self) -> Result<()> {
        if !self.slots.is_power_of_two() || self.slots < 2 {
            return Err(Error::invalid(format!(
                "slot count {} is not a power of two >= 2",
                self.slots
            )));
        }
        if self.primes.is_empty() || self.primes.iter().any(|q| !q.is_finite() || *q < 2.0) {
            return Err(Error::invalid(
                "the modulus chain must be non-empty with every prime >= 2",
            ));
        }
        if !(self.default_scale.is_finite() && self.default_scale > 0.0) {
            return Err(Error::invalid("default scale must be positive and finite"));
        }
        if !(self.noise_std.is_finite() && self.noise_std >= 0.0) {
            return Err(Error::invalid(
                "noise standard deviation must be finite and >= 0",
            ));
        }
        if let Some(b) = self.bootstrap
            && (b.output_level > self.max_level()
                || b.min_input_level > b.output_level
                || b.input_bound <= 0.0)
        {
            return Err(Error::invalid(
                "bootstrap levels must satisfy min_input <= output <= max level",
            ));
        }
        Ok(())
    }

    fn fingerprint(&self) -> u64 {
        // FNV-1a over the parameters that define compatibility.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |x: u64| {
            for b in x.to_le_bytes() {
                h ^= b as u64;
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        };
        eat(self.slots as u64);
        eat(self.default_scale.to_bits());
        for q in &self.primes {
            eat(q.to_bits());
        }
        h
    }
}

/// Shared, validated mock context.
#[derive(Debug)]
struct Context {
    params: MockParams,
    canonical: Vec<f64>,
    log2_q: Vec<f64>,
    id: u64,
}

impl Context {
    fn new(params: MockParams) -> Result<Arc<Self>> {
        params.validate()?;
        let l = params.primes.len();
        let mut canonical = vec![0.0; l];
        canonical[l - 1] = params.default_scale;
        for i in (0..l - 1).rev() {
            canonical[i] = canonical[i + 1] * canonical[i + 1] / params.primes[i + 1];
        }
        let mut log2_q = Vec::with_capacity(l);
        let mut acc = 0.0;
        for q in &params.primes {
            acc += q.log2();
            log2_q.push(acc);
        }
        let id = params.fingerprint();
        Ok(Arc::new(Context {
            params,
            canonical,
            log2_q,
            id,
        }))
    }
}

/// A mock ciphertext: slot values with level, scale, parameter and key identity.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MockCiphertext {
    values: Vec<Complex64>,
    level: Level,
    scale: Scale,
    params_id: u64,
    key_id: u64,
}

/// A mock plaintext: slot values with level, scale and parameter identity.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MockPlaintext {
    values: Vec<Complex64>,
    level: Level,
    scale: Scale,
    params_id: u64,
}

impl Leveled for MockCiphertext {
    fn level(&self) -> Level {
        self.level
    }
    fn scale(&self) -> Scale {
        self.scale
    }
}

impl Leveled for MockPlaintext {
    fn level(&self) -> Level {
        self.level
    }
    fn scale(&self) -> Scale {
        self.scale
    }
}

macro_rules! impl_encoder {
    ($t:ty) => {
        impl Encoder for $t {
            type Plaintext = MockPlaintext;

            fn slots(&self) -> usize {
                self.ctx.params.slots
            }
            fn max_level(&self) -> Level {
                self.ctx.params.max_level()
            }
            fn prime(&self, level: Level) -> f64 {
                self.ctx.params.primes[level.index().min(self.ctx.params.primes.len() - 1)]
            }
            fn canonical_scale(&self, level: Level) -> Scale {
                Scale(self.ctx.canonical[level.index().min(self.ctx.canonical.len() - 1)])
            }
            fn log2_modulus(&self, level: Level) -> f64 {
                self.ctx.log2_q[level.index().min(self.ctx.log2_q.len() - 1)]
            }
            fn encode(
                &self,
                values: &[Complex64],
                level: Level,
                scale: Scale,
            ) -> Result<MockPlaintext> {
                check_encode_input(self, values, level, scale)?;
                let mut v = values.to_vec();
                v.resize(self.ctx.params.slots, Complex64::new(0.0, 0.0));
                Ok(MockPlaintext {
                    values: v,
                    level,
                    scale,
                    params_id: self.ctx.id,
                })
            }
            fn decode(&self, pt: &MockPlaintext) -> Result<Vec<Complex64>> {
                if pt.params_id != self.ctx.id {
                    return Err(Error::mismatch("plaintext encoded under other parameters"));
                }
                Ok(pt.values.clone())
            }
        }
    };
}

/// The client side of the mock: holds the (simulated) secret key; encrypts, decrypts and
/// generates evaluation keys.
#[derive(Debug)]
pub struct MockClient {
    ctx: Arc<Context>,
    key_id: u64,
    rng: ChaCha8Rng,
    noise: Option<Normal<f64>>,
}

impl MockClient {
    /// A client for `params`; `seed` determines its key identity and encryption noise.
    ///
    /// # Panics
    /// Never for valid parameters; use [`MockClient::try_new`] to get an error for invalid ones.
    pub fn new(params: MockParams, seed: u64) -> Self {
        Self::try_new(params, seed).unwrap_or_else(|e| panic!("invalid mock parameters: {e}"))
    }

    /// A client for `params`, or an error if the parameters are invalid.
    pub fn try_new(params: MockParams, seed: u64) -> Result<Self> {
        let ctx = Context::new(params)?;
        let noise = noise_distribution(ctx.params.noise_std);
        let key_id = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ ctx.id;
        Ok(MockClient {
            ctx,
            key_id,
            rng: ChaCha8Rng::seed_from_u64(seed),
            noise,
        })
    }

    /// The parameters.
    pub fn params(&self) -> &MockParams {
        &self.ctx.params
    }
}

impl_encoder!(MockClient);

fn noise_distribution(std: f64) -> Option<Normal<f64>> {
    if std > 0.0 {
        Normal::new(0.0, std).ok()
    } else {
        None
    }
}

fn add_noise(values: &mut [Complex64], noise: &Option<Normal<f64>>, rng: &mut ChaCha8Rng) {
    if let Some(n) = noise {
        for v in values.iter_mut() {
            v.re += n.sample(rng);
            v.im += n.sample(rng);
        }
    }
}

impl Encryptor for MockClient {
    type Ciphertext = MockCiphertext;

    fn encrypt(&mut self, pt: &MockPlaintext) -> Result<MockCiphertext> {
        if pt.params_id != self.ctx.id {
            return Err(Error::mismatch("plaintext encoded under other parameters"));
        }
        let mut values = pt.values.clone();
        add_noise(&mut values, &self.noise, &mut self.rng);
        Ok(MockCiphertext {
            values,
            level: pt.level,
            scale: pt.scale,
            params_id: self.ctx.id,
            key_id: self.key_id,
        })
    }
}

impl Decryptor for MockClient {
    type Ciphertext = MockCiphertext;

    fn decrypt(&self, ct: &MockCiphertext) -> Result<MockPlaintext> {
        if ct.params_id != self.ctx.id {
            return Err(Error::mismatch("ciphertext from other parameters"));
        }
        if ct.key_id != self.key_id {
            return Err(Error::mismatch(
                "ciphertext encrypted under another secret key",
            ));
        }
        Ok(MockPlaintext {
            values: ct.values.clone(),
            level: ct.level,
            scale: ct.scale,
            params_id: ct.params_id,
        })
    }
}

/// The evaluation keys of the mock: which rotations, conjugation and bootstrapping the server may use.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MockEvaluationKeys {
    params: MockParams,
    key_id: u64,
    /// Left-rotation amounts in `1..slots` with a key; `None` means every rotation.
    rotations: Option<BTreeSet<usize>>,
    conjugation: bool,
    bootstrapping: bool,
    /// Periods with sparse-bootstrap keys; `None` means every period. Absent in keys serialised
    /// before sparse bootstrapping: none.
    #[serde(default = "no_sparse_bootstrap")]
    sparse_bootstrap: Option<BTreeSet<usize>>,
}

fn no_sparse_bootstrap() -> Option<BTreeSet<usize>> {
    Some(BTreeSet::new())
}

impl KeyGenerator for MockClient {
    type EvaluationKeys = MockEvaluationKeys;

    fn generate_evaluation_keys(&mut self, request: &KeyRequest) -> Result<MockEvaluationKeys> {
        if request.bootstrapping && self.ctx.params.bootstrap.is_none() {
            return Err(Error::BootstrapUnavailable {
                reason: "the parameters are not bootstrappable".into(),
            });
        }
        if !request.sparse_bootstrap_slots.is_empty() && !request.bootstrapping {
            return Err(Error::invalid(
                "sparse bootstrapping keys are requested without bootstrapping keys",
            ));
        }
        for &n in &request.sparse_bootstrap_slots {
            check_sparse_slots(n, self.ctx.params.slots)?;
        }
        Ok(MockEvaluationKeys {
            params: self.ctx.params.clone(),
            key_id: self.key_id,
            rotations: Some(
                request
                    .normalized_rotations(self.ctx.params.slots)
                    .into_iter()
                    .collect(),
            ),
            conjugation: request.conjugation,
            bootstrapping: request.bootstrapping,
            sparse_bootstrap: Some(request.sparse_bootstrap_slots.iter().copied().collect()),
        })
    }
}

impl MockClient {
    /// Evaluation keys for every rotation, conjugation and (if the parameters allow) bootstrapping:
    /// convenient for exploring algorithms before deciding which keys they need.
    pub fn unrestricted_keys(&self) -> MockEvaluationKeys {
        MockEvaluationKeys {
            params: self.ctx.params.clone(),
            key_id: self.key_id,
            rotations: None,
            conjugation: true,
            bootstrapping: self.ctx.params.bootstrap.is_some(),
            sparse_bootstrap: None,
        }
    }
}

/// The server side of the mock. It cannot decrypt.
#[derive(Debug)]
pub struct MockEvaluator {
    ctx: Arc<Context>,
    keys: MockEvaluationKeys,
    noise: Option<Normal<f64>>,
    rng: Mutex<ChaCha8Rng>,
}

impl_encoder!(MockEvaluator);

impl MockEvaluator {
    /// A server holding `keys`. Its noise generator is seeded from the key identity.
    ///
    /// # Panics
    /// Only if the keys carry invalid parameters (they cannot when made by [`MockClient`]);
    /// [`MockEvaluator::try_new`] returns an error instead.
    pub fn new(keys: MockEvaluationKeys) -> Self {
        Self::try_new(keys).unwrap_or_else(|e| panic!("invalid mock evaluation keys: {e}"))
    }

    /// A server holding `keys`, or an error if they carry invalid parameters (e.g. after a hostile
    /// deserialisation).
    pub fn try_new(keys: MockEvaluationKeys) -> Result<Self> {
        let ctx = Context::new(keys.params.clone())?;
        let noise = noise_distribution(ctx.params.noise_std);
        let rng = Mutex::new(ChaCha8Rng::seed_from_u64(keys.key_id ^ 0x5eed));
        Ok(MockEvaluator {
            ctx,
            keys,
            noise,
            rng,
        })
    }

    fn noisy(&self, values: &mut [Complex64]) {
        if self.noise.is_some() {
            let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
            add_noise(values, &self.noise, &mut rng);
        }
    }

    fn check_ct(&self, ct: &MockCiphertext) -> Result<()> {
        if ct.params_id != self.ctx.id {
            return Err(Error::mismatch("ciphertext from other parameters"));
        }
        if ct.key_id != self.keys.key_id {
            return Err(Error::mismatch(
                "ciphertext encrypted under a key these evaluation keys do not belong to",
            ));
        }
        Ok(())
    }

    fn check_pt(&self, ct: &MockCiphertext, pt: &MockPlaintext, op: Operation) -> Result<()> {
        if pt.params_id != self.ctx.id {
            return Err(Error::mismatch("plaintext encoded under other parameters"));
        }
        if pt.level < ct.level {
            return Err(Error::LevelMismatch {
                op,
                expected: ct.level,
                actual: pt.level,
            });
        }
        Ok(())
    }

    fn check_overflow(
        &self,
        values: &[Complex64],
        level: Level,
        scale: Scale,
        op: Operation,
    ) -> Result<()> {
        let max_abs = values
            .iter()
            .fold(0.0f64, |m, v| m.max(v.re.abs()).max(v.im.abs()));
        if !max_abs.is_finite() {
            return Err(Error::ScaleOverflow {
                op,
                log2_magnitude: f64::INFINITY,
                log2_modulus: self.log2_modulus(level),
            });
        }
        let mag = (max_abs * scale.value()).max(1.0).log2();
        let lq = self.log2_modulus(level);
        if mag + 1.0 >= lq {
            return Err(Error::ScaleOverflow {
                op,
                log2_magnitude: mag,
                log2_modulus: lq,
            });
        }
        Ok(())
    }

    /// Brings both operands to the lower of their levels.
    fn aligned(
        &self,
        a: &MockCiphertext,
        b: &MockCiphertext,
    ) -> Result<(MockCiphertext, MockCiphertext)> {
        self.check_ct(a)?;
        self.check_ct(b)?;
        let l = a.level.min(b.level);
        Ok((self.drop_to_level(a, l)?, self.drop_to_level(b, l)?))
    }

    fn map(&self, a: &MockCiphertext, f: impl Fn(Complex64) -> Complex64) -> MockCiphertext {
        MockCiphertext {
            values: a.values.iter().map(|&v| f(v)).collect(),
            ..a.clone()
        }
    }

    fn addsub(&self, a: &MockCiphertext, b: &MockCiphertext, sign: f64) -> Result<MockCiphertext> {
        let (a, b) = self.aligned(a, b)?;
        if !a.scale.matches(b.scale) {
            return Err(Error::ScaleMismatch {
                op: Operation::Add,
                lhs: a.scale,
                rhs: b.scale,
            });
        }
        let values: Vec<Complex64> = a
            .values
            .iter()
            .zip(&b.values)
            .map(|(x, y)| x + y * sign)
            .collect();
        self.check_overflow(&values, a.level, a.scale, Operation::Add)?;
        Ok(MockCiphertext { values, ..a })
    }

    fn addsub_plain(
        &self,
        a: &MockCiphertext,
        p: &MockPlaintext,
        sign: f64,
    ) -> Result<MockCiphertext> {
        self.check_ct(a)?;
        self.check_pt(a, p, Operation::Add)?;
        if !a.scale.matches(p.scale) {
            return Err(Error::ScaleMismatch {
                op: Operation::Add,
                lhs: a.scale,
                rhs: p.scale,
            });
        }
        let values: Vec<Complex64> = a
            .values
            .iter()
            .zip(&p.values)
            .map(|(x, y)| x + y * sign)
            .collect();
        self.check_overflow(&values, a.level, a.scale, Operation::Add)?;
        Ok(MockCiphertext {
            values,
            ..a.clone()
        })
    }

    fn need_level(&self, level: Level, op: Operation) -> Result<()> {
        if level.0 == 0 {
            Err(Error::LevelExhausted { op, level })
        } else {
            Ok(())
        }
    }
}

impl Evaluator for MockEvaluator {
    type Ciphertext = MockCiphertext;

    fn add(&self, a: &MockCiphertext, b: &MockCiphertext) -> Result<MockCiphertext> {
        self.addsub(a, b, 1.0)
    }

    fn sub(&self, a: &MockCiphertext, b: &MockCiphertext) -> Result<MockCiphertext> {
        self.addsub(a, b, -1.0)
    }

    fn neg(&self, a: &MockCiphertext) -> Result<MockCiphertext> {
        self.check_ct(a)?;
        Ok(self.map(a, |v| -v))
    }

    fn add_plain(&self, a: &MockCiphertext, p: &MockPlaintext) -> Result<MockCiphertext> {
        self.addsub_plain(a, p, 1.0)
    }

    fn sub_plain(&self, a: &MockCiphertext, p: &MockPlaintext) -> Result<MockCiphertext> {
        self.addsub_plain(a, p, -1.0)
    }

    fn add_const(&self, a: &MockCiphertext, c: Complex64) -> Result<MockCiphertext> {
        self.check_ct(a)?;
        if !c.re.is_finite() || !c.im.is_finite() {
            return Err(Error::invalid("non-finite constant"));
        }
        let out = self.map(a, |v| v + c);
        self.check_overflow(&out.values, out.level, out.scale, Operation::Add)?;
        Ok(out)
    }

    fn mul(&self, a: &MockCiphertext, b: &MockCiphertext) -> Result<MockCiphertext> {
        let (a, b) = self.aligned(a, b)?;
        self.need_level(a.level, Operation::Mul)?;
        let mut values: Vec<Complex64> =
            a.values.iter().zip(&b.values).map(|(x, y)| x * y).collect();
        let scale = Scale(a.scale.value() * b.scale.value());
        self.check_overflow(&values, a.level, scale, Operation::Mul)?;
        self.noisy(&mut values);
        Ok(MockCiphertext { values, scale, ..a })
    }

    fn mul_plain(&self, a: &MockCiphertext, p: &MockPlaintext) -> Result<MockCiphertext> {
        self.check_ct(a)?;
        self.check_pt(a, p, Operation::MulPlain)?;
        self.need_level(a.level, Operation::MulPlain)?;
        let values: Vec<Complex64> = a.values.iter().zip(&p.values).map(|(x, y)| x * y).collect();
        let scale = Scale(a.scale.value() * p.scale.value());
        self.check_overflow(&values, a.level, scale, Operation::MulPlain)?;
        Ok(MockCiphertext {
            values,
            scale,
            ..a.clone()
        })
    }

    fn mul_const(
        &self,
        a: &MockCiphertext,
        c: Complex64,
        const_scale: Scale,
    ) -> Result<MockCiphertext> {
        self.check_ct(a)?;
        self.need_level(a.level, Operation::MulConst)?;
        if !c.re.is_finite() || !c.im.is_finite() || !const_scale.is_valid() {
            return Err(Error::invalid(
                "non-finite constant or invalid constant scale",
            ));
        }
        let scale = Scale(a.scale.value() * const_scale.value());
        let out = MockCiphertext {
            scale,
            ..self.map(a, |v| v * c)
        };
        self.check_overflow(&out.values, out.level, scale, Operation::MulConst)?;
        Ok(out)
    }

    fn mul_integer(&self, a: &MockCiphertext, k: i64) -> Result<MockCiphertext> {
        self.check_ct(a)?;
        let out = self.map(a, |v| v * k as f64);
        self.check_overflow(&out.values, out.level, out.scale, Operation::MulConst)?;
        Ok(out)
    }

    fn mul_i(&self, a: &MockCiphertext) -> Result<MockCiphertext> {
        self.check_ct(a)?;
        Ok(self.map(a, |v| v * Complex64::new(0.0, 1.0)))
    }

    fn rescale(&self, a: &MockCiphertext) -> Result<MockCiphertext> {
        self.check_ct(a)?;
        self.need_level(a.level, Operation::Rescale)?;
        let q = self.prime(a.level);
        let mut out = MockCiphertext {
            level: Level(a.level.0 - 1),
            scale: Scale(a.scale.value() / q),
            ..a.clone()
        };
        self.noisy(&mut out.values);
        Ok(out)
    }

    fn drop_to_level(&self, a: &MockCiphertext, level: Level) -> Result<MockCiphertext> {
        self.check_ct(a)?;
        if level > a.level {
            return Err(Error::LevelMismatch {
                op: Operation::DropLevel,
                expected: a.level,
                actual: level,
            });
        }
        if level == a.level {
            return Ok(a.clone());
        }
        let f = drop_scale_factor(self, a.level, level);
        Ok(MockCiphertext {
            level,
            scale: Scale(a.scale.value() * f),
            ..a.clone()
        })
    }

    fn rotate(&self, a: &MockCiphertext, step: RotStep) -> Result<MockCiphertext> {
        self.check_ct(a)?;
        let n = self.slots();
        let k = step.normalized(n);
        if k == 0 {
            return Ok(a.clone());
        }
        if !self.has_rotation_key(step) {
            return Err(Error::MissingRotationKey {
                step,
                normalized: k,
            });
        }
        let mut values: Vec<Complex64> = (0..n).map(|t| a.values[(t + k) % n]).collect();
        self.noisy(&mut values);
        Ok(MockCiphertext {
            values,
            ..a.clone()
        })
    }

    fn rotate_hoisted(&self, a: &MockCiphertext, steps: &[RotStep]) -> Result<Vec<MockCiphertext>> {
        // Check every key first, so that a failure leaves nothing half done.
        for &s in steps {
            if !self.has_rotation_key(s) {
                return Err(Error::MissingRotationKey {
                    step: s,
                    normalized: s.normalized(self.slots()),
                });
            }
        }
        steps.iter().map(|&s| self.rotate(a, s)).collect()
    }

    fn conjugate(&self, a: &MockCiphertext) -> Result<MockCiphertext> {
        self.check_ct(a)?;
        if !self.keys.conjugation {
            return Err(Error::MissingConjugationKey);
        }
        let mut out = self.map(a, |v| v.conj());
        self.noisy(&mut out.values);
        Ok(out)
    }

    fn has_rotation_key(&self, step: RotStep) -> bool {
        let k = step.normalized(self.slots());
        k == 0 || self.keys.rotations.as_ref().is_none_or(|r| r.contains(&k))
    }

    fn has_conjugation_key(&self) -> bool {
        self.keys.conjugation
    }

    fn bootstrap_info(&self) -> Option<BootstrapInfo> {
        if self.keys.bootstrapping {
            self.ctx.params.bootstrap
        } else {
            None
        }
    }

    fn bootstrap(&self, a: &MockCiphertext) -> Result<MockCiphertext> {
        self.check_ct(a)?;
        let info = self.bootstrap_ready()?;
        self.check_bootstrap_input(a, &info)?;
        let mut values = a.values.clone();
        self.noisy(&mut values);
        let level = info.output_level;
        Ok(MockCiphertext {
            values,
            level,
            scale: self.canonical_scale(level),
            ..a.clone()
        })
    }

    /// As CKKS computes it: `a + i·b` through one bootstrap, split into its real and imaginary
    /// parts (each output real-valued, with one bootstrap's noise added).
    ///
    /// Errors, in this order: a foreign ciphertext ([`Error::ParameterMismatch`]); no
    /// bootstrapping ([`Error::BootstrapUnavailable`]); different levels
    /// ([`Error::LevelMismatch`]) or scales ([`Error::ScaleMismatch`]); a level below
    /// `min_input_level` ([`Error::LevelExhausted`]); a slot with |imaginary part| above
    /// [`PAIR_IMAGINARY_TOLERANCE`] ([`Error::ComplexInput`]); a real part outside the input
    /// bound ([`Error::BootstrapRange`]).
    fn bootstrap_pair(
        &self,
        a: &MockCiphertext,
        b: &MockCiphertext,
    ) -> Result<(MockCiphertext, MockCiphertext)> {
        self.check_ct(a)?;
        self.check_ct(b)?;
        let info = self.bootstrap_ready()?;
        if a.level != b.level {
            return Err(Error::LevelMismatch {
                op: Operation::Bootstrap,
                expected: a.level,
                actual: b.level,
            });
        }
        if !a.scale.matches(b.scale) {
            return Err(Error::ScaleMismatch {
                op: Operation::Bootstrap,
                lhs: a.scale,
                rhs: b.scale,
            });
        }
        if a.level < info.min_input_level {
            return Err(Error::LevelExhausted {
                op: Operation::Bootstrap,
                level: a.level,
            });
        }
        check_real(a, b)?;
        self.check_bootstrap_input(a, &info)?;
        self.check_bootstrap_input(b, &info)?;
        // z = a + i·b, refreshed, then Re z and Im z (exactly what CKKS's split computes, so
        // that the small imaginary noise of the inputs leaks into the other output as there).
        let z: Vec<Complex64> = a
            .values
            .iter()
            .zip(&b.values)
            .map(|(x, y)| x + y * Complex64::new(0.0, 1.0))
            .collect();
        let mut re: Vec<Complex64> = z.iter().map(|v| Complex64::new(v.re, 0.0)).collect();
        let mut im: Vec<Complex64> = z.iter().map(|v| Complex64::new(v.im, 0.0)).collect();
        self.noisy(&mut re);
        self.noisy(&mut im);
        let level = info.output_level;
        let scale = self.canonical_scale(level);
        Ok((
            MockCiphertext {
                values: re,
                level,
                scale,
                ..a.clone()
            },
            MockCiphertext {
                values: im,
                level,
                scale,
                ..b.clone()
            },
        ))
    }

    fn has_sparse_bootstrap(&self, slots: usize) -> bool {
        self.keys.bootstrapping
            && self.ctx.params.bootstrap.is_some()
            && slots < self.ctx.params.slots
            && check_sparse_slots(slots, self.ctx.params.slots).is_ok()
            && self
                .keys
                .sparse_bootstrap
                .as_ref()
                .is_none_or(|s| s.contains(&slots))
    }

    /// As CKKS computes it with the sparse circuit: the input is projected onto the slot
    /// vectors of period `slots` (each slot replaced by the mean of its residue class modulo
    /// `slots`, which is what CKKS's trace computes) and refreshed; noise is drawn for the first
    /// `slots` slots and replicated, so the output is exactly periodic.
    ///
    /// Errors, in this order: a foreign ciphertext ([`Error::ParameterMismatch`]); a period that
    /// is not a power of two dividing the slot count ([`Error::InvalidInput`]); no bootstrapping,
    /// or no sparse-bootstrap keys for `slots` ([`Error::BootstrapUnavailable`]; the mock is
    /// strict where CKKS falls back to the full bootstrap); a level below `min_input_level`
    /// ([`Error::LevelExhausted`]); a slot farther than [`PERIODIC_TOLERANCE`] from its
    /// representative in the first period ([`Error::NotPeriodic`]); a component outside the
    /// input bound ([`Error::BootstrapRange`]). `slots` equal to the slot count is
    /// [`Evaluator::bootstrap`].
    fn bootstrap_sparse(&self, a: &MockCiphertext, slots: usize) -> Result<MockCiphertext> {
        self.check_ct(a)?;
        check_sparse_slots(slots, self.ctx.params.slots)?;
        if slots == self.ctx.params.slots {
            return self.bootstrap(a);
        }
        let info = self.sparse_ready(slots)?;
        if a.level < info.min_input_level {
            return Err(Error::LevelExhausted {
                op: Operation::Bootstrap,
                level: a.level,
            });
        }
        check_periodic(&a.values, slots)?;
        self.check_bootstrap_input(a, &info)?;
        let values = self.periodic_refresh(&a.values, slots);
        let level = info.output_level;
        Ok(MockCiphertext {
            values,
            level,
            scale: self.canonical_scale(level),
            ..a.clone()
        })
    }

    /// [`Evaluator::bootstrap_pair`]'s rules and output (`Re` and `Im` of the refreshed
    /// `a + i·b`) with [`Evaluator::bootstrap_sparse`]'s projection, periodic noise and errors.
    ///
    /// Errors, in this order: a foreign ciphertext; an invalid period; no (sparse) bootstrapping
    /// keys; different levels or scales ([`Error::LevelMismatch`], [`Error::ScaleMismatch`]); a
    /// level below `min_input_level`; a complex input ([`Error::ComplexInput`]); a non-periodic
    /// input ([`Error::NotPeriodic`]); an input out of range ([`Error::BootstrapRange`]).
    fn bootstrap_pair_sparse(
        &self,
        a: &MockCiphertext,
        b: &MockCiphertext,
        slots: usize,
    ) -> Result<(MockCiphertext, MockCiphertext)> {
        self.check_ct(a)?;
        self.check_ct(b)?;
        check_sparse_slots(slots, self.ctx.params.slots)?;
        if slots == self.ctx.params.slots {
            return self.bootstrap_pair(a, b);
        }
        let info = self.sparse_ready(slots)?;
        if a.level != b.level {
            return Err(Error::LevelMismatch {
                op: Operation::Bootstrap,
                expected: a.level,
                actual: b.level,
            });
        }
        if !a.scale.matches(b.scale) {
            return Err(Error::ScaleMismatch {
                op: Operation::Bootstrap,
                lhs: a.scale,
                rhs: b.scale,
            });
        }
        if a.level < info.min_input_level {
            return Err(Error::LevelExhausted {
                op: Operation::Bootstrap,
                level: a.level,
            });
        }
        check_real(a, b)?;
        check_periodic(&a.values, slots)?;
        check_periodic(&b.values, slots)?;
        self.check_bootstrap_input(a, &info)?;
        self.check_bootstrap_input(b, &info)?;
        let z: Vec<Complex64> = a
            .values
            .iter()
            .zip(&b.values)
            .map(|(x, y)| x + y * Complex64::new(0.0, 1.0))
            .collect();
        let re: Vec<Complex64> = z.iter().map(|v| Complex64::new(v.re, 0.0)).collect();
        let im: Vec<Complex64> = z.iter().map(|v| Complex64::new(v.im, 0.0)).collect();
        let level = info.output_level;
        let scale = self.canonical_scale(level);
        Ok((
            MockCiphertext {
                values: self.periodic_refresh(&re, slots),
                level,
                scale,
                ..a.clone()
            },
            MockCiphertext {
                values: self.periodic_refresh(&im, slots),
                level,
                scale,
                ..b.clone()
            },
        ))
    }
}

/// The largest |imaginary part| [`MockEvaluator`]'s `bootstrap_pair` accepts as zero: `2^-12`.
/// Noise-level imaginary parts pass; genuinely complex slots are refused with
/// [`Error::ComplexInput`].
pub const PAIR_IMAGINARY_TOLERANCE: f64 = 1.0 / 4096.0;

/// The largest `|x[t] − x[t mod n]|` [`MockEvaluator`]'s `bootstrap_sparse` and
/// `bootstrap_pair_sparse` accept for a period `n`: `2^-12`. Noise-level differences between
/// the copies pass; a vector that is not replicated with period `n` is refused with
/// [`Error::NotPeriodic`].
pub const PERIODIC_TOLERANCE: f64 = 1.0 / 4096.0;

/// [`Error::NotPeriodic`] if a slot is farther than [`PERIODIC_TOLERANCE`] from its copy in the
/// first `period` slots.
fn check_periodic(values: &[Complex64], period: usize) -> Result<()> {
    let max_deviation = values
        .iter()
        .enumerate()
        .fold(0.0f64, |m, (t, v)| m.max((v - values[t % period]).norm()));
    if max_deviation > PERIODIC_TOLERANCE {
        return Err(Error::NotPeriodic {
            op: Operation::Bootstrap,
            period,
            max_deviation,
            tolerance: PERIODIC_TOLERANCE,
        });
    }
    Ok(())
}

/// [`Error::ComplexInput`] if a slot of `a` or `b` has an imaginary part above
/// [`PAIR_IMAGINARY_TOLERANCE`].
fn check_real(a: &MockCiphertext, b: &MockCiphertext) -> Result<()> {
    let max_abs_imag = a
        .values
        .iter()
        .chain(&b.values)
        .fold(0.0f64, |m, v| m.max(v.im.abs()));
    if max_abs_imag > PAIR_IMAGINARY_TOLERANCE {
        return Err(Error::ComplexInput {
            op: Operation::Bootstrap,
            max_abs_imag,
            tolerance: PAIR_IMAGINARY_TOLERANCE,
        });
    }
    Ok(())
}

impl MockEvaluator {
    /// The bootstrap configuration, or why bootstrapping is unavailable.
    fn bootstrap_ready(&self) -> Result<BootstrapInfo> {
        match (self.ctx.params.bootstrap, self.keys.bootstrapping) {
            (None, _) => Err(Error::BootstrapUnavailable {
                reason: "the parameters are not bootstrappable".into(),
            }),
            (Some(_), false) => Err(Error::BootstrapUnavailable {
                reason: "no bootstrapping keys were generated".into(),
            }),
            (Some(info), true) => Ok(info),
        }
    }

    /// The bootstrap configuration if sparse bootstrapping with period `slots` is available.
    fn sparse_ready(&self, slots: usize) -> Result<BootstrapInfo> {
        let info = self.bootstrap_ready()?;
        if !self.has_sparse_bootstrap(slots) {
            return Err(Error::BootstrapUnavailable {
                reason: format!("no sparse bootstrapping keys for period {slots} were generated"),
            });
        }
        Ok(info)
    }

    /// The mean of each residue class of `values` modulo `period` (CKKS's trace), with one
    /// bootstrap's noise drawn per class, replicated to every slot.
    fn periodic_refresh(&self, values: &[Complex64], period: usize) -> Vec<Complex64> {
        // The mean of each residue class, by halving (the copies are a power of two): exact,
        // bit for bit, when the input is exactly periodic.
        let mut first = values.to_vec();
        while first.len() > period {
            let half = first.len() / 2;
            let (lo, hi) = first.split_at_mut(half);
            for (a, b) in lo.iter_mut().zip(hi.iter()) {
                *a = (*a + *b) * 0.5;
            }
            first.truncate(half);
        }
        self.noisy(&mut first);
        (0..values.len()).map(|t| first[t % period]).collect()
    }

    /// The level and range conditions of a bootstrap input.
    fn check_bootstrap_input(&self, a: &MockCiphertext, info: &BootstrapInfo) -> Result<()> {
        if a.level < info.min_input_level {
            return Err(Error::LevelExhausted {
                op: Operation::Bootstrap,
                level: a.level,
            });
        }
        let max_abs = a
            .values
            .iter()
            .fold(0.0f64, |m, v| m.max(v.re.abs()).max(v.im.abs()));
        if max_abs > info.input_bound {
            return Err(Error::BootstrapRange {
                max_abs,
                bound: info.input_bound,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(keys: &KeyRequest) -> (MockClient, MockEvaluator) {
        let mut c = MockClient::new(MockParams::ideal(8, 3, 40.0).with_bootstrap(1, 3, 1.0), 1);
        let k = c.generate_evaluation_keys(keys).unwrap();
        (c, MockEvaluator::new(k))
    }

    #[test]
    fn canonical_scales_follow_the_chain() {
        let p = MockParams::from_chain(
            8,
            &[1 << 50, (1 << 40) + 1, (1 << 40) - 1],
            (1u64 << 40) as f64,
        );
        let c = MockClient::new(p, 0);
        let d2 = c.canonical_scale(Level(2)).value();
        let d1 = c.canonical_scale(Level(1)).value();
        assert_eq!(d1, d2 * d2 / ((1u64 << 40) - 1) as f64);
    }

    #[test]
    fn multiply_then_rescale_consumes_a_level() {
        let (mut c, e) = setup(&KeyRequest::default());
        let x = c.encrypt_real(&[2.0, 3.0], Level(3)).unwrap();
        let y = e.rescale(&e.mul(&x, &x).unwrap()).unwrap();
        assert_eq!(y.level(), Level(2));
        assert!(y.scale().matches(e.canonical_scale(Level(2))));
        assert_eq!(c.decrypt_real(&y).unwrap()[..2], [4.0, 9.0]);
    }

    #[test]
    fn bootstrap_checks_range_and_level() {
        let req = KeyRequest {
            bootstrapping: true,
            ..KeyRequest::default()
        };
        let (mut c, e) = setup(&req);
        let x = c.encrypt_real(&[0.5, 2.0], Level(3)).unwrap();
        assert!(matches!(e.bootstrap(&x), Err(Error::BootstrapRange { .. })));
        let x = c.encrypt_real(&[0.5, -0.25], Level(0)).unwrap();
        assert!(matches!(
            e.bootstrap(&x),
            Err(Error::LevelExhausted {
                op: Operation::Bootstrap,
                ..
            })
        ));
        let x = c.encrypt_real(&[0.5, -0.25], Level(1)).unwrap();
        let y = e.bootstrap(&x).unwrap();
        assert_eq!(y.level(), Level(3));
        assert_eq!(c.decrypt_real(&y).unwrap()[..2], [0.5, -0.25]);
    }

    #[test]
    fn bootstrap_pair_follows_the_ckks_rules() {
        let req = KeyRequest {
            bootstrapping: true,
            ..KeyRequest::default()
        };
        let (mut c, e) = setup(&req);
        let a = c.encrypt_real(&[0.5, -0.25], Level(1)).unwrap();
        let b = c.encrypt_real(&[-1.0, 0.75], Level(1)).unwrap();
        let (x, y) = e.bootstrap_pair(&a, &b).unwrap();
        for z in [&x, &y] {
            assert_eq!(z.level(), Level(3));
            assert!(z.scale().matches(e.canonical_scale(Level(3))));
        }
        assert_eq!(c.decrypt_real(&x).unwrap()[..2], [0.5, -0.25]);
        assert_eq!(c.decrypt_real(&y).unwrap()[..2], [-1.0, 0.75]);
        let high = c.encrypt_real(&[0.5], Level(2)).unwrap();
        assert!(matches!(
            e.bootstrap_pair(&a, &high),
            Err(Error::LevelMismatch { .. })
        ));
        let scaled = e.mul_integer(&a, 1).unwrap();
        let other_scale = MockCiphertext {
            scale: Scale(a.scale().value() * 2.0),
            ..scaled
        };
        assert!(matches!(
            e.bootstrap_pair(&a, &other_scale),
            Err(Error::ScaleMismatch { .. })
        ));
        let complex = c
            .encrypt_values(&[Complex64::new(0.5, 0.5)], Level(1))
            .unwrap();
        assert!(matches!(
            e.bootstrap_pair(&a, &complex),
            Err(Error::ComplexInput {
                op: Operation::Bootstrap,
                ..
            })
        ));
        let big = c.encrypt_real(&[2.0], Level(1)).unwrap();
        assert!(matches!(
            e.bootstrap_pair(&big, &a),
            Err(Error::BootstrapRange { .. })
        ));
        let low = c.encrypt_real(&[0.5], Level(0)).unwrap();
        assert!(matches!(
            e.bootstrap_pair(&low, &low),
            Err(Error::LevelExhausted { .. })
        ));
        let (_, plain) = setup(&KeyRequest::default());
        assert!(matches!(
            plain.bootstrap_pair(&a, &b),
            Err(Error::BootstrapUnavailable { .. })
        ));
    }

    #[test]
    fn sparse_bootstrap_follows_the_rules() {
        let mut req = KeyRequest {
            bootstrapping: true,
            ..KeyRequest::default()
        };
        req.add_sparse_bootstrap_slots([2]);
        let (mut c, e) = setup(&req);
        assert!(e.has_sparse_bootstrap(2));
        assert!(!e.has_sparse_bootstrap(4));
        assert!(!e.has_sparse_bootstrap(8));
        let periodic = [0.5, -0.25, 0.5, -0.25, 0.5, -0.25, 0.5, -0.25];
        let x = c.encrypt_real(&periodic, Level(1)).unwrap();
        let y = e.bootstrap_sparse(&x, 2).unwrap();
        assert_eq!(y.level(), Level(3));
        assert!(y.scale().matches(e.canonical_scale(Level(3))));
        assert_eq!(c.decrypt_real(&y).unwrap(), periodic);
        let b = c.encrypt_real(&[-1.0, 0.75].repeat(4), Level(1)).unwrap();
        let (p, q) = e.bootstrap_pair_sparse(&x, &b, 2).unwrap();
        assert_eq!(c.decrypt_real(&p).unwrap(), periodic);
        assert_eq!(c.decrypt_real(&q).unwrap(), [-1.0, 0.75].repeat(4));
        // Invalid periods, missing keys, a vector that is not periodic.
        for bad in [0, 3, 16] {
            assert!(matches!(
                e.bootstrap_sparse(&x, bad),
                Err(Error::InvalidInput { .. })
            ));
        }
        assert!(matches!(
            e.bootstrap_sparse(&x, 4),
            Err(Error::BootstrapUnavailable { .. })
        ));
        let mut almost = periodic;
        almost[5] += 0.01;
        let z = c.encrypt_real(&almost, Level(1)).unwrap();
        assert!(matches!(
            e.bootstrap_sparse(&z, 2),
            Err(Error::NotPeriodic {
                period: 2,
                max_deviation,
                ..
            }) if (max_deviation - 0.01).abs() < 1e-9
        ));
        assert!(matches!(
            e.bootstrap_pair_sparse(&x, &z, 2),
            Err(Error::NotPeriodic { .. })
        ));
        // The full period is the full bootstrap.
        assert_eq!(
            c.decrypt_real(&e.bootstrap_sparse(&z, 8).unwrap()).unwrap(),
            almost
        );
        let low = c.encrypt_real(&periodic, Level(0)).unwrap();
        assert!(matches!(
            e.bootstrap_sparse(&low, 2),
            Err(Error::LevelExhausted { .. })
        ));
        let complex = c
            .encrypt_values(&[Complex64::new(0.5, 0.5); 8], Level(1))
            .unwrap();
        assert!(matches!(
            e.bootstrap_pair_sparse(&x, &complex, 2),
            Err(Error::ComplexInput { .. })
        ));
        // Sparse keys need bootstrapping keys and valid periods.
        let mut bad = KeyRequest::default();
        bad.add_sparse_bootstrap_slots([2]);
        assert!(c.generate_evaluation_keys(&bad).is_err());
        let mut bad = req.clone();
        bad.add_sparse_bootstrap_slots([3]);
        assert!(matches!(
            c.generate_evaluation_keys(&bad),
            Err(Error::InvalidInput { .. })
        ));
    }

    #[test]
    fn foreign_key_is_rejected() {
        let (mut c, _) = setup(&KeyRequest::default());
        let (_, e2) = {
            let mut c2 =
                MockClient::new(MockParams::ideal(8, 3, 40.0).with_bootstrap(1, 3, 1.0), 2);
            let k = c2.generate_evaluation_keys(&KeyRequest::default()).unwrap();
            (c2, MockEvaluator::new(k))
        };
        let x = c.encrypt_real(&[1.0], Level(3)).unwrap();
        assert!(matches!(e2.neg(&x), Err(Error::ParameterMismatch { .. })));
    }

    #[test]
    fn noise_is_seeded_and_bounded() {
        let p = MockParams::ideal(1024, 2, 40.0).with_noise(1e-6);
        let mut c1 = MockClient::new(p.clone(), 5);
        let mut c2 = MockClient::new(p, 5);
        let v = vec![0.5; 1024];
        let ca = c1.encrypt_real(&v, Level(2)).unwrap();
        let a = c1.decrypt_real(&ca).unwrap();
        let cb = c2.encrypt_real(&v, Level(2)).unwrap();
        let b = c2.decrypt_real(&cb).unwrap();
        assert_eq!(a, b);
        let max = a.iter().map(|x| (x - 0.5).abs()).fold(0.0, f64::max);
        assert!(max > 0.0 && max < 1e-5, "max noise {max}");
    }
}

//! The backend-independent part of bootstrapping: everything after ModRaise (and, for sparse
//! packing, the sub-ring trace), written once over [`hetal_traits::Evaluator`].
//!
//! Input: a canonical ciphertext at the top level `L` whose slots hold `U t / Δ_L`, where `t` are
//! the (packed) coefficients of the raised plaintext `t = m + q_0·I` times the trace factor `g`.
//! 1. CoeffToSlot (`cts_groups` levels): `v = c · BR^-1 U^-1`, with `c = Δ_L / (2·g·q_0·K)`, so
//!    that `Re v·2` and `Im v·2` are the coefficients `t/(q_0·K)`.
//! 2. Real and imaginary parts: `re = v + conj(v)`, `im = i·(conj(v) − v)` (one conjugation).
//! 3. EvalMod on both: `sin(2π t/q_0) ≈ 2π m/q_0`.
//! 4. `y = re' + i·im'` and SlotToCoeff (`stc_groups` levels): `U BR · q_0/(2π·s_in)`, which gives
//!    back the slot values `m / s_in` at the canonical scale of the output level.

use super::dft::{self, DiagMatrix, PreparedTransform};
use super::evalmod::{EvalModSpec, eval_mod_with};
use super::ops::BootstrapOps;
use hetal_traits::{Complex64, Encoder, Error, Level, Leveled, Result};
use std::f64::consts::PI;

/// The shape of the circuit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CircuitSpec {
    /// Levels (butterfly groups) of CoeffToSlot.
    pub cts_groups: usize,
    /// Levels (butterfly groups) of SlotToCoeff.
    pub stc_groups: usize,
    /// The EvalMod approximation.
    pub evalmod: EvalModSpec,
}

impl CircuitSpec {
    /// Levels the whole circuit consumes.
    pub fn depth(&self) -> u32 {
        (self.cts_groups + self.stc_groups) as u32 + self.evalmod.depth()
    }
}

/// The numbers the circuit's constants depend on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CircuitConstants {
    /// The base prime `q_0`.
    pub q0: f64,
    /// The canonical scale of the top level (the scale ModRaise declares).
    pub top_scale: f64,
    /// The scale of the input at level 0 (`s_in`).
    pub input_scale: f64,
    /// The trace factor `g = N/(2·slots)` of sparse packing (1 for full packing).
    pub trace_factor: f64,
}

/// The matrices of a circuit (before encoding), for key planning and memory estimates.
pub fn matrices(
    slots: usize,
    spec: &CircuitSpec,
    k: &CircuitConstants,
) -> (Vec<DiagMatrix>, Vec<DiagMatrix>) {
    let cts_c = k.top_scale / (2.0 * k.trace_factor * k.q0 * spec.evalmod.k);
    let stc_c = k.q0 / (2.0 * PI * k.input_scale);
    (
        dft::coeff_to_slot_factors(slots, spec.cts_groups, cts_c),
        dft::slot_to_coeff_factors(slots, spec.stc_groups, stc_c),
    )
}

/// The matrices of the **sparse** circuit for slot vectors of period `n` (before encoding), on
/// `2n` slots (the ciphertext's slot vector repeats with period `2n` between CoeffToSlot and
/// SlotToCoeff, with the real parts of the `n` packed coefficients in the first `n` slots of
/// each period and their imaginary parts in the next `n`, so that one EvalMod covers all `2n`
/// real coefficients):
///
/// * CoeffToSlot: the `n`-slot factors of [`matrices`] ([`DiagMatrix::lift_periodic`]), the last
///   one multiplied by `diag(1, …, 1, −i, …, −i)`: its output `u` has `u + conj(u)` = `2 Re v`
///   in the first half of each period and `2 Im v` in the second;
/// * SlotToCoeff: the first `n`-slot factor composed with the recombination
///   `z_t = y_t + i·y_{t+n}` (first half) / `z_t = i·y_t + y_{t+n}` (second half), which makes
///   the vector `n`-periodic again, then the other factors lifted.
///
/// `k.trace_factor` must be `N/(2n)`. Needs `n ≥ 2` a power of two.
pub fn sparse_matrices(
    n: usize,
    spec: &CircuitSpec,
    k: &CircuitConstants,
) -> (Vec<DiagMatrix>, Vec<DiagMatrix>) {
    let (cts, stc) = matrices(n, spec, k);
    let one = Complex64::new(1.0, 0.0);
    let i = Complex64::new(0.0, 1.0);
    let half = |a: Complex64, b: Complex64| -> Vec<Complex64> {
        (0..2 * n).map(|t| if t < n { a } else { b }).collect()
    };
    let last = cts.len().saturating_sub(1);
    let cts = cts
        .iter()
        .enumerate()
        .map(|(j, m)| {
            let lifted = m.lift_periodic();
            if j == last {
                DiagMatrix::diagonal(half(one, -i)).compose(&lifted)
            } else {
                lifted
            }
        })
        .collect();
    let recombine = DiagMatrix::from_diagonals(
        2 * n,
        [(0, half(one, i)), (n, half(i, one))].into_iter().collect(),
    )
    .unwrap_or_else(|| DiagMatrix::identity(2 * n));
    let stc = stc
        .iter()
        .enumerate()
        .map(|(j, m)| {
            let lifted = m.lift_periodic();
            if j == 0 {
                lifted.compose(&recombine)
            } else {
                lifted
            }
        })
        .collect();
    (cts, stc)
}

/// An encoder for vectors of period `period` inside a larger slot vector: it encodes `period`
/// values replicated to every slot of the wrapped encoder (and decodes the first period).
struct Periodic<'a, E: ?Sized> {
    inner: &'a E,
    period: usize,
}

impl<E: Encoder + ?Sized> Encoder for Periodic<'_, E> {
    type Plaintext = E::Plaintext;
    fn slots(&self) -> usize {
        self.period
    }
    fn max_level(&self) -> Level {
        self.inner.max_level()
    }
    fn prime(&self, level: Level) -> f64 {
        self.inner.prime(level)
    }
    fn canonical_scale(&self, level: Level) -> hetal_traits::Scale {
        self.inner.canonical_scale(level)
    }
    fn encode(
        &self,
        values: &[Complex64],
        level: Level,
        scale: hetal_traits::Scale,
    ) -> Result<E::Plaintext> {
        if values.len() > self.period {
            return Err(Error::invalid("more values than the period"));
        }
        let zero = Complex64::new(0.0, 0.0);
        let full: Vec<Complex64> = (0..self.inner.slots())
            .map(|t| values.get(t % self.period).copied().unwrap_or(zero))
            .collect();
        self.inner.encode(&full, level, scale)
    }
    fn decode(&self, pt: &E::Plaintext) -> Result<Vec<Complex64>> {
        let mut v = self.inner.decode(pt)?;
        v.truncate(self.period);
        Ok(v)
    }
}

/// A circuit with its plaintext matrices encoded at their levels.
#[derive(Clone, Debug)]
pub struct BootstrapCircuit<P> {
    spec: CircuitSpec,
    top: Level,
    cts: Vec<PreparedTransform<P>>,
    stc: Vec<PreparedTransform<P>>,
    coeffs: Vec<f64>,
    /// `Some(n)`: the sparse circuit for slot vectors of period `n` ([`sparse_matrices`]).
    sparse: Option<usize>,
}

impl<P> BootstrapCircuit<P> {
    /// Encodes the circuit's matrices for an encoder whose top level is `top`.
    pub fn new<E: Encoder<Plaintext = P> + ?Sized>(
        enc: &E,
        spec: CircuitSpec,
        top: Level,
        k: &CircuitConstants,
    ) -> Result<Self> {
        let depth = spec.depth();
        if top.0 < depth {
            return Err(Error::invalid(format!(
                "bootstrapping needs {depth} levels above the output; the top level is {}",
                top.0
            )));
        }
        let (cts_m, stc_m) = matrices(enc.slots(), &spec, k);
        let (cts, stc) = prepare_all(enc, &spec, top, &cts_m, &stc_m)?;
        Ok(BootstrapCircuit {
            spec,
            top,
            cts,
            stc,
            coeffs: spec.evalmod.coefficients(),
            sparse: None,
        })
    }

    /// Encodes the **sparse** circuit ([`sparse_matrices`]) for ciphertexts whose slot vector
    /// (of `enc.slots()` slots) repeats with period `n`, for an encoder whose top level is `top`;
    /// `k.trace_factor` must be `N/(2n)` (`N` the ring degree). Its rotations are
    /// steps of the full slot vector with the signed offsets of the `2n`-slot transforms
    /// ([`dft::embed_rotation`]). Same depth and output level as the full circuit.
    ///
    /// Errors: `n` not a power of two with `2n` dividing `enc.slots()`, fewer butterfly stages
    /// (`log2 n`) than the spec's CoeffToSlot or SlotToCoeff groups, or too few levels.
    pub fn new_sparse<E: Encoder<Plaintext = P> + ?Sized>(
        enc: &E,
        spec: CircuitSpec,
        top: Level,
        k: &CircuitConstants,
        n: usize,
    ) -> Result<Self> {
        let slots = enc.slots();
        if n < 2 || !n.is_power_of_two() || 2 * n > slots || !slots.is_multiple_of(2 * n) {
            return Err(Error::invalid(format!(
                "a sparse bootstrap circuit needs a period n with 2n dividing the {slots} slots; got {n}"
            )));
        }
        let stages = n.trailing_zeros() as usize;
        if stages < spec.cts_groups.max(spec.stc_groups) {
            return Err(Error::invalid(format!(
                "a sparse bootstrap circuit for period {n} has {stages} butterfly stages, fewer than the {} / {} CoeffToSlot / SlotToCoeff levels",
                spec.cts_groups, spec.stc_groups
            )));
        }
        let depth = spec.depth();
        if top.0 < depth {
            return Err(Error::invalid(format!(
                "bootstrapping needs {depth} levels above the output; the top level is {}",
                top.0
            )));
        }
        let (cts_m, stc_m) = sparse_matrices(n, &spec, k);
        let periodic = Periodic {
            inner: enc,
            period: 2 * n,
        };
        let (mut cts, mut stc) = prepare_all(&periodic, &spec, top, &cts_m, &stc_m)?;
        for t in cts.iter_mut().chain(&mut stc) {
            t.map_rotations(|r| dft::embed_rotation(r, 2 * n, slots));
        }
        Ok(BootstrapCircuit {
            spec,
            top,
            cts,
            stc,
            coeffs: spec.evalmod.coefficients(),
            sparse: Some(n),
        })
    }

    /// `Some(n)` for the sparse circuit of period `n` ([`BootstrapCircuit::new_sparse`]).
    pub fn sparse_period(&self) -> Option<usize> {
        self.sparse
    }

    /// The shape.
    pub fn spec(&self) -> &CircuitSpec {
        &self.spec
    }

    /// The level the circuit starts at.
    pub fn top(&self) -> Level {
        self.top
    }

    /// The level of the result.
    pub fn output_level(&self) -> Level {
        Level(self.top.0 - self.spec.depth())
    }

    /// Every rotation the linear transforms use (normalised, non-zero).
    pub fn rotations(&self) -> Vec<usize> {
        let mut r: Vec<usize> = self
            .cts
            .iter()
            .chain(&self.stc)
            .flat_map(|t| t.rotations())
            .collect();
        r.sort_unstable();
        r.dedup();
        r
    }

    /// Number of encoded diagonals.
    pub fn diagonal_count(&self) -> usize {
        self.cts
            .iter()
            .chain(&self.stc)
            .map(|t| t.diagonal_count())
            .sum()
    }

    /// CoeffToSlot: from the raised ciphertext (at the top level) to `v`.
    pub fn coeff_to_slot<E: BootstrapOps<Plaintext = P> + ?Sized>(
        &self,
        e: &E,
        raised: &E::Ciphertext,
    ) -> Result<E::Ciphertext> {
        let mut x = raised.clone();
        for t in &self.cts {
            x = dft::apply(e, &x, t)?;
        }
        Ok(x)
    }

    /// EvalMod of both parts and recombination: `y = sin(2π Re) + i·sin(2π Im)`.
    pub fn eval_mod_complex<E: BootstrapOps<Plaintext = P> + ?Sized>(
        &self,
        e: &E,
        v: &E::Ciphertext,
    ) -> Result<E::Ciphertext> {
        self.eval_mod_parts(e, v, false)
    }

    /// The sparse circuit's EvalMod ([`BootstrapCircuit::new_sparse`]): `y = v + conj(v)` (one
    /// conjugation; the `2n` real coefficients in the two halves of each period) and **one**
    /// EvalMod on it, `evalmod.depth()` levels. Errors: not a sparse circuit.
    pub fn eval_mod_sparse<E: BootstrapOps<Plaintext = P> + ?Sized>(
        &self,
        e: &E,
        v: &E::Ciphertext,
    ) -> Result<E::Ciphertext> {
        if self.sparse.is_none() {
            return Err(Error::invalid("eval_mod_sparse on the full circuit"));
        }
        self.eval_mod_real(e, v, false)
    }

    fn eval_mod_real<E: BootstrapOps<Plaintext = P> + ?Sized>(
        &self,
        e: &E,
        v: &E::Ciphertext,
        halve: bool,
    ) -> Result<E::Ciphertext> {
        let c = e.conjugate(v)?;
        let y = e.add(v, &c)?;
        eval_mod_with(e, &y, &self.spec.evalmod, &self.coeffs, halve)
    }

    /// [`eval_mod_complex`](Self::eval_mod_complex) with `halve`: `y/2`, at no extra level.
    fn eval_mod_parts<E: BootstrapOps<Plaintext = P> + ?Sized>(
        &self,
        e: &E,
        v: &E::Ciphertext,
        halve: bool,
    ) -> Result<E::Ciphertext> {
        let c = e.conjugate(v)?;
        let re = e.add(v, &c)?;
        let im = e.mul_i(&e.sub(&c, v)?)?;
        let re = eval_mod_with(e, &re, &self.spec.evalmod, &self.coeffs, halve)?;
        let im = eval_mod_with(e, &im, &self.spec.evalmod, &self.coeffs, halve)?;
        e.add(&re, &e.mul_i(&im)?)
    }

    /// SlotToCoeff.
    pub fn slot_to_coeff<E: BootstrapOps<Plaintext = P> + ?Sized>(
        &self,
        e: &E,
        y: &E::Ciphertext,
    ) -> Result<E::Ciphertext> {
        let mut x = y.clone();
        for t in &self.stc {
            x = dft::apply(e, &x, t)?;
        }
        Ok(x)
    }

    /// The whole circuit on a raised ciphertext at the top level.
    pub fn run<E: BootstrapOps<Plaintext = P> + ?Sized>(
        &self,
        e: &E,
        raised: &E::Ciphertext,
    ) -> Result<E::Ciphertext> {
        self.run_with(e, raised, false)
    }

    /// [`run`](Self::run) with the result halved (slots `z/2` for an input holding `z`), at the
    /// same levels and operation counts: the halving is folded into EvalMod's last double angle.
    /// Pair bootstrapping splits `z = a + i·b` from it as `a = w + conj(w)`,
    /// `b = i·(conj(w) − w)` with `w = z/2`.
    pub fn run_halved<E: BootstrapOps<Plaintext = P> + ?Sized>(
        &self,
        e: &E,
        raised: &E::Ciphertext,
    ) -> Result<E::Ciphertext> {
        self.run_with(e, raised, true)
    }

    fn run_with<E: BootstrapOps<Plaintext = P> + ?Sized>(
        &self,
        e: &E,
        raised: &E::Ciphertext,
        halve: bool,
    ) -> Result<E::Ciphertext> {
        if raised.level() != self.top {
            return Err(Error::LevelMismatch {
                op: hetal_traits::Operation::Bootstrap,
                expected: self.top,
                actual: raised.level(),
            });
        }
        let v = self.coeff_to_slot(e, raised)?;
        let y = if self.sparse.is_some() {
            // The 2n real coefficients are spread over the two halves of each period: one
            // conjugation makes them real, one EvalMod covers them all.
            self.eval_mod_real(e, &v, halve)?
        } else {
            self.eval_mod_parts(e, &v, halve)?
        };
        self.slot_to_coeff(e, &y)
    }
}

/// Encodes CoeffToSlot's matrices from `top` down and SlotToCoeff's below EvalMod's levels.
#[allow(clippy::type_complexity)]
fn prepare_all<E: Encoder + ?Sized>(
    enc: &E,
    spec: &CircuitSpec,
    top: Level,
    cts_m: &[DiagMatrix],
    stc_m: &[DiagMatrix],
) -> Result<(
    Vec<PreparedTransform<E::Plaintext>>,
    Vec<PreparedTransform<E::Plaintext>>,
)> {
    let mut level = top;
    let mut cts = Vec::with_capacity(cts_m.len());
    for m in cts_m {
        cts.push(dft::prepare(enc, m, level)?);
        level = Level(level.0 - 1);
    }
    level = Level(level.0 - spec.evalmod.depth());
    let mut stc = Vec::with_capacity(stc_m.len());
    for m in stc_m {
        stc.push(dft::prepare(enc, m, level)?);
        level = Level(level.0 - 1);
    }
    Ok((cts, stc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::SlotEncoder;
    use hetal_traits::mock::{MockClient, MockEvaluator, MockParams};
    use hetal_traits::{Complex64, Decryptor, Encryptor};
    use rand::{RngExt, SeedableRng};

    /// Runs the circuit on the mock, with ModRaise simulated in plaintext: the raised coefficients
    /// are `s_in·Enc(v) + q_0·I` with random integers `|I| ≤ imax`. Returns the precision against
    /// `v` and against the noiseless model of the circuit (the exact sine, whose non-linearity is
    /// the price of the message ratio `q_0/s_in = 2^10`).
    fn pipeline(
        slots: usize,
        spec: CircuitSpec,
        imax: i64,
        noise: f64,
    ) -> ((f64, f64), (f64, f64)) {
        let depth = spec.depth();
        let user = 2u32;
        let mut primes: Vec<f64> = vec![2f64.powi(50)];
        primes.extend((0..user).map(|_| 2f64.powi(40)));
        primes.extend((0..depth).map(|_| 2f64.powi(58)));
        let mut params = MockParams::from_chain(slots, &[], 1.0);
        // Bottom-up canonical scales: Δ_0 = 2^40, Δ_l = sqrt(Δ_{l-1} q_l).
        let mut s = 2f64.powi(40);
        for q in &primes[1..] {
            s = (s * q).sqrt();
        }
        params.primes = primes.clone();
        params.default_scale = s;
        let params = params.with_noise(noise);
        let mut client = MockClient::new(params, 9);
        let e = MockEvaluator::new(client.unrestricted_keys());
        let top = e.max_level();
        let k = CircuitConstants {
            q0: primes[0],
            top_scale: e.canonical_scale(top).value(),
            input_scale: e.canonical_scale(Level(0)).value(),
            trace_factor: 1.0,
        };
        let circuit = BootstrapCircuit::new(&e, spec, top, &k).unwrap();
        assert_eq!(circuit.output_level(), Level(user));
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let v: Vec<Complex64> = (0..slots)
            .map(|_| Complex64::new(rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0)))
            .collect();
        let enc = SlotEncoder::new(slots);
        let m: Vec<f64> = enc
            .encode(&v)
            .iter()
            .map(|c| (c * k.input_scale).round())
            .collect();
        let t: Vec<f64> = m
            .iter()
            .map(|c| c + primes[0] * rng.random_range(-imax..=imax) as f64)
            .collect();
        let y0: Vec<Complex64> = enc.decode(&t.iter().map(|c| c / k.top_scale).collect::<Vec<_>>());
        let model = enc.decode(
            &m.iter()
                .map(|c| (2.0 * PI * c / k.q0).sin() * k.q0 / (2.0 * PI * k.input_scale))
                .collect::<Vec<_>>(),
        );
        let raised = client.encrypt_values(&y0, top).unwrap();
        let out = circuit.run(&e, &raised).unwrap();
        assert_eq!(out.level(), Level(user));
        assert!(out.scale().matches(e.canonical_scale(Level(user))));
        let got = client.decrypt_values(&out).unwrap();
        (
            super::super::precision_bits(&got, &v),
            super::super::precision_bits(&got, &model),
        )
    }

    #[test]
    fn pipeline_matches_the_model_on_an_exact_mock() {
        let spec = CircuitSpec {
            cts_groups: 3,
            stc_groups: 2,
            evalmod: EvalModSpec {
                k: 12.0,
                degree: 63,
                double_angle: 2,
            },
        };
        let ((min, mean), (mmin, mmean)) = pipeline(64, spec, 11, 0.0);
        eprintln!(
            "exact: vs message min {min:.2} mean {mean:.2}; vs model min {mmin:.2} mean {mmean:.2}"
        );
        // Model: EvalMod error ≤ 2^-44 per coefficient, times q_0/(2π s_in) = 2^7.35, summed
        // over 128 coefficients (worst case 2^7): ≥ 29.9 bits.
        assert!(mmin > 29.0, "vs model: min {mmin} mean {mmean}");
        // Message: the sine's non-linearity with 64 slots (coefficients up to ~0.3): ~2^-21.
        assert!(min > 20.0 && mean > 22.0, "min {min} mean {mean}");
    }

    /// The halved circuit (pair bootstrapping) gives half the full circuit's output at the same
    /// level and canonical scale, for double angles and without them.
    #[test]
    fn halved_run_is_half_the_run_at_the_same_level() {
        for double_angle in [0u32, 2] {
            let spec = CircuitSpec {
                cts_groups: 2,
                stc_groups: 2,
                evalmod: EvalModSpec {
                    k: 12.0,
                    degree: 63,
                    double_angle,
                },
            };
            let slots = 16;
            let mut primes: Vec<f64> = vec![2f64.powi(50), 2f64.powi(40)];
            primes.extend((0..spec.depth()).map(|_| 2f64.powi(58)));
            let mut s = 2f64.powi(40);
            for q in &primes[1..] {
                s = (s * q).sqrt();
            }
            let mut params = MockParams::from_chain(slots, &[], 1.0);
            params.primes = primes.clone();
            params.default_scale = s;
            let mut client = MockClient::new(params, 4);
            let e = MockEvaluator::new(client.unrestricted_keys());
            let top = e.max_level();
            let k = CircuitConstants {
                q0: primes[0],
                top_scale: e.canonical_scale(top).value(),
                input_scale: e.canonical_scale(Level(0)).value(),
                trace_factor: 1.0,
            };
            let circuit = BootstrapCircuit::new(&e, spec, top, &k).unwrap();
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(8);
            let y0: Vec<Complex64> = (0..slots)
                .map(|_| {
                    Complex64::new(rng.random_range(-0.01..0.01), rng.random_range(-0.01..0.01))
                })
                .collect();
            let raised = client.encrypt_values(&y0, top).unwrap();
            let full = circuit.run(&e, &raised).unwrap();
            let half = circuit.run_halved(&e, &raised).unwrap();
            assert_eq!(half.level(), full.level());
            assert!(half.scale().matches(e.canonical_scale(half.level())));
            let f = client.decrypt_values(&full).unwrap();
            let h = client.decrypt_values(&half).unwrap();
            for (x, y) in f.iter().zip(&h) {
                assert!(
                    (x / 2.0 - y).norm() < 1e-9,
                    "r = {double_angle}: {x} vs {y}"
                );
            }
        }
    }

    /// The sparse matrices on `2n` slots, with `y = u + conj(u)` in place of EvalMod, compute
    /// on a period-`n` vector exactly what the `n`-slot matrices compute with the two real
    /// parts recombined, replicated: the lifting, the `−i` fold and the recombination are exact.
    #[test]
    fn sparse_matrices_match_the_n_slot_circuit() {
        let spec = CircuitSpec {
            cts_groups: 3,
            stc_groups: 3,
            evalmod: EvalModSpec {
                k: 12.0,
                degree: 63,
                double_angle: 2,
            },
        };
        let n = 64;
        let k = CircuitConstants {
            q0: 2f64.powi(50),
            top_scale: 2f64.powi(55),
            input_scale: 2f64.powi(40),
            trace_factor: 16.0,
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(12);
        let z: Vec<Complex64> = (0..n)
            .map(|_| Complex64::new(rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0)))
            .collect();
        // Reference: the n-slot circuit with the identity for EvalMod.
        let (cts, stc) = matrices(n, &spec, &k);
        let mut v = z.clone();
        for m in &cts {
            v = m.apply(&v);
        }
        let y: Vec<Complex64> = v
            .iter()
            .map(|x| {
                let (re, im) = (x + x.conj(), Complex64::new(0.0, 1.0) * (x.conj() - x));
                re + Complex64::new(0.0, 1.0) * im
            })
            .collect();
        let mut want = y;
        for m in &stc {
            want = m.apply(&want);
        }
        // Sparse: on 2n slots, the input replicated.
        let (cts2, stc2) = sparse_matrices(n, &spec, &k);
        assert_eq!(cts2.len(), cts.len());
        assert_eq!(stc2.len(), stc.len());
        let mut u: Vec<Complex64> = z.iter().chain(&z).copied().collect();
        for m in &cts2 {
            assert_eq!(m.slots(), 2 * n);
            u = m.apply(&u);
        }
        let mut got: Vec<Complex64> = u.iter().map(|x| x + x.conj()).collect();
        assert!(
            got.iter().all(|x| x.im.abs() < 1e-12),
            "EvalMod's input is real"
        );
        for m in &stc2 {
            got = m.apply(&got);
        }
        let scale = want.iter().map(|x| x.norm()).fold(0.0, f64::max);
        for t in 0..2 * n {
            assert!(
                (got[t] - want[t % n]).norm() <= 1e-9 * scale,
                "slot {t}: {} vs {}",
                got[t],
                want[t % n]
            );
        }
        // Rotations stay small in signed terms: none beyond ±n.
        for m in cts2.iter().chain(&stc2) {
            for r in PreparedTransform::<()>::rotations_of(m) {
                let e = dft::embed_rotation(r, 2 * n, 1 << 10);
                assert!(e <= n || e >= (1 << 10) - n, "rotation {r} -> {e}");
            }
        }
    }

    #[test]
    fn pipeline_with_noise_keeps_precision() {
        let spec = CircuitSpec {
            cts_groups: 2,
            stc_groups: 2,
            evalmod: EvalModSpec {
                k: 12.0,
                degree: 63,
                double_angle: 2,
            },
        };
        let ((min, mean), (mmin, mmean)) = pipeline(32, spec, 11, 1e-12);
        eprintln!(
            "noisy: vs message min {min:.2} mean {mean:.2}; vs model min {mmin:.2} mean {mmean:.2}"
        );
        // Noise 2^-40 (slot units) at EvalMod's input: ×K, ×2π through the sine, ×2^4 through
        // two double angles, ×q_0/(2π s_in) = 2^7.35 and ×sqrt(64) in SlotToCoeff: ≈ 2^-19.4.
        assert!(
            mmin > 17.5 && mmean > 19.0,
            "vs model: min {mmin} mean {mmean}"
        );
        assert!(min > 17.5 && mean > 19.0, "min {min} mean {mean}");
    }
}

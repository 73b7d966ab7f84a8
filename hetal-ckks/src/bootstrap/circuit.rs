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
use hetal_traits::{Encoder, Error, Level, Leveled, Result};
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

/// A circuit with its plaintext matrices encoded at their levels.
#[derive(Clone, Debug)]
pub struct BootstrapCircuit<P> {
    spec: CircuitSpec,
    top: Level,
    cts: Vec<PreparedTransform<P>>,
    stc: Vec<PreparedTransform<P>>,
    coeffs: Vec<f64>,
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
        let mut level = top;
        let mut cts = Vec::with_capacity(cts_m.len());
        for m in &cts_m {
            cts.push(dft::prepare(enc, m, level)?);
            level = Level(level.0 - 1);
        }
        level = Level(level.0 - spec.evalmod.depth());
        let mut stc = Vec::with_capacity(stc_m.len());
        for m in &stc_m {
            stc.push(dft::prepare(enc, m, level)?);
            level = Level(level.0 - 1);
        }
        Ok(BootstrapCircuit {
            spec,
            top,
            cts,
            stc,
            coeffs: spec.evalmod.coefficients(),
        })
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
        let y = self.eval_mod_parts(e, &v, halve)?;
        self.slot_to_coeff(e, &y)
    }
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

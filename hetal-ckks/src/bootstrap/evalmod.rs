//! EvalMod: the homomorphic reduction `x ↦ x mod 1` (for `x` near an integer) as
//! `sin(2πx)/(2π)`, evaluated as a Chebyshev interpolant of the scaled cosine
//! `cos(2π(x − 1/4)/2^r)` followed by `r` double-angle steps `cos 2θ = 2cos²θ − 1`
//! (Han–Ki; Bossuat et al.).
//!
//! The Chebyshev series is evaluated by the baby-step giant-step recursion of Bossuat et al.:
//! baby powers `T_1 .. T_B`, giant powers `T_B, T_2B, T_4B, ...`, and the division
//! `p = r + q·T_D` that follows from `T_D·T_j = (T_{D+j} + T_{D−j})/2`. Every intermediate
//! ciphertext keeps the canonical scale of its level, so levels and scales line up without
//! bookkeeping; the depth is `log2(B) + m + 1` for degree `< B·2^m`.

use super::ops::BootstrapOps;
use hetal_traits::{Complex64, Error, EvaluatorExt, Leveled, Result, Scale};
use std::f64::consts::PI;

/// Chebyshev interpolation coefficients of `f` on `[-1, 1]` at `degree + 1` Chebyshev nodes:
/// `f(u) ≈ Σ_k c_k T_k(u)`.
pub fn chebyshev_coefficients(f: impl Fn(f64) -> f64, degree: usize) -> Vec<f64> {
    let m = degree + 1;
    let nodes: Vec<f64> = (0..m)
        .map(|j| f((PI * (j as f64 + 0.5) / m as f64).cos()))
        .collect();
    (0..m)
        .map(|k| {
            let s: f64 = nodes
                .iter()
                .enumerate()
                .map(|(j, &y)| y * (PI * k as f64 * (j as f64 + 0.5) / m as f64).cos())
                .sum();
            let c = 2.0 * s / m as f64;
            if k == 0 { c / 2.0 } else { c }
        })
        .collect()
}

/// `Σ_k c_k T_k(u)` in plaintext (Clenshaw).
pub fn chebyshev_eval(c: &[f64], u: f64) -> f64 {
    let (mut b1, mut b2) = (0.0, 0.0);
    for &ck in c.iter().skip(1).rev() {
        let b0 = 2.0 * u * b1 - b2 + ck;
        b2 = b1;
        b1 = b0;
    }
    u * b1 - b2 + c.first().copied().unwrap_or(0.0)
}

/// The EvalMod approximation: range, degree and double-angle count.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EvalModSpec {
    /// The input `x = t/q_0` lies in `[-k, k]`; the interpolant covers it after the input is
    /// divided by `k` (CoeffToSlot folds that division in).
    pub k: f64,
    /// Degree of the Chebyshev interpolant of the scaled cosine.
    pub degree: usize,
    /// Number of double-angle steps `r`.
    pub double_angle: u32,
}

impl EvalModSpec {
    /// The function the Chebyshev interpolant approximates, in the normalised variable `u = x/k`.
    pub fn scaled_cosine(&self) -> impl Fn(f64) -> f64 + use<> {
        let (k, r) = (self.k, self.double_angle);
        move |u: f64| (2.0 * PI * (k * u - 0.25) / f64::from(1u32 << r)).cos()
    }

    /// The Chebyshev coefficients of the scaled cosine.
    pub fn coefficients(&self) -> Vec<f64> {
        chebyshev_coefficients(self.scaled_cosine(), self.degree)
    }

    /// Baby-step count of the evaluation: the power of two nearest `sqrt(degree + 1)` (≥ 2).
    pub fn baby_steps(&self) -> usize {
        let d = self.degree + 1;
        let log = (usize::BITS - (d - 1).leading_zeros()) as usize; // ceil(log2 d)
        (1usize << log.div_ceil(2)).max(2)
    }

    /// Multiplicative depth of the whole EvalMod (Chebyshev part plus double angles).
    pub fn depth(&self) -> u32 {
        let b = self.baby_steps();
        let mut m = 0;
        while b << m < self.degree + 1 {
            m += 1;
        }
        b.trailing_zeros() + m + 1 + self.double_angle
    }

    /// Plaintext model of the whole EvalMod: `sin(2πx)` through the interpolant and the double
    /// angles (what the homomorphic evaluation computes without noise).
    pub fn eval_plain(&self, coeffs: &[f64], x: f64) -> f64 {
        let mut y = chebyshev_eval(coeffs, x / self.k);
        for _ in 0..self.double_angle {
            y = 2.0 * y * y - 1.0;
        }
        y
    }

    /// Largest error of [`EvalModSpec::eval_plain`] against `sin(2πx)` over `x ∈ I + [-eps, eps]`
    /// for every integer `|I| ≤ k − eps`, sampled finely: the approximation error of the design.
    pub fn max_error(&self, eps: f64) -> f64 {
        let c = self.coefficients();
        let imax = (self.k - eps).floor() as i64;
        let mut worst = 0.0f64;
        for i in -imax..=imax {
            for s in 0..=64 {
                let x = i as f64 + eps * (2.0 * s as f64 / 64.0 - 1.0);
                worst = worst.max((self.eval_plain(&c, x) - (2.0 * PI * x).sin()).abs());
            }
        }
        worst
    }
}

/// A value during the Chebyshev recursion: a ciphertext or a plain constant.
enum Term<C> {
    Ct(C),
    Const(f64),
}

/// Evaluates `Σ_k c_k T_k(u)` on a canonical ciphertext `u` (slots in `[-1, 1]`, real).
pub fn eval_chebyshev<E: BootstrapOps + ?Sized>(
    e: &E,
    u: &E::Ciphertext,
    coeffs: &[f64],
    babies: usize,
) -> Result<E::Ciphertext> {
    if coeffs.len() < 2 {
        return Err(Error::invalid("Chebyshev series of degree < 1"));
    }
    // Baby powers T_1 .. T_B.
    let b = babies.max(2);
    let mut t: Vec<Option<E::Ciphertext>> = vec![None; b + 1];
    t[1] = Some(u.clone());
    for k in 2..=b {
        let (x, y) = (k.div_ceil(2), k / 2);
        let tx = t[x].clone().ok_or_else(|| Error::invalid("baby power"))?;
        let ty = t[y].clone().ok_or_else(|| Error::invalid("baby power"))?;
        let prod = if x == y {
            e.square_rescale(&tx)?
        } else {
            e.mul_rescale(&tx, &ty)?
        };
        let twice = e.mul_integer(&prod, 2)?;
        let v = if x == y {
            e.add_const(&twice, Complex64::new(-1.0, 0.0))?
        } else {
            e.sub(
                &twice,
                t[x - y]
                    .as_ref()
                    .ok_or_else(|| Error::invalid("baby power"))?,
            )?
        };
        t[k] = Some(v);
    }
    let babies: Vec<E::Ciphertext> = t
        .into_iter()
        .skip(1)
        .map(|x| x.ok_or_else(|| Error::invalid("baby power")))
        .collect::<Result<_>>()?;
    // Giant powers T_B, T_2B, ... up to the degree.
    let degree = coeffs.len() - 1;
    let mut giants: Vec<E::Ciphertext> = vec![babies[b - 1].clone()];
    while b << giants.len() <= degree {
        let g = giants.last().ok_or_else(|| Error::invalid("giant power"))?;
        let sq = e.mul_integer(&e.square_rescale(g)?, 2)?;
        giants.push(e.add_const(&sq, Complex64::new(-1.0, 0.0))?);
    }
    // Every baby at the level of the deepest one, so that a leaf is one rescale.
    let low = babies[b - 2].level();
    let babies_low: Vec<E::Ciphertext> = babies[..b - 1]
        .iter()
        .map(|t| e.drop_to_level(t, low))
        .collect::<Result<_>>()?;
    match rec(e, coeffs, &babies_low, &giants, b)? {
        Term::Ct(c) => Ok(c),
        Term::Const(_) => Err(Error::invalid("Chebyshev series is constant")),
    }
}

/// `Σ_{k<len} c_k T_k` from babies at one common level `l`: constant multiplications at the scale
/// `Δ_{l-1}·q_l/Δ_l`, one rescale (to the canonical `Δ_{l-1}`), then the constant term.
fn leaf<E: BootstrapOps + ?Sized>(
    e: &E,
    c: &[f64],
    babies: &[E::Ciphertext],
) -> Result<Term<E::Ciphertext>> {
    let Some(first) = babies.first() else {
        return Err(Error::invalid("no baby powers"));
    };
    let level = first.level();
    let below = level.below().ok_or(Error::LevelExhausted {
        op: hetal_traits::Operation::MulConst,
        level,
    })?;
    let const_scale =
        Scale(e.canonical_scale(below).value() * e.prime(level) / first.scale().value());
    let terms: Vec<(&E::Ciphertext, f64)> = c
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(_, ck)| **ck != 0.0)
        .map(|(k, &ck)| (&babies[k - 1], ck))
        .collect();
    let acc = if terms.is_empty() {
        None
    } else {
        Some(e.mul_const_sum(&terms, const_scale)?)
    };
    Ok(match acc {
        None => Term::Const(c[0]),
        Some(a) => {
            let a = e.rescale(&a)?;
            Term::Ct(if c[0] == 0.0 {
                a
            } else {
                e.add_const(&a, Complex64::new(c[0], 0.0))?
            })
        }
    })
}

fn rec<E: BootstrapOps + ?Sized>(
    e: &E,
    c: &[f64],
    babies: &[E::Ciphertext],
    giants: &[E::Ciphertext],
    b: usize,
) -> Result<Term<E::Ciphertext>> {
    let len = c.len();
    if len <= b {
        return leaf(e, c, babies);
    }
    // The smallest m with len ≤ b·2^m; split at D = b·2^(m−1).
    let mut m = 1;
    while b << m < len {
        m += 1;
    }
    let d = b << (m - 1);
    let mut r: Vec<f64> = c[..d].to_vec();
    let mut q: Vec<f64> = vec![0.0; len - d];
    q[0] = c[d];
    for j in 1..len - d {
        q[j] = 2.0 * c[d + j];
        r[d - j] -= c[d + j];
    }
    let g = &giants[m - 1];
    let qv = rec(e, &q, babies, giants, b)?;
    let prod = match qv {
        Term::Const(x) => e.mul_scalar(g, x)?,
        Term::Ct(x) => e.mul_rescale(&x, g)?,
    };
    Ok(match rec(e, &r, babies, giants, b)? {
        Term::Const(x) => Term::Ct(if x == 0.0 {
            prod
        } else {
            e.add_const(&prod, Complex64::new(x, 0.0))?
        }),
        Term::Ct(x) => Term::Ct(e.add(&x, &prod)?),
    })
}

/// Homomorphic EvalMod on a canonical ciphertext holding `u = x/k` (real slots): returns a
/// ciphertext holding `≈ sin(2πx)`.
pub fn eval_mod<E: BootstrapOps + ?Sized>(
    e: &E,
    u: &E::Ciphertext,
    spec: &EvalModSpec,
    coeffs: &[f64],
) -> Result<E::Ciphertext> {
    eval_mod_with(e, u, spec, coeffs, false)
}

/// [`eval_mod`], with the output halved when `halve` is set (`≈ sin(2πx)/2`) at no extra level or
/// operation: the last double angle computes `y² − 1/2` instead of `2y² − 1` (without double
/// angles the Chebyshev coefficients are halved).
pub fn eval_mod_with<E: BootstrapOps + ?Sized>(
    e: &E,
    u: &E::Ciphertext,
    spec: &EvalModSpec,
    coeffs: &[f64],
    halve: bool,
) -> Result<E::Ciphertext> {
    let r = spec.double_angle;
    let mut y = if halve && r == 0 {
        let half: Vec<f64> = coeffs.iter().map(|c| c / 2.0).collect();
        eval_chebyshev(e, u, &half, spec.baby_steps())?
    } else {
        eval_chebyshev(e, u, coeffs, spec.baby_steps())?
    };
    for i in 0..r {
        let sq = e.square_rescale(&y)?;
        y = if halve && i + 1 == r {
            e.add_const(&sq, Complex64::new(-0.5, 0.0))?
        } else {
            e.add_const(&e.mul_integer(&sq, 2)?, Complex64::new(-1.0, 0.0))?
        };
    }
    // Shallow special cases (two baby steps) end above the declared depth: align.
    match u.level().checked_sub(spec.depth()) {
        Some(l) if y.level() > l => e.drop_to_level(&y, l),
        _ => Ok(y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hetal_traits::mock::{MockClient, MockEvaluator, MockParams};
    use hetal_traits::{Decryptor, Encryptor, Level};

    #[test]
    fn chebyshev_interpolation_converges() {
        let c = chebyshev_coefficients(|x| (3.0 * x).exp(), 30);
        for i in 0..=100 {
            let u = -1.0 + 2.0 * i as f64 / 100.0;
            assert!((chebyshev_eval(&c, u) - (3.0 * u).exp()).abs() < 1e-12);
        }
    }

    #[test]
    fn evalmod_design_error_is_small() {
        let spec = EvalModSpec {
            k: 12.0,
            degree: 62,
            double_angle: 3,
        };
        let err = spec.max_error(1.0 / 512.0);
        assert!(err < 1e-10, "{err}");
    }

    #[test]
    fn homomorphic_chebyshev_matches_plaintext_on_the_mock() {
        let spec = EvalModSpec {
            k: 6.0,
            degree: 30,
            double_angle: 2,
        };
        let depth = spec.depth();
        let c = MockClient::new(MockParams::ideal(16, depth + 1, 45.0), 5);
        let mut client = c;
        let e = MockEvaluator::new(client.unrestricted_keys());
        let xs: Vec<f64> = (0..16).map(|i| (i as f64 - 8.0) * 0.7 + 0.003).collect();
        let us: Vec<f64> = xs.iter().map(|x| x / spec.k).collect();
        let ct = client.encrypt_real(&us, Level(depth + 1)).unwrap();
        let coeffs = spec.coefficients();
        let out = eval_mod(&e, &ct, &spec, &coeffs).unwrap();
        assert_eq!(out.level(), Level(1));
        let got = client.decrypt_real(&out).unwrap();
        for (g, x) in got.iter().zip(&xs) {
            assert!((g - spec.eval_plain(&coeffs, *x)).abs() < 1e-9);
        }
        // Near integers it is sin(2πx).
        let near: Vec<f64> = (0..16)
            .map(|i| (i as f64 - 8.0) * 0.6)
            .map(|v| v.round() + 0.001)
            .collect();
        let ct = client
            .encrypt_real(
                &near.iter().map(|x| x / spec.k).collect::<Vec<_>>(),
                Level(depth + 1),
            )
            .unwrap();
        let got = client
            .decrypt_real(&eval_mod(&e, &ct, &spec, &coeffs).unwrap())
            .unwrap();
        for (g, x) in got.iter().zip(&near) {
            assert!((g - (2.0 * PI * x).sin()).abs() < 1e-6, "{x}: {g}");
        }
    }
}

//! Where levels run out: bootstrapping on demand, or [`Error::DepthExhausted`].

use crate::poly::{Polynomial, align, evaluate_weighted};
use crate::{Error, Result};
use hetal_traits::{BootstrapInfo, Evaluator, EvaluatorExt, Leveled};

/// How far (in bits) a value is scaled below the bootstrap input bound before a bootstrap, when
/// the ciphertext has a level to spare above the bootstrap's minimum (that level is discarded by
/// the bootstrap anyway).
///
/// Why: the bootstrap's error is not a constant noise. On hetal-ckks's presets it is dominated by
/// a deterministic, magnitude-dependent term (the sine's non-linearity in EvalMod): measured on
/// the small insecure N = 2^12 preset, `bootstrap(m) - m ≈ -5.4e-7 m³` for `|m| ≤ 1`, against a
/// random part near `1e-10`. A value near the bound therefore comes back with a *relative* error
/// of about `5e-7 m²` that differs between slots of different size, which softmax pipelines then
/// amplify (by the score scale, by `r`, by later squarings). Scaling by `2^-3` divides that term
/// by 64 while multiplying the random part by 8.
pub const QUIET_BITS: u32 = 3;

/// Decides, stage by stage, whether a ciphertext must be bootstrapped first.
///
/// With bootstrapping available, results are never taken below the lowest level bootstrapping
/// accepts (`min_input_level`; one level more for a value whose bound exceeds the bootstrap input
/// bound, which must first be scaled down by a power of two). Decisions depend on levels only,
/// never on the encrypted values, so a [`crate::poly::dry_run`] on a mirrored chain predicts them.
///
/// A refresher for **part-full** ciphertexts ([`Refresher::with_period`]: slot vectors that repeat
/// with a period `n` smaller than the slot count, e.g. the outputs of [`crate::compact`]) calls the
/// evaluator's sparse bootstraps ([`Evaluator::bootstrap_sparse`],
/// [`Evaluator::bootstrap_pair_sparse`]) with that period; every other decision is the same.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Refresher {
    info: Option<BootstrapInfo>,
    period: Option<usize>,
}

impl Refresher {
    /// Uses the evaluator's bootstrapping, if it offers any.
    pub fn new<E: Evaluator>(ev: &E) -> Self {
        Refresher {
            info: ev.bootstrap_info(),
            period: None,
        }
    }

    /// Never bootstraps.
    pub fn without_bootstrapping() -> Self {
        Refresher {
            info: None,
            period: None,
        }
    }

    /// The same refresher for ciphertexts whose slots repeat with period `period` (a power of
    /// two): its bootstraps are [`Evaluator::bootstrap_sparse`] /
    /// [`Evaluator::bootstrap_pair_sparse`] with that period (the full bootstrap for a period of
    /// at least the slot count). The caller guarantees the periodicity of every ciphertext it
    /// hands to this refresher (the stages of a row-wise softmax on a virtual layout of width
    /// dividing `period` keep it).
    ///
    /// Errors: [`Error::InvalidParameter`] for a period that is not a power of two.
    pub fn with_period(self, period: usize) -> Result<Self> {
        if !period.is_power_of_two() {
            return Err(Error::param(format!(
                "bootstrap period {period} is not a power of two"
            )));
        }
        Ok(Refresher {
            period: Some(period),
            ..self
        })
    }

    /// The period of [`Refresher::with_period`], if any.
    pub fn period(&self) -> Option<usize> {
        self.period
    }

    /// One bootstrap: sparse with the period when there is one below the slot count.
    fn boot<E: Evaluator>(&self, ev: &E, ct: &E::Ciphertext) -> Result<E::Ciphertext> {
        Ok(match self.period {
            Some(n) if n < ev.slots() => ev.bootstrap_sparse(ct, n)?,
            _ => ev.bootstrap(ct)?,
        })
    }

    /// One pair bootstrap: sparse with the period when there is one below the slot count.
    fn boot_pair<E: Evaluator>(
        &self,
        ev: &E,
        a: &E::Ciphertext,
        b: &E::Ciphertext,
    ) -> Result<(E::Ciphertext, E::Ciphertext)> {
        Ok(match self.period {
            Some(n) if n < ev.slots() => ev.bootstrap_pair_sparse(a, b, n)?,
            _ => ev.bootstrap_pair(a, b)?,
        })
    }

    /// The bootstrapping the decisions are based on, if any.
    pub fn info(&self) -> Option<BootstrapInfo> {
        self.info
    }

    /// Whether bootstrapping is available.
    pub fn can_bootstrap(&self) -> bool {
        self.info.is_some()
    }

    /// The lowest level a value bounded by `bound` may be left at.
    pub fn floor(&self, bound: f64) -> u32 {
        match self.info {
            None => 0,
            Some(b) => b.min_input_level.0 + (bound > b.input_bound) as u32,
        }
    }

    /// Fails with [`Error::DepthExhausted`] if bootstrapping is unavailable and `ct` has fewer
    /// than `total` levels: the up-front check of a whole computation.
    pub fn check_total<C: Leveled>(&self, ct: &C, total: u32) -> Result<()> {
        if self.info.is_none() && ct.level().0 < total {
            return Err(Error::DepthExhausted {
                needed: total,
                available: ct.level().0,
            });
        }
        Ok(())
    }

    /// Returns `ct`, bootstrapped if needed, with at least `need` levels above
    /// [`Refresher::floor`]`(out_bound)`. `bound` bounds `|value|` of every slot of `ct`; above the
    /// bootstrap input bound, the value is scaled down by a power of two before bootstrapping
    /// (one level) and back up after it (an exact integer multiplication).
    pub fn ensure<E: Evaluator>(
        &self,
        ev: &E,
        ct: &E::Ciphertext,
        need: u32,
        bound: f64,
        out_bound: f64,
    ) -> Result<E::Ciphertext> {
        let floor = self.floor(out_bound);
        let level = ct.level().0;
        if level >= need + floor {
            return Ok(ct.clone());
        }
        let Some(info) = self.info else {
            return Err(Error::DepthExhausted {
                needed: need,
                available: level,
            });
        };
        let after = info.output_level.0;
        if after < need + floor {
            return Err(Error::DepthExhausted {
                needed: need + floor,
                available: after,
            });
        }
        if bound <= info.input_bound {
            if level <= info.min_input_level.0 {
                return self.boot(ev, ct);
            }
            // A level above the bootstrap's minimum is discarded by the bootstrap anyway: spend
            // it on scaling the value down by 2^QUIET_BITS, where the bootstrap's
            // magnitude-dependent error is far smaller, and scale back up exactly.
            let k = QUIET_BITS + (bound / info.input_bound).log2().ceil().max(0.0) as u32;
            return self.bootstrap_scaled(ev, ct, k);
        }
        let k = (bound / info.input_bound).log2().ceil().max(1.0) as u32;
        if k > 60 || level < info.min_input_level.0 + 1 {
            return Err(Error::DepthExhausted {
                needed: info.min_input_level.0 + 1,
                available: level,
            });
        }
        self.bootstrap_scaled(ev, ct, k)
    }

    /// Bootstraps `ct` (values bounded by `bound ≤` the bootstrap input bound), scaled down by
    /// [`QUIET_BITS`] first when it has a level above the bootstrap's minimum.
    ///
    /// Errors: no bootstrapping, a bound above the input bound, or the evaluator's errors.
    pub fn bootstrap<E: Evaluator>(
        &self,
        ev: &E,
        ct: &E::Ciphertext,
        bound: f64,
    ) -> Result<E::Ciphertext> {
        let info = self.info.ok_or(Error::DepthExhausted {
            needed: 1,
            available: ct.level().0,
        })?;
        if bound > info.input_bound {
            return Err(Error::param(format!(
                "bootstrap of a value bounded by {bound} above the input bound {}",
                info.input_bound
            )));
        }
        if ct.level() <= info.min_input_level {
            self.boot(ev, ct)
        } else {
            self.bootstrap_scaled(ev, ct, QUIET_BITS)
        }
    }

    /// [`Evaluator::bootstrap_pair`] of two real ciphertexts at the same level (values bounded
    /// by `bound`), scaled down by [`QUIET_BITS`] first when they have a level to spare.
    ///
    /// Errors: as [`Refresher::bootstrap`], and the evaluator's (different levels or scales).
    pub fn bootstrap_pair<E: Evaluator>(
        &self,
        ev: &E,
        a: &E::Ciphertext,
        b: &E::Ciphertext,
        bound: f64,
    ) -> Result<(E::Ciphertext, E::Ciphertext)> {
        let info = self.info.ok_or(Error::DepthExhausted {
            needed: 1,
            available: a.level().0,
        })?;
        if bound > info.input_bound {
            return Err(Error::param(format!(
                "bootstrap of a value bounded by {bound} above the input bound {}",
                info.input_bound
            )));
        }
        if a.level() <= info.min_input_level {
            return self.boot_pair(ev, a, b);
        }
        let k = QUIET_BITS;
        let down = Polynomial::power(vec![0.0, (-(k as f64)).exp2()])?;
        let sa = evaluate_weighted(ev, &down, a, None)?;
        let sb = evaluate_weighted(ev, &down, b, None)?;
        let (fa, fb) = self.boot_pair(ev, &sa, &sb)?;
        Ok((
            ev.mul_integer(&fa, 1i64 << k)?,
            ev.mul_integer(&fb, 1i64 << k)?,
        ))
    }

    /// `2^k · bootstrap(2^-k · ct)` (one level before the bootstrap).
    fn bootstrap_scaled<E: Evaluator>(
        &self,
        ev: &E,
        ct: &E::Ciphertext,
        k: u32,
    ) -> Result<E::Ciphertext> {
        let down = Polynomial::power(vec![0.0, (-(k as f64)).exp2()])?;
        let scaled = evaluate_weighted(ev, &down, ct, None)?;
        let fresh = self.boot(ev, &scaled)?;
        Ok(ev.mul_integer(&fresh, 1i64 << k)?)
    }

    /// [`Refresher::ensure`] for a value whose bound does not change (`out_bound = bound`).
    pub fn ensure_same<E: Evaluator>(
        &self,
        ev: &E,
        ct: &E::Ciphertext,
        need: u32,
        bound: f64,
    ) -> Result<E::Ciphertext> {
        self.ensure(ev, ct, need, bound, bound)
    }

    /// Evaluates `w ⊙ p(x)` after making sure `x` has the levels for it.
    pub fn poly<E: Evaluator>(
        &self,
        ev: &E,
        p: &Polynomial,
        x: &E::Ciphertext,
        weights: Option<&[f64]>,
        in_bound: f64,
        out_bound: f64,
    ) -> Result<E::Ciphertext> {
        let x = self.ensure(ev, x, p.depth(), in_bound, out_bound)?;
        evaluate_weighted(ev, p, &x, weights)
    }

    /// `a ⊙ b`, rescaled, after making sure both operands have a level to spend.
    pub fn mul<E: Evaluator>(
        &self,
        ev: &E,
        a: &E::Ciphertext,
        b: &E::Ciphertext,
        a_bound: f64,
        b_bound: f64,
        out_bound: f64,
    ) -> Result<E::Ciphertext> {
        let a = self.ensure(ev, a, 1, a_bound, out_bound)?;
        let b = self.ensure(ev, b, 1, b_bound, out_bound)?;
        let (a, b) = align(ev, &a, &b)?;
        Ok(ev.mul_rescale(&a, &b)?)
    }

    /// `a²`, rescaled, after making sure `a` has a level to spend.
    pub fn square<E: Evaluator>(
        &self,
        ev: &E,
        a: &E::Ciphertext,
        bound: f64,
        out_bound: f64,
    ) -> Result<E::Ciphertext> {
        let a = self.ensure(ev, a, 1, bound, out_bound)?;
        Ok(ev.square_rescale(&a)?)
    }

    /// `mask ⊙ a` (plaintext multiply, rescaled), after making sure `a` has a level to spend.
    pub fn mask<E: Evaluator>(
        &self,
        ev: &E,
        a: &E::Ciphertext,
        mask: &[f64],
        bound: f64,
    ) -> Result<E::Ciphertext> {
        let a = self.ensure_same(ev, a, 1, bound)?;
        Ok(ev.mask(&a, mask)?)
    }
}

//! Training hyperparameters shared by the encrypted training and the plaintext reference.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// The optimiser.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Optimizer {
    /// Plain mini-batch gradient descent: `W <- W - lr * G`.
    Sgd,
    /// Nesterov's accelerated gradient (HETAL's default), in the form used for HE logistic
    /// regression: with `lambda_0 = 1`, `lambda_{t+1} = (1 + sqrt(1 + 4 lambda_t^2)) / 2` and
    /// `mu_t = (lambda_t - 1) / lambda_{t+1}`,
    /// `W_{t+1} = V_t - lr * G(V_t)` and `V_{t+1} = (1 + mu_t) W_{t+1} - mu_t W_t`.
    /// The step counter `t` runs over all steps of all epochs.
    Nesterov,
}

impl Optimizer {
    /// The momentum coefficient `mu_t` of step `t` (0 for SGD).
    pub fn momentum(self, step: u64) -> f64 {
        match self {
            Optimizer::Sgd => 0.0,
            Optimizer::Nesterov => {
                let mut lambda = 1.0f64;
                for _ in 0..step {
                    lambda = (1.0 + (1.0 + 4.0 * lambda * lambda).sqrt()) / 2.0;
                }
                let next = (1.0 + (1.0 + 4.0 * lambda * lambda).sqrt()) / 2.0;
                (lambda - 1.0) / next
            }
        }
    }

    /// Parses `sgd` or `nesterov` (also `nag`).
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "sgd" => Ok(Optimizer::Sgd),
            "nesterov" | "nag" => Ok(Optimizer::Nesterov),
            "nag-qg" | "nag_qg" => Err(Error::config(
                "optimiser \"nag-qg\" (HE.CNNtraining's quadratic gradient) is not one of HETAL's (sgd, nesterov): choose it with a training method (`--method cnntraining`; `Update::NagQg`)",
            )),
            other => Err(Error::config(format!(
                "unknown optimiser {other:?} (sgd, nesterov)"
            ))),
        }
    }
}

/// The activation of the classifier and, with it, the loss the client reports.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Activation {
    /// Row-wise softmax over the classes (the plan's softmax approximation, HETAL's ASoftmax by
    /// default) with the cross-entropy loss.
    Softmax,
    /// Per-class sigmoid by HE.CNNtraining's cubic `0.5 + 0.10679534503216294 x − 0.00038503259805075 x³`
    /// (documented for `[−8, 8]`, depth 2), with the squared-likelihood loss (SLE).
    SigmoidCubic,
    /// Per-class sigmoid by the odd Chebyshev interpolant of `degree` on `[−range, range]`
    /// (hetal-linalg's polynomial engine; depth `⌈log2(degree + 1)⌉ + 1`), with the SLE loss.
    SigmoidChebyshev {
        /// Half-width of the interval.
        range: f64,
        /// Odd degree.
        degree: usize,
    },
}

impl Activation {
    /// Parses `softmax`, `sigmoid-cubic` (also `cubic`), `sigmoid-cheb` (range 16, degree 7) or
    /// `sigmoid-cheb:RANGE:DEGREE`.
    pub fn parse(s: &str) -> Result<Self> {
        let norm = s.trim().to_ascii_lowercase().replace('_', "-");
        let bad = |why: &str| {
            Error::config(format!(
                "activation {s:?}: {why} (softmax, sigmoid-cubic, sigmoid-cheb, sigmoid-cheb:RANGE:DEGREE)"
            ))
        };
        match norm.as_str() {
            "softmax" => return Ok(Activation::Softmax),
            "sigmoid-cubic" | "cubic" | "sigmoid" => return Ok(Activation::SigmoidCubic),
            "sigmoid-cheb" | "sigmoid-chebyshev" => {
                return Ok(Activation::SigmoidChebyshev {
                    range: 16.0,
                    degree: 7,
                });
            }
            _ => {}
        }
        let Some(rest) = norm
            .strip_prefix("sigmoid-cheb:")
            .or_else(|| norm.strip_prefix("sigmoid-chebyshev:"))
        else {
            return Err(bad("unknown"));
        };
        let (r, d) = rest
            .split_once(':')
            .ok_or_else(|| bad("expected RANGE:DEGREE"))?;
        let range: f64 = r.parse().map_err(|_| bad("RANGE is not a number"))?;
        let degree: usize = d.parse().map_err(|_| bad("DEGREE is not an integer"))?;
        let a = Activation::SigmoidChebyshev { range, degree };
        a.validate()
            .map_err(|_| bad("RANGE must be in (0, 1024] and DEGREE odd in 1..=63"))?;
        Ok(a)
    }

    /// Checks the parameters of a Chebyshev sigmoid.
    pub fn validate(&self) -> Result<()> {
        if let Activation::SigmoidChebyshev { range, degree } = *self
            && !(range.is_finite()
                && range > 0.0
                && range <= 1024.0
                && degree % 2 == 1
                && degree <= 63)
        {
            return Err(Error::config(format!(
                "Chebyshev sigmoid on [-{range}, {range}] of degree {degree}: the range must be in (0, 1024] and the degree odd, at most 63"
            )));
        }
        Ok(())
    }

    /// Whether this is a per-class sigmoid (SLE loss).
    pub fn is_sigmoid(&self) -> bool {
        !matches!(self, Activation::Softmax)
    }

    /// A short name for reports.
    pub fn name(&self) -> String {
        match self {
            Activation::Softmax => "softmax".into(),
            Activation::SigmoidCubic => "sigmoid-cubic".into(),
            Activation::SigmoidChebyshev { range, degree } => {
                format!("sigmoid-cheb:{range}:{degree}")
            }
        }
    }
}

/// The optimiser of a training [`Method`] (a superset of [`Optimizer`]).
///
/// With `n` the rows of the batch, `t` the step (from 0, over all epochs), `η` the learning
/// rate, `G = (P − Y)^T X` the summed gradient at the look-ahead `V`, and `W` the iterate:
///
/// * `Sgd`: `W' = V' = V − (η/n) G`.
/// * `Nesterov` (HETAL's): `W' = V − (η/n) G`, `V' = (1 + μ_t) W' − μ_t W` with `μ_t` of
///   [`Optimizer::Nesterov`] (`λ_0 = 1`).
/// * `Nag` (HE.CNNtraining's): the step `γ_t = η / ((t + 1) n)` decays, and the momentum comes
///   from `α_0 = 0.01`, `α_{t+1} = (1 + √(1 + 4 α_t²)) / 2`, `μ_t = −(1 − α_t) / α_{t+1}`:
///   `W' = V − γ_t G`, `V' = (1 + μ_t) W' − μ_t W`.
/// * `NagQg`: `Nag` with the quadratic gradient: `W' = V − (η + γ_t) B̄⁻¹ ⊙ G`, where `B̄⁻¹` is the
///   client's encrypted diagonal preconditioner of the batch (see [`crate::method::preconditioner`]);
///   at `η = 1` the factor is Chiang's `1 + γ_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Update {
    /// Plain mini-batch gradient descent.
    Sgd,
    /// HETAL's Nesterov schedule.
    Nesterov,
    /// HE.CNNtraining's NAG schedule.
    Nag,
    /// HE.CNNtraining's NAG with the quadratic gradient.
    NagQg,
}

impl Update {
    /// Parses `sgd`, `nesterov`, `nag`, `nag-qg` (also `qg`).
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "sgd" => Ok(Update::Sgd),
            "nesterov" => Ok(Update::Nesterov),
            "nag" => Ok(Update::Nag),
            "nag-qg" | "qg" => Ok(Update::NagQg),
            other => Err(Error::config(format!(
                "unknown optimiser {other:?} (sgd, nesterov, nag, nag-qg)"
            ))),
        }
    }

    /// The name [`Update::parse`] accepts.
    pub fn name(self) -> &'static str {
        match self {
            Update::Sgd => "sgd",
            Update::Nesterov => "nesterov",
            Update::Nag => "nag",
            Update::NagQg => "nag-qg",
        }
    }

    /// The [`Optimizer`] of the [`TrainConfig`] that goes with it (momentum or not).
    pub fn optimizer(self) -> Optimizer {
        match self {
            Update::Sgd => Optimizer::Sgd,
            Update::Nesterov | Update::Nag | Update::NagQg => Optimizer::Nesterov,
        }
    }

    /// Whether the client must send the quadratic-gradient preconditioners.
    pub fn quadratic_gradient(self) -> bool {
        matches!(self, Update::NagQg)
    }

    /// The factor `s` of step `t` on a batch of `n` rows in `W' = V − s · G` (or `s · B̄⁻¹ ⊙ G`),
    /// and the momentum `μ_t` in `V' = (1 + μ_t) W' − μ_t W` (0 for SGD).
    pub fn coefficients(self, learning_rate: f64, step: u64, n: usize) -> (f64, f64) {
        let n = n.max(1) as f64;
        let decayed = learning_rate / ((step as f64 + 1.0) * n);
        match self {
            Update::Sgd => (learning_rate / n, 0.0),
            Update::Nesterov => (learning_rate / n, Optimizer::Nesterov.momentum(step)),
            Update::Nag => (decayed, chiang_momentum(step)),
            Update::NagQg => (learning_rate + decayed, chiang_momentum(step)),
        }
    }
}

/// HE.CNNtraining's momentum `μ_t = −(1 − α_t)/α_{t+1}` with `α_0 = 0.01` and
/// `α_{t+1} = (1 + √(1 + 4 α_t²)) / 2` (so `μ_0 ≈ −0.99`: the first look-ahead stays near the start).
pub fn chiang_momentum(step: u64) -> f64 {
    let next = |a: f64| (1.0 + (1.0 + 4.0 * a * a).sqrt()) / 2.0;
    let mut a = 0.01f64;
    for _ in 0..step {
        a = next(a);
    }
    -(1.0 - a) / next(a)
}

/// Which algorithms compute the two products `Z = X V^T` and `G = D^T X`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Products {
    /// HETAL's DiagABT (weights row-tiled) and DiagATB.
    Diag,
    /// HE.CNNtraining's Volley Revolver for both (weights in Plain layout, no tiling for the
    /// forward product).
    VolleyRevolver,
}

impl Products {
    /// Parses `diag` (also `hetal`) or `volley-revolver` (also `vr`, `volley`).
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "diag" | "hetal" => Ok(Products::Diag),
            "volley-revolver" | "vr" | "volley" => Ok(Products::VolleyRevolver),
            other => Err(Error::config(format!(
                "unknown layout {other:?} (diag, volley-revolver)"
            ))),
        }
    }

    /// The name [`Products::parse`] accepts.
    pub fn name(self) -> &'static str {
        match self {
            Products::Diag => "diag",
            Products::VolleyRevolver => "volley-revolver",
        }
    }
}

/// A training method: activation (and loss), optimiser, and the layout of the products.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Method {
    /// Softmax or per-class sigmoid.
    pub activation: Activation,
    /// The optimiser.
    pub update: Update,
    /// The matrix-product algorithms.
    pub products: Products,
}

impl Method {
    /// HETAL's method with the given optimiser: softmax, DiagABT/DiagATB.
    pub fn hetal(optimizer: Optimizer) -> Self {
        Method {
            activation: Activation::Softmax,
            update: match optimizer {
                Optimizer::Sgd => Update::Sgd,
                Optimizer::Nesterov => Update::Nesterov,
            },
            products: Products::Diag,
        }
    }

    /// HE.CNNtraining's method (Chiang): cubic sigmoid with SLE, NAG with the quadratic
    /// gradient, Volley Revolver.
    pub fn cnntraining() -> Self {
        Method {
            activation: Activation::SigmoidCubic,
            update: Update::NagQg,
            products: Products::VolleyRevolver,
        }
    }

    /// Whether HETAL's [`crate::server::Server`] runs it (softmax, Diag, SGD or HETAL's Nesterov).
    pub fn is_hetal(&self) -> bool {
        self.activation == Activation::Softmax
            && self.products == Products::Diag
            && matches!(self.update, Update::Sgd | Update::Nesterov)
    }

    /// Checks the method against the configuration (the optimiser must agree).
    pub fn validate(&self, config: &TrainConfig) -> Result<()> {
        self.activation.validate()?;
        if self.update.optimizer() != config.optimizer {
            return Err(Error::config(format!(
                "the method's optimiser {} needs {:?} in the configuration, not {:?}",
                self.update.name(),
                self.update.optimizer(),
                config.optimizer
            )));
        }
        Ok(())
    }

    /// A short description, e.g. `sigmoid-cubic/nag-qg/volley-revolver`.
    pub fn describe(&self) -> String {
        format!(
            "{}/{}/{}",
            self.activation.name(),
            self.update.name(),
            self.products.name()
        )
    }
}

impl Default for Method {
    /// HETAL's method with Nesterov.
    fn default() -> Self {
        Method::hetal(Optimizer::Nesterov)
    }
}

/// Whether the server compacts the logits of a step before the softmax
/// ([`hetal_linalg::compact`]): the `c'` meaningful columns of the `(s0, s1)` blocks moved
/// together into as few ciphertexts as possible, periodic with their occupied size, the softmax
/// run there, the probabilities spread back after it. Costs one level before and one after the
/// softmax and `O(√(s1/c'))` rotations each way; pays when it reduces the ciphertexts the
/// softmax runs on, or when the backend bootstraps part-full ciphertexts with a smaller circuit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompactionMode {
    /// Compact when it pays ([`hetal_linalg::compact::Compaction::pays`]; the default).
    #[default]
    Auto,
    /// Always compact (when the blocks are not already dense, `s1 > c'`).
    On,
    /// Never compact.
    Off,
}

impl CompactionMode {
    /// Parses `auto`, `on` or `off`.
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(CompactionMode::Auto),
            "on" => Ok(CompactionMode::On),
            "off" => Ok(CompactionMode::Off),
            other => Err(Error::config(format!(
                "unknown compaction {other:?} (auto, on, off)"
            ))),
        }
    }

    /// The name [`CompactionMode::parse`] accepts.
    pub fn name(self) -> &'static str {
        match self {
            CompactionMode::Auto => "auto",
            CompactionMode::On => "on",
            CompactionMode::Off => "off",
        }
    }
}

/// Hyperparameters of one training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Learning rate (the gradient is averaged over the batch).
    pub learning_rate: f64,
    /// Mini-batch size (the last batch of an epoch may be smaller).
    pub batch_size: usize,
    /// The maximum number of epochs.
    pub epochs: usize,
    /// Early stopping: stop after this many epochs without a lower validation loss; `None` trains
    /// all epochs. The model of the epoch with the lowest validation loss is returned either way.
    pub patience: Option<usize>,
    /// The optimiser.
    pub optimizer: Optimizer,
    /// Seed of the per-epoch batch order.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            learning_rate: 1.0,
            batch_size: 128,
            epochs: 10,
            patience: Some(3),
            optimizer: Optimizer::Nesterov,
            seed: 0,
        }
    }
}

/// The largest batch size a configuration may ask for.
pub const MAX_BATCH: usize = 1 << 24;
/// The most epochs a configuration may ask for.
pub const MAX_EPOCHS: usize = 100_000;

impl TrainConfig {
    /// Checks the values (learning rate finite and positive, `1 <= batch_size <=` [`MAX_BATCH`],
    /// `1 <= epochs <=` [`MAX_EPOCHS`], patience at least 1 if set).
    pub fn validate(&self) -> Result<()> {
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(Error::config(format!(
                "learning rate {} must be positive",
                self.learning_rate
            )));
        }
        if self.batch_size == 0 {
            return Err(Error::config("batch size must be at least 1"));
        }
        if self.batch_size > MAX_BATCH {
            return Err(Error::limit("batch size", self.batch_size, MAX_BATCH));
        }
        if self.epochs == 0 {
            return Err(Error::config("at least one epoch is needed"));
        }
        if self.epochs > MAX_EPOCHS {
            return Err(Error::limit("epochs", self.epochs, MAX_EPOCHS));
        }
        if self.patience == Some(0) {
            return Err(Error::config("patience must be at least 1 (or absent)"));
        }
        Ok(())
    }

    /// The order in which the batches `0..num_batches` are visited in `epoch` (0-based): a
    /// permutation seeded by `(seed, epoch)`, so a resumed run visits them in the same order.
    pub fn batch_order(&self, epoch: usize, num_batches: usize) -> Vec<usize> {
        use rand::SeedableRng;
        use rand::seq::SliceRandom;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(
            self.seed ^ (epoch as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        );
        let mut order: Vec<usize> = (0..num_batches).collect();
        order.shuffle(&mut rng);
        order
    }
}

/// Early-stopping bookkeeping: the client feeds validation losses and learns whether to stop.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// Validation losses so far, one per epoch.
    pub losses: Vec<f64>,
    /// The epoch (0-based) with the lowest validation loss.
    pub best_epoch: Option<usize>,
}

impl EarlyStopping {
    /// Records the validation loss of the next epoch; returns whether it is the best so far.
    pub fn record(&mut self, loss: f64) -> bool {
        let epoch = self.losses.len();
        self.losses.push(loss);
        let best = match self.best_epoch {
            None => true,
            Some(b) => loss < self.losses[b],
        };
        if best && loss.is_finite() {
            self.best_epoch = Some(epoch);
        }
        best && loss.is_finite()
    }

    /// Whether training should stop, given the patience and the epoch cap.
    pub fn should_stop(&self, patience: Option<usize>, max_epochs: usize) -> bool {
        if self.losses.len() >= max_epochs {
            return true;
        }
        match (patience, self.best_epoch) {
            (Some(p), Some(b)) => self.losses.len() - 1 - b >= p,
            (Some(p), None) => self.losses.len() >= p,
            (None, _) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesterov_momentum_grows_toward_one() {
        assert_eq!(Optimizer::Nesterov.momentum(0), 0.0);
        let m1 = Optimizer::Nesterov.momentum(1);
        assert!((m1 - 0.618_034 / 2.193_527).abs() < 1e-5, "{m1}");
        assert!(Optimizer::Nesterov.momentum(100) > 0.95);
        assert_eq!(Optimizer::Sgd.momentum(5), 0.0);
    }

    #[test]
    fn method_flags_parse_and_bad_values_fail() {
        assert_eq!(Activation::parse("softmax").unwrap(), Activation::Softmax);
        assert_eq!(
            Activation::parse("Sigmoid_Cubic").unwrap(),
            Activation::SigmoidCubic
        );
        assert_eq!(
            Activation::parse("sigmoid-cheb:12:9").unwrap(),
            Activation::SigmoidChebyshev {
                range: 12.0,
                degree: 9
            }
        );
        for bad in [
            "tanh",
            "sigmoid-cheb:12",
            "sigmoid-cheb:x:7",
            "sigmoid-cheb:12:8",
            "sigmoid-cheb:-1:7",
            "sigmoid-cheb:12:65",
        ] {
            assert!(
                matches!(Activation::parse(bad), Err(Error::Config { .. })),
                "{bad}"
            );
        }
        assert_eq!(Update::parse("NAG-QG").unwrap(), Update::NagQg);
        assert!(matches!(Update::parse("adam"), Err(Error::Config { .. })));
        assert!(Optimizer::parse("nag-qg").is_err());
        assert_eq!(Products::parse("vr").unwrap(), Products::VolleyRevolver);
        for m in [
            CompactionMode::Auto,
            CompactionMode::On,
            CompactionMode::Off,
        ] {
            assert_eq!(CompactionMode::parse(m.name()).unwrap(), m);
        }
        assert!(matches!(
            CompactionMode::parse("yes"),
            Err(Error::Config { .. })
        ));
        assert!(matches!(
            Products::parse("diagonal"),
            Err(Error::Config { .. })
        ));
        let cfg = TrainConfig::default();
        assert!(Method::cnntraining().validate(&cfg).is_ok());
        let sgd = TrainConfig {
            optimizer: Optimizer::Sgd,
            ..cfg
        };
        assert!(Method::cnntraining().validate(&sgd).is_err());
        assert!(Method::default().is_hetal() && !Method::cnntraining().is_hetal());
    }

    #[test]
    fn chiang_schedule() {
        // α_1 = (1 + √1.0004)/2, μ_0 = −0.99/α_1.
        let a1 = (1.0 + (1.0004f64).sqrt()) / 2.0;
        assert!((chiang_momentum(0) + 0.99 / a1).abs() < 1e-12);
        // Later the momentum is positive and grows toward 1.
        assert!(chiang_momentum(3) > 0.0 && chiang_momentum(200) > 0.95);
        let (s, m) = Update::NagQg.coefficients(1.0, 1, 64);
        assert!((s - (1.0 + 1.0 / 128.0)).abs() < 1e-15 && m == chiang_momentum(1));
        let (s, m) = Update::Nag.coefficients(1.0, 1, 64);
        assert!((s - 1.0 / 128.0).abs() < 1e-15 && m == chiang_momentum(1));
        assert_eq!(Update::Sgd.coefficients(2.0, 7, 4), (0.5, 0.0));
    }

    #[test]
    fn early_stopping_uses_patience() {
        let mut es = EarlyStopping::default();
        assert!(es.record(1.0));
        assert!(es.record(0.5));
        assert!(!es.record(0.6));
        assert!(!es.should_stop(Some(2), 10));
        assert!(!es.record(0.7));
        assert!(es.should_stop(Some(2), 10));
        assert_eq!(es.best_epoch, Some(1));
        assert!(!es.should_stop(None, 10));
        assert!(es.should_stop(None, 4));
    }

    #[test]
    fn batch_order_is_a_seeded_permutation() {
        let c = TrainConfig::default();
        let mut o = c.batch_order(3, 17);
        assert_eq!(o, c.batch_order(3, 17));
        assert_ne!(o, c.batch_order(4, 17));
        o.sort();
        assert_eq!(o, (0..17).collect::<Vec<_>>());
    }
}

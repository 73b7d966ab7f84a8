//! The plaintext reference: the same training as the encrypted one (same batches, same batch
//! order, same optimiser, same early stopping) in `f64`, with the exact softmax or any row-wise
//! approximation; and the metrics shared by both (loss, accuracy, per-class report).

use crate::config::Activation;
use crate::config::{EarlyStopping, Method, TrainConfig, Update};
use crate::data::{Dataset, Splits};
use crate::error::Result;
use hetal_linalg::approx::sigmoid::SigmoidApprox;
use ndarray::{Array2, Axis, s};
use serde::{Deserialize, Serialize};

/// Adds the bias column (all ones) after the features: `n x (d + 1)`.
pub fn with_bias(x: &Array2<f64>) -> Array2<f64> {
    let (n, d) = x.dim();
    let mut out = Array2::ones((n, d + 1));
    out.slice_mut(s![.., ..d]).assign(x);
    out
}

/// The exact row-wise softmax over the first `classes` columns; other columns become 0.
pub fn softmax_rows(z: &Array2<f64>, classes: usize) -> Array2<f64> {
    let mut p = Array2::zeros(z.dim());
    for (zi, mut pi) in z.axis_iter(Axis(0)).zip(p.axis_iter_mut(Axis(0))) {
        let m = zi
            .iter()
            .take(classes)
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let mut sum = 0.0;
        for j in 0..classes {
            let e = (zi[j] - m).exp();
            pi[j] = e;
            sum += e;
        }
        for j in 0..classes {
            pi[j] /= sum;
        }
    }
    p
}

/// The mean cross-entropy of row-wise probabilities (first `classes` columns) against labels.
/// Probabilities are clamped to `[1e-12, 1]` (an approximate softmax may step outside `[0, 1]`).
pub fn cross_entropy_probs(p: &Array2<f64>, labels: &[usize]) -> f64 {
    let n = labels.len().max(1) as f64;
    labels
        .iter()
        .enumerate()
        .map(|(i, &l)| -p[[i, l]].clamp(1e-12, 1.0).ln())
        .sum::<f64>()
        / n
}

/// The mean softmax cross-entropy of logits (first `classes` columns), computed stably.
pub fn cross_entropy_logits(z: &Array2<f64>, labels: &[usize], classes: usize) -> f64 {
    let n = labels.len().max(1) as f64;
    let mut total = 0.0;
    for (i, &l) in labels.iter().enumerate() {
        let row = z.row(i);
        let m = row
            .iter()
            .take(classes)
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let lse = m + row
            .iter()
            .take(classes)
            .map(|&v| (v - m).exp())
            .sum::<f64>()
            .ln();
        total += lse - row[l];
    }
    total / n
}

/// The arg-max of each row over the first `classes` columns.
pub fn argmax_rows(z: &Array2<f64>, classes: usize) -> Vec<usize> {
    z.axis_iter(Axis(0))
        .map(|r| {
            let mut best = 0;
            for j in 1..classes {
                if r[j] > r[best] {
                    best = j;
                }
            }
            best
        })
        .collect()
}

/// The fraction of equal entries.
pub fn accuracy(pred: &[usize], labels: &[usize]) -> f64 {
    let ok = pred.iter().zip(labels).filter(|(a, b)| a == b).count();
    ok as f64 / labels.len().max(1) as f64
}

/// A softmax-regression model: `weights` is `classes x (features + 1)`, the last column the bias.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Number of real classes.
    pub classes: usize,
    /// Weight rows, one per class, bias last; stored row-major (`classes · (features + 1)`).
    pub weights: Vec<f64>,
    /// Number of features (without the bias).
    pub features: usize,
}

impl Model {
    /// The zero model.
    pub fn zeros(classes: usize, features: usize) -> Self {
        Model {
            classes,
            weights: vec![0.0; classes * (features + 1)],
            features,
        }
    }

    /// The weights as an array `classes x (features + 1)`.
    pub fn matrix(&self) -> Array2<f64> {
        Array2::from_shape_vec((self.classes, self.features + 1), self.weights.clone())
            .unwrap_or_else(|_| Array2::zeros((self.classes, self.features + 1)))
    }

    /// A model from an array `classes x (features + 1)`.
    pub fn from_matrix(w: &Array2<f64>) -> Self {
        Model {
            classes: w.nrows(),
            weights: w.iter().copied().collect(),
            features: w.ncols() - 1,
        }
    }

    /// The logits `X W^T + b` (`n x classes`).
    pub fn logits(&self, x: &Array2<f64>) -> Array2<f64> {
        with_bias(x).dot(&self.matrix().t())
    }

    /// Predicted classes.
    pub fn predict(&self, x: &Array2<f64>) -> Vec<usize> {
        argmax_rows(&self.logits(x), self.classes)
    }

    /// Accuracy on a data set.
    pub fn accuracy(&self, data: &Dataset) -> f64 {
        accuracy(&self.predict(&data.features), &data.labels)
    }
}

/// One epoch of a training history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 0-based epoch.
    pub epoch: usize,
    /// Mean loss of the (approximate) activation outputs seen during the epoch's steps:
    /// cross-entropy for a softmax, the SLE loss ([`sle_probs`]) for a sigmoid.
    pub train_loss: f64,
    /// Validation loss of the model after the epoch, from its logits with the exact activation:
    /// cross-entropy, or the SLE loss ([`sle_logits`]) for a sigmoid.
    pub val_loss: f64,
    /// Validation accuracy after the epoch.
    pub val_accuracy: f64,
}

/// The result of a plaintext training run.
#[derive(Clone, Debug, PartialEq)]
pub struct PlainRun {
    /// The model of the best epoch.
    pub model: Model,
    /// The best epoch (0-based; lowest validation loss).
    pub best_epoch: usize,
    /// Per-epoch history.
    pub history: Vec<EpochRecord>,
    /// Number of optimiser steps taken.
    pub steps: u64,
}

/// The batch boundaries of `n` samples with batch size `b`: `[0..b, b..2b, ...]`.
pub fn batch_ranges(n: usize, b: usize) -> Vec<std::ops::Range<usize>> {
    (0..n.div_ceil(b))
        .map(|i| i * b..((i + 1) * b).min(n))
        .collect()
}

/// Trains any [`Method`] in plaintext: the f64 reference of [`crate::server::Server`] with
/// the same batches, batch order, activation approximation, preconditioners, optimiser and
/// early stopping (validation loss: cross-entropy for a softmax, SLE for a sigmoid). `softmax`
/// is used for [`crate::config::Activation::Softmax`] only (e.g. the plan's softmax approximation in f64, or
/// [`softmax_rows`]); a sigmoid uses the method's polynomial. Weights start at zero.
pub fn train(
    splits: &Splits,
    cfg: &TrainConfig,
    method: &Method,
    softmax: &dyn Fn(&Array2<f64>, usize) -> Array2<f64>,
) -> Result<PlainRun> {
    cfg.validate()?;
    method.validate(cfg)?;
    let sigmoid = sigmoid_approx(&method.activation)?;
    let c = splits.num_classes;
    let x = with_bias(&splits.train.features);
    let y = splits.train.one_hot(c);
    let d1 = x.ncols();
    let ranges = batch_ranges(x.nrows(), cfg.batch_size);
    let precond: Vec<Array2<f64>> = if method.update.quadratic_gradient() {
        ranges
            .iter()
            .map(|r| {
                let b = preconditioner(&x.slice(s![r.clone(), ..]).to_owned());
                Array2::from_shape_fn((c, d1), |(_, j)| b[j])
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut w = Array2::<f64>::zeros((c, d1));
    let mut v = w.clone();
    let mut best = w.clone();
    let mut es = EarlyStopping::default();
    let mut history = Vec::new();
    let mut step = 0u64;
    for epoch in 0..cfg.epochs {
        let mut loss_sum = 0.0;
        let mut count = 0usize;
        for b in cfg.batch_order(epoch, ranges.len()) {
            let r = ranges[b].clone();
            let xb = x.slice(s![r.clone(), ..]);
            let yb = y.slice(s![r.clone(), ..]);
            let z = xb.dot(&v.t());
            let labels = &splits.train.labels[r.clone()];
            let (p, loss) = match &sigmoid {
                Some(sg) => {
                    let p = z.mapv(|t| sg.eval_plain(t));
                    let l = sle_probs(&p, labels, c);
                    (p, l)
                }
                None => {
                    let p = softmax(&z, c);
                    let l = cross_entropy_probs(&p, labels);
                    (p, l)
                }
            };
            loss_sum += loss * r.len() as f64;
            count += r.len();
            let mut g = (&p - &yb).t().dot(&xb);
            if method.update.quadratic_gradient() {
                g *= &precond[b];
            }
            let (step_size, mu) = method.update.coefficients(cfg.learning_rate, step, r.len());
            let w_next = &v - &(g * step_size);
            v = match method.update {
                Update::Sgd => w_next.clone(),
                Update::Nesterov | Update::Nag | Update::NagQg => &w_next * (1.0 + mu) - &w * mu,
            };
            w = w_next;
            step += 1;
        }
        let model = Model::from_matrix(&w);
        let z = model.logits(&splits.val.features);
        let val_loss = if sigmoid.is_some() {
            sle_logits(&z, &splits.val.labels, c)
        } else {
            cross_entropy_logits(&z, &splits.val.labels, c)
        };
        let val_accuracy = accuracy(&argmax_rows(&z, c), &splits.val.labels);
        history.push(EpochRecord {
            epoch,
            train_loss: loss_sum / count.max(1) as f64,
            val_loss,
            val_accuracy,
        });
        if es.record(val_loss) {
            best = w.clone();
        }
        if es.should_stop(cfg.patience, cfg.epochs) {
            break;
        }
    }
    Ok(PlainRun {
        model: Model::from_matrix(&best),
        best_epoch: es.best_epoch.unwrap_or(0),
        history,
        steps: step,
    })
}

/// Per-class precision, recall, F1 and support, as scikit-learn's `classification_report`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassReport {
    /// `(precision, recall, f1, support)` per class.
    pub per_class: Vec<(f64, f64, f64, usize)>,
    /// Overall accuracy.
    pub accuracy: f64,
    /// The confusion matrix: `confusion[true][predicted]`.
    pub confusion: Vec<Vec<usize>>,
}

impl ClassReport {
    /// Computes the report for `classes` classes.
    pub fn new(pred: &[usize], labels: &[usize], classes: usize) -> Self {
        let mut confusion = vec![vec![0usize; classes]; classes];
        for (&p, &l) in pred.iter().zip(labels) {
            if p < classes && l < classes {
                confusion[l][p] += 1;
            }
        }
        let per_class = (0..classes)
            .map(|k| {
                let tp = confusion[k][k] as f64;
                let predicted: usize = (0..classes).map(|t| confusion[t][k]).sum();
                let support: usize = confusion[k].iter().sum();
                let precision = if predicted > 0 {
                    tp / predicted as f64
                } else {
                    0.0
                };
                let recall = if support > 0 {
                    tp / support as f64
                } else {
                    0.0
                };
                let f1 = if precision + recall > 0.0 {
                    2.0 * precision * recall / (precision + recall)
                } else {
                    0.0
                };
                (precision, recall, f1, support)
            })
            .collect();
        ClassReport {
            per_class,
            accuracy: accuracy(pred, labels),
            confusion,
        }
    }
}

impl std::fmt::Display for ClassReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{:>12} {:>9} {:>9} {:>9} {:>9}",
            "", "precision", "recall", "f1-score", "support"
        )?;
        for (k, (p, r, f1, s)) in self.per_class.iter().enumerate() {
            writeln!(f, "{:>12} {:>9.4} {:>9.4} {:>9.4} {:>9}", k, p, r, f1, s)?;
        }
        let total: usize = self.per_class.iter().map(|x| x.3).sum();
        let n = self.per_class.len().max(1) as f64;
        let avg = |i: usize| {
            self.per_class
                .iter()
                .map(|x| [x.0, x.1, x.2][i])
                .sum::<f64>()
                / n
        };
        let wavg = |i: usize| {
            self.per_class
                .iter()
                .map(|x| [x.0, x.1, x.2][i] * x.3 as f64)
                .sum::<f64>()
                / total.max(1) as f64
        };
        writeln!(f)?;
        writeln!(
            f,
            "{:>12} {:>9} {:>9} {:>9.4} {:>9}",
            "accuracy", "", "", self.accuracy, total
        )?;
        writeln!(
            f,
            "{:>12} {:>9.4} {:>9.4} {:>9.4} {:>9}",
            "macro avg",
            avg(0),
            avg(1),
            avg(2),
            total
        )?;
        write!(
            f,
            "{:>12} {:>9.4} {:>9.4} {:>9.4} {:>9}",
            "weighted avg",
            wavg(0),
            wavg(1),
            wavg(2),
            total
        )
    }
}

/// The `ε` of Chiang's preconditioner `B̄_jj = ε + ¼ Σ_i |x_ij| Σ_k |x_ik|`.
pub const QG_EPSILON: f64 = 1e-10;

/// The quadratic-gradient preconditioner of a batch: the diagonal of `B̄⁻¹` for the design
/// matrix `x` (`n × width`, bias column included), with
/// `B̄_jj = ε + ¼ Σ_i |x_ij| · Σ_k |x_ik|` (`ε` = [`QG_EPSILON`]), Chiang's bound on the
/// Hessian of the per-class log-likelihood (`σ' ≤ ¼`, and `Σ_k |(X^T X)_jk|` bounded by the
/// absolute row sums).
///
/// A column that is zero in every row gets `0` instead of `1/ε`: its gradient is identically
/// zero, and `10^10` would only amplify CKKS noise. Computed per batch, the step
/// `B̄⁻¹ ⊙ (P − Y)^T X` is bounded by `4 · max|P − Y| / min_i Σ_k |x_ik|` in every entry.
pub fn preconditioner(x: &Array2<f64>) -> Vec<f64> {
    let row_sums: Vec<f64> = x
        .rows()
        .into_iter()
        .map(|r| r.iter().map(|v| v.abs()).sum())
        .collect();
    (0..x.ncols())
        .map(|j| {
            let (mut col, mut b) = (0.0, 0.0);
            for (i, s) in row_sums.iter().enumerate() {
                let a = x[[i, j]].abs();
                col += a;
                b += a * s;
            }
            if col > 0.0 {
                1.0 / (QG_EPSILON + 0.25 * b)
            } else {
                0.0
            }
        })
        .collect()
}

/// `ln σ(z)`, stably.
fn log_sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        -(-z).exp().ln_1p()
    } else {
        z - z.exp().ln_1p()
    }
}

/// The squared-likelihood loss of logits under the exact sigmoid: the negative mean over rows of
/// Chiang's `Σ_c ln |σ(z_ic) − 1 + y_ic|`, i.e. `−(1/n) Σ_i Σ_{c < classes} [y ln σ + (1 − y) ln(1 − σ)]`
/// (first `classes` columns of `z`; computed stably).
pub fn sle_logits(z: &Array2<f64>, labels: &[usize], classes: usize) -> f64 {
    let n = labels.len().max(1) as f64;
    let mut total = 0.0;
    for (i, &l) in labels.iter().enumerate() {
        for c in 0..classes {
            let v = z[[i, c]];
            total -= if c == l {
                log_sigmoid(v)
            } else {
                log_sigmoid(-v)
            };
        }
    }
    total / n
}

/// The squared-likelihood loss of (approximate) per-class probabilities `p` (first `classes`
/// columns): `−(1/n) Σ_i Σ_c ln |p_ic − 1 + y_ic|`, each term clamped to `[1e-12, 1]` (a cubic
/// sigmoid may step outside `[0, 1]`).
pub fn sle_probs(p: &Array2<f64>, labels: &[usize], classes: usize) -> f64 {
    let n = labels.len().max(1) as f64;
    let mut total = 0.0;
    for (i, &l) in labels.iter().enumerate() {
        for c in 0..classes {
            let y = if c == l { 1.0 } else { 0.0 };
            total -= (p[[i, c]] - 1.0 + y).abs().clamp(1e-12, 1.0).ln();
        }
    }
    total / n
}

/// The polynomial sigmoid of an activation (`None` for softmax).
pub fn sigmoid_approx(a: &Activation) -> Result<Option<SigmoidApprox>> {
    a.validate()?;
    Ok(match *a {
        Activation::Softmax => None,
        Activation::SigmoidCubic => Some(SigmoidApprox::hecnn()),
        Activation::SigmoidChebyshev { range, degree } => {
            Some(SigmoidApprox::chebyshev(range, degree)?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_and_losses_agree() {
        let z =
            Array2::from_shape_vec((2, 4), vec![1.0, 2.0, 3.0, 99.0, 0.0, 0.0, 0.0, -5.0]).unwrap();
        let p = softmax_rows(&z, 3);
        assert!((p.row(0).sum() - 1.0).abs() < 1e-12);
        assert_eq!(p[[0, 3]], 0.0);
        let labels = [2, 1];
        let a = cross_entropy_probs(&p, &labels);
        let b = cross_entropy_logits(&z, &labels, 3);
        assert!((a - b).abs() < 1e-12);
        assert_eq!(argmax_rows(&z, 3), vec![2, 0]);
    }

    #[test]
    fn class_report_counts() {
        let r = ClassReport::new(&[0, 1, 1, 2], &[0, 1, 2, 2], 3);
        assert_eq!(r.confusion[2][1], 1);
        assert_eq!(r.per_class[1].0, 0.5);
        assert_eq!(r.per_class[2].1, 0.5);
        assert_eq!(r.accuracy, 0.75);
        assert!(r.to_string().contains("weighted avg"));
    }

    #[test]
    fn plain_training_learns_digits() {
        let splits = Splits::digits(0).unwrap();
        for opt in [
            crate::config::Optimizer::Sgd,
            crate::config::Optimizer::Nesterov,
        ] {
            let cfg = TrainConfig {
                optimizer: opt,
                epochs: 5,
                ..TrainConfig::default()
            };
            let run = train(&splits, &cfg, &Method::hetal(opt), &softmax_rows).unwrap();
            let acc = run.model.accuracy(&splits.test);
            assert!(acc > 0.9, "{opt:?}: test accuracy {acc}");
            assert!(run.history[0].train_loss > run.history.last().unwrap().train_loss);
        }
    }
}

#[cfg(test)]
mod loss_tests {
    use super::*;

    #[test]
    fn preconditioner_equals_its_closed_form() {
        // Rows (with the bias column last) and their absolute sums 4, 5, 2.
        let x = Array2::from_shape_vec(
            (3, 4),
            vec![
                1.0, -2.0, 0.0, 1.0, //
                0.5, 0.0, 0.0, 4.5, //
                0.0, 1.0, 0.0, -1.0,
            ],
        )
        .unwrap();
        let b = preconditioner(&x);
        // B̄_jj = ε + ¼ Σ_i |x_ij| S_i.
        let closed = [
            1.0 / (QG_EPSILON + 0.25 * (1.0 * 4.0 + 0.5 * 5.0)),
            1.0 / (QG_EPSILON + 0.25 * (2.0 * 4.0 + 1.0 * 2.0)),
            0.0, // an all-zero column: no step instead of 1/ε
            1.0 / (QG_EPSILON + 0.25 * (1.0 * 4.0 + 4.5 * 5.0 + 1.0 * 2.0)),
        ];
        for (a, e) in b.iter().zip(closed) {
            assert!((a - e).abs() <= 1e-15 * e.abs(), "{a} vs {e}");
        }
        // For non-negative features it equals Chiang's Python form ε + ¼ (row sums of X^T X).
        let xp = x.mapv(f64::abs);
        let xtx = xp.t().dot(&xp);
        for j in [0, 1, 3] {
            let e = 1.0 / (QG_EPSILON + 0.25 * xtx.row(j).sum());
            assert!((preconditioner(&xp)[j] - e).abs() <= 1e-15 * e);
        }
        // The bound of the step: |B̄⁻¹ ⊙ (P − Y)^T X| ≤ 4 max|P − Y| / min_i S_i.
        let d = Array2::from_shape_fn((3, 2), |(i, k)| if (i + k) % 2 == 0 { 1.0 } else { -1.0 });
        let g = d.t().dot(&x);
        for k in 0..2 {
            for j in 0..4 {
                assert!((g[[k, j]] * b[j]).abs() <= 4.0 / 2.0 + 1e-12);
            }
        }
    }

    #[test]
    fn sle_is_the_bernoulli_log_likelihood() {
        let z = Array2::from_shape_vec((2, 3), vec![2.0, -1.0, 0.5, -30.0, 40.0, 0.0]).unwrap();
        let labels = [0, 1];
        let sig = hetal_linalg::approx::sigmoid::sigmoid;
        let p = z.mapv(sig);
        let direct = sle_probs(&p, &labels, 3);
        let mut expected = 0.0;
        for (i, &l) in labels.iter().enumerate() {
            for c in 0..3 {
                let s = sig(z[[i, c]]);
                expected -= if c == l { s.ln() } else { (1.0 - s).ln() };
            }
        }
        expected /= 2.0;
        assert!((sle_logits(&z, &labels, 3) - expected).abs() < 1e-12);
        assert!((direct - expected).abs() < 1e-9);
        // Probabilities outside [0, 1] (the cubic) are clamped, not NaN.
        let q = Array2::from_shape_vec((1, 2), vec![1.2, -0.1]).unwrap();
        assert!(sle_probs(&q, &[1], 2).is_finite());
    }
}

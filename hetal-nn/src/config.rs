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
            other => Err(Error::config(format!(
                "unknown optimiser {other:?} (sgd, nesterov)"
            ))),
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

impl TrainConfig {
    /// Checks the values.
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
        if self.epochs == 0 {
            return Err(Error::config("at least one epoch is needed"));
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

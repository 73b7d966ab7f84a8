//! The client role: plans the run, generates keys, encrypts the data, judges each epoch on the
//! decrypted validation logits, and decrypts the final model.

use crate::config::{EarlyStopping, TrainConfig};
use crate::data::Splits;
use crate::error::{Error, Result};
use crate::plain::{
    EpochRecord, Model, accuracy, argmax_rows, batch_ranges, cross_entropy_logits,
    cross_entropy_probs,
};
use crate::protocol::{Decision, EncMatrix, EncryptedData, EncryptedModel, EpochResult, Plan};
use hetal_linalg::packed::{Layout, Matrix, PackedMatrix, UnitShape};
use hetal_traits::Encryptor;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

impl Plan {
    /// Plans a run: HETAL's unit shape rule (`run.py`) for the batch size and the padded class
    /// count, the batch boundaries of the training set, and the hyperparameters. Compaction of
    /// the logits is decided as [`CompactionMode::Auto`](crate::config::CompactionMode::Auto)
    /// without sparse bootstrapping ([`Plan::with_compaction`] decides otherwise).
    pub fn new(
        splits: &Splits,
        config: &TrainConfig,
        slots: usize,
        weight_bound: f64,
        softmax: &str,
    ) -> Result<Plan> {
        config.validate()?;
        if !(weight_bound.is_finite() && weight_bound > 0.0) {
            return Err(Error::config(format!(
                "weight bound {weight_bound} must be positive"
            )));
        }
        let classes = splits.num_classes;
        let padded = classes.next_power_of_two().max(2);
        let shape = UnitShape::training(config.batch_size, padded, slots)?;
        if shape.s0 < padded || shape.s1 < padded {
            return Err(Error::config(format!(
                "{padded} padded classes do not fit the unit shape ({}, {}) of {slots} slots",
                shape.s0, shape.s1
            )));
        }
        let mut plan = Plan {
            slots,
            unit: (shape.s0, shape.s1),
            features: splits.num_features(),
            classes,
            padded_classes: padded,
            batch_rows: batch_ranges(splits.train.len(), config.batch_size)
                .iter()
                .map(|r| r.len())
                .collect(),
            val_rows: splits.val.len(),
            config: config.clone(),
            report_train_loss: true,
            weight_bound,
            softmax: softmax.to_string(),
            encrypt_level: None,
            method: crate::config::Method::hetal(config.optimizer),
            keys_digest: None,
            compaction: false,
        };
        plan.compaction = plan.compaction_pays(false)?;
        Ok(plan)
    }

    /// Checks that the plan is self-consistent and within the limits (a plan read back from a
    /// file): the configuration, a power-of-two slot count of at most
    /// [`crate::protocol::MAX_SLOTS`], a unit shape filling it, `2 <= classes <=`
    /// [`crate::data::MAX_CLASSES`] padded to the next power of two (which fits the unit shape),
    /// one batch row count per batch (each at most the batch size), and a finite positive weight
    /// bound. `O(batches)`.
    pub fn validate(&self) -> Result<()> {
        self.config.validate()?;
        let bad = |r: String| Err(Error::format("plan", r));
        let (s0, s1) = self.unit;
        if !self.slots.is_power_of_two() || self.slots > crate::protocol::MAX_SLOTS {
            return bad(format!(
                "{} slots (a power of two up to {} expected)",
                self.slots,
                crate::protocol::MAX_SLOTS
            ));
        }
        if s0.checked_mul(s1) != Some(self.slots) {
            return bad(format!("unit shape ({s0}, {s1}) for {} slots", self.slots));
        }
        UnitShape::new(s0, s1)?;
        if !(2..=crate::data::MAX_CLASSES).contains(&self.classes)
            || self.padded_classes != self.classes.next_power_of_two()
            || self.padded_classes > s0
            || self.padded_classes > s1
        {
            return bad(format!(
                "{} classes padded to {} in ({s0}, {s1}) blocks",
                self.classes, self.padded_classes
            ));
        }
        if self.features == 0 || self.features > crate::data::MAX_FEATURES {
            return bad(format!("{} features", self.features));
        }
        if self.batch_rows.is_empty()
            || self
                .batch_rows
                .iter()
                .any(|&r| r == 0 || r > self.config.batch_size)
            || self.val_rows == 0
        {
            return bad("empty or oversized batches".into());
        }
        if !(self.weight_bound.is_finite() && self.weight_bound > 0.0) {
            return bad(format!("weight bound {}", self.weight_bound));
        }
        Ok(())
    }
}

/// Adds the bias column and converts to the linear-algebra matrix type.
pub fn design_matrix(x: &Array2<f64>) -> Matrix {
    let d = x.ncols();
    Matrix::from_fn(x.nrows(), d + 1, |i, j| if j < d { x[[i, j]] } else { 1.0 })
}

/// One-hot labels, `n × width`.
pub fn label_matrix(labels: &[usize], width: usize) -> Matrix {
    Matrix::from_fn(
        labels.len(),
        width,
        |i, j| if labels[i] == j { 1.0 } else { 0.0 },
    )
}

/// What the client remembers between epochs (saved between processes in the two-process flow).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientState {
    /// Early-stopping bookkeeping (validation losses, best epoch).
    pub stopping: EarlyStopping,
    /// Per-epoch history.
    pub history: Vec<EpochRecord>,
}

impl ClientState {
    /// Checks a state read back from a file: one record per recorded loss, the best epoch
    /// among them, at most `max_epochs` epochs.
    pub fn validate(&self, max_epochs: usize) -> Result<()> {
        let n = self.stopping.losses.len();
        if self.history.len() != n
            || n > max_epochs
            || self.stopping.best_epoch.is_some_and(|b| b >= n)
            || self.history.iter().enumerate().any(|(i, r)| r.epoch != i)
        {
            return Err(Error::format(
                "client state",
                "inconsistent (history, losses and best epoch disagree, or more epochs than the plan)",
            ));
        }
        Ok(())
    }
}

/// The client: a backend client (secret key holder) and the plan.
#[derive(Debug)]
pub struct Client<K> {
    /// The backend client: encryption, decryption, key generation.
    pub backend: K,
    /// The plan of the run.
    pub plan: Plan,
    /// Early stopping and history.
    pub state: ClientState,
}

impl<K> Client<K>
where
    K: Encryptor + hetal_traits::Decryptor<Ciphertext = <K as Encryptor>::Ciphertext>,
{
    /// A client for `plan`.
    pub fn new(backend: K, plan: Plan) -> Result<Self> {
        if backend.slots() != plan.slots {
            return Err(Error::config(format!(
                "the plan is for {} slots, the backend has {}",
                plan.slots,
                backend.slots()
            )));
        }
        Ok(Client {
            backend,
            plan,
            state: ClientState::default(),
        })
    }

    fn encrypt_matrix(&mut self, m: &Matrix) -> Result<EncMatrix<<K as Encryptor>::Ciphertext>> {
        let shape = self.plan.shape()?;
        let top = self.backend.max_level();
        let level = self
            .plan
            .encrypt_level
            .map_or(top, |l| hetal_traits::Level(l).min(top));
        Ok(EncMatrix::from_packed(&PackedMatrix::encrypt(
            &mut self.backend,
            m,
            shape,
            Layout::Plain,
            level,
        )?))
    }

    /// Encrypts the training batches (features with bias, one-hot labels), the validation
    /// features and zero initial weights, all at [`Plan::encrypt_level`] (default: the top level).
    pub fn encrypt_data(
        &mut self,
        splits: &Splits,
    ) -> Result<EncryptedData<<K as Encryptor>::Ciphertext>> {
        self.check_splits(splits)?;
        let ranges = batch_ranges(splits.train.len(), self.plan.config.batch_size);
        let mut train_x = Vec::new();
        let mut train_y = Vec::new();
        for r in ranges {
            let b = splits.train.slice(r);
            train_x.push(self.encrypt_matrix(&design_matrix(&b.features))?);
            train_y.push(self.encrypt_matrix(&label_matrix(&b.labels, self.plan.padded_classes))?);
        }
        let val_x = self.encrypt_matrix(&design_matrix(&splits.val.features))?;
        let initial_weights =
            self.encrypt_matrix(&Matrix::zeros(self.plan.padded_classes, self.plan.width()))?;
        let preconditioners = self.encrypt_preconditioners(splits)?;
        Ok(EncryptedData {
            plan: self.plan.clone(),
            train_x,
            train_y,
            val_x,
            initial_weights,
            preconditioners,
        })
    }

    /// Encrypts features (bias column added) for encrypted inference.
    pub fn encrypt_features(
        &mut self,
        x: &Array2<f64>,
    ) -> Result<EncMatrix<<K as Encryptor>::Ciphertext>> {
        if x.ncols() != self.plan.features {
            return Err(Error::FeatureCountMismatch {
                what: "inference features".into(),
                expected: self.plan.features,
                actual: x.ncols(),
            });
        }
        self.encrypt_matrix(&design_matrix(x))
    }

    /// Decrypts a packed matrix to an array (all logical rows and columns).
    pub fn decrypt_matrix(
        &self,
        m: &EncMatrix<<K as Encryptor>::Ciphertext>,
    ) -> Result<Array2<f64>> {
        let d = m.to_packed()?.decrypt(&self.backend)?;
        Array2::from_shape_vec((d.rows(), d.cols()), d.data().to_vec())
            .map_err(|e| Error::format("decrypted matrix", e.to_string()))
    }

    fn check_splits(&self, splits: &Splits) -> Result<()> {
        if splits.num_features() != self.plan.features || splits.num_classes != self.plan.classes {
            return Err(Error::config(format!(
                "the data have {} features and {} classes, the plan {} and {}",
                splits.num_features(),
                splits.num_classes,
                self.plan.features,
                self.plan.classes
            )));
        }
        if splits.val.len() != self.plan.val_rows {
            return Err(Error::config("the validation set does not match the plan"));
        }
        Ok(())
    }

    /// Judges an epoch: decrypts the validation logits, computes the validation loss and
    /// accuracy (and the training loss from the batches' softmax outputs), updates early
    /// stopping, and returns the decision for the server with the epoch's record.
    pub fn review_epoch(
        &mut self,
        r: &EpochResult<<K as Encryptor>::Ciphertext>,
        splits: &Splits,
    ) -> Result<(Decision, EpochRecord)> {
        let expected = self.state.stopping.losses.len();
        if r.epoch != expected {
            return Err(Error::protocol(format!(
                "the server sent epoch {}, the client expected epoch {expected}",
                r.epoch
            )));
        }
        self.check_splits(splits)?;
        self.check_result(r)?;
        let c = self.plan.classes;
        let z = self.decrypt_matrix(&r.val_logits)?;
        if z.nrows() != splits.val.len() {
            return Err(Error::protocol("validation logits of the wrong size"));
        }
        let sigmoid = self.plan.method.activation.is_sigmoid();
        let val_loss = if sigmoid {
            crate::plain::sle_logits(&z, &splits.val.labels, c)
        } else {
            cross_entropy_logits(&z, &splits.val.labels, c)
        };
        let val_accuracy = accuracy(&argmax_rows(&z, c), &splits.val.labels);
        let ranges = batch_ranges(splits.train.len(), self.plan.config.batch_size);
        let (mut sum, mut n) = (0.0, 0usize);
        for (b, p) in &r.train_probs {
            let range = ranges
                .get(*b)
                .ok_or_else(|| Error::protocol(format!("softmax outputs of unknown batch {b}")))?;
            let p = self.decrypt_matrix(p)?;
            let labels = &splits.train.labels[range.clone()];
            let loss = if sigmoid {
                crate::plain::sle_probs(&p, labels, c)
            } else {
                cross_entropy_probs(&p, labels)
            };
            sum += loss * range.len() as f64;
            n += range.len();
        }
        let train_loss = if n > 0 { sum / n as f64 } else { f64::NAN };
        let improved = self.state.stopping.record(val_loss);
        let stop = self
            .state
            .stopping
            .should_stop(self.plan.config.patience, self.plan.config.epochs);
        let record = EpochRecord {
            epoch: r.epoch,
            train_loss,
            val_loss,
            val_accuracy,
        };
        self.state.history.push(record.clone());
        Ok((
            Decision {
                epoch: r.epoch,
                improved,
                stop,
            },
            record,
        ))
    }

    /// Checks an epoch result read from the server against the plan, before decrypting
    /// anything: the validation logits `val_rows × padded_classes`, and when the plan asks for
    /// them the softmax outputs of every batch exactly once (`batch_rows[b] × padded_classes`),
    /// all in the plan's unit shape, Plain, at most at the backend's top level.
    pub fn check_result(&self, r: &EpochResult<<K as Encryptor>::Ciphertext>) -> Result<()> {
        let (unit, top, pc) = (
            self.plan.unit,
            self.backend.max_level(),
            self.plan.padded_classes,
        );
        r.val_logits
            .check("validation logits", self.plan.val_rows, pc, unit, top)?;
        let nb = self.plan.batch_rows.len();
        let expected = if self.plan.report_train_loss { nb } else { 0 };
        if r.train_probs.len() != expected {
            return Err(Error::protocol(format!(
                "{} batches of softmax outputs, expected {expected}",
                r.train_probs.len()
            )));
        }
        let mut seen = vec![false; nb];
        for (b, p) in &r.train_probs {
            if *b >= nb || std::mem::replace(&mut seen[*b], true) {
                return Err(Error::protocol(format!(
                    "softmax outputs of unknown or repeated batch {b}"
                )));
            }
            p.check(
                &format!("softmax outputs of batch {b}"),
                self.plan.batch_rows[*b],
                pc,
                unit,
                top,
            )?;
        }
        Ok(())
    }

    /// Checks an encrypted model read from the server: weights `padded_classes × (features + 1)`
    /// in the plan's unit shape, and its epoch the best one the client judged (or, before any
    /// judgement, the last epoch it saw).
    pub fn check_model(&self, m: &EncryptedModel<<K as Encryptor>::Ciphertext>) -> Result<()> {
        m.weights.check(
            "encrypted model",
            self.plan.padded_classes,
            self.plan.width(),
            self.plan.unit,
            self.backend.max_level(),
        )?;
        let judged = self.state.stopping.losses.len();
        let ok = match self.state.stopping.best_epoch {
            Some(b) => m.epoch == b,
            None => m.epoch == judged.saturating_sub(1),
        };
        if !ok {
            return Err(Error::protocol(format!(
                "the model claims to be from epoch {} but the client judged {judged} epoch(s), best {}",
                m.epoch.saturating_add(1),
                self.state
                    .stopping
                    .best_epoch
                    .map_or("none".to_string(), |b| (b + 1).to_string())
            )));
        }
        Ok(())
    }

    /// Decrypts the model (the real classes' rows), after [`Client::check_model`].
    pub fn decrypt_model(&self, m: &EncryptedModel<<K as Encryptor>::Ciphertext>) -> Result<Model> {
        self.check_model(m)?;
        let w = self.decrypt_matrix(&m.weights)?;
        if w.ncols() != self.plan.width() || w.nrows() < self.plan.classes {
            return Err(Error::protocol("encrypted model of the wrong shape"));
        }
        Ok(Model::from_matrix(
            &w.slice(ndarray::s![..self.plan.classes, ..]).to_owned(),
        ))
    }

    /// Predictions from decrypted encrypted-inference logits (any row count; the columns, unit
    /// shape, layout and levels are checked against the plan). See
    /// [`Client::predictions_for`] to check the row count too.
    pub fn predictions(
        &self,
        logits: &EncMatrix<<K as Encryptor>::Ciphertext>,
    ) -> Result<Vec<usize>> {
        self.predictions_for(logits, logits.rows)
    }

    /// Predictions from decrypted encrypted-inference logits of exactly `rows` rows, checked
    /// against the plan ([`EncMatrix::check`]) before anything is decrypted.
    pub fn predictions_for(
        &self,
        logits: &EncMatrix<<K as Encryptor>::Ciphertext>,
        rows: usize,
    ) -> Result<Vec<usize>> {
        logits.check(
            "inference logits",
            rows,
            self.plan.padded_classes,
            self.plan.unit,
            self.backend.max_level(),
        )?;
        Ok(argmax_rows(
            &self.decrypt_matrix(logits)?,
            self.plan.classes,
        ))
    }
}

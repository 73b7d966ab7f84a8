//! The server's state ([`Server`](crate::server::Server)): the checked encrypted inputs, the
//! encrypted model state and the epoch protocol with the client (one epoch, then the client's
//! decision, then the next), including checkpoints.
//!
//! A server keeps a [`TrainState`] and implements [`EpochSteps`] (its training step and its
//! validation logits); [`run_epoch`] drives one epoch over it.

use crate::error::{Error, Result};
use crate::ops::{Progress, check_matrix, combine, ensure};
use crate::protocol::{
    Checkpoint, Decision, EncMatrix, EncryptedData, EncryptedModel, EpochResult, Plan, ServerStats,
};
use hetal_linalg::approx::Refresher;
use hetal_linalg::packed::{PackedMatrix, UnitShape};
use hetal_traits::Evaluator;
use std::time::Instant;

type Ct<E> = <E as Evaluator>::Ciphertext;
type Packed<E> = PackedMatrix<Ct<E>>;

/// The client's encrypted training batches, validation features and initial weights, each
/// checked against the plan (rows, columns, unit shape, layout).
pub(crate) struct Inputs<E: Evaluator> {
    pub train_x: Vec<Packed<E>>,
    pub train_y: Vec<Packed<E>>,
    pub val_x: Packed<E>,
    pub initial_weights: Packed<E>,
}

impl<E: Evaluator> Inputs<E> {
    /// Unpacks and checks the data of `data` for `plan`.
    pub fn load(plan: &Plan, shape: UnitShape, data: &EncryptedData<Ct<E>>) -> Result<Self> {
        let nb = plan.batch_rows.len();
        if data.train_x.len() != nb || data.train_y.len() != nb {
            return Err(Error::protocol(
                "the number of encrypted batches does not match the plan",
            ));
        }
        let (c, width) = (plan.padded_classes, plan.width());
        let mut train_x = Vec::with_capacity(nb);
        let mut train_y = Vec::with_capacity(nb);
        for (i, (x, y)) in data.train_x.iter().zip(&data.train_y).enumerate() {
            let (x, y) = (x.to_packed()?, y.to_packed()?);
            let rows = plan.batch_rows[i];
            check_matrix(&x, &format!("batch {i} features"), rows, width, shape)?;
            check_matrix(&y, &format!("batch {i} labels"), rows, c, shape)?;
            train_x.push(x);
            train_y.push(y);
        }
        let val_x = data.val_x.to_packed()?;
        check_matrix(&val_x, "validation features", plan.val_rows, width, shape)?;
        let initial_weights = data.initial_weights.to_packed()?;
        check_matrix(&initial_weights, "initial weights", c, width, shape)?;
        Ok(Inputs {
            train_x,
            train_y,
            val_x,
            initial_weights,
        })
    }
}

/// The encrypted model state and where the protocol stands.
pub(crate) struct TrainState<E: Evaluator> {
    /// Epochs finished.
    pub epochs_done: usize,
    /// Training steps taken (for the optimiser's schedule).
    pub step: u64,
    /// The weights `W`.
    pub w: Packed<E>,
    /// The look-ahead weights `V` (Nesterov).
    pub v: Packed<E>,
    /// The weights of the best epoch so far, as the client judged it.
    pub best: Option<(usize, Packed<E>)>,
    /// The last epoch's result while it awaits the client's decision.
    pub pending: Option<EpochResult<Ct<E>>>,
    /// Whether training is over.
    pub stopped: bool,
    /// The timings so far.
    pub stats: ServerStats,
}

impl<E: Evaluator> TrainState<E> {
    /// The state before the first epoch: `W = V =` the initial weights.
    pub fn new(initial_weights: Packed<E>) -> Self {
        TrainState {
            epochs_done: 0,
            step: 0,
            v: initial_weights.clone(),
            w: initial_weights,
            best: None,
            pending: None,
            stopped: false,
            stats: ServerStats::default(),
        }
    }

    /// Takes over the state of a checkpoint of the same plan (every matrix checked).
    pub fn restore(
        &mut self,
        plan: &Plan,
        shape: UnitShape,
        ckpt: &Checkpoint<Ct<E>>,
    ) -> Result<()> {
        if ckpt.plan.keys_digest != plan.keys_digest {
            return Err(Error::protocol(
                "the checkpoint was made under other evaluation keys (another keygen)",
            ));
        }
        if ckpt.plan != *plan {
            return Err(Error::protocol("the checkpoint belongs to another plan"));
        }
        if ckpt.epochs_done > plan.config.epochs
            || ckpt
                .best
                .as_ref()
                .is_some_and(|(e, _)| *e >= ckpt.epochs_done)
            || ckpt
                .pending
                .as_ref()
                .is_some_and(|p| p.epoch.checked_add(1) != Some(ckpt.epochs_done))
        {
            return Err(Error::protocol(format!(
                "the checkpoint's epochs are inconsistent ({} done of at most {})",
                ckpt.epochs_done, plan.config.epochs
            )));
        }
        let (c, width) = (plan.padded_classes, plan.width());
        let w = ckpt.w.to_packed()?;
        let v = ckpt.v.to_packed()?;
        check_matrix(&w, "checkpoint weights", c, width, shape)?;
        check_matrix(&v, "checkpoint look-ahead weights", c, width, shape)?;
        let best = match &ckpt.best {
            Some((e, m)) => {
                let m = m.to_packed()?;
                check_matrix(&m, "checkpoint best weights", c, width, shape)?;
                Some((*e, m))
            }
            None => None,
        };
        *self = TrainState {
            epochs_done: ckpt.epochs_done,
            step: ckpt.step,
            w,
            v,
            best,
            pending: ckpt.pending.clone(),
            stopped: ckpt.stopped,
            stats: ckpt.stats,
        };
        Ok(())
    }

    /// The state to save (after an epoch or a decision).
    pub fn checkpoint(&self, plan: &Plan) -> Checkpoint<Ct<E>> {
        Checkpoint {
            plan: plan.clone(),
            epochs_done: self.epochs_done,
            step: self.step,
            w: EncMatrix::from_packed(&self.w),
            v: EncMatrix::from_packed(&self.v),
            best: self
                .best
                .as_ref()
                .map(|(e, m)| (*e, EncMatrix::from_packed(m))),
            pending: self.pending.clone(),
            stopped: self.stopped,
            stats: self.stats,
        }
    }

    /// The weights of the best epoch, or the current ones if no epoch was judged yet, with the
    /// epoch they come from.
    pub fn model(&self) -> (usize, &Packed<E>) {
        match &self.best {
            Some((e, w)) => (*e, w),
            None => (self.epochs_done.saturating_sub(1), &self.w),
        }
    }

    /// The model to return to the client ([`TrainState::model`]).
    pub fn final_model(&self) -> EncryptedModel<Ct<E>> {
        let (epoch, w) = self.model();
        EncryptedModel {
            epoch,
            weights: EncMatrix::from_packed(w),
            stats: self.stats,
        }
    }

    /// The weight update after a gradient `g`: `W' = V − s·G`, then for Nesterov momentum `μ`
    /// `V' = (1 + μ)·W' − μ·W = (1 + μ)·V − (1 + μ)·s·G − μ·W` (one linear combination, one
    /// rescale; `W` is first refreshed to have that level, its values bounded by `bound`), else
    /// `V' = W'`. Counts the step.
    #[allow(clippy::too_many_arguments)]
    pub fn update(
        &mut self,
        ev: &E,
        refresher: &Refresher,
        g: &Packed<E>,
        s: f64,
        momentum: Option<f64>,
        bound: f64,
        stats: &mut ServerStats,
    ) -> Result<()> {
        let w_next = combine(ev, &[(&self.v, 1.0), (g, -s)])?;
        let v_next = match momentum {
            None => w_next.clone(),
            Some(mu) => {
                self.w = ensure(refresher, ev, &self.w, 1, bound, bound, stats)?;
                combine(
                    ev,
                    &[(&self.v, 1.0 + mu), (g, -(1.0 + mu) * s), (&self.w, -mu)],
                )?
            }
        };
        self.w = w_next;
        self.v = v_next;
        self.step += 1;
        stats.steps += 1;
        Ok(())
    }

    /// Applies the client's decision on the pending epoch; training stops when the client says
    /// so or after `max_epochs`.
    pub fn apply_decision(&mut self, d: Decision, max_epochs: usize) -> Result<()> {
        let Some(p) = &self.pending else {
            return Err(Error::protocol(format!(
                "a decision on epoch {} but no epoch awaits one",
                d.epoch
            )));
        };
        if p.epoch != d.epoch {
            return Err(Error::protocol(format!(
                "a decision on epoch {} but epoch {} awaits one",
                d.epoch, p.epoch
            )));
        }
        if d.improved {
            self.best = Some((d.epoch, self.w.clone()));
        }
        self.stopped = d.stop || self.epochs_done >= max_epochs;
        self.pending = None;
        Ok(())
    }
}

/// What a server does within an epoch; [`run_epoch`] does the rest.
pub(crate) trait EpochSteps<E: Evaluator> {
    /// The plan.
    fn plan_of(&self) -> &Plan;
    /// The model state.
    fn state_mut(&mut self) -> &mut TrainState<E>;
    /// One training step on batch `b`; returns the batch's encrypted activations (probabilities).
    fn train_step(&mut self, b: usize) -> Result<Packed<E>>;
    /// The encrypted validation logits under the current weights.
    fn val_logits(&mut self) -> Result<Packed<E>>;
}

/// Trains one epoch (the plan's batch order) and computes the encrypted validation logits. The
/// result must be answered with a decision before the next epoch.
pub(crate) fn run_epoch<E: Evaluator, S: EpochSteps<E>>(
    s: &mut S,
    progress: &mut dyn FnMut(Progress),
) -> Result<EpochResult<Ct<E>>> {
    let st = s.state_mut();
    if st.stopped {
        return Err(Error::protocol("training is over"));
    }
    if let Some(p) = &st.pending {
        return Err(Error::protocol(format!(
            "epoch {} still awaits the client's decision",
            p.epoch
        )));
    }
    let epoch = st.epochs_done;
    let start = Instant::now();
    let plan = s.plan_of();
    let order = plan.config.batch_order(epoch, plan.batch_rows.len());
    let report_train_loss = plan.report_train_loss;
    let mut train_probs = Vec::new();
    for (i, &b) in order.iter().enumerate() {
        let p = s.train_step(b)?;
        if report_train_loss {
            train_probs.push((b, EncMatrix::from_packed(&p)));
        }
        progress(Progress::Step {
            epoch,
            done: i + 1,
            total: order.len(),
        });
    }
    let val_logits = EncMatrix::from_packed(&s.val_logits()?);
    progress(Progress::Validated { epoch });
    let epoch_time = start.elapsed();
    let st = s.state_mut();
    st.stats.train_time += epoch_time;
    st.epochs_done += 1;
    let result = EpochResult {
        epoch,
        val_logits,
        train_probs,
        epoch_time,
    };
    st.pending = Some(result.clone());
    Ok(result)
}

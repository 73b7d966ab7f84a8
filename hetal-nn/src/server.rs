//! The server role: trains on encrypted data with evaluation keys only.
//!
//! [`Server`] is generic over `E: Evaluator` and nothing else: the trait has no decryption, so
//! the server cannot see the data, the labels, the logits or the model, by construction.
//!
//! # One training step (batch `X`, labels `Y`, weights `W`, look-ahead `V`)
//!
//! 1. `Ṽ = tile_rows(V)`; `Z = X Ṽ^T` by DiagABT (3 levels on each input);
//! 2. `P = softmax(Z)` (the [`SoftmaxApprox`], which may bootstrap);
//! 3. `D = P − Y`, `D̃ = tile_columns(D)`; `G = D̃^T X` by DiagATB (the variant with the higher
//!    output level; 4 or 3 levels on `D`, 2 or 3 on `X`);
//! 4. `W' = V − (η/n) G` and, for Nesterov, `V' = (1 + μ) W' − μ W`, each computed as one linear
//!    combination of `V`, `G`, `W` with a single rescale (1 level).
//!
//! # Bootstrapping
//!
//! Before each stage the operands go through hetal-linalg's [`Refresher`] with the depth the
//! stage consumes: when the evaluator bootstraps, a ciphertext is refreshed if the stage would
//! leave its result below the lowest level from which that result can still be bootstrapped
//! (one level more for values beyond the bootstrapping input range, which are scaled down by a
//! power of two first and multiplied back after). The bounds used are
//! [`Plan::weight_bound`] for `W` and `V`, the softmax's output bound for `P − Y`, and the softmax's
//! input radius for the logits. Without bootstrapping a stage that lacks depth fails with
//! [`hetal_linalg::Error::DepthExhausted`].

use crate::config::Optimizer;
use crate::error::{Error, Result};
use crate::protocol::{
    Checkpoint, Decision, EncMatrix, EncryptedData, EncryptedModel, EpochResult, Plan, ServerStats,
};
use crate::refresh::refresh_packed_each;
use crate::softmax::SoftmaxApprox;
use crate::state::{self, EpochSteps, Inputs, TrainState};
use hetal_linalg::approx::Refresher;
use hetal_linalg::matmul::{AbtAlgorithm, AtbAlgorithm};
use hetal_linalg::packed::{Layout, PackedMatrix, UnitShape, tile_columns, tile_rows};
use hetal_traits::{Complex64, Evaluator, Leveled, Scale};
use std::time::Instant;

type Ct<E> = <E as Evaluator>::Ciphertext;
type Packed<E> = PackedMatrix<Ct<E>>;

/// Progress of a training run, for progress bars.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// A step finished: `done` of `total` in `epoch` (0-based).
    Step {
        /// The epoch.
        epoch: usize,
        /// Steps done in this epoch.
        done: usize,
        /// Steps in this epoch.
        total: usize,
    },
    /// The validation logits of `epoch` are computed.
    Validated {
        /// The epoch.
        epoch: usize,
    },
}

/// Refreshes every block of `m` that has fewer than `need` levels above the floor of
/// `out_bound` ([`Refresher::ensure`]), counting the bootstraps.
pub(crate) fn ensure<E: Evaluator>(
    rf: &Refresher,
    ev: &E,
    m: &Packed<E>,
    need: u32,
    bound: f64,
    out_bound: f64,
    stats: &mut ServerStats,
) -> Result<Packed<E>> {
    let t = Instant::now();
    let mut count = 0;
    let out = m.try_map(|c| {
        let r = rf.ensure(ev, c, need, bound, out_bound)?;
        if r.level() > c.level() {
            count += 1;
        }
        Ok(r)
    })?;
    if count > 0 {
        stats.bootstraps += count;
        stats.bootstrap_time += t.elapsed();
    }
    Ok(out)
}

/// `Σ coef_i · x_i` with one rescale: every term is brought to the lowest level `l` among the
/// inputs, multiplied by its constant at the scale that makes all products equal, summed and
/// rescaled to the canonical scale of level `l − 1`. Depth 1.
pub fn linear_combination<E: Evaluator>(ev: &E, terms: &[(&Ct<E>, f64)]) -> Result<Ct<E>> {
    let level = terms
        .iter()
        .map(|(c, _)| c.level())
        .min()
        .ok_or_else(|| Error::config("empty linear combination"))?;
    let below = level.below().ok_or(hetal_traits::Error::LevelExhausted {
        op: hetal_traits::Operation::MulConst,
        level,
    })?;
    let target = ev.canonical_scale(below).value() * ev.prime(level);
    let mut acc: Option<Ct<E>> = None;
    for (c, coef) in terms {
        let c = ev.drop_to_level(c, level)?;
        let cs = Scale(target / c.scale().value());
        let t = ev.mul_const(&c, Complex64::new(*coef, 0.0), cs)?;
        acc = Some(match acc {
            None => t,
            Some(a) => ev.add(&a, &t)?,
        });
    }
    let acc = acc.ok_or_else(|| Error::config("empty linear combination"))?;
    Ok(ev.rescale(&acc)?)
}

/// `P` (activation outputs in `[0, output_bound]`) with at least `need` levels above the floor
/// of `bound`. When it has fewer it is refreshed centred, as `P − 1/2` (`|P − 1/2| ≤
/// output_bound − 1/2`, inside the bootstrapping range without a scaling level, with room for
/// CKKS noise), and shifted back; the additions of constants are free.
pub(crate) fn ensure_probs<E: Evaluator>(
    rf: &Refresher,
    ev: &E,
    p: Packed<E>,
    need: u32,
    output_bound: f64,
    bound: f64,
    stats: &mut ServerStats,
) -> Result<Packed<E>> {
    if p.level().0 >= need + rf.floor(bound) {
        return Ok(p);
    }
    let centred = p.try_map(|c| Ok(ev.add_const(c, Complex64::new(-0.5, 0.0))?))?;
    let half = (output_bound - 0.5).max(0.5);
    let fresh = ensure(rf, ev, &centred, need, half, bound, stats)?;
    Ok(fresh.try_map(|c| Ok(ev.add_const(c, Complex64::new(0.5, 0.0))?))?)
}

/// Block-wise [`linear_combination`] of packed matrices of equal shape.
pub(crate) fn combine<E: Evaluator>(ev: &E, terms: &[(&Packed<E>, f64)]) -> Result<Packed<E>> {
    let first = terms[0].0;
    let blocks = (0..first.blocks().len())
        .map(|i| {
            let t: Vec<(&Ct<E>, f64)> = terms.iter().map(|(m, c)| (&m.blocks()[i], *c)).collect();
            linear_combination(ev, &t)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(PackedMatrix::from_blocks(
        first.rows(),
        first.cols(),
        first.shape(),
        first.layout(),
        blocks,
    )?)
}

/// Block-wise `a − b` (levels aligned by the evaluator).
pub(crate) fn sub<E: Evaluator>(ev: &E, a: &Packed<E>, b: &Packed<E>) -> Result<Packed<E>> {
    if a.blocks().len() != b.blocks().len() || a.rows() != b.rows() || a.cols() != b.cols() {
        return Err(Error::protocol(format!(
            "P is {}x{} but Y is {}x{}",
            a.rows(),
            a.cols(),
            b.rows(),
            b.cols()
        )));
    }
    let blocks = a
        .blocks()
        .iter()
        .zip(b.blocks())
        .map(|(x, y)| ev.sub(x, y))
        .collect::<hetal_traits::Result<Vec<_>>>()?;
    Ok(PackedMatrix::from_blocks(
        a.rows(),
        a.cols(),
        a.shape(),
        a.layout(),
        blocks,
    )?)
}

pub(crate) fn check_matrix(
    m: &PackedMatrix<impl Clone>,
    what: &str,
    rows: usize,
    cols: usize,
    shape: UnitShape,
) -> Result<()> {
    if m.rows() != rows || m.cols() != cols || m.shape() != shape || m.layout() != Layout::Plain {
        return Err(Error::protocol(format!(
            "{what}: a {}x{} {:?} matrix in ({}, {}) blocks, expected {rows}x{cols} Plain in ({}, {})",
            m.rows(),
            m.cols(),
            m.layout(),
            m.shape().s0,
            m.shape().s1,
            shape.s0,
            shape.s1
        )));
    }
    Ok(())
}

/// The server: encrypted data, encrypted model state, and an evaluator without a secret key.
pub struct Server<E: Evaluator> {
    ev: E,
    softmax: Box<dyn SoftmaxApprox<E>>,
    plan: Plan,
    shape: UnitShape,
    refresher: Refresher,
    logit_bound: f64,
    train_x: Vec<Packed<E>>,
    train_y: Vec<Packed<E>>,
    val_x: Packed<E>,
    st: TrainState<E>,
}

impl<E: Evaluator> Server<E> {
    /// A server for the data of a client; the model starts at the client's encrypted initial weights.
    pub fn new(
        ev: E,
        softmax: Box<dyn SoftmaxApprox<E>>,
        data: &EncryptedData<Ct<E>>,
    ) -> Result<Self> {
        let plan = data.plan.clone();
        plan.config.validate()?;
        let shape = plan.shape()?;
        if softmax.name() != plan.softmax {
            return Err(Error::protocol(format!(
                "the plan asks for softmax {:?}, the server was given {:?}",
                plan.softmax,
                softmax.name()
            )));
        }
        if !plan.method.is_hetal() {
            return Err(Error::protocol(format!(
                "the plan's method {} runs on hetal_nn::method::MethodServer, not on HETAL's Server",
                plan.method.describe()
            )));
        }
        if ev.slots() != plan.slots || shape.slots() != plan.slots {
            return Err(Error::protocol(format!(
                "the plan is for {} slots, the evaluator has {}",
                plan.slots,
                ev.slots()
            )));
        }
        let inputs = Inputs::<E>::load(&plan, shape, data)?;
        let refresher = Refresher::new(&ev);
        let logit_bound = softmax.input_bound();
        Ok(Server {
            ev,
            softmax,
            shape,
            refresher,
            logit_bound,
            train_x: inputs.train_x,
            train_y: inputs.train_y,
            val_x: inputs.val_x,
            st: TrainState::new(inputs.initial_weights),
            plan,
        })
    }

    /// A server that continues from a checkpoint (same data and plan).
    pub fn resume(
        ev: E,
        softmax: Box<dyn SoftmaxApprox<E>>,
        data: &EncryptedData<Ct<E>>,
        ckpt: &Checkpoint<Ct<E>>,
    ) -> Result<Self> {
        let mut s = Server::new(ev, softmax, data)?;
        s.st.restore(&s.plan, s.shape, ckpt)?;
        Ok(s)
    }

    /// The state to save (after an epoch or a decision).
    pub fn checkpoint(&self) -> Checkpoint<Ct<E>> {
        self.st.checkpoint(&self.plan)
    }

    /// The evaluator.
    pub fn evaluator(&self) -> &E {
        &self.ev
    }

    /// The plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Epochs finished.
    pub fn epochs_done(&self) -> usize {
        self.st.epochs_done
    }

    /// The timings so far.
    pub fn stats(&self) -> ServerStats {
        self.st.stats
    }

    /// Whether the last epoch's result awaits the client's decision.
    pub fn awaiting_decision(&self) -> Option<&EpochResult<Ct<E>>> {
        self.st.pending.as_ref()
    }

    /// Whether training is over (the client said stop, or the epoch cap is reached).
    pub fn is_done(&self) -> bool {
        self.st.stopped
    }

    /// Trains one epoch and computes the encrypted validation logits. The result must be
    /// answered with [`Server::apply_decision`] before the next epoch.
    pub fn run_epoch(&mut self, progress: &mut dyn FnMut(Progress)) -> Result<EpochResult<Ct<E>>> {
        state::run_epoch(self, progress)
    }

    /// Applies the client's decision on the pending epoch.
    pub fn apply_decision(&mut self, d: Decision) -> Result<()> {
        self.st.apply_decision(d, self.plan.config.epochs)
    }

    /// The encrypted weights of the best epoch (or the current ones if no epoch was judged yet).
    pub fn final_model(&self) -> EncryptedModel<Ct<E>> {
        self.st.final_model()
    }

    /// Encrypted inference: the logits `X W^T` of encrypted features (Plain, `n × (features + 1)`,
    /// bias column included) under the best weights.
    pub fn infer(&mut self, x: &EncMatrix<Ct<E>>) -> Result<EncMatrix<Ct<E>>> {
        let x = x.to_packed()?;
        check_matrix(
            &x,
            "inference features",
            x.rows(),
            self.plan.width(),
            self.shape,
        )?;
        let w = self.st.model().1.clone();
        let mut stats = self.st.stats;
        let z = self.forward(&x, &w, self.plan.weight_bound, &mut stats)?;
        Ok(EncMatrix::from_packed(&z))
    }

    fn forward(
        &self,
        x: &Packed<E>,
        w: &Packed<E>,
        bound: f64,
        stats: &mut ServerStats,
    ) -> Result<Packed<E>> {
        let (_, db) = AbtAlgorithm::DiagAbt.depths();
        let w = ensure(
            &self.refresher,
            &self.ev,
            w,
            db,
            bound,
            self.logit_bound,
            stats,
        )?;
        let wt = tile_rows(&self.ev, &w)?;
        let t = Instant::now();
        let z = AbtAlgorithm::DiagAbt.multiply(&self.ev, x, &wt)?;
        stats.abt_time += t.elapsed();
        Ok(z)
    }

    /// Refreshes weight-shaped matrices (`c' × (d + 1)`, data in the first `c'` rows of each
    /// block) that have fewer than their `need` levels above the floor of the logits' bound,
    /// all their stale blocks together ([`refresh_packed_each`]).
    fn ensure_weights(
        &self,
        mats: &[(&Packed<E>, u32)],
        stats: &mut ServerStats,
    ) -> Result<Vec<Packed<E>>> {
        let mut cts = Vec::new();
        let mut needs = Vec::new();
        for (m, need) in mats {
            cts.extend(m.blocks().iter().cloned());
            needs.extend(std::iter::repeat_n(*need, m.blocks().len()));
        }
        let t = Instant::now();
        let used = self.plan.padded_classes * self.shape.s1;
        let (fresh, count) = refresh_packed_each(
            &self.ev,
            &self.refresher,
            &cts,
            &needs,
            used,
            self.plan.weight_bound,
            self.logit_bound,
        )?;
        if count > 0 {
            stats.bootstraps += count;
            stats.bootstrap_time += t.elapsed();
        }
        let mut fresh = fresh.into_iter();
        mats.iter()
            .map(|(m, _)| {
                let blocks: Vec<Ct<E>> = fresh.by_ref().take(m.blocks().len()).collect();
                Ok(PackedMatrix::from_blocks(
                    m.rows(),
                    m.cols(),
                    m.shape(),
                    m.layout(),
                    blocks,
                )?)
            })
            .collect()
    }

    fn val_logits(&mut self) -> Result<Packed<E>> {
        let mut stats = self.st.stats;
        let (_, db) = AbtAlgorithm::DiagAbt.depths();
        self.st.w = self
            .ensure_weights(&[(&self.st.w, db)], &mut stats)?
            .remove(0);
        let z = self.forward(&self.val_x, &self.st.w, self.plan.weight_bound, &mut stats)?;
        self.st.stats = stats;
        Ok(z)
    }

    /// One optimiser step on batch `b`; returns the softmax outputs `P`.
    fn train_step(&mut self, b: usize) -> Result<Packed<E>> {
        let mut stats = self.st.stats;
        let bound = self.plan.weight_bound;
        let (_, db) = AbtAlgorithm::DiagAbt.depths();
        // V feeds DiagABT now; W only the Nesterov update at the end (1 level): refresh the
        // stale blocks of both together.
        let need_w = match self.plan.config.optimizer {
            Optimizer::Sgd => 0,
            Optimizer::Nesterov => 1,
        };
        let mut fresh =
            self.ensure_weights(&[(&self.st.v, db), (&self.st.w, need_w)], &mut stats)?;
        self.st.w = fresh.pop().ok_or_else(|| Error::config("no weights"))?;
        self.st.v = fresh.pop().ok_or_else(|| Error::config("no weights"))?;
        let ev = &self.ev;
        let x = &self.train_x[b];
        let z = self.forward(x, &self.st.v, bound, &mut stats)?;
        let t = Instant::now();
        let p = self.softmax.apply(ev, &z, self.plan.classes)?;
        stats.softmax_time += t.elapsed();

        // DiagATB takes at most 4 levels on D = P − Y; one more for the update.
        let p = ensure_probs(
            &self.refresher,
            ev,
            p,
            4 + 1,
            self.softmax.output_bound(),
            bound,
            &mut stats,
        )?;
        let d = sub(ev, &p, &self.train_y[b])?;
        let dt = tile_columns(ev, &d)?;
        let t = Instant::now();
        let g = AtbAlgorithm::DiagAtbAuto.multiply(ev, &dt, x)?;
        stats.atb_time += t.elapsed();

        let eta = self.plan.config.learning_rate / self.plan.batch_rows[b] as f64;
        let mu = match self.plan.config.optimizer {
            Optimizer::Sgd => None,
            Optimizer::Nesterov => Some(self.plan.config.optimizer.momentum(self.st.step)),
        };
        self.st
            .update(ev, &self.refresher, &g, eta, mu, bound, &mut stats)?;
        self.st.stats = stats;
        Ok(p)
    }
}

impl<E: Evaluator> EpochSteps<E> for Server<E> {
    fn plan_of(&self) -> &Plan {
        &self.plan
    }
    fn state_mut(&mut self) -> &mut TrainState<E> {
        &mut self.st
    }
    fn train_step(&mut self, b: usize) -> Result<Packed<E>> {
        Server::train_step(self, b)
    }
    fn val_logits(&mut self) -> Result<Packed<E>> {
        Server::val_logits(self)
    }
}

impl<E: Evaluator> std::fmt::Debug for Server<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("softmax", &self.softmax.name())
            .field("plan", &self.plan)
            .field("epochs_done", &self.st.epochs_done)
            .field("step", &self.st.step)
            .field("stopped", &self.st.stopped)
            .finish_non_exhaustive()
    }
}

//! The server role: trains on encrypted data with evaluation keys only.
//!
//! [`Server`] is generic over `E: Evaluator` and nothing else: the trait has no decryption, so
//! the server cannot see the data, the labels, the logits or the model, by construction. One
//! server runs every [`Method`](crate::config::Method): HETAL's (DiagABT, a softmax, DiagATB, Nesterov), HE.CNNtraining's
//! (Volley Revolver, a per-class sigmoid with the squared-likelihood loss, NAG with the quadratic
//! gradient) and any mix of their parts.
//!
//! # One training step (batch `X`, `n` rows, labels `Y`, iterate `W`, look-ahead `V`)
//!
//! 1. `Z = X V^T`: DiagABT on the row-tiled `V` ([`Products::Diag`]) or Volley Revolver on the
//!    Plain `V` ([`Products::VolleyRevolver`]); the depths come from the algorithms
//!    ([`AbtAlgorithm::depths`]), 3 levels on each input for both.
//! 2. `P`: the plan's softmax ([`SoftmaxApprox`], which may bootstrap inside), with
//!    [`Plan::compaction`] on the compacted logits (`Z`'s meaningful `c'` columns moved into as
//!    few periodic ciphertexts as possible, [`hetal_linalg::compact`]: one level before the
//!    softmax, which the weights are prepared for, and one after it, which the probabilities are
//!    refreshed for while still compacted; bootstraps inside are sparse with the compacted
//!    period), then expanded back into `Z`'s layout; or the per-class
//!    sigmoid polynomial evaluated slot-wise with the 0/1 mask of the real entries (rows `< n`,
//!    columns `< classes`) folded into its coefficients, so that `P` is exactly zero elsewhere at
//!    no extra level (cubic: depth 2; Chebyshev of degree `d`: `⌈log2(d + 1)⌉ + 1`).
//! 3. `D = P − Y`, `D̃ = tile_columns(D)`, `G = D̃^T X` by DiagATB (the variant with the higher
//!    output level) or Volley Revolver ([`AtbAlgorithm::depths`]: at most 4 levels on `D`).
//!    For a per-class sigmoid this is the gradient `(P − Y)^T X` of the SLE loss.
//! 4. With the quadratic gradient, `G ← B̄⁻¹ ⊙ G` (one Mult, 1 level).
//! 5. `W' = V − s G`, `V' = (1 + μ) W' − μ W` as one linear combination each (1 level), with `s`
//!    and `μ` from [`Update::coefficients`].
//!
//! # Bootstrapping
//!
//! Before each stage the operands go through hetal-linalg's [`Refresher`] with the depth the
//! stage consumes: when the evaluator bootstraps, a ciphertext is refreshed if the stage would
//! leave its result below the lowest level from which that result can still be bootstrapped
//! (one level more for values beyond the bootstrapping input range, which are scaled down by a
//! power of two first and multiplied back after). The bounds used are [`Plan::weight_bound`]
//! for `W` and `V`, the activation's output bound for `P − Y`, and its input radius for the
//! logits. In HETAL's layout ([`Products::Diag`]) the stale blocks of `V` and `W` are refreshed
//! together, packed side by side into as few ciphertexts as the slots allow
//! ([`refresh_packed_each`]); in the Volley Revolver layout block by block. Before the forward
//! product the weights are refreshed so that the product *and* a sigmoid fit in their levels
//! (when a fresh ciphertext has that many), so the logits need no bootstrapping of their own; if
//! they do (a long Chebyshev sigmoid), they are assumed within `4 ×` the approximation's range.
//! Without bootstrapping a stage that lacks depth fails with
//! [`hetal_linalg::Error::DepthExhausted`] (Chiang's original setting, which stops after 2
//! iterations at `log Q = 990`).

use crate::config::{Activation, Products, Update};
use crate::error::{Error, Result};
pub use crate::ops::{Progress, linear_combination};
use crate::ops::{check_matrix, ensure, ensure_probs, ensure_probs_ct, sub};
use crate::plain::sigmoid_approx;
use crate::protocol::{
    Checkpoint, Decision, EncMatrix, EncryptedData, EncryptedModel, EpochResult, Plan, ServerStats,
};
use crate::refresh::refresh_packed_each;
use crate::softmax::{LinalgSoftmax, SoftmaxApprox};
use crate::state::{self, EpochSteps, Inputs, TrainState};
use hetal_linalg::approx::Refresher;
use hetal_linalg::approx::sigmoid::SigmoidApprox;
use hetal_linalg::matmul::{AbtAlgorithm, AtbAlgorithm, RowBlockSum, SharedAtb};
use hetal_linalg::packed::{PackedMatrix, UnitShape, tile_columns, tile_rows};
use hetal_traits::{Evaluator, EvaluatorExt, Level};
use std::time::Instant;

type Ct<E> = <E as Evaluator>::Ciphertext;
type Packed<E> = PackedMatrix<Ct<E>>;

/// The server side of a training run, as [`crate::session::run`] drives it. [`Server`]
/// implements it; a distributed server (several processes sharing the steps) is another.
pub trait TrainingServer {
    /// The evaluator (no secret key).
    type Ev: Evaluator;
    /// The plan.
    fn plan(&self) -> &Plan;
    /// The evaluator.
    fn evaluator(&self) -> &Self::Ev;
    /// The timings so far.
    fn stats(&self) -> ServerStats;
    /// Epochs finished.
    fn epochs_done(&self) -> usize;
    /// The last epoch's result while it awaits the client's decision.
    fn awaiting_decision(&self) -> Option<&EpochResult<Ct<Self::Ev>>>;
    /// Whether training is over.
    fn is_done(&self) -> bool;
    /// Trains one epoch and computes the encrypted validation logits.
    fn run_epoch(
        &mut self,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<EpochResult<Ct<Self::Ev>>>;
    /// Applies the client's decision on the pending epoch.
    fn apply_decision(&mut self, d: Decision) -> Result<()>;
    /// The state to save.
    fn checkpoint(&self) -> Checkpoint<Ct<Self::Ev>>;
    /// The encrypted weights of the best epoch.
    fn final_model(&self) -> EncryptedModel<Ct<Self::Ev>>;
    /// Encrypted inference: the logits of encrypted features under the best weights.
    fn infer(&mut self, x: &EncMatrix<Ct<Self::Ev>>) -> Result<EncMatrix<Ct<Self::Ev>>>;
}

/// The activation the server evaluates.
enum Act<E: Evaluator> {
    Softmax(Box<dyn SoftmaxApprox<E>>),
    Sigmoid {
        approx: SigmoidApprox,
        /// Logits are assumed within this bound when they must be bootstrapped before the
        /// sigmoid (4 × the approximation's range: room for overshoot).
        logit_bound: f64,
    },
}

impl<E: Evaluator> Act<E> {
    fn name(&self) -> String {
        match self {
            Act::Softmax(s) => s.name(),
            Act::Sigmoid { approx, .. } => format!("sigmoid (range {})", approx.range()),
        }
    }

    fn logit_bound(&self) -> f64 {
        match self {
            Act::Softmax(s) => s.input_bound(),
            Act::Sigmoid { logit_bound, .. } => *logit_bound,
        }
    }

    fn output_bound(&self) -> f64 {
        match self {
            Act::Softmax(s) => s.output_bound(),
            Act::Sigmoid { approx, .. } => 1.0 + approx.max_error(),
        }
    }

    /// Levels the forward product's output needs for the activation without bootstrapping
    /// (0 for a softmax, which bootstraps inside).
    fn depth(&self) -> u32 {
        match self {
            Act::Softmax(_) => 0,
            Act::Sigmoid { approx, .. } => approx.depth(),
        }
    }
}

/// The server for any [`Method`](crate::config::Method): encrypted data, encrypted model state, and an evaluator
/// without a secret key. See the [module docs](self) for one step.
pub struct Server<E: Evaluator> {
    ev: E,
    act: Act<E>,
    plan: Plan,
    shape: UnitShape,
    refresher: Refresher,
    /// Whether the softmax runs on compacted logits ([`Plan::compaction`] with a softmax).
    compaction: bool,
    train_x: Vec<Packed<E>>,
    train_y: Vec<Packed<E>>,
    precond: Vec<Packed<E>>,
    val_x: Packed<E>,
    pub(crate) st: TrainState<E>,
}

impl<E: Evaluator> Server<E> {
    /// A server for the data of a client. `softmax` must be given for a softmax activation (its
    /// name must match the plan's) and be `None` for a sigmoid.
    pub fn new(
        ev: E,
        softmax: Option<Box<dyn SoftmaxApprox<E>>>,
        data: &EncryptedData<Ct<E>>,
    ) -> Result<Self> {
        let plan = data.plan.clone();
        plan.config.validate()?;
        plan.method.validate(&plan.config)?;
        let shape = plan.shape()?;
        let act = match (sigmoid_approx(&plan.method.activation)?, softmax) {
            (None, Some(s)) => {
                if s.name() != plan.softmax {
                    return Err(Error::protocol(format!(
                        "the plan asks for softmax {:?}, the server was given {:?}",
                        plan.softmax,
                        s.name()
                    )));
                }
                Act::Softmax(s)
            }
            (None, None) => {
                return Err(Error::config(
                    "a softmax activation needs a softmax approximation",
                ));
            }
            (Some(approx), None) => Act::Sigmoid {
                logit_bound: 4.0 * approx.range(),
                approx,
            },
            (Some(_), Some(_)) => {
                return Err(Error::config(
                    "a sigmoid activation takes no softmax approximation",
                ));
            }
        };
        if ev.slots() != plan.slots || shape.slots() != plan.slots {
            return Err(Error::protocol(format!(
                "the plan is for {} slots, the evaluator has {}",
                plan.slots,
                ev.slots()
            )));
        }
        let nb = plan.batch_rows.len();
        let qg = plan.method.update.quadratic_gradient();
        if data.preconditioners.len() != if qg { nb } else { 0 } {
            return Err(Error::protocol(format!(
                "{} encrypted preconditioners for {nb} batches with optimiser {}",
                data.preconditioners.len(),
                plan.method.update.name()
            )));
        }
        let (c, width) = (plan.padded_classes, plan.width());
        let inputs = Inputs::<E>::load(&plan, shape, data)?;
        let precond = data
            .preconditioners
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let b = b.to_packed()?;
                check_matrix(&b, &format!("batch {i} preconditioner"), c, width, shape)?;
                Ok(b)
            })
            .collect::<Result<Vec<_>>>()?;
        let refresher = Refresher::new(&ev);
        let compaction = plan.compaction && matches!(act, Act::Softmax(_));
        Ok(Server {
            ev,
            act,
            shape,
            refresher,
            compaction,
            train_x: inputs.train_x,
            train_y: inputs.train_y,
            precond,
            val_x: inputs.val_x,
            st: TrainState::new(inputs.initial_weights),
            plan,
        })
    }

    /// A server for the data of a client with the activation its plan names: for a softmax
    /// activation the hetal-linalg method [`LinalgSoftmax::by_name`] finds under the plan's
    /// softmax name, for a sigmoid none. Resumed from `ckpt` if given.
    pub fn for_plan(
        ev: E,
        data: &EncryptedData<Ct<E>>,
        ckpt: Option<&Checkpoint<Ct<E>>>,
    ) -> Result<Self> {
        let plan = &data.plan;
        let softmax = match plan.method.activation {
            Activation::Softmax => {
                Some(Box::new(LinalgSoftmax::by_name(&plan.softmax)?) as Box<dyn SoftmaxApprox<E>>)
            }
            Activation::SigmoidCubic | Activation::SigmoidChebyshev { .. } => None,
        };
        match ckpt {
            Some(c) => Server::resume(ev, softmax, data, c),
            None => Server::new(ev, softmax, data),
        }
    }

    /// A server that continues from a checkpoint (same data and plan).
    pub fn resume(
        ev: E,
        softmax: Option<Box<dyn SoftmaxApprox<E>>>,
        data: &EncryptedData<Ct<E>>,
        ckpt: &Checkpoint<Ct<E>>,
    ) -> Result<Self> {
        let mut s = Server::new(ev, softmax, data)?;
        s.st.restore(&s.plan, s.shape, ckpt)?;
        Ok(s)
    }

    /// The `A B^T` product of the plan's layout (the forward product).
    fn abt(&self) -> AbtAlgorithm {
        match self.plan.method.products {
            Products::Diag => AbtAlgorithm::DiagAbt,
            Products::VolleyRevolver => AbtAlgorithm::VolleyRevolver,
        }
    }

    /// Levels `D = P − Y` needs for the `A^T B` product of the plan's layout: the most any of its
    /// variants consumes on its first input (DiagATB picks its variant by the input levels).
    fn atb_depth(&self) -> u32 {
        let (high, c) = (Level(u32::MAX / 2), self.plan.padded_classes);
        let variants: &[AtbAlgorithm] = match self.plan.method.products {
            Products::Diag => &[AtbAlgorithm::DiagAtbRotLeft, AtbAlgorithm::DiagAtbPRotUp],
            Products::VolleyRevolver => &[AtbAlgorithm::VolleyRevolver],
        };
        variants
            .iter()
            .map(|a| a.depths(high, high, c).0)
            .max()
            .unwrap_or(0)
    }

    /// The levels the weights need before the forward product: the product's (and, if
    /// `activation`, the activation's after it) when bootstrapping can give that many, else the
    /// product's alone.
    fn weight_need(&self, activation: bool) -> u32 {
        let (_, db) = self.abt().depths();
        let need = db
            + if activation {
                self.act.depth() + self.compaction as u32
            } else {
                0
            };
        match self.ev.bootstrap_info() {
            Some(info)
                if info.output_level.0 < need + self.refresher.floor(self.act.logit_bound()) =>
            {
                db
            }
            _ => need,
        }
    }

    /// `m` refreshed, if needed, so that the forward product (and, if `activation`, the
    /// activation after it) fit in its levels ([`Server::weight_need`]).
    fn prepare(
        &self,
        m: &Packed<E>,
        activation: bool,
        stats: &mut ServerStats,
    ) -> Result<Packed<E>> {
        let need = self.weight_need(activation);
        Ok(self.ensure_weights(&[(m, need)], stats)?.remove(0))
    }

    /// Refreshes weight-shaped matrices (`c' × (d + 1)`, data in the first `c'` rows of each
    /// block) that have fewer than their `need` levels above the floor of the logits' bound: in
    /// HETAL's layout all their stale blocks together ([`refresh_packed_each`]), in the Volley
    /// Revolver layout block by block.
    fn ensure_weights(
        &self,
        mats: &[(&Packed<E>, u32)],
        stats: &mut ServerStats,
    ) -> Result<Vec<Packed<E>>> {
        let (bound, out_bound) = (self.plan.weight_bound, self.act.logit_bound());
        if self.plan.method.products == Products::VolleyRevolver {
            return mats
                .iter()
                .map(|(m, need)| {
                    ensure(&self.refresher, &self.ev, m, *need, bound, out_bound, stats)
                })
                .collect();
        }
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
            bound,
            out_bound,
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

    /// `Z = X M^T` for features `x` (Plain, `rows × width`) and weights `m` (refreshed by
    /// [`Server::prepare`] first, for the activation too if `activation`).
    fn forward(
        &self,
        x: &Packed<E>,
        m: &Packed<E>,
        activation: bool,
        stats: &mut ServerStats,
    ) -> Result<Packed<E>> {
        let m = self.prepare(m, activation, stats)?;
        let abt = self.abt();
        let t;
        let z = match self.plan.method.products {
            Products::Diag => {
                let mt = tile_rows(&self.ev, &m)?;
                t = Instant::now();
                abt.multiply(&self.ev, x, &mt)?
            }
            Products::VolleyRevolver => {
                t = Instant::now();
                abt.multiply(&self.ev, x, &m)?
            }
        };
        stats.abt_time += t.elapsed();
        Ok(z)
    }

    /// The softmax on the compacted logits ([`hetal_linalg::compact`]): the blocks of `z` are
    /// refreshed if they lack the compaction's level, compacted into as few periodic
    /// ciphertexts as possible, the softmax runs on each in the compacted layout (its
    /// bootstraps sparse with the ciphertext's period), each result is refreshed (centred, as
    /// [`ensure_probs`] does) if it has fewer than the expansion's level plus `need_after`
    /// above the floor of the weight bound, and expanded back into `z`'s layout.
    fn softmax_compacted(
        &self,
        s: &dyn SoftmaxApprox<E>,
        z: &Packed<E>,
        need_after: u32,
        stats: &mut ServerStats,
    ) -> Result<Packed<E>> {
        let ev = &self.ev;
        let cm = self.plan.compaction_of(z.rows())?;
        let z = ensure(
            &self.refresher,
            ev,
            z,
            cm.depth(),
            s.input_bound(),
            s.input_bound(),
            stats,
        )?;
        let layout = cm.layout()?;
        let compacted = cm.compact(ev, z.blocks())?;
        let probs = compacted
            .iter()
            .enumerate()
            .map(|(o, c)| {
                let rf = self.refresher.with_period(cm.period(o))?;
                let p = s.apply_layout(ev, c, &layout, &rf)?;
                ensure_probs_ct(
                    &rf,
                    ev,
                    &p,
                    need_after + cm.depth(),
                    s.output_bound(),
                    self.plan.weight_bound,
                    stats,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let blocks = cm.expand(ev, &probs)?;
        Ok(PackedMatrix::from_blocks(
            z.rows(),
            z.cols(),
            z.shape(),
            z.layout(),
            blocks,
        )?)
    }

    /// The activation of the logits of a batch with `rows` real rows; `need_after` is the
    /// levels `P` needs afterwards (the compacted softmax refreshes before expanding).
    fn activate(
        &self,
        z: &Packed<E>,
        rows: usize,
        need_after: u32,
        stats: &mut ServerStats,
    ) -> Result<Packed<E>> {
        let classes = self.plan.classes;
        match &self.act {
            Act::Softmax(s) if self.compaction => {
                self.softmax_compacted(s.as_ref(), z, need_after, stats)
            }
            Act::Softmax(s) => s.apply(&self.ev, z, classes),
            Act::Sigmoid {
                approx,
                logit_bound,
            } => {
                let (s0, s1) = (self.shape.s0, self.shape.s1);
                let bc = z.block_cols();
                let out = approx.max_error() + 1.0;
                let blocks = z
                    .blocks()
                    .iter()
                    .enumerate()
                    .map(|(k, b)| {
                        let (p, q) = (k / bc, k % bc);
                        let mask: Vec<f64> = (0..s0 * s1)
                            .map(|slot| {
                                let (i, l) = (p * s0 + slot / s1, q * s1 + slot % s1);
                                if i < rows && l < classes { 1.0 } else { 0.0 }
                            })
                            .collect();
                        Ok(self.refresher.poly(
                            &self.ev,
                            approx.poly(),
                            b,
                            Some(&mask),
                            *logit_bound,
                            out,
                        )?)
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(PackedMatrix::from_blocks(
                    z.rows(),
                    z.cols(),
                    z.shape(),
                    z.layout(),
                    blocks,
                )?)
            }
        }
    }

    /// The refresh of `W` before the validation logits (which keeps the refreshed `W`); a
    /// distributed server's other processes run it without the logits, so that their `W`
    /// stays the same.
    pub(crate) fn val_prepare(&mut self) -> Result<()> {
        let mut stats = self.st.stats;
        self.st.w = self.prepare(&self.st.w, false, &mut stats)?;
        self.st.stats = stats;
        Ok(())
    }

    pub(crate) fn val_logits(&mut self) -> Result<Packed<E>> {
        self.val_prepare()?;
        let mut stats = self.st.stats;
        let z = self.forward(&self.val_x, &self.st.w, false, &mut stats)?;
        self.st.stats = stats;
        Ok(z)
    }

    /// One optimiser step on batch `b`; returns the activation outputs `P`.
    fn train_step(&mut self, b: usize) -> Result<Packed<E>> {
        let (xs, ys) = (
            std::mem::take(&mut self.train_x),
            std::mem::take(&mut self.train_y),
        );
        let rows = self.plan.batch_rows[b];
        let r = self.step_on(b, Some((&xs[b], &ys[b], rows)), None);
        (self.train_x, self.train_y) = (xs, ys);
        r?.ok_or_else(|| Error::config("a local step without activations"))
    }

    /// The encrypted training data, for a distributed server to take its share of the row
    /// blocks from (this server keeps none).
    pub(crate) fn take_training_data(&mut self) -> (Vec<Packed<E>>, Vec<Packed<E>>) {
        (
            std::mem::take(&mut self.train_x),
            std::mem::take(&mut self.train_y),
        )
    }

    /// One optimiser step on batch `b` of the plan (its row count sets the step size) with
    /// the rows `local` (features, labels, real rows): all of the batch (`sum = None`), or this
    /// process's share of its row blocks, the gradient's sums over row blocks formed by `sum`
    /// from every process's share (`local = None`: a process without rows of this batch).
    /// Returns the activation outputs `P` of the local rows.
    pub(crate) fn step_on(
        &mut self,
        b: usize,
        local: Option<(&Packed<E>, &Packed<E>, usize)>,
        sum: Option<&mut dyn RowBlockSum<Ct<E>>>,
    ) -> Result<Option<Packed<E>>> {
        let mut stats = self.st.stats;
        let bound = self.plan.weight_bound;
        let ev = &self.ev;
        let method = self.plan.method;
        let rows = self.plan.batch_rows[b];
        if method.products == Products::Diag {
            // V feeds the forward product now; W only the momentum term of the update (1
            // level): in HETAL's layout the stale blocks of both are refreshed together.
            let need_w = match method.update {
                Update::Sgd => 0,
                Update::Nesterov | Update::Nag | Update::NagQg => 1,
            };
            let need_v = self.weight_need(true);
            let mut fresh =
                self.ensure_weights(&[(&self.st.v, need_v), (&self.st.w, need_w)], &mut stats)?;
            self.st.w = fresh.pop().ok_or_else(|| Error::config("no weights"))?;
            self.st.v = fresh.pop().ok_or_else(|| Error::config("no weights"))?;
        } else {
            self.st.v = self.prepare(&self.st.v, true, &mut stats)?;
        }
        let atb = match method.products {
            Products::Diag => AtbAlgorithm::DiagAtbAuto,
            Products::VolleyRevolver => AtbAlgorithm::VolleyRevolver,
        };
        let mut p_out = None;
        let mut local_g = None;
        if let Some((x, y, local_rows)) = local {
            let z = self.forward(x, &self.st.v, true, &mut stats)?;
            // Levels D = P − Y needs: the A^T B product's on its first input, one for the
            // quadratic gradient, one for the update.
            let da = self.atb_depth();
            let qg = method.update.quadratic_gradient() as u32;
            let need = da + qg + 1;
            let t = Instant::now();
            let boot_before = stats.bootstrap_time;
            let p = self.activate(&z, local_rows, need, &mut stats)?;
            // Refreshes of the compacted logits and probabilities count as bootstrap time.
            stats.softmax_time += t
                .elapsed()
                .saturating_sub(stats.bootstrap_time.saturating_sub(boot_before));

            let p = ensure_probs(
                &self.refresher,
                ev,
                p,
                need,
                self.act.output_bound(),
                bound,
                &mut stats,
            )?;
            let d = sub(ev, &p, y)?;
            let dt = tile_columns(ev, &d)?;
            local_g = Some((dt, x));
            p_out = Some(p);
        }
        let t = Instant::now();
        let g = match sum {
            None => {
                let (dt, x) = local_g
                    .as_ref()
                    .ok_or_else(|| Error::config("a step without rows or a shared sum"))?;
                atb.multiply(ev, dt, x)?
            }
            Some(sum) => {
                let out = SharedAtb {
                    classes: self.plan.padded_classes,
                    cols: self.plan.width(),
                    shape: self.shape,
                };
                let operands = local_g.as_ref().map(|(dt, x)| (dt, *x));
                atb.multiply_shared(ev, operands, out, sum)?
            }
        };
        stats.atb_time += t.elapsed();
        let g = if method.update.quadratic_gradient() {
            let pre = &self.precond[b];
            let blocks = g
                .blocks()
                .iter()
                .zip(pre.blocks())
                .map(|(gb, bb)| Ok(ev.mul_rescale(gb, bb)?))
                .collect::<Result<Vec<_>>>()?;
            PackedMatrix::from_blocks(g.rows(), g.cols(), g.shape(), g.layout(), blocks)?
        } else {
            g
        };

        let (s, mu) =
            method
                .update
                .coefficients(self.plan.config.learning_rate, self.st.step, rows);
        let mu = match method.update {
            Update::Sgd => None,
            Update::Nesterov | Update::Nag | Update::NagQg => Some(mu),
        };
        self.st
            .update(ev, &self.refresher, &g, s, mu, bound, &mut stats)?;
        self.st.stats = stats;
        Ok(p_out)
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

impl<E: Evaluator> TrainingServer for Server<E> {
    type Ev = E;

    fn plan(&self) -> &Plan {
        &self.plan
    }

    fn evaluator(&self) -> &E {
        &self.ev
    }

    fn stats(&self) -> ServerStats {
        self.st.stats
    }

    fn epochs_done(&self) -> usize {
        self.st.epochs_done
    }

    fn awaiting_decision(&self) -> Option<&EpochResult<Ct<E>>> {
        self.st.pending.as_ref()
    }

    fn is_done(&self) -> bool {
        self.st.stopped
    }

    fn run_epoch(&mut self, progress: &mut dyn FnMut(Progress)) -> Result<EpochResult<Ct<E>>> {
        state::run_epoch(self, progress)
    }

    fn apply_decision(&mut self, d: Decision) -> Result<()> {
        self.st.apply_decision(d, self.plan.config.epochs)
    }

    fn checkpoint(&self) -> Checkpoint<Ct<E>> {
        self.st.checkpoint(&self.plan)
    }

    fn final_model(&self) -> EncryptedModel<Ct<E>> {
        self.st.final_model()
    }

    fn infer(&mut self, x: &EncMatrix<Ct<E>>) -> Result<EncMatrix<Ct<E>>> {
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
        let z = self.forward(&x, &w, false, &mut stats)?;
        Ok(EncMatrix::from_packed(&z))
    }
}

impl<E: Evaluator> std::fmt::Debug for Server<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("method", &self.plan.method.describe())
            .field("activation", &self.act.name())
            .field("epochs_done", &self.st.epochs_done)
            .field("step", &self.st.step)
            .field("stopped", &self.st.stopped)
            .finish_non_exhaustive()
    }
}

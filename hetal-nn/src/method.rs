//! Training methods beyond HETAL's: HE.CNNtraining's (John Chiang) per-class sigmoid with the
//! squared-likelihood loss, NAG with the quadratic gradient, and the Volley Revolver layout, and
//! any mix of those choices with HETAL's (docs/papers.md §3).
//!
//! * [`MethodServer`]: the server for any [`Method`], generic over `E: Evaluator` like HETAL's
//!   [`Server`]; both implement [`TrainingServer`], which [`crate::session::run`] drives.
//! * [`preconditioner`]: the client's quadratic-gradient preconditioner `B̄⁻¹` of a batch, which
//!   [`Client::encrypt_preconditioners`] encrypts for the server.
//! * [`sle_logits`], [`sle_probs`]: the squared-likelihood loss the client reports.
//!
//! # One training step of [`MethodServer`] (batch `X`, `n` rows, labels `Y`, iterate `W`, look-ahead `V`)
//!
//! 1. `Z = X V^T`: DiagABT on the row-tiled `V` ([`Products::Diag`], 3 levels on each input) or
//!    Volley Revolver on the Plain `V` ([`Products::VolleyRevolver`], 3 levels on each input).
//! 2. `P`: the plan's softmax ([`Activation::Softmax`]), or the per-class sigmoid polynomial
//!    evaluated slot-wise with the 0/1 mask of the real entries (rows `< n`, columns `< classes`)
//!    folded into its coefficients, so that `P` is exactly zero elsewhere at no extra level
//!    (cubic: depth 2; Chebyshev of degree `d`: `⌈log2(d + 1)⌉ + 1`).
//! 3. `D = P − Y`, `D̃ = tile_columns(D)`, `G = D̃^T X` by DiagATB (4 or 3 levels on `D`) or
//!    Volley Revolver (3 levels on `D`, 2 on `X`). For a per-class sigmoid this is the gradient
//!    `(P − Y)^T X` of the SLE loss (Chiang writes the ascent direction `(Y − P)^T X`).
//! 4. With the quadratic gradient, `G ← B̄⁻¹ ⊙ G` (one Mult, 1 level).
//! 5. `W' = V − s G`, `V' = (1 + μ) W' − μ W` as one linear combination (1 level), with `s` and
//!    `μ` from [`Update::coefficients`].
//!
//! Bootstrapping is placed as in [`Server`] (hetal-linalg's [`Refresher`]), with one addition:
//! before the forward product the weights are refreshed so that the product *and* the sigmoid
//! fit in their levels (when a fresh ciphertext has that many), so the logits need no
//! bootstrapping of their own; if they do (a long Chebyshev sigmoid), they are assumed within
//! `4 ×` the approximation's range. Without bootstrapping a stage that lacks depth fails with
//! [`hetal_linalg::Error::DepthExhausted`] (Chiang's original setting, which stops after 2
//! iterations at `log Q = 990`).

use crate::client::{Client, design_matrix};
use crate::config::{Activation, Method, Products, Update};
use crate::data::Splits;
use crate::error::{Error, Result};
use crate::plain::batch_ranges;
use crate::protocol::{
    Checkpoint, Decision, EncMatrix, EncryptedData, EncryptedModel, EpochResult, Plan, ServerStats,
};
use crate::server::{Progress, Server, check_matrix, ensure, ensure_probs, sub};
use crate::softmax::SoftmaxApprox;
use crate::state::{self, EpochSteps, Inputs, TrainState};
use hetal_linalg::approx::Refresher;
use hetal_linalg::approx::sigmoid::SigmoidApprox;
use hetal_linalg::matmul::{AbtAlgorithm, AtbAlgorithm, MatmulDims};
use hetal_linalg::packed::{
    Layout, Matrix, PackedMatrix, UnitShape, tile_columns, tile_columns_keys, tile_rows,
};
use hetal_traits::{Decryptor, Encryptor, Evaluator, EvaluatorExt, KeyRequest};
use ndarray::Array2;
use std::time::Instant;

type Ct<E> = <E as Evaluator>::Ciphertext;
type Packed<E> = PackedMatrix<Ct<E>>;

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

impl Plan {
    /// The same plan with another method (checked against the configuration).
    pub fn with_method(mut self, method: Method) -> Result<Plan> {
        method.validate(&self.config)?;
        self.method = method;
        Ok(self)
    }

    /// The evaluation keys the plan's method needs for its products and tilings (plus
    /// `softmax_keys` for a softmax activation, and bootstrapping if asked for). For HETAL's
    /// method this is [`Plan::key_request`].
    pub fn method_key_request(
        &self,
        softmax_keys: &KeyRequest,
        bootstrapping: bool,
    ) -> Result<KeyRequest> {
        if self.method.products == Products::Diag {
            return self.key_request(softmax_keys, bootstrapping);
        }
        let shape = self.shape()?;
        let c = self.padded_classes;
        let rows = self
            .batch_rows
            .iter()
            .copied()
            .max()
            .unwrap_or(1)
            .max(self.val_rows);
        let dims = MatmulDims::new(rows, self.width(), c, shape)?;
        let mut req = AbtAlgorithm::VolleyRevolver.required_keys(&dims)?;
        req.merge(&AtbAlgorithm::VolleyRevolver.required_keys(&dims)?);
        req.merge(&tile_columns_keys(c, shape));
        if self.method.activation == Activation::Softmax {
            req.merge(softmax_keys);
        }
        req.bootstrapping |= bootstrapping;
        Ok(req)
    }
}

impl<K> Client<K>
where
    K: Encryptor + Decryptor<Ciphertext = <K as Encryptor>::Ciphertext>,
{
    /// Per training batch, the quadratic-gradient preconditioner [`preconditioner`] of its design
    /// matrix, as a `padded_classes × (features + 1)` matrix whose rows `< classes` all hold it
    /// (padded rows zero), encrypted at the top level; empty unless the plan's optimiser is
    /// [`Update::NagQg`]. One ciphertext per batch (the paper's single `B̄⁻¹` ciphertext when the
    /// batch is the whole training set).
    pub fn encrypt_preconditioners(
        &mut self,
        splits: &Splits,
    ) -> Result<Vec<EncMatrix<<K as Encryptor>::Ciphertext>>> {
        if !self.plan.method.update.quadratic_gradient() {
            return Ok(Vec::new());
        }
        let shape = self.plan.shape()?;
        let level = self.backend.max_level();
        let (c, pc) = (self.plan.classes, self.plan.padded_classes);
        batch_ranges(splits.train.len(), self.plan.config.batch_size)
            .into_iter()
            .map(|r| {
                let x = design_matrix(&splits.train.slice(r).features);
                let xa = Array2::from_shape_vec((x.rows(), x.cols()), x.data().to_vec())
                    .map_err(|e| Error::format("design matrix", e.to_string()))?;
                let b = preconditioner(&xa);
                let m = Matrix::from_fn(pc, b.len(), |i, j| if i < c { b[j] } else { 0.0 });
                Ok(EncMatrix::from_packed(&PackedMatrix::encrypt(
                    &mut self.backend,
                    &m,
                    shape,
                    Layout::Plain,
                    level,
                )?))
            })
            .collect()
    }
}

/// The server side of a training run, as [`crate::session::run`] drives it: HETAL's [`Server`]
/// and [`MethodServer`] implement it.
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

impl<E: Evaluator> TrainingServer for Server<E> {
    type Ev = E;
    fn plan(&self) -> &Plan {
        Server::plan(self)
    }
    fn evaluator(&self) -> &E {
        Server::evaluator(self)
    }
    fn stats(&self) -> ServerStats {
        Server::stats(self)
    }
    fn epochs_done(&self) -> usize {
        Server::epochs_done(self)
    }
    fn awaiting_decision(&self) -> Option<&EpochResult<Ct<E>>> {
        Server::awaiting_decision(self)
    }
    fn is_done(&self) -> bool {
        Server::is_done(self)
    }
    fn run_epoch(&mut self, progress: &mut dyn FnMut(Progress)) -> Result<EpochResult<Ct<E>>> {
        Server::run_epoch(self, progress)
    }
    fn apply_decision(&mut self, d: Decision) -> Result<()> {
        Server::apply_decision(self, d)
    }
    fn checkpoint(&self) -> Checkpoint<Ct<E>> {
        Server::checkpoint(self)
    }
    fn final_model(&self) -> EncryptedModel<Ct<E>> {
        Server::final_model(self)
    }

    fn infer(&mut self, x: &EncMatrix<Ct<E>>) -> Result<EncMatrix<Ct<E>>> {
        Server::infer(self, x)
    }
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

/// The server for any [`Method`]: encrypted data, encrypted model state, and an evaluator
/// without a secret key. See the [module docs](self) for one step.
pub struct MethodServer<E: Evaluator> {
    ev: E,
    act: Act<E>,
    plan: Plan,
    shape: UnitShape,
    refresher: Refresher,
    train_x: Vec<Packed<E>>,
    train_y: Vec<Packed<E>>,
    precond: Vec<Packed<E>>,
    val_x: Packed<E>,
    st: TrainState<E>,
}

impl<E: Evaluator> MethodServer<E> {
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
        Ok(MethodServer {
            ev,
            act,
            shape,
            refresher,
            train_x: inputs.train_x,
            train_y: inputs.train_y,
            precond,
            val_x: inputs.val_x,
            st: TrainState::new(inputs.initial_weights),
            plan,
        })
    }

    /// A server that continues from a checkpoint (same data and plan).
    pub fn resume(
        ev: E,
        softmax: Option<Box<dyn SoftmaxApprox<E>>>,
        data: &EncryptedData<Ct<E>>,
        ckpt: &Checkpoint<Ct<E>>,
    ) -> Result<Self> {
        let mut s = MethodServer::new(ev, softmax, data)?;
        s.st.restore(&s.plan, s.shape, ckpt)?;
        Ok(s)
    }

    /// `m` refreshed, if needed, so that the forward product (and, if `activation`, the
    /// activation after it) fit in its levels (when bootstrapping can give that many; else so
    /// that the product fits).
    fn prepare(
        &self,
        m: &Packed<E>,
        activation: bool,
        stats: &mut ServerStats,
    ) -> Result<Packed<E>> {
        let (_, db) = match self.plan.method.products {
            Products::Diag => AbtAlgorithm::DiagAbt.depths(),
            Products::VolleyRevolver => AbtAlgorithm::VolleyRevolver.depths(),
        };
        let need = db + if activation { self.act.depth() } else { 0 };
        self.ensure_fit(
            m,
            need,
            db,
            self.plan.weight_bound,
            self.act.logit_bound(),
            stats,
        )
    }

    /// `Z = X M^T` for features `x` (Plain, `rows × width`) and weights `m` (refreshed by
    /// [`MethodServer::prepare`] first, for the activation too if `activation`).
    fn forward(
        &self,
        x: &Packed<E>,
        m: &Packed<E>,
        activation: bool,
        stats: &mut ServerStats,
    ) -> Result<Packed<E>> {
        let m = self.prepare(m, activation, stats)?;
        let t;
        let z = match self.plan.method.products {
            Products::Diag => {
                let mt = tile_rows(&self.ev, &m)?;
                t = Instant::now();
                AbtAlgorithm::DiagAbt.multiply(&self.ev, x, &mt)?
            }
            Products::VolleyRevolver => {
                t = Instant::now();
                AbtAlgorithm::VolleyRevolver.multiply(&self.ev, x, &m)?
            }
        };
        stats.abt_time += t.elapsed();
        Ok(z)
    }

    /// Refreshes `m` to have `need` levels above the floor of `out_bound` if bootstrapping can
    /// give that many, else at least `min_need`.
    fn ensure_fit(
        &self,
        m: &Packed<E>,
        need: u32,
        min_need: u32,
        bound: f64,
        out_bound: f64,
        stats: &mut ServerStats,
    ) -> Result<Packed<E>> {
        let need = match self.ev.bootstrap_info() {
            Some(info) if info.output_level.0 < need + self.refresher.floor(out_bound) => min_need,
            _ => need,
        };
        ensure(&self.refresher, &self.ev, m, need, bound, out_bound, stats)
    }

    /// The activation of the logits of a batch with `rows` real rows.
    fn activate(&self, z: &Packed<E>, rows: usize) -> Result<Packed<E>> {
        let classes = self.plan.classes;
        match &self.act {
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

    fn val_logits(&mut self) -> Result<Packed<E>> {
        let mut stats = self.st.stats;
        self.st.w = self.prepare(&self.st.w, false, &mut stats)?;
        let z = self.forward(&self.val_x, &self.st.w, false, &mut stats)?;
        self.st.stats = stats;
        Ok(z)
    }

    /// One optimiser step on batch `b`; returns the activation outputs `P`.
    fn train_step(&mut self, b: usize) -> Result<Packed<E>> {
        let mut stats = self.st.stats;
        let bound = self.plan.weight_bound;
        let ev = &self.ev;
        let method = self.plan.method;
        let rows = self.plan.batch_rows[b];
        self.st.v = self.prepare(&self.st.v, true, &mut stats)?;
        let x = &self.train_x[b];
        let z = self.forward(x, &self.st.v, true, &mut stats)?;
        let t = Instant::now();
        let p = self.activate(&z, rows)?;
        stats.softmax_time += t.elapsed();

        // Levels D = P − Y needs: the A^T B product's on its first input, one for the quadratic
        // gradient, one for the update.
        let da = match method.products {
            Products::Diag => 4,
            Products::VolleyRevolver => 3,
        };
        let qg = method.update.quadratic_gradient() as u32;
        let need = da + qg + 1;
        let p = ensure_probs(
            &self.refresher,
            ev,
            p,
            need,
            self.act.output_bound(),
            bound,
            &mut stats,
        )?;
        let d = sub(ev, &p, &self.train_y[b])?;
        let dt = tile_columns(ev, &d)?;
        let t = Instant::now();
        let g = match method.products {
            Products::Diag => AtbAlgorithm::DiagAtbAuto.multiply(ev, &dt, x)?,
            Products::VolleyRevolver => AtbAlgorithm::VolleyRevolver.multiply(ev, &dt, x)?,
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
        Ok(p)
    }
}

impl<E: Evaluator> EpochSteps<E> for MethodServer<E> {
    fn plan_of(&self) -> &Plan {
        &self.plan
    }
    fn state_mut(&mut self) -> &mut TrainState<E> {
        &mut self.st
    }
    fn train_step(&mut self, b: usize) -> Result<Packed<E>> {
        MethodServer::train_step(self, b)
    }
    fn val_logits(&mut self) -> Result<Packed<E>> {
        MethodServer::val_logits(self)
    }
}

impl<E: Evaluator> TrainingServer for MethodServer<E> {
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

impl<E: Evaluator> std::fmt::Debug for MethodServer<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MethodServer")
            .field("method", &self.plan.method.describe())
            .field("activation", &self.act.name())
            .field("epochs_done", &self.st.epochs_done)
            .field("step", &self.st.step)
            .field("stopped", &self.st.stopped)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
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

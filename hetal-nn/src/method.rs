//! What a training method adds on the client's side: the plan of a [`Method`], the evaluation
//! keys it needs, and HE.CNNtraining's (John Chiang's) quadratic-gradient preconditioners,
//! which the client computes per batch and encrypts for the server. The server that runs every
//! method is [`crate::server::Server`]; the f64 reference is [`crate::plain::train`].
//!
//! * [`preconditioner`]: the client's quadratic-gradient preconditioner `B̄⁻¹` of a batch, which
//!   [`Client::encrypt_preconditioners`] encrypts for the server.
//! * [`sle_logits`], [`sle_probs`]: the squared-likelihood loss the client reports.

use crate::client::{Client, design_matrix};
use crate::config::{Activation, CompactionMode, Method, Products};
use crate::data::Splits;
use crate::error::{Error, Result};
use crate::plain::batch_ranges;
pub use crate::plain::{QG_EPSILON, preconditioner, sigmoid_approx, sle_logits, sle_probs};
use crate::protocol::{EncMatrix, Plan};
use crate::refresh::packing_rotations;
use crate::softmax::LinalgSoftmax;
use hetal_linalg::compact::Compaction;
use hetal_linalg::matmul::{AbtAlgorithm, AtbAlgorithm, MatmulDims};
use hetal_linalg::packed::{
    Layout, Matrix, PackedMatrix, UnitShape, tile_columns_keys, tile_rows_keys,
};
use hetal_traits::{Decryptor, Encryptor, KeyRequest};
use ndarray::Array2;

impl Plan {
    /// The same plan with another method (checked against the configuration).
    pub fn with_method(mut self, method: Method) -> Result<Plan> {
        method.validate(&self.config)?;
        self.method = method;
        if method.activation != Activation::Softmax {
            // Compaction is for the softmax's row layout.
            self.compaction = false;
        }
        Ok(self)
    }

    /// The compaction of the logits of a batch of `rows` rows ([`hetal_linalg::compact`]):
    /// its `⌈rows / s0⌉` row blocks, `classes` classes.
    pub fn compaction_of(&self, rows: usize) -> Result<Compaction> {
        let shape = self.shape()?;
        Ok(Compaction::new(
            shape,
            self.classes,
            rows.div_ceil(shape.s0).max(1),
        )?)
    }

    /// The distinct compactions of the plan's batches.
    fn compactions(&self) -> Result<Vec<Compaction>> {
        let mut v: Vec<Compaction> = Vec::new();
        for &r in &self.batch_rows {
            let c = self.compaction_of(r)?;
            if !v.contains(&c) {
                v.push(c);
            }
        }
        Ok(v)
    }

    /// Whether compacting the logits pays for this plan ([`Compaction::pays`] for some batch):
    /// a softmax activation, and either fewer ciphertexts for the softmax or, with
    /// `sparse_bootstrap` (the backend bootstraps part-full ciphertexts with a smaller circuit),
    /// blocks that are not dense.
    pub fn compaction_pays(&self, sparse_bootstrap: bool) -> Result<bool> {
        if self.method.activation != Activation::Softmax {
            return Ok(false);
        }
        Ok(self.compactions()?.iter().any(|c| c.pays(sparse_bootstrap)))
    }

    /// The same plan with the compaction decided by `mode`: [`CompactionMode::Auto`] by
    /// [`Plan::compaction_pays`]`(sparse_bootstrap)`, [`CompactionMode::On`] whenever the blocks
    /// are not already dense (`s1 > c'`), [`CompactionMode::Off`] never.
    ///
    /// Errors: [`CompactionMode::On`] for a method without a softmax.
    pub fn with_compaction(mut self, mode: CompactionMode, sparse_bootstrap: bool) -> Result<Plan> {
        self.compaction = match mode {
            CompactionMode::Off => false,
            CompactionMode::Auto => self.compaction_pays(sparse_bootstrap)?,
            CompactionMode::On => {
                if self.method.activation != Activation::Softmax {
                    return Err(Error::config(format!(
                        "compaction is for the softmax; the method's activation is {}",
                        self.method.activation.name()
                    )));
                }
                self.compactions()?.iter().any(|c| !c.is_identity())
            }
        };
        Ok(self)
    }

    /// A one-line description of the plan's compaction for reports, e.g. `on (1 block -> 1
    /// ciphertext of period 1024 per step)`.
    pub fn describe_compaction(&self) -> String {
        if !self.compaction {
            return "off".into();
        }
        match self.compaction_of(self.batch_rows.first().copied().unwrap_or(1)) {
            Ok(c) => format!(
                "on ({} block(s) -> {} ciphertext(s) of period {} per step, {} of {} slots)",
                c.blocks(),
                c.outputs(),
                c.period(0),
                c.blocks() * self.unit.0 * self.padded_classes,
                self.slots
            ),
            Err(e) => format!("on ({e})"),
        }
    }

    /// Every evaluation key a server needs for this plan: [`Plan::key_request`] with the keys of
    /// the plan's softmax (looked up by name, [`LinalgSoftmax::by_name`]) for a softmax
    /// activation, and bootstrapping keys if asked for.
    pub fn evaluation_keys(&self, bootstrapping: bool) -> Result<KeyRequest> {
        let softmax_keys = match self.method.activation {
            Activation::Softmax => {
                let sm = LinalgSoftmax::by_name(&self.softmax)?;
                let mut k = sm.required_keys(self.shape()?, self.classes)?;
                if self.compaction {
                    // The softmax also runs on the compacted layout (rows of width c').
                    let dense = UnitShape::with_rows(self.slots / self.padded_classes, self.slots)?;
                    k.merge(&sm.required_keys(dense, self.classes)?);
                }
                k
            }
            Activation::SigmoidCubic | Activation::SigmoidChebyshev { .. } => KeyRequest::default(),
        };
        self.key_request(&softmax_keys, bootstrapping)
    }

    /// The evaluation keys the plan's method needs for its products and tilings, plus
    /// `softmax_keys` for a softmax activation (and, with [`Plan::compaction`], the rotations of
    /// compacting and expanding the logits, [`Compaction::rotations`], and with bootstrapping the
    /// sparse bootstraps of their periods, [`Compaction::sparse_periods`]; `softmax_keys` must then
    /// cover the softmax on the compacted layout too, as [`Plan::evaluation_keys`]'s do), and
    /// bootstrapping if asked for (in HETAL's layout with the rotations that pack the weights'
    /// blocks for their refresh).
    pub fn key_request(
        &self,
        softmax_keys: &KeyRequest,
        bootstrapping: bool,
    ) -> Result<KeyRequest> {
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
        let mut req = match self.method.products {
            Products::Diag => {
                let mut r = AbtAlgorithm::DiagAbt.required_keys(&dims)?;
                r.merge(&AtbAlgorithm::DiagAtbAuto.required_keys(&dims)?);
                r.merge(&tile_rows_keys(c, shape));
                if bootstrapping {
                    // The weights' blocks (W and V) are bootstrapped packed together.
                    let blocks = self.width().div_ceil(shape.s1);
                    r.merge(&KeyRequest::with_rotations(
                        packing_rotations(c * shape.s1, 2 * blocks, self.slots)
                            .iter()
                            .map(|r| r.0),
                    ));
                }
                r
            }
            Products::VolleyRevolver => {
                let mut r = AbtAlgorithm::VolleyRevolver.required_keys(&dims)?;
                r.merge(&AtbAlgorithm::VolleyRevolver.required_keys(&dims)?);
                r
            }
        };
        req.merge(&tile_columns_keys(c, shape));
        if self.method.activation == Activation::Softmax {
            req.merge(softmax_keys);
            if self.compaction {
                for c in self.compactions()? {
                    req.merge(&c.key_request());
                    if bootstrapping {
                        // The compacted softmax's refreshes are sparse bootstraps.
                        req.add_sparse_bootstrap_slots(c.sparse_periods());
                    }
                }
            }
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
    /// [`Update::NagQg`](crate::config::Update::NagQg). One ciphertext per batch (the paper's single `B̄⁻¹` ciphertext when the
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

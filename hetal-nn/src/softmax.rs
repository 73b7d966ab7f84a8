//! The row-wise softmax the server evaluates, behind a trait so that approximations can be swapped.
//!
//! [`LinalgSoftmax`] runs hetal-linalg's methods (HETAL's ASoftmax by default, or a baseline)
//! block by block; its [`SoftmaxApprox::reference`] is the same computation in `f64`, which the
//! plaintext reference training uses to isolate the effect of encryption from that of the
//! approximation.

use crate::error::{Error, Result};
use hetal_linalg::approx::Refresher;
use hetal_linalg::approx::softmax::{RowLayout, SoftmaxMethod};
use hetal_linalg::packed::{PackedMatrix, UnitShape};
use hetal_traits::{Evaluator, KeyRequest};
use ndarray::Array2;

/// A homomorphic row-wise softmax over the class columns of a packed logit matrix.
pub trait SoftmaxApprox<E: Evaluator>: Send + Sync {
    /// A short name for reports.
    fn name(&self) -> String;

    /// The softmax of `z` row by row over its first `classes` columns.
    ///
    /// `z` is Plain, `a × c'` (`c' = z.cols()`, the padded class count, a power of two) in the
    /// first `c'` columns of each `s1`-wide row with zeros elsewhere: DiagABT's output. The
    /// result must have the same shape and layout, hold (approximate) probabilities in columns
    /// `0..classes`, and zeros in columns `c'..s1` (approximately zero in `classes..c'`), so that
    /// `P − Y` can be tiled for DiagATB. It may bootstrap; its output level is whatever is left.
    fn apply(
        &self,
        ev: &E,
        z: &PackedMatrix<E::Ciphertext>,
        classes: usize,
    ) -> Result<PackedMatrix<E::Ciphertext>>;

    /// The softmax of one ciphertext in the row layout `layout` (every row of its `s1`-wide rows,
    /// first `classes` columns), refreshed through `rf`: the server runs it on the compacted
    /// logits ([`hetal_linalg::compact`]), with the compacted layout and a refresher with the
    /// compacted ciphertext's period ([`Refresher::with_period`]). The output has the same
    /// layout, zeros outside the first `layout.classes()` columns, and keeps the input's period.
    fn apply_layout(
        &self,
        ev: &E,
        x: &E::Ciphertext,
        layout: &RowLayout,
        rf: &Refresher,
    ) -> Result<E::Ciphertext>;

    /// Scores must lie in `[-input_bound, input_bound]`.
    fn input_bound(&self) -> f64;

    /// A bound on `|P|` for the outputs (the server bootstraps `P − Y` with it).
    fn output_bound(&self) -> f64;

    /// The same approximation in `f64` on plaintext logits `n × width` (first `classes` columns
    /// used; the output has zeros elsewhere): the plaintext reference uses it.
    fn reference(&self, z: &Array2<f64>, classes: usize) -> Array2<f64>;
}

/// A softmax method of hetal-linalg applied to every block of the logits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinalgSoftmax {
    /// The method.
    pub method: SoftmaxMethod,
}

impl LinalgSoftmax {
    /// HETAL's ASoftmax (`r = 8, L = 2, n = 5`: scores in `[-128, 128]`).
    pub fn asoftmax() -> Self {
        LinalgSoftmax {
            method: SoftmaxMethod::Asoftmax,
        }
    }

    /// A method by its name ([`SoftmaxMethod::ALL`]: `asoftmax`, `asoftmax-hetal` (HETAL's exact
    /// configuration), `asoftmax-precise`, `asoftmax-hetal-precise`, `asoftmax-windowed`,
    /// `normalize-square` (scores in `[-128, 128]`), `normalize-square-b64` / `-b32` / `-b16`
    /// (scores *proven* to lie in `[-B, B]`), `asoftmax-original`, `hong`, `privgd`, `gumbel`).
    pub fn by_name(name: &str) -> Result<Self> {
        SoftmaxMethod::ALL
            .iter()
            .find(|m| m.name() == name)
            .map(|&method| LinalgSoftmax { method })
            .ok_or_else(|| {
                let known: Vec<&str> = SoftmaxMethod::ALL.iter().map(|m| m.name()).collect();
                Error::config(format!(
                    "unknown softmax {name:?}; known: {}",
                    known.join(", ")
                ))
            })
    }

    /// The rotation keys the method needs on blocks of `shape` with `classes` classes.
    pub fn required_keys(&self, shape: UnitShape, classes: usize) -> Result<KeyRequest> {
        let layout = RowLayout::new(shape.s0, shape.s1, classes)?;
        Ok(KeyRequest {
            rotations: self.method.rotations(&layout),
            ..KeyRequest::default()
        })
    }
}

impl<E: Evaluator> SoftmaxApprox<E> for LinalgSoftmax {
    fn name(&self) -> String {
        self.method.name().to_string()
    }

    fn apply(
        &self,
        ev: &E,
        z: &PackedMatrix<E::Ciphertext>,
        classes: usize,
    ) -> Result<PackedMatrix<E::Ciphertext>> {
        let shape = z.shape();
        let layout = RowLayout::new(shape.s0, shape.s1, classes)?;
        let rf = Refresher::new(ev);
        Ok(z.try_map(|b| self.method.eval(ev, b, &layout, &rf))?)
    }

    fn apply_layout(
        &self,
        ev: &E,
        x: &E::Ciphertext,
        layout: &RowLayout,
        rf: &Refresher,
    ) -> Result<E::Ciphertext> {
        Ok(self.method.eval(ev, x, layout, rf)?)
    }

    fn input_bound(&self) -> f64 {
        self.method.max_range()
    }

    /// [`SoftmaxMethod::output_bound`]: 1 for the methods that normalise by a Goldschmidt
    /// inverse (it converges from below and the exponentials are even powers, so `0 ≤ P ≤ 1`);
    /// `1 + E` for the windowed and normalize-and-square methods (`E` the relative error bound
    /// of their last inverse); 1.1 for PrivGD, whose cubic sigmoid peaks at 1.066 on `[-8, 8]`.
    fn output_bound(&self) -> f64 {
        self.method.output_bound()
    }

    fn reference(&self, z: &Array2<f64>, classes: usize) -> Array2<f64> {
        let mut p = Array2::zeros(z.dim());
        for (i, row) in z.rows().into_iter().enumerate() {
            let r: Vec<f64> = row.iter().take(classes).copied().collect();
            for (j, v) in self.method.eval_plain(&r).into_iter().enumerate() {
                p[[i, j]] = v;
            }
        }
        p
    }
}

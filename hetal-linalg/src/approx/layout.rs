//! Where the rows and classes of a score matrix sit in a packed block ([`RowLayout`]): the layout
//! every row-wise softmax of [`super::softmax`] and [`super::normalize_square`] works on.

use crate::{Error, Result};
use hetal_traits::Evaluator;

/// Where the rows and classes sit in a ciphertext: unit shape `(s0, s1)`, `classes` columns used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowLayout {
    s0: usize,
    s1: usize,
    classes: usize,
}

impl RowLayout {
    /// A layout of `s0` rows of width `s1` with `classes` valid columns.
    ///
    /// Errors: `s0`, `s1` not powers of two, or `classes` outside `2 ..= s1` once padded to a
    /// power of two.
    pub fn new(s0: usize, s1: usize, classes: usize) -> Result<Self> {
        if !s0.is_power_of_two() || !s1.is_power_of_two() {
            return Err(Error::shape(format!(
                "unit shape ({s0}, {s1}) must be powers of two"
            )));
        }
        if classes < 2 || classes.next_power_of_two() > s1 {
            return Err(Error::shape(format!(
                "{classes} classes (padded {}) do not fit rows of {s1}",
                classes.next_power_of_two()
            )));
        }
        Ok(RowLayout { s0, s1, classes })
    }

    /// The densest layout for `classes` on `slots` slots: `s1 = c'`, `s0 = slots / c'`.
    pub fn dense(slots: usize, classes: usize) -> Result<Self> {
        let cp = classes.next_power_of_two();
        if cp > slots {
            return Err(Error::shape("more classes than slots"));
        }
        Self::new(slots / cp, cp, classes)
    }

    /// Rows per block `s0`.
    pub fn s0(&self) -> usize {
        self.s0
    }

    /// Row width `s1`.
    pub fn s1(&self) -> usize {
        self.s1
    }

    /// Number of classes `c`.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// `c' = 2^⌈log2 c⌉`.
    pub fn padded(&self) -> usize {
        self.classes.next_power_of_two()
    }

    /// `s0 · s1`.
    pub fn slots(&self) -> usize {
        self.s0 * self.s1
    }

    /// `value` in columns `lo .. hi` of every row, zero elsewhere.
    pub fn column_vector(&self, lo: usize, hi: usize, value: f64) -> Vec<f64> {
        (0..self.slots())
            .map(|t| {
                if (lo..hi).contains(&(t % self.s1)) {
                    value
                } else {
                    0.0
                }
            })
            .collect()
    }

    /// Packs an `a × c` row-major score matrix (`a ≤ s0`) into slot values.
    pub fn pack(&self, scores: &[f64]) -> Result<Vec<f64>> {
        let c = self.classes;
        if !scores.len().is_multiple_of(c) || scores.len() / c > self.s0 {
            return Err(Error::shape(format!(
                "{} scores are not at most {} rows of {c}",
                scores.len(),
                self.s0
            )));
        }
        let mut v = vec![0.0; self.slots()];
        for (i, row) in scores.chunks(c).enumerate() {
            v[i * self.s1..i * self.s1 + c].copy_from_slice(row);
        }
        Ok(v)
    }

    /// The first `a` rows' `c` valid columns, row-major.
    pub fn unpack(&self, slots: &[f64], a: usize) -> Vec<f64> {
        (0..a.min(self.s0))
            .flat_map(|i| {
                slots[i * self.s1..i * self.s1 + self.classes]
                    .iter()
                    .copied()
            })
            .collect()
    }

    /// Checks that the evaluator has exactly this layout's slot count.
    pub(crate) fn check<E: Evaluator>(&self, ev: &E) -> Result<()> {
        if ev.slots() != self.slots() {
            return Err(Error::shape(format!(
                "layout ({}, {}) needs {} slots, the evaluator has {}",
                self.s0,
                self.s1,
                self.slots(),
                ev.slots()
            )));
        }
        Ok(())
    }
}

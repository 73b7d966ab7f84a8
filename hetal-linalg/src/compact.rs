//! Compaction of the logits of one training step into as few, as dense ciphertexts as possible,
//! and its exact inverse ([`Compaction`]).
//!
//! # Why
//!
//! HETAL's unit shape `(s0, s1)` puts the logits `Z = X W^T` of a batch into blocks whose rows are
//! `s1` slots wide, of which only the first `c'` (the class count padded to a power of two) mean
//! anything. A row-wise softmax on such a block works on all `s0 · s1` slots; compacted, it works
//! on `s0 · c'` of them (a virtual row layout of width `c'`, [`RowLayout::dense`]), and a backend
//! with sparse-packing bootstrapping keys ([`Evaluator::bootstrap_sparse`]) refreshes the
//! compacted ciphertext at its real size.
//!
//! # Layout
//!
//! `k` row blocks `z_0 .. z_{k-1}` of shape `(s0, s1)` (slot `r·s1 + j` holds row `r`, column `j`;
//! only `j < c'` is read). With `k_c = s1 / c'` chunks per row, `m = min(k_c, s0)` row groups of
//! `h = s0 / m` rows each: row `r = q·h + t` (`q < m`, `t < h`) of block `b` moves to slot
//!
//! ```text
//! off_b + t·(m·c') + q·c' + j,     off_b = (b mod k_c) · s0 · c',
//! ```
//!
//! of output ciphertext `⌊b / k_c⌋`, i.e. a left rotation by `q·d − off_b` with `d = h·s1 − c'`.
//! Any row permutation is fine for a row-wise softmax: in the virtual layout of width `c'` row `r`
//! of block `b` is virtual row `(off_b + t·m·c' + q·c') / c'`. Output ciphertext `o` holds
//! `k_o = min(k_c, k − o·k_c)` blocks in its first `k_o · s0 · c'` slots; its slot vector is made
//! **periodic** with period `n_o` = the next power of two `≥ k_o · s0 · c'`
//! ([`Compaction::period`]) by `log2(slots / n_o)` rotate-and-adds, so that a sparse bootstrap
//! of period `n_o` applies. The masks of the softmax in the virtual layout depend on the column
//! (`slot mod c'`) only and its rotations are rotations, so the softmax keeps that period.
//!
//! When `k_c = 1` (`s1 = c'`) every block is already dense: compaction and expansion are the
//! identity (no level, no operation).
//!
//! # Algorithm and cost
//!
//! Compaction of a block is a sum of `m` masked rotations, `Σ_q rot_{q d − off}(μ_q ⊙ z)` with
//! `μ_q` the 0/1 mask of rows `q·h .. (q+1)·h`, columns `< c'`. With baby-step giant-step
//! (`B = min(m, ⌈√(2m)⌉)`, `G = ⌈m / B⌉`, `q = g·B + i`) and `rot_a(μ ⊙ x) = rot_a(μ) ⊙ rot_a(x)`:
//!
//! ```text
//! Σ_g rot_{g·B·d − off}( Σ_i rot_{i·d}(μ_{gB+i}) ⊙ rot_{i·d}(z) )
//! ```
//!
//! with the `B − 1` baby rotations of `z` hoisted and the masks rotated in the clear. Expansion is
//! the inverse, `z'_b = Σ_q μ_q ⊙ rot_{off − q d}(y)`, written with `q = g·B − i` (`0 ≤ i < B`,
//! `0 ≤ g ≤ ⌊(m + B − 2) / B⌋`) as `Σ_g rot_{off − g·B·d}( Σ_i rot_{g·B·d − off}(μ_{gB−i}) ⊙
//! rot_{i·d}(y) )`, with zeros in every other slot of the block: its baby rotations `i·d` are
//! the compaction's, hoisted once per output for all its blocks, so the key set is the `B − 1`
//! baby steps, the compaction's giant steps `g·B·d − off` and the expansion's `off − g·B·d`.
//! `B ≈ √(2m)` rather than `√m` minimises that key count (`B − 1 + G + ⌈m / B⌉`) for about the
//! same rotations (each key is a full key-switching key, 203 MiB at `boot-n16`).
//!
//! | | levels | rotations | plaintext mults | rescales |
//! |---|---|---|---|---|
//! | [`Compaction::compact`] | 1 | per block `B − 1` hoisted + `G − 1` (+1 if `off_b ≠ 0`); per output `log2(slots/n_o)` | `m` per block | 1 per output |
//! | [`Compaction::expand`] | 1 | per output `B − 1` hoisted; per block the giant steps with `off_b ≠ g·B·d` | `m` per block | 1 per block |
//!
//! ([`Compaction::compact_ops`], [`Compaction::expand_ops`]; the key set is
//! [`Compaction::rotations`].) Example: unit shape `(64, 512)`, 10 classes (`c' = 16`): `m = 32`,
//! `B = 8`, `G = 4`, one block → one ciphertext of period 1024; compaction 10 rotations + 5 for
//! the replication, expansion 11 rotations, 32 plaintext multiplications each; 19 rotation keys
//! (25 with `B = ⌈√m⌉` and separate expansion baby steps).

use crate::approx::layout::RowLayout;
use crate::packed::UnitShape;
use crate::{Error, Result};
use hetal_traits::{Evaluator, KeyRequest, Level, Leveled, RotStep};

/// Compaction of the `blocks` row blocks of one step (unit shape `shape`, `classes` classes)
/// into the virtual row layout of width `c'`; see the [module docs](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compaction {
    s0: usize,
    s1: usize,
    classes: usize,
    blocks: usize,
}

/// Operation counts of one [`Compaction::compact`] or [`Compaction::expand`] call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompactionOps {
    /// Rotations (key switches), hoisted ones included.
    pub rotations: usize,
    /// Plaintext multiplications.
    pub plain_mults: usize,
    /// Rescales.
    pub rescales: usize,
    /// Levels consumed.
    pub levels: u32,
}

impl Compaction {
    /// Compaction of `blocks` row blocks of `shape` holding `classes` classes.
    ///
    /// Errors: [`Error::Shape`] for no blocks, or a class count outside `2 ..= s1` once padded
    /// (or above `s0`).
    pub fn new(shape: UnitShape, classes: usize, blocks: usize) -> Result<Self> {
        let cp = classes.next_power_of_two();
        if blocks == 0 {
            return Err(Error::shape("compaction of no blocks"));
        }
        if classes < 2 || cp > shape.s1 || cp > shape.s0 {
            return Err(Error::shape(format!(
                "{classes} classes (padded {cp}) do not fit unit shape ({}, {})",
                shape.s0, shape.s1
            )));
        }
        Ok(Compaction {
            s0: shape.s0,
            s1: shape.s1,
            classes,
            blocks,
        })
    }

    fn cp(&self) -> usize {
        self.classes.next_power_of_two()
    }

    fn slots(&self) -> usize {
        self.s0 * self.s1
    }

    /// Number of input blocks.
    pub fn blocks(&self) -> usize {
        self.blocks
    }

    /// `k_c = s1 / c'`: blocks per output ciphertext.
    pub fn blocks_per_output(&self) -> usize {
        self.s1 / self.cp()
    }

    /// Whether compaction is the identity (`s1 = c'`).
    pub fn is_identity(&self) -> bool {
        self.blocks_per_output() == 1
    }

    /// `m = min(k_c, s0)`: row groups per block (distinct rotation amounts).
    pub fn groups(&self) -> usize {
        self.blocks_per_output().min(self.s0)
    }

    /// `d = h·s1 − c'`: the rotation of one row group.
    fn step(&self) -> usize {
        (self.s0 / self.groups()) * self.s1 - self.cp()
    }

    /// Baby and giant step counts `(B, G)`.
    fn bsgs(&self) -> (usize, usize) {
        let m = self.groups();
        let b = ((2 * m) as f64).sqrt().ceil() as usize;
        let b = b.clamp(1, m.max(1));
        (b, m.div_ceil(b))
    }

    /// The baby steps `i ≥ 1` (rotations by `i·d`) that the expansion's terms use.
    fn expansion_babies(&self) -> Vec<usize> {
        let terms = self.expansion_terms();
        (1..self.bsgs().0)
            .filter(|&i| terms.iter().any(|(_, t)| t.iter().any(|&(j, _)| j == i)))
            .collect()
    }

    /// The expansion's giant steps and their terms: `(g, [(i, q)])` with `q = g·B − i` over the
    /// groups `0 ≤ q < m`, `0 ≤ i < B` (module docs).
    fn expansion_terms(&self) -> Vec<(usize, Vec<(usize, usize)>)> {
        let (bb, _) = self.bsgs();
        let m = self.groups();
        (0..=(m + bb - 2) / bb)
            .map(|g| {
                let terms: Vec<(usize, usize)> = (0..bb)
                    .filter(|&i| i <= g * bb && g * bb - i < m)
                    .map(|i| (i, g * bb - i))
                    .collect();
                (g, terms)
            })
            .filter(|(_, t)| !t.is_empty())
            .collect()
    }

    /// Number of output ciphertexts `⌈k / k_c⌉`.
    pub fn outputs(&self) -> usize {
        self.blocks.div_ceil(self.blocks_per_output())
    }

    /// Blocks held by output `o`.
    fn blocks_in(&self, o: usize) -> usize {
        self.blocks_per_output()
            .min(self.blocks.saturating_sub(o * self.blocks_per_output()))
    }

    /// The period `n_o` of output ciphertext `o` (a power of two dividing the slot count): its
    /// slot vector repeats with it. The slot count for the identity compaction.
    pub fn period(&self, o: usize) -> usize {
        if self.is_identity() {
            return self.slots();
        }
        (self.blocks_in(o).max(1) * self.s0 * self.cp())
            .next_power_of_two()
            .min(self.slots())
    }

    /// The distinct periods below the slot count among the outputs ([`Compaction::period`]):
    /// the sparse bootstraps a softmax on the outputs runs, so the slot counts to request with
    /// [`KeyRequest::add_sparse_bootstrap_slots`] when it is bootstrapped. Empty for the
    /// identity compaction.
    pub fn sparse_periods(&self) -> Vec<usize> {
        let mut v: Vec<usize> = (0..self.outputs())
            .map(|o| self.period(o))
            .filter(|&n| n < self.slots())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The virtual row layout of the outputs: `slots / c'` rows of width `c'`, `classes` classes
    /// ([`RowLayout::dense`]).
    pub fn layout(&self) -> Result<RowLayout> {
        RowLayout::dense(self.slots(), self.classes)
    }

    /// Where row `r` of block `b` goes: `(output ciphertext, first slot)`; its `c'` columns
    /// follow contiguously. `None` for `b` or `r` out of range.
    pub fn position(&self, b: usize, r: usize) -> Option<(usize, usize)> {
        if b >= self.blocks || r >= self.s0 {
            return None;
        }
        if self.is_identity() {
            return Some((b, r * self.s1));
        }
        let (m, cp) = (self.groups(), self.cp());
        let h = self.s0 / m;
        let (q, t) = (r / h, r % h);
        let kc = self.blocks_per_output();
        let off = (b % kc) * self.s0 * cp;
        Some((b / kc, off + t * m * cp + q * cp))
    }

    /// The 0/1 mask `μ_q` of row group `q` (columns `< c'`) in block layout, rotated left by `rot`.
    fn mask(&self, q: usize, rot: usize) -> Vec<f64> {
        let n = self.slots();
        let h = self.s0 / self.groups();
        let cp = self.cp();
        (0..n)
            .map(|t| {
                let u = (t + rot) % n;
                let (r, j) = (u / self.s1, u % self.s1);
                if r / h == q && j < cp { 1.0 } else { 0.0 }
            })
            .collect()
    }

    fn norm(&self, step: i64) -> i64 {
        RotStep(step).normalized(self.slots()) as i64
    }

    fn offset(&self, b: usize) -> usize {
        (b % self.blocks_per_output()) * self.s0 * self.cp()
    }

    /// The rotation steps of [`Compaction::compact`] and [`Compaction::expand`] (normalised,
    /// sorted, without the identity).
    pub fn rotations(&self) -> Vec<RotStep> {
        if self.is_identity() {
            return Vec::new();
        }
        let (bb, gg) = self.bsgs();
        let m = self.groups();
        let d = self.step() as i64;
        let mut v = Vec::new();
        let kc = self.blocks_per_output();
        for i in 0..bb.min(m) {
            v.push(self.norm(i as i64 * d));
        }
        for p in 0..kc.min(self.blocks) {
            let off = (p * self.s0 * self.cp()) as i64;
            for g in 0..gg {
                v.push(self.norm((g * bb) as i64 * d - off));
            }
            for (g, _) in self.expansion_terms() {
                v.push(self.norm(off - (g * bb) as i64 * d));
            }
        }
        for o in 0..self.outputs() {
            let mut n = self.period(o);
            while n < self.slots() {
                v.push(self.norm(-(n as i64)));
                n *= 2;
            }
        }
        v.retain(|&s| s != 0);
        v.sort_unstable();
        v.dedup();
        v.into_iter().map(RotStep).collect()
    }

    /// The key request of [`Compaction::rotations`].
    pub fn key_request(&self) -> KeyRequest {
        KeyRequest::with_rotations(self.rotations().iter().map(|r| r.0))
    }

    /// Levels consumed by [`Compaction::compact`] (and, equally, by [`Compaction::expand`]):
    /// 1, or 0 for the identity.
    pub fn depth(&self) -> u32 {
        u32::from(!self.is_identity())
    }

    /// Operation counts of one [`Compaction::compact`] call (see the module docs).
    pub fn compact_ops(&self) -> CompactionOps {
        if self.is_identity() {
            return CompactionOps::default();
        }
        let (bb, gg) = self.bsgs();
        let mut rot = 0;
        for b in 0..self.blocks {
            rot += bb.min(self.groups()) - 1;
            for g in 0..gg {
                if g * bb * self.step() != self.offset(b) {
                    rot += 1;
                }
            }
        }
        for o in 0..self.outputs() {
            rot += (self.slots() / self.period(o)).trailing_zeros() as usize;
        }
        CompactionOps {
            rotations: rot,
            plain_mults: self.blocks * self.groups(),
            rescales: self.outputs(),
            levels: 1,
        }
    }

    /// Operation counts of one [`Compaction::expand`] call (see the module docs).
    pub fn expand_ops(&self) -> CompactionOps {
        if self.is_identity() {
            return CompactionOps::default();
        }
        let (bb, _) = self.bsgs();
        let d = self.step();
        let terms = self.expansion_terms();
        let mut rot = 0;
        let babies = self.expansion_babies().len();
        for o in 0..self.outputs() {
            // The baby rotations, hoisted once per output.
            if self.blocks_in(o) > 0 {
                rot += babies;
            }
        }
        for b in 0..self.blocks {
            let off = self.offset(b) as i64;
            rot += terms
                .iter()
                .filter(|(g, _)| self.norm(off - (g * bb * d) as i64) != 0)
                .count();
        }
        CompactionOps {
            rotations: rot,
            plain_mults: self.blocks * self.groups(),
            rescales: self.blocks,
            levels: 1,
        }
    }

    /// Whether compaction pays: when it reduces the number of ciphertexts the softmax runs on,
    /// or when the blocks are not dense (`s1 > c'`) and the backend bootstraps ciphertexts of
    /// the outputs' periods with a smaller circuit (`sparse_bootstrap`).
    pub fn pays(&self, sparse_bootstrap: bool) -> bool {
        !self.is_identity() && (self.outputs() < self.blocks || sparse_bootstrap)
    }

    fn check_inputs<E: Evaluator>(&self, ev: &E, n: usize, expected: usize) -> Result<()> {
        if ev.slots() != self.slots() {
            return Err(Error::shape(format!(
                "compaction for ({}, {}) blocks on an evaluator of {} slots",
                self.s0,
                self.s1,
                ev.slots()
            )));
        }
        if n != expected {
            return Err(Error::shape(format!(
                "{n} ciphertexts given, {expected} expected"
            )));
        }
        Ok(())
    }

    /// Compacts the blocks (all at levels ≥ 1; brought to the lowest of their levels). Returns
    /// [`Compaction::outputs`] ciphertexts one level below, in the virtual layout, output `o`
    /// periodic with [`Compaction::period`]`(o)`. Slots of columns `≥ c'` of the inputs are
    /// ignored. The identity when [`Compaction::is_identity`].
    ///
    /// Errors: a wrong block count or slot count ([`Error::Shape`]); the evaluator's (a block at
    /// level 0, a missing rotation key).
    pub fn compact<E: Evaluator>(
        &self,
        ev: &E,
        blocks: &[E::Ciphertext],
    ) -> Result<Vec<E::Ciphertext>> {
        self.check_inputs(ev, blocks.len(), self.blocks)?;
        if self.is_identity() {
            return Ok(blocks.to_vec());
        }
        let level = min_level(blocks);
        let (bb, gg) = self.bsgs();
        let (m, d) = (self.groups(), self.step());
        let kc = self.blocks_per_output();
        let babies: Vec<RotStep> = (1..bb.min(m)).map(|i| RotStep((i * d) as i64)).collect();
        let mut outs = Vec::with_capacity(self.outputs());
        for o in 0..self.outputs() {
            let mut acc: Option<E::Ciphertext> = None;
            for b in o * kc..(o * kc + self.blocks_in(o)) {
                let z = ev.drop_to_level(&blocks[b], level)?;
                let mut xs = vec![z.clone()];
                xs.extend(ev.rotate_hoisted(&z, &babies)?);
                let off = self.offset(b) as i64;
                for g in 0..gg {
                    let mut inner: Option<E::Ciphertext> = None;
                    for (i, x) in xs.iter().enumerate() {
                        let q = g * bb + i;
                        if q >= m {
                            break;
                        }
                        let p = ev.encode_real_at(&self.mask(q, i * d), level)?;
                        let t = ev.mul_plain(x, &p)?;
                        inner = Some(match inner {
                            None => t,
                            Some(a) => ev.add(&a, &t)?,
                        });
                    }
                    let Some(inner) = inner else { continue };
                    let s = (g * bb * d) as i64 - off;
                    let r = if self.norm(s) == 0 {
                        inner
                    } else {
                        ev.rotate(&inner, RotStep(self.norm(s)))?
                    };
                    acc = Some(match acc {
                        None => r,
                        Some(a) => ev.add(&a, &r)?,
                    });
                }
            }
            let acc = acc.ok_or_else(|| Error::shape("an empty compaction output"))?;
            let mut y = ev.rescale(&acc)?;
            let mut n = self.period(o);
            while n < self.slots() {
                let r = ev.rotate(&y, RotStep(self.norm(-(n as i64))))?;
                y = ev.add(&y, &r)?;
                n *= 2;
            }
            outs.push(y);
        }
        Ok(outs)
    }

    /// The inverse of [`Compaction::compact`]: from [`Compaction::outputs`] ciphertexts in the
    /// virtual layout (levels ≥ 1; any content outside the compacted rows' `c'` columns, e.g. the
    /// periodic copies, is ignored), the [`Compaction::blocks`] blocks of shape `(s0, s1)` one
    /// level below, each row in its place, columns `≥ c'` exactly zero. The identity when
    /// [`Compaction::is_identity`].
    ///
    /// Errors: a wrong ciphertext count or slot count ([`Error::Shape`]); the evaluator's.
    pub fn expand<E: Evaluator>(
        &self,
        ev: &E,
        cts: &[E::Ciphertext],
    ) -> Result<Vec<E::Ciphertext>> {
        self.check_inputs(ev, cts.len(), self.outputs())?;
        if self.is_identity() {
            return Ok(cts.to_vec());
        }
        let level = min_level(cts);
        let (bb, _) = self.bsgs();
        let d = self.step();
        let kc = self.blocks_per_output();
        let terms = self.expansion_terms();
        let babies: Vec<RotStep> = self
            .expansion_babies()
            .into_iter()
            .map(|i| RotStep(self.norm((i * d) as i64)))
            .collect();
        let mut out = Vec::with_capacity(self.blocks);
        for (o, y) in cts.iter().enumerate() {
            let y = ev.drop_to_level(y, level)?;
            // The baby rotations `i·d` of this output, hoisted once for all its blocks.
            let rotated = ev.rotate_hoisted(&y, &babies)?;
            let baby = |i: usize| -> &E::Ciphertext {
                let s = RotStep(self.norm((i * d) as i64));
                babies
                    .iter()
                    .position(|&x| x == s)
                    .map_or(&y, |k| &rotated[k])
            };
            for b in o * kc..(o * kc + self.blocks_in(o)) {
                let off = self.offset(b) as i64;
                let mut acc: Option<E::Ciphertext> = None;
                for (g, group) in &terms {
                    // The giant step `off − g·B·d`; the masks rotated back by it in the clear.
                    let s = self.norm(off - (g * bb * d) as i64);
                    let back = self.norm(-s) as usize;
                    let mut inner: Option<E::Ciphertext> = None;
                    for &(i, q) in group {
                        let p = ev.encode_real_at(&self.mask(q, back), level)?;
                        let t = ev.mul_plain(baby(i), &p)?;
                        inner = Some(match inner {
                            None => t,
                            Some(a) => ev.add(&a, &t)?,
                        });
                    }
                    let Some(inner) = inner else { continue };
                    let r = if s == 0 {
                        inner
                    } else {
                        ev.rotate(&inner, RotStep(s))?
                    };
                    acc = Some(match acc {
                        None => r,
                        Some(a) => ev.add(&a, &r)?,
                    });
                }
                let acc = acc.ok_or_else(|| Error::shape("an empty expansion"))?;
                out.push(ev.rescale(&acc)?);
            }
        }
        Ok(out)
    }
}

fn min_level<C: Leveled>(cts: &[C]) -> Level {
    cts.iter().map(|c| c.level()).min().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_a_permutation_into_the_first_period() {
        for (s0, s1, c, k) in [
            (64, 512, 10, 1),
            (8, 64, 3, 5),
            (4, 64, 2, 3),
            (16, 16, 16, 2),
        ] {
            let cm = Compaction::new(UnitShape::new(s0, s1).unwrap(), c, k).unwrap();
            let cp = c.next_power_of_two();
            let mut seen = std::collections::HashSet::new();
            for b in 0..k {
                for r in 0..s0 {
                    let (o, s) = cm.position(b, r).unwrap();
                    assert!(o < cm.outputs());
                    assert_eq!(s % cp, 0);
                    assert!(s + cp <= cm.period(o), "{s} {}", cm.period(o));
                    assert!(seen.insert((o, s)), "({s0}, {s1}) {b} {r}");
                }
            }
        }
    }

    #[test]
    fn bad_shapes_are_errors() {
        let sh = UnitShape::new(8, 64).unwrap();
        assert!(matches!(
            Compaction::new(sh, 1, 1),
            Err(Error::Shape { .. })
        ));
        assert!(matches!(
            Compaction::new(sh, 3, 0),
            Err(Error::Shape { .. })
        ));
        assert!(matches!(
            Compaction::new(sh, 16, 1),
            Err(Error::Shape { .. })
        ));
    }
}

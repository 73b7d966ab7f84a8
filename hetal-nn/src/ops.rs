//! Stage helpers both the server and its model state use: refreshing packed matrices through
//! the [`Refresher`] with bootstrap counting, the one-rescale linear combination of the update,
//! block-wise subtraction, and the shape checks of encrypted inputs.

use crate::error::{Error, Result};
use crate::protocol::ServerStats;
use hetal_linalg::approx::Refresher;
use hetal_linalg::packed::{Layout, PackedMatrix, UnitShape};
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
    /// The run resumes from a checkpoint after `epochs_done` epochs.
    Resumed {
        /// Epochs the checkpoint had finished.
        epochs_done: usize,
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

/// [`ensure_probs`] for one ciphertext of activation outputs (e.g. a compacted one, refreshed
/// through a refresher with its period): refreshed centred as `P − 1/2` when it has fewer than
/// `need` levels above the floor of `bound`.
pub(crate) fn ensure_probs_ct<E: Evaluator>(
    rf: &Refresher,
    ev: &E,
    p: &Ct<E>,
    need: u32,
    output_bound: f64,
    bound: f64,
    stats: &mut ServerStats,
) -> Result<Ct<E>> {
    if p.level().0 >= need + rf.floor(bound) {
        return Ok(p.clone());
    }
    let t = Instant::now();
    let centred = ev.add_const(p, Complex64::new(-0.5, 0.0))?;
    let half = (output_bound - 0.5).max(0.5);
    let fresh = rf.ensure(ev, &centred, need, half, bound)?;
    if fresh.level() > centred.level() {
        stats.bootstraps += 1;
        stats.bootstrap_time += t.elapsed();
    }
    Ok(ev.add_const(&fresh, Complex64::new(0.5, 0.0))?)
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

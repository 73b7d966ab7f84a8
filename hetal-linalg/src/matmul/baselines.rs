//! The baselines of HETAL's comparison (docs/papers.md, section 2, docs/diag-algorithms.md, section 3) and Chiang's
//! Volley Revolver (docs/papers.md, section 3.1), over any evaluator.

use super::primitives::{accumulate, fold, mask_fn, rot_left, sum_cols_fill, sum_rows};
use super::{
    LocalOperands, RowBlockSum, SharedAtb, check_shared_operands, check_small_class_count, dot,
    same_shape, sum_rescale,
};
use crate::error::{Error, Result};
use crate::packed::{Layout, PackedMatrix, rot};
use hetal_traits::{Evaluator, EvaluatorExt};
use rayon::prelude::*;

type Ct<E> = <E as Evaluator>::Ciphertext;

/// Crockett's ColMajor `A B^T`: `A` Plain (`a × b`), `B` Plain (`c × b`, one block row).
pub(crate) fn col_major<E: Evaluator>(
    ev: &E,
    a: &PackedMatrix<Ct<E>>,
    b: &PackedMatrix<Ct<E>>,
) -> Result<PackedMatrix<Ct<E>>> {
    same_shape(ev, a, Layout::Plain, b, Layout::Plain)?;
    if a.cols() != b.cols() {
        return Err(Error::shape(format!(
            "A B^T: A has {} columns, B has {}",
            a.cols(),
            b.cols()
        )));
    }
    let shape = a.shape();
    let c = b.rows();
    check_small_class_count(c, shape)?;
    let (na, nb) = (a.block_rows(), a.block_cols());
    let mut acc: Vec<Option<Ct<E>>> = vec![None; na];
    for k in 0..c {
        let row_k = mask_fn(shape, |i, _| i == k);
        let bk = b
            .blocks()
            .iter()
            .map(|x| sum_rows(ev, &ev.mask(x, &row_k)?, shape))
            .collect::<Result<Vec<_>>>()?;
        for (p, slot) in acc.iter_mut().enumerate() {
            let prod = dot(ev, (0..nb).map(|q| (a.block(p, q), &bk[q])))?;
            let summed = fold(ev, &prod, 1, shape.log_s1())?;
            let col0 = ev.mask(&summed, &mask_fn(shape, |_, l| l == 0))?;
            let t = rot(ev, &col0, -(k as i64))?;
            *slot = Some(accumulate(ev, slot.take(), t)?);
        }
    }
    let out = acc
        .into_iter()
        .map(|x| x.ok_or_else(|| Error::shape("no classes")))
        .collect::<Result<Vec<_>>>()?;
    PackedMatrix::from_blocks(a.rows(), c, shape, Layout::Plain, out)
}

/// Crockett's RowMajor `A^T B`: `A` Plain (`a × c`, one block column), `B` Plain (`a × b`).
pub(crate) fn row_major<E: Evaluator>(
    ev: &E,
    a: &PackedMatrix<Ct<E>>,
    b: &PackedMatrix<Ct<E>>,
) -> Result<PackedMatrix<Ct<E>>> {
    same_shape(ev, a, Layout::Plain, b, Layout::Plain)?;
    if a.rows() != b.rows() {
        return Err(Error::shape(format!(
            "A^T B: A has {} rows, B has {}",
            a.rows(),
            b.rows()
        )));
    }
    let shape = a.shape();
    let c = a.cols();
    check_small_class_count(c, shape)?;
    let (na, nb) = (b.block_rows(), b.block_cols());
    let mut acc: Vec<Option<Ct<E>>> = vec![None; nb];
    for k in 0..c {
        let col_k = mask_fn(shape, |_, l| l == k);
        let ak = a
            .blocks()
            .iter()
            .map(|x| {
                let moved = rot(ev, &ev.mask(x, &col_k)?, k as i64)?;
                fold(ev, &moved, -1, shape.log_s1())
            })
            .collect::<Result<Vec<_>>>()?;
        let row_k = mask_fn(shape, |i, _| i == k);
        for (q, slot) in acc.iter_mut().enumerate() {
            let prod = dot(ev, (0..na).map(|p| (&ak[p], b.block(p, q))))?;
            let t = ev.mask(&sum_rows(ev, &prod, shape)?, &row_k)?;
            *slot = Some(accumulate(ev, slot.take(), t)?);
        }
    }
    let out = acc
        .into_iter()
        .map(|x| x.ok_or_else(|| Error::shape("no classes")))
        .collect::<Result<Vec<_>>>()?;
    PackedMatrix::from_blocks(c, b.cols(), shape, Layout::Plain, out)
}

/// Jin et al. `A B^T` with the replicate-packed `B` supplied on demand: `replica(r, j)` returns
/// the ciphertext holding `B[r, j]` in every slot. `A` is column-packed (`a × b`). Output:
/// column-packed `a × c`. Parallel over the `c` output columns.
pub(crate) fn jin_abt_with<E, F>(
    ev: &E,
    a: &PackedMatrix<Ct<E>>,
    c: usize,
    replica: F,
) -> Result<PackedMatrix<Ct<E>>>
where
    E: Evaluator,
    F: Fn(usize, usize) -> Result<Ct<E>> + Sync,
{
    if a.layout() != Layout::Columns {
        return Err(Error::shape("Jin A B^T needs a column-packed A"));
    }
    if ev.slots() != a.shape().slots() {
        return Err(Error::shape("slot count of A differs from the evaluator's"));
    }
    let chunks = a.block_rows();
    let b = a.cols();
    let cols: Vec<Vec<Ct<E>>> = (0..c)
        .into_par_iter()
        .map(|r| {
            let mut acc: Vec<Option<Ct<E>>> = vec![None; chunks];
            for j in 0..b {
                let rep = replica(r, j)?;
                for (t, slot) in acc.iter_mut().enumerate() {
                    let m = ev.mul(a.block(t, j), &rep)?;
                    *slot = Some(accumulate(ev, slot.take(), m)?);
                }
            }
            acc.into_iter()
                .map(|x| Ok(ev.rescale(&x.ok_or_else(|| Error::shape("no columns"))?)?))
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<_>>()?;
    PackedMatrix::from_blocks(
        a.rows(),
        c,
        a.shape(),
        Layout::Columns,
        cols.into_iter().flatten().collect(),
    )
}

/// Jin et al. `A^T B`: `A` (`a × c`) and `B` (`a × b`) column-packed. Each output entry
/// `C[r, j]`, replicated in every slot, is handed to `sink(r, j, ct)` as soon as it is computed
/// (so that the `c·b` output ciphertexts need not be held at once). Parallel over the entries.
pub(crate) fn jin_atb_with<E, F>(
    ev: &E,
    a: &PackedMatrix<Ct<E>>,
    b: &PackedMatrix<Ct<E>>,
    sink: F,
) -> Result<()>
where
    E: Evaluator,
    F: Fn(usize, usize, Ct<E>) -> Result<()> + Sync,
{
    same_shape(ev, a, Layout::Columns, b, Layout::Columns)?;
    if a.rows() != b.rows() {
        return Err(Error::shape(format!(
            "A^T B: A has {} rows, B has {}",
            a.rows(),
            b.rows()
        )));
    }
    let chunks = a.block_rows();
    let (c, nb) = (a.cols(), b.cols());
    let log_slots = ev.slots().trailing_zeros();
    (0..c * nb).into_par_iter().try_for_each(|idx| {
        let (r, j) = (idx / nb, idx % nb);
        let prod = dot(ev, (0..chunks).map(|t| (a.block(t, r), b.block(t, j))))?;
        sink(r, j, fold(ev, &prod, 1, log_slots)?)
    })
}

/// Chiang's Volley Revolver `Z = X V^T`: `A` Plain (`a × b`), `B` Plain (`c × b`, one block
/// row). For `r = 0 … s0−1`: `V_r = rot(V_{r−1}, s1)` (row `i` holds `V[(i+r) mod s0]`), Mult,
/// SumCols with fill, keep slot `(i, (i+r) mod s0)` when that column is `< c`, accumulate.
pub(crate) fn volley_abt<E: Evaluator>(
    ev: &E,
    a: &PackedMatrix<Ct<E>>,
    b: &PackedMatrix<Ct<E>>,
) -> Result<PackedMatrix<Ct<E>>> {
    same_shape(ev, a, Layout::Plain, b, Layout::Plain)?;
    if a.cols() != b.cols() {
        return Err(Error::shape(format!(
            "A B^T: A has {} columns, B has {}",
            a.cols(),
            b.cols()
        )));
    }
    let shape = a.shape();
    let c = b.rows();
    check_small_class_count(c, shape)?;
    let (na, nb) = (a.block_rows(), a.block_cols());
    let s0 = shape.s0;
    let mut acc: Vec<Option<Ct<E>>> = vec![None; na];
    let mut v: Vec<Ct<E>> = b.blocks().to_vec();
    for r in 0..s0 {
        if r > 0 {
            v = v
                .iter()
                .map(|x| rot(ev, x, shape.s1 as i64))
                .collect::<Result<_>>()?;
        }
        let diag = mask_fn(shape, |i, l| l < c && l == (i + r) % s0);
        for (p, slot) in acc.iter_mut().enumerate() {
            let prod = dot(ev, (0..nb).map(|q| (a.block(p, q), &v[q])))?;
            let t = ev.mask(&sum_cols_fill(ev, &prod, shape)?, &diag)?;
            *slot = Some(accumulate(ev, slot.take(), t)?);
        }
    }
    let out = acc
        .into_iter()
        .map(|x| x.ok_or_else(|| Error::shape("no rows")))
        .collect::<Result<Vec<_>>>()?;
    PackedMatrix::from_blocks(a.rows(), c, shape, Layout::Plain, out)
}

/// Chiang's Volley Revolver `G = A^T B`: `Ã` ColTiled (`a × c`), `B` Plain (`a × b`). For
/// `k = 0 … c−1`: `E = RotLeft(Ã, k)`, Mult, sum down the rows by `s0 − 1` successive rotations
/// by `s1` (linear, as in Chiang's code), keep rows `r < c` with `r ≡ l + k (mod c)`,
/// accumulate.
pub(crate) fn volley_atb<E: Evaluator>(
    ev: &E,
    at: &PackedMatrix<Ct<E>>,
    b: &PackedMatrix<Ct<E>>,
) -> Result<PackedMatrix<Ct<E>>> {
    same_shape(ev, at, Layout::ColTiled, b, Layout::Plain)?;
    let out = SharedAtb {
        classes: at.cols(),
        cols: b.cols(),
        shape: at.shape(),
    };
    volley_atb_shared(ev, Some((at, b)), out, None)
}

/// [`volley_atb`] with its rows shared between processes, as
/// [`super::diag::diag_atb_shared`]: `local` is this process's row blocks (`None`: none), each
/// sum over row blocks is formed by `sum` in block order (`None`: locally).
pub(crate) fn volley_atb_shared<E: Evaluator>(
    ev: &E,
    local: Option<LocalOperands<'_, Ct<E>>>,
    out: SharedAtb,
    mut sum: Option<&mut dyn RowBlockSum<Ct<E>>>,
) -> Result<PackedMatrix<Ct<E>>> {
    let SharedAtb {
        classes: c,
        cols,
        shape,
    } = out;
    let (na, nb) = check_shared_operands(ev, local, out, sum.is_some())?;
    check_small_class_count(c, shape)?;
    let mut acc: Vec<Option<Ct<E>>> = vec![None; nb];
    for k in 0..c {
        let e: Vec<Ct<E>> = match local {
            None => Vec::new(),
            Some((at, _)) if k == 0 => at.blocks().to_vec(),
            Some((at, _)) => at
                .blocks()
                .iter()
                .map(|x| rot_left(ev, x, k, shape))
                .collect::<Result<_>>()?,
        };
        let diag = mask_fn(shape, |i, l| i < c && i == (l + k) % c);
        for (q, slot) in acc.iter_mut().enumerate() {
            let prod = match (sum.as_deref_mut(), local) {
                (None, Some((_, b))) => dot(ev, (0..na).map(|p| (&e[p], b.block(p, q))))?,
                (Some(s), Some((_, b))) => {
                    let terms = (0..na)
                        .map(|p| Ok(ev.mul(&e[p], b.block(p, q))?))
                        .collect::<Result<Vec<_>>>()?;
                    sum_rescale(ev, s.gather(terms)?)?
                }
                (Some(s), None) => sum_rescale(ev, s.gather(Vec::new())?)?,
                (None, None) => return Err(Error::shape("A^T B: no local operands")),
            };
            let mut cur = prod.clone();
            let mut total = prod;
            for _ in 1..shape.s0 {
                cur = rot(ev, &cur, shape.s1 as i64)?;
                total = ev.add(&total, &cur)?;
            }
            let t = ev.mask(&total, &diag)?;
            *slot = Some(accumulate(ev, slot.take(), t)?);
        }
    }
    let out = acc
        .into_iter()
        .map(|x| x.ok_or_else(|| Error::shape("no classes")))
        .collect::<Result<Vec<_>>>()?;
    PackedMatrix::from_blocks(c, cols, shape, Layout::Plain, out)
}

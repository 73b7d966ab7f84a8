//! HETAL's DiagABT and DiagATB (`docs/diag-algorithms.md`, section 3), over any evaluator.

use super::primitives::{
    accumulate, mask_fn, pair_mask, prot_up, rot_left, sum_cols_fill, sum_rows, twice_real,
};
use super::{
    AtbVariant, LocalOperands, RowBlockSum, SharedAtb, check_class_count, check_shared_operands,
    dot, same_shape, sum_rescale,
};
use crate::error::{Error, Result};
use crate::packed::{Layout, PackedMatrix, rot};
use hetal_traits::{Evaluator, EvaluatorExt, RotStep};

type Ct<E> = <E as Evaluator>::Ciphertext;

/// DiagABT: `C = A B^T`, `A` Plain (`a × b`), `B̃` RowTiled (`c × b`). Output Plain `a × c`
/// (first `c` columns of each block row, zeros elsewhere).
pub(crate) fn diag_abt<E: Evaluator>(
    ev: &E,
    a: &PackedMatrix<Ct<E>>,
    bt: &PackedMatrix<Ct<E>>,
) -> Result<PackedMatrix<Ct<E>>> {
    same_shape(ev, a, Layout::Plain, bt, Layout::RowTiled)?;
    if a.cols() != bt.cols() {
        return Err(Error::shape(format!(
            "A B^T: A has {} columns, B has {}",
            a.cols(),
            bt.cols()
        )));
    }
    let shape = a.shape();
    let c = bt.rows();
    check_class_count(c, shape)?;
    let h = c / 2;
    let (na, nb) = (a.block_rows(), a.block_cols());
    let s1 = shape.s1 as i64;
    // Step 1: B'_q = B̃_q + i·rot(B̃_q, s1); R_{m,q} = rot(R_{m-1,q}, 2·s1).
    let mut r: Vec<Vec<Ct<E>>> = Vec::with_capacity(h);
    r.push(
        bt.blocks()
            .iter()
            .map(|b| Ok(ev.add(b, &ev.mul_i(&rot(ev, b, s1)?)?)?))
            .collect::<Result<Vec<_>>>()?,
    );
    for m in 1..h {
        let next = r[m - 1]
            .iter()
            .map(|x| rot(ev, x, 2 * s1))
            .collect::<Result<Vec<_>>>()?;
        r.push(next);
    }
    // Step 2-3 per block row.
    let mut out = Vec::with_capacity(na);
    for p in 0..na {
        let mut acc = None;
        for (m, rm) in r.iter().enumerate() {
            let prod = dot(ev, (0..nb).map(|q| (a.block(p, q), &rm[q])))?;
            let filled = sum_cols_fill(ev, &prod, shape)?;
            let d0 = mask_fn(shape, |i, l| l == (i + 2 * m) % c);
            let d1 = mask_fn(shape, |i, l| l == (i + 2 * m + 1) % c);
            let t = ev.mul_values(&filled, &pair_mask(&d0, &d1))?;
            acc = Some(accumulate(ev, acc, t)?);
        }
        let acc = acc.ok_or_else(|| Error::shape("no class pairs"))?;
        out.push(twice_real(ev, &acc)?);
    }
    PackedMatrix::from_blocks(a.rows(), c, shape, Layout::Plain, out)
}

/// DiagATB: `C = A^T B`, `Ã` ColTiled (`a × c`), `B` Plain (`a × b`). Output Plain `c × b`
/// (first `c` rows of each block column, zeros elsewhere).
pub(crate) fn diag_atb<E: Evaluator>(
    ev: &E,
    at: &PackedMatrix<Ct<E>>,
    b: &PackedMatrix<Ct<E>>,
    variant: AtbVariant,
) -> Result<PackedMatrix<Ct<E>>> {
    same_shape(ev, at, Layout::ColTiled, b, Layout::Plain)?;
    let out = SharedAtb {
        classes: at.cols(),
        cols: b.cols(),
        shape: at.shape(),
    };
    diag_atb_shared(ev, Some((at, b)), out, variant, None)
}

/// DiagATB with its rows shared between processes ([`SharedAtb`]): `local` is this process's
/// row blocks of `(Ã, B)` (`None`: none), and each sum over row blocks is formed from every
/// process's products by `sum` in block order; with `sum = None` the sums are local (plain
/// DiagATB). The operations on a product after its sum are the same on every process.
pub(crate) fn diag_atb_shared<E: Evaluator>(
    ev: &E,
    local: Option<LocalOperands<'_, Ct<E>>>,
    out: SharedAtb,
    variant: AtbVariant,
    mut sum: Option<&mut dyn RowBlockSum<Ct<E>>>,
) -> Result<PackedMatrix<Ct<E>>> {
    let SharedAtb {
        classes: c,
        cols,
        shape,
    } = out;
    let (na, nb) = check_shared_operands(ev, local, out, sum.is_some())?;
    check_class_count(c, shape)?;
    let h = c / 2;
    // Step 1: A'_p = Ã_p + i·RotLeft(Ã_p, 1).
    let ap = match local {
        Some((at, _)) => at
            .blocks()
            .iter()
            .map(|x| Ok(ev.add(x, &ev.mul_i(&rot_left(ev, x, 1, shape)?)?)?))
            .collect::<Result<Vec<_>>>()?,
        None => Vec::new(),
    };
    // PRotUp variant: the plain rotations rot(A'_p, k), k = 2, 4, …, c−2, hoisted per A'_p.
    let hoisted: Vec<Vec<Ct<E>>> = match variant {
        AtbVariant::PRotUp if h > 1 => {
            let steps: Vec<RotStep> = (1..h).map(|m| RotStep(2 * m as i64)).collect();
            ap.iter()
                .map(|x| ev.rotate_hoisted(x, &steps).map_err(Error::from))
                .collect::<Result<_>>()?
        }
        AtbVariant::PRotUp | AtbVariant::RotLeft => Vec::new(),
    };
    let mut acc: Vec<Option<Ct<E>>> = vec![None; nb];
    for m in 0..h {
        let k = 2 * m;
        let e: Vec<Ct<E>> = if k == 0 {
            ap.clone()
        } else {
            match variant {
                AtbVariant::RotLeft => ap
                    .iter()
                    .map(|x| rot_left(ev, x, k, shape))
                    .collect::<Result<_>>()?,
                AtbVariant::PRotUp => hoisted.iter().map(|v| v[m - 1].clone()).collect(),
            }
        };
        let bk: Option<Vec<Ct<E>>> = match (variant, local) {
            (AtbVariant::PRotUp, Some((_, b))) if k > 0 => Some(
                b.blocks()
                    .iter()
                    .map(|x| prot_up(ev, x, k, shape))
                    .collect::<Result<_>>()?,
            ),
            (AtbVariant::PRotUp | AtbVariant::RotLeft, _) => None,
        };
        let bblock = |p: usize, q: usize| -> Result<&Ct<E>> {
            match (&bk, local) {
                (Some(v), _) => Ok(&v[p * nb + q]),
                (None, Some((_, b))) => Ok(b.block(p, q)),
                (None, None) => Err(Error::shape("A^T B: no local operands")),
            }
        };
        let d0 = mask_fn(shape, |i, l| i < c && i == (l + k) % c);
        let d1 = mask_fn(shape, |i, l| i < c && i == (l + k + 1) % c);
        let mask = pair_mask(&d0, &d1);
        for (q, slot) in acc.iter_mut().enumerate() {
            let prod = match sum.as_deref_mut() {
                None => {
                    let pairs = (0..na)
                        .map(|p| Ok((&e[p], bblock(p, q)?)))
                        .collect::<Result<Vec<_>>>()?;
                    dot(ev, pairs.into_iter())?
                }
                Some(s) => {
                    let terms = (0..na)
                        .map(|p| Ok(ev.mul(&e[p], bblock(p, q)?)?))
                        .collect::<Result<Vec<_>>>()?;
                    sum_rescale(ev, s.gather(terms)?)?
                }
            };
            let summed = sum_rows(ev, &prod, shape)?;
            let t = ev.mul_values(&summed, &mask)?;
            *slot = Some(accumulate(ev, slot.take(), t)?);
        }
    }
    let out = acc
        .into_iter()
        .map(|x| twice_real(ev, &x.ok_or_else(|| Error::shape("no class pairs"))?))
        .collect::<Result<Vec<_>>>()?;
    PackedMatrix::from_blocks(c, cols, shape, Layout::Plain, out)
}

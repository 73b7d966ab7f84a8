//! The block primitives of HETAL's algorithms (RotLeft, PRotUp, SumCols with fill, SumRows) and the masks,
//! as in `docs/diag-algorithms.md`, section 3. Slot `(i, l)` of a block is slot `i·s1 + l`.

use crate::error::Result;
use crate::packed::{UnitShape, rot};
use hetal_traits::{Complex64, Evaluator, EvaluatorExt};

/// A real mask over the block: `f(i, l)` at slot `(i, l)`.
pub(crate) fn mask_fn(shape: UnitShape, f: impl Fn(usize, usize) -> bool) -> Vec<f64> {
    let mut v = vec![0.0; shape.slots()];
    for i in 0..shape.s0 {
        for l in 0..shape.s1 {
            if f(i, l) {
                v[i * shape.s1 + l] = 1.0;
            }
        }
    }
    v
}

/// The complex pair mask `½(M_k − i·M_{k+1})` for two 0/1 masks.
pub(crate) fn pair_mask(m0: &[f64], m1: &[f64]) -> Vec<Complex64> {
    m0.iter()
        .zip(m1)
        .map(|(&x, &y)| Complex64::new(0.5 * x, -0.5 * y))
        .collect()
}

/// `Mlt_k`: 1 on columns `l < s1 − k`.
pub(crate) fn mask_cols_lt(shape: UnitShape, k: usize) -> Vec<f64> {
    mask_fn(shape, |_, l| l + k < shape.s1)
}

/// `y ← y + rot(y, step)` for `count` successive doubling steps `step·2^j`, `j < count`.
pub(crate) fn fold<E: Evaluator>(
    ev: &E,
    x: &E::Ciphertext,
    step: i64,
    count: u32,
) -> Result<E::Ciphertext> {
    let mut x = x.clone();
    for j in 0..count {
        let r = rot(ev, &x, step << j)?;
        x = ev.add(&x, &r)?;
    }
    Ok(x)
}

/// `RotLeft(x, k)`: per-row cyclic left shift by `k` inside the `s1`-wide rows.
/// `y = rot(x, k)`, `z = rot(y, −s1)`, result `z + Mlt_k ⊙ (y − z)`. 2 Rot (keys `k`, `−s1`),
/// 1 CMult, 1 level.
pub(crate) fn rot_left<E: Evaluator>(
    ev: &E,
    x: &E::Ciphertext,
    k: usize,
    shape: UnitShape,
) -> Result<E::Ciphertext> {
    let y = rot(ev, x, k as i64)?;
    let z = rot(ev, &y, -(shape.s1 as i64))?;
    let d = ev.mask(&ev.sub(&y, &z)?, &mask_cols_lt(shape, k))?;
    Ok(ev.add(&z, &d)?)
}

/// `PRotUp(x, k)`: moves the last `k` columns of every row up by one row (cyclic in the block).
/// `u = rot(x, s1)`, result `u + Mlt_k ⊙ (x − u)`. 1 Rot (key `s1`), 1 CMult, 1 level.
pub(crate) fn prot_up<E: Evaluator>(
    ev: &E,
    x: &E::Ciphertext,
    k: usize,
    shape: UnitShape,
) -> Result<E::Ciphertext> {
    let u = rot(ev, x, shape.s1 as i64)?;
    let d = ev.mask(&ev.sub(x, &u)?, &mask_cols_lt(shape, k))?;
    Ok(ev.add(&u, &d)?)
}

/// `SumColsFill(x)`: every column of row `i` receives `Σ_l x[i, l]`. Left rotations by
/// `1, 2, …, s1/2`, the column-0 mask, right rotations by `1, 2, …, s1/2`. 2·log s1 Rot, 1 CMult,
/// 1 level.
pub(crate) fn sum_cols_fill<E: Evaluator>(
    ev: &E,
    x: &E::Ciphertext,
    shape: UnitShape,
) -> Result<E::Ciphertext> {
    let x = fold(ev, x, 1, shape.log_s1())?;
    let x = ev.mask(&x, &mask_fn(shape, |_, l| l == 0))?;
    fold(ev, &x, -1, shape.log_s1())
}

/// `SumRows(x)`: every row of column `l` receives `Σ_i x[i, l]`. Rotations by `s1, 2·s1, …,
/// (s0/2)·s1`: log s0 Rot, no level.
pub(crate) fn sum_rows<E: Evaluator>(
    ev: &E,
    x: &E::Ciphertext,
    shape: UnitShape,
) -> Result<E::Ciphertext> {
    fold(ev, x, shape.s1 as i64, shape.log_s0())
}

/// `x + conj(x)` = 2·Re(x): 1 Conj, no level (the ½ is folded into the preceding mask).
pub(crate) fn twice_real<E: Evaluator>(ev: &E, x: &E::Ciphertext) -> Result<E::Ciphertext> {
    Ok(ev.real_part(x, false)?)
}

/// Adds `t` into an optional accumulator.
pub(crate) fn accumulate<E: Evaluator>(
    ev: &E,
    acc: Option<E::Ciphertext>,
    t: E::Ciphertext,
) -> Result<E::Ciphertext> {
    match acc {
        None => Ok(t),
        Some(a) => Ok(ev.add(&a, &t)?),
    }
}

/// Rotation steps `base·2^j` for `j < count`.
pub(crate) fn doubling(base: i64, count: u32) -> impl Iterator<Item = i64> {
    (0..count).map(move |j| base << j)
}

//! Block-packed matrices: the data layouts of HETAL's matrix multiplications and of the baselines.
//!
//! # Block layouts (HETAL's unit-shape layouts; docs/diag-algorithms.md, its notation and section 2)
//!
//! A matrix `M` (`rows × cols`) is cut into blocks of a [`UnitShape`] `(s0, s1)` with
//! `s0 · s1 = slots`. Block `(p, q)` holds `M[p·s0 + i, q·s1 + l]` at slot `i·s1 + l` (row-major
//! inside the block), zero padded; the block grid is stored row-major, one ciphertext (or
//! plaintext) per block. The [`Layout`] says how the entries are placed:
//!
//! * [`Layout::Plain`]: as above; `⌈rows/s0⌉ × ⌈cols/s1⌉` blocks.
//! * [`Layout::RowTiled`] (B̃ of `A B^T`): one block row; slot `(i, l)` of block `q` holds
//!   `M[i mod rows, q·s1 + l]`, i.e. the `rows` rows repeat with period `rows` over all `s0`
//!   rows. Needs `rows | s0`.
//! * [`Layout::ColTiled`] (Ã of `A^T B`): one block column; slot `(i, l)` of block `p` holds
//!   `M[p·s0 + i, l mod cols]`, i.e. the `cols` columns repeat with period `cols` over all `s1`
//!   columns. Needs `cols | s1`.
//!
//! # The layouts of Jin et al. (baselines only)
//!
//! * [`Layout::Columns`] (column packing): column `j` is stored in slots `0..rows` of its own
//!   ciphertexts (`⌈rows/slots⌉` of them: chunk `t` holds rows `t·slots ..`), column-major.
//! * [`Layout::Replicated`] (replicate packing): one ciphertext per entry `M[r, j]` (index
//!   `r·cols + j`), the value copied into every slot.
//!
//! # What the training code does with them
//!
//! For encrypted softmax regression (HETAL's training step; docs/training.md) with a batch `X` (`a × b`, Plain), weights `W`
//! (`c × b`, c the padded class count) and labels `Y` (`a × c`):
//!
//! 1. `Z = X W^T`: [`crate::matmul::AbtAlgorithm::DiagAbt`] on `X` (Plain) and `W̃`
//!    (RowTiled). The output is Plain, `a × c` in the **first `c` columns** of each block row,
//!    zeros elsewhere.
//! 2. `P = softmax(Z)` (must keep zeros outside the first `c` columns, e.g. by a final mask).
//! 3. `G = (P − Y)^T X`: [`tile_columns`] turns `P − Y` (Plain, first `c` columns, zeros
//!    elsewhere) into ColTiled, then [`crate::matmul::AtbAlgorithm::DiagAtbAuto`] with `X`
//!    (Plain). The output is Plain, `c × b` in the **first `c` rows** of each block column, zeros
//!    elsewhere.
//! 4. `W ← W − η G` on the Plain `c × b` weights, then [`tile_rows`] gives the RowTiled `W̃` of the
//!    next forward pass.

use crate::error::{Error, Result};
use hetal_traits::{
    Complex64, Decryptor, Encoder, Encryptor, Evaluator, EvaluatorExt, KeyRequest, Level, Leveled,
    RotStep,
};

/// The shape `(s0, s1)` of one block: `s0` rows of `s1` columns, `s0 · s1 = slots`, both powers
/// of two.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UnitShape {
    /// Rows per block.
    pub s0: usize,
    /// Columns per block.
    pub s1: usize,
}

impl UnitShape {
    /// A unit shape; both sides must be powers of two.
    pub fn new(s0: usize, s1: usize) -> Result<Self> {
        if !s0.is_power_of_two() || !s1.is_power_of_two() {
            return Err(Error::shape(format!(
                "unit shape ({s0}, {s1}): both sides must be powers of two"
            )));
        }
        Ok(UnitShape { s0, s1 })
    }

    /// The unit shape with `s0` rows for `slots` slots (`s1 = slots / s0`).
    pub fn with_rows(s0: usize, slots: usize) -> Result<Self> {
        if !slots.is_power_of_two() || s0 == 0 || s0 > slots {
            return Err(Error::shape(format!(
                "cannot make {s0}-row blocks of {slots} slots"
            )));
        }
        UnitShape::new(s0, slots / s0)
    }

    /// HETAL's benchmark choice (`matmul.py`): `s0 = rows` (rounded up to a power of two, at most
    /// `slots`), so the matrix has one block row.
    pub fn benchmark(rows: usize, slots: usize) -> Result<Self> {
        UnitShape::with_rows(rows.next_power_of_two().min(slots), slots)
    }

    /// HETAL's training choice (`run.py`): with `c` the padded class count,
    /// `s0 = min(max(batch, c), slots / c)` (rounded to a power of two), `s1 = slots / s0`.
    pub fn training(batch: usize, classes: usize, slots: usize) -> Result<Self> {
        let c = classes.max(1).next_power_of_two();
        if c > slots {
            return Err(Error::shape(format!(
                "{classes} classes do not fit in {slots} slots"
            )));
        }
        let s0 = batch.max(c).next_power_of_two().min(slots / c);
        UnitShape::with_rows(s0, slots)
    }

    /// `s0 · s1`.
    pub fn slots(&self) -> usize {
        self.s0 * self.s1
    }

    /// log2(s0).
    pub fn log_s0(&self) -> u32 {
        self.s0.trailing_zeros()
    }

    /// log2(s1).
    pub fn log_s1(&self) -> u32 {
        self.s1.trailing_zeros()
    }
}

/// How a matrix is placed into ciphertexts; see the [module docs](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layout {
    /// Row-major blocks, zero padded.
    Plain,
    /// One block row; the rows repeat with period `rows` over the `s0` rows of a block.
    RowTiled,
    /// One block column; the columns repeat with period `cols` over the `s1` columns of a block.
    ColTiled,
    /// Jin et al.'s column packing: one ciphertext (or `⌈rows/slots⌉`) per column.
    Columns,
    /// Jin et al.'s replicate packing: one ciphertext per entry, copied into every slot.
    Replicated,
}

impl Layout {
    /// `(block rows, block columns)` of a `rows × cols` matrix in this layout; for
    /// [`Layout::Columns`] `(chunks per column, cols)`, for [`Layout::Replicated`] `(rows, cols)`.
    pub fn grid(self, rows: usize, cols: usize, shape: UnitShape) -> (usize, usize) {
        match self {
            Layout::Plain => (rows.div_ceil(shape.s0), cols.div_ceil(shape.s1)),
            Layout::RowTiled => (1, cols.div_ceil(shape.s1)),
            Layout::ColTiled => (rows.div_ceil(shape.s0), 1),
            Layout::Columns => (rows.div_ceil(shape.slots()), cols),
            Layout::Replicated => (rows, cols),
        }
    }

    /// Checks that a `rows × cols` matrix can be stored in this layout.
    pub fn check(self, rows: usize, cols: usize, shape: UnitShape) -> Result<()> {
        if rows == 0 || cols == 0 {
            return Err(Error::shape(format!("empty matrix {rows} x {cols}")));
        }
        match self {
            Layout::RowTiled if !shape.s0.is_multiple_of(rows) => Err(Error::shape(format!(
                "row tiling needs rows ({rows}) to divide s0 ({})",
                shape.s0
            ))),
            Layout::ColTiled if !shape.s1.is_multiple_of(cols) => Err(Error::shape(format!(
                "column tiling needs cols ({cols}) to divide s1 ({})",
                shape.s1
            ))),
            Layout::Plain
            | Layout::RowTiled
            | Layout::ColTiled
            | Layout::Columns
            | Layout::Replicated => Ok(()),
        }
    }
}

/// A dense row-major `f64` matrix: the client's plaintext data and the reference products.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl Matrix {
    /// A matrix from row-major data (`rows · cols` entries).
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Result<Self> {
        if data.len() != rows * cols {
            return Err(Error::shape(format!(
                "{} values for a {rows} x {cols} matrix",
                data.len()
            )));
        }
        Ok(Matrix { rows, cols, data })
    }

    /// The zero matrix.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Matrix {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// `M[i, j] = f(i, j)`.
    pub fn from_fn(rows: usize, cols: usize, mut f: impl FnMut(usize, usize) -> f64) -> Self {
        let mut data = Vec::with_capacity(rows * cols);
        for i in 0..rows {
            for j in 0..cols {
                data.push(f(i, j));
            }
        }
        Matrix { rows, cols, data }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The row-major data.
    pub fn data(&self) -> &[f64] {
        &self.data
    }

    /// `M[i, j]`.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.cols + j]
    }

    /// The transpose.
    pub fn transpose(&self) -> Matrix {
        Matrix::from_fn(self.cols, self.rows, |i, j| self.get(j, i))
    }

    /// `self · other^T` (`self`: `a × b`, `other`: `c × b`).
    pub fn mul_abt(&self, other: &Matrix) -> Result<Matrix> {
        if self.cols != other.cols {
            return Err(Error::shape(format!(
                "A B^T of {}x{} and {}x{}",
                self.rows, self.cols, other.rows, other.cols
            )));
        }
        Ok(Matrix::from_fn(self.rows, other.rows, |i, j| {
            (0..self.cols)
                .map(|k| self.get(i, k) * other.get(j, k))
                .sum()
        }))
    }

    /// `self^T · other` (`self`: `a × c`, `other`: `a × b`).
    pub fn mul_atb(&self, other: &Matrix) -> Result<Matrix> {
        if self.rows != other.rows {
            return Err(Error::shape(format!(
                "A^T B of {}x{} and {}x{}",
                self.rows, self.cols, other.rows, other.cols
            )));
        }
        Ok(Matrix::from_fn(self.cols, other.cols, |i, j| {
            (0..self.rows)
                .map(|k| self.get(k, i) * other.get(k, j))
                .sum()
        }))
    }

    /// The largest `|self[i,j] − other[i,j]|` (infinite if the shapes differ).
    pub fn max_abs_diff(&self, other: &Matrix) -> f64 {
        if self.rows != other.rows || self.cols != other.cols {
            return f64::INFINITY;
        }
        self.data
            .iter()
            .zip(&other.data)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    }

    /// The largest `|M[i,j]|`.
    pub fn max_abs(&self) -> f64 {
        self.data.iter().fold(0.0, |m, x| m.max(x.abs()))
    }
}

/// The slot values of every ciphertext of `m` in `layout`, in storage order (see [`PackedMatrix`]).
pub fn pack_values(m: &Matrix, layout: Layout, shape: UnitShape) -> Result<Vec<Vec<f64>>> {
    layout.check(m.rows, m.cols, shape)?;
    let (gr, gc) = layout.grid(m.rows, m.cols, shape);
    let slots = shape.slots();
    let (s0, s1) = (shape.s0, shape.s1);
    let mut out = Vec::with_capacity(gr * gc);
    match layout {
        Layout::Plain | Layout::RowTiled | Layout::ColTiled => {
            for p in 0..gr {
                for q in 0..gc {
                    let mut v = vec![0.0; slots];
                    for i in 0..s0 {
                        for l in 0..s1 {
                            let (r, c) = match layout {
                                Layout::RowTiled => (i % m.rows, q * s1 + l),
                                Layout::ColTiled => (p * s0 + i, l % m.cols),
                                Layout::Plain | Layout::Columns | Layout::Replicated => {
                                    (p * s0 + i, q * s1 + l)
                                }
                            };
                            if r < m.rows && c < m.cols {
                                v[i * s1 + l] = m.get(r, c);
                            }
                        }
                    }
                    out.push(v);
                }
            }
        }
        Layout::Columns => {
            for j in 0..gc {
                for t in 0..gr {
                    let v: Vec<f64> = (0..slots)
                        .map(|i| {
                            if t * slots + i < m.rows {
                                m.get(t * slots + i, j)
                            } else {
                                0.0
                            }
                        })
                        .collect();
                    out.push(v);
                }
            }
        }
        Layout::Replicated => {
            for &x in &m.data {
                out.push(vec![x; slots]);
            }
        }
    }
    Ok(out)
}

/// The inverse of [`pack_values`]: reads a `rows × cols` matrix back from slot values (from the
/// canonical copy in tiled layouts: rows `0..rows` of RowTiled, columns `0..cols` of ColTiled;
/// slot 0 of a replicated ciphertext).
pub fn unpack_values(
    values: &[Vec<f64>],
    rows: usize,
    cols: usize,
    layout: Layout,
    shape: UnitShape,
) -> Result<Matrix> {
    layout.check(rows, cols, shape)?;
    let (gr, gc) = layout.grid(rows, cols, shape);
    if values.len() != gr * gc || values.iter().any(|v| v.len() < shape.slots()) {
        return Err(Error::shape(format!(
            "{} slot vectors for a {gr} x {gc} grid",
            values.len()
        )));
    }
    let (s0, s1, slots) = (shape.s0, shape.s1, shape.slots());
    Ok(Matrix::from_fn(rows, cols, |r, c| match layout {
        Layout::Plain => values[(r / s0) * gc + c / s1][(r % s0) * s1 + c % s1],
        Layout::RowTiled => values[c / s1][r * s1 + c % s1],
        Layout::ColTiled => values[r / s0][(r % s0) * s1 + c],
        Layout::Columns => values[c * gr + r / slots][r % slots],
        Layout::Replicated => values[r * cols + c][0],
    }))
}

/// A `rows × cols` matrix stored as one ciphertext (or plaintext) `C` per block, in a
/// [`Layout`] with a [`UnitShape`]. Storage order: the block grid row-major
/// (`blocks[p · block_cols + q]`); for [`Layout::Columns`], column-major (`blocks[j · chunks + t]`);
/// for [`Layout::Replicated`], entry `(r, j)` at `r · cols + j`.
#[derive(Clone, Debug, PartialEq)]
pub struct PackedMatrix<C> {
    rows: usize,
    cols: usize,
    shape: UnitShape,
    layout: Layout,
    blocks: Vec<C>,
}

impl<C> PackedMatrix<C> {
    /// Assembles a packed matrix from its ciphertexts in storage order.
    pub fn from_blocks(
        rows: usize,
        cols: usize,
        shape: UnitShape,
        layout: Layout,
        blocks: Vec<C>,
    ) -> Result<Self> {
        layout.check(rows, cols, shape)?;
        let (gr, gc) = layout.grid(rows, cols, shape);
        if blocks.len() != gr * gc {
            return Err(Error::shape(format!(
                "{} ciphertexts for a {rows} x {cols} {layout:?} matrix ({gr} x {gc} expected)",
                blocks.len()
            )));
        }
        Ok(PackedMatrix {
            rows,
            cols,
            shape,
            layout,
            blocks,
        })
    }

    /// Number of (logical) rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of (logical) columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The unit shape.
    pub fn shape(&self) -> UnitShape {
        self.shape
    }

    /// The layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// `(block rows, block columns)`; see [`Layout::grid`].
    pub fn grid(&self) -> (usize, usize) {
        self.layout.grid(self.rows, self.cols, self.shape)
    }

    /// Number of block rows (`⌈rows/s0⌉` for Plain and ColTiled, 1 for RowTiled).
    pub fn block_rows(&self) -> usize {
        self.grid().0
    }

    /// Number of block columns (`⌈cols/s1⌉` for Plain and RowTiled, 1 for ColTiled).
    pub fn block_cols(&self) -> usize {
        self.grid().1
    }

    /// Block `(p, q)` (for Columns: chunk `p` of column `q`; for Replicated: entry `(p, q)`).
    pub fn block(&self, p: usize, q: usize) -> &C {
        let (gr, gc) = self.grid();
        match self.layout {
            Layout::Columns => &self.blocks[q * gr + p],
            Layout::Plain | Layout::RowTiled | Layout::ColTiled | Layout::Replicated => {
                &self.blocks[p * gc + q]
            }
        }
    }

    /// All ciphertexts in storage order.
    pub fn blocks(&self) -> &[C] {
        &self.blocks
    }

    /// Consumes the matrix, returning its ciphertexts in storage order.
    pub fn into_blocks(self) -> Vec<C> {
        self.blocks
    }

    /// Applies `f` to every block, keeping shape and layout.
    pub fn try_map<D>(&self, f: impl FnMut(&C) -> Result<D>) -> Result<PackedMatrix<D>> {
        let blocks = self.blocks.iter().map(f).collect::<Result<Vec<D>>>()?;
        Ok(PackedMatrix {
            rows: self.rows,
            cols: self.cols,
            shape: self.shape,
            layout: self.layout,
            blocks,
        })
    }
}

impl<C: Leveled> PackedMatrix<C> {
    /// The lowest level of any block.
    pub fn level(&self) -> Level {
        self.blocks
            .iter()
            .map(|b| b.level())
            .min()
            .unwrap_or_default()
    }
}

impl<C: hetal_traits::Ciphertext> PackedMatrix<C> {
    /// Encodes and encrypts `m` in `layout` at `level` (canonical scale): the client side.
    pub fn encrypt<Enc: Encryptor<Ciphertext = C>>(
        enc: &mut Enc,
        m: &Matrix,
        shape: UnitShape,
        layout: Layout,
        level: Level,
    ) -> Result<Self> {
        check_slots(enc.slots(), shape)?;
        let blocks = pack_values(m, layout, shape)?
            .iter()
            .map(|v| enc.encrypt_real(v, level).map_err(Error::from))
            .collect::<Result<Vec<C>>>()?;
        PackedMatrix::from_blocks(m.rows, m.cols, shape, layout, blocks)
    }

    /// Decrypts and decodes back to a `rows × cols` matrix (real parts): the client side.
    pub fn decrypt<D: Decryptor<Ciphertext = C>>(&self, dec: &D) -> Result<Matrix> {
        let values = self
            .blocks
            .iter()
            .map(|b| dec.decrypt_real(b).map_err(Error::from))
            .collect::<Result<Vec<_>>>()?;
        unpack_values(&values, self.rows, self.cols, self.layout, self.shape)
    }

    /// Decrypts every ciphertext to its full complex slot vector (for checks of the zero padding).
    pub fn decrypt_slots<D: Decryptor<Ciphertext = C>>(
        &self,
        dec: &D,
    ) -> Result<Vec<Vec<Complex64>>> {
        self.blocks
            .iter()
            .map(|b| dec.decrypt_values(b).map_err(Error::from))
            .collect()
    }
}

impl<P: hetal_traits::Plaintext> PackedMatrix<P> {
    /// Encodes `m` in `layout` at `level` (canonical scale), without encrypting.
    pub fn encode<En: Encoder<Plaintext = P>>(
        en: &En,
        m: &Matrix,
        shape: UnitShape,
        layout: Layout,
        level: Level,
    ) -> Result<Self> {
        check_slots(en.slots(), shape)?;
        let blocks = pack_values(m, layout, shape)?
            .iter()
            .map(|v| en.encode_real_at(v, level).map_err(Error::from))
            .collect::<Result<Vec<P>>>()?;
        PackedMatrix::from_blocks(m.rows, m.cols, shape, layout, blocks)
    }

    /// Decodes back to a `rows × cols` matrix (real parts).
    pub fn decode<En: Encoder<Plaintext = P>>(&self, en: &En) -> Result<Matrix> {
        let values = self
            .blocks
            .iter()
            .map(|b| {
                en.decode(b)
                    .map(|v| v.into_iter().map(|z| z.re).collect())
                    .map_err(Error::from)
            })
            .collect::<Result<Vec<Vec<f64>>>>()?;
        unpack_values(&values, self.rows, self.cols, self.layout, self.shape)
    }
}

/// Checks that a unit shape fills exactly `slots` slots.
pub fn check_slots(slots: usize, shape: UnitShape) -> Result<()> {
    if shape.slots() != slots {
        return Err(Error::shape(format!(
            "unit shape ({}, {}) for {slots} slots",
            shape.s0, shape.s1
        )));
    }
    Ok(())
}

/// The rotation steps of [`tile_columns`] for `cols` columns: `−cols, −2·cols, …, −s1/2`.
pub fn tile_columns_keys(cols: usize, shape: UnitShape) -> KeyRequest {
    KeyRequest {
        rotations: hetal_traits::ext::inner_sum_rotations(-(cols as i64), shape.s1 / cols.max(1)),
        ..KeyRequest::default()
    }
}

/// The rotation steps of [`tile_rows`] for `rows` rows: `−rows·s1, −2·rows·s1, …, −(s0/2)·s1`.
pub fn tile_rows_keys(rows: usize, shape: UnitShape) -> KeyRequest {
    KeyRequest {
        rotations: hetal_traits::ext::inner_sum_rotations(
            -((rows * shape.s1) as i64),
            shape.s0 / rows.max(1),
        ),
        ..KeyRequest::default()
    }
}

/// Plain → ColTiled: an `a × c` matrix stored in the **first `c` columns** of each block (one block
/// column, **zeros in columns `c..s1`**, e.g. DiagABT's output or a masked softmax) becomes the
/// horizontally tiled Ã that DiagATB expects (column `l` holds column `l mod c`).
///
/// `c` must divide `s1`. Cost: `log2(s1/c)` Rot per block (right rotations by `c, 2c, …, s1/2`,
/// keys from [`tile_columns_keys`]), no level, no Mult. If the columns `c..s1` are not zero the
/// result is wrong (this cannot be checked homomorphically).
pub fn tile_columns<E: Evaluator>(
    ev: &E,
    m: &PackedMatrix<E::Ciphertext>,
) -> Result<PackedMatrix<E::Ciphertext>> {
    let shape = m.shape;
    check_slots(ev.slots(), shape)?;
    if m.layout != Layout::Plain || m.block_cols() != 1 {
        return Err(Error::shape(
            "tile_columns needs a Plain matrix with one block column",
        ));
    }
    Layout::ColTiled.check(m.rows, m.cols, shape)?;
    let count = shape.s1 / m.cols;
    let blocks = m
        .blocks
        .iter()
        .map(|b| ev.replicate(b, m.cols, count).map_err(Error::from))
        .collect::<Result<_>>()?;
    PackedMatrix::from_blocks(m.rows, m.cols, shape, Layout::ColTiled, blocks)
}

/// Plain → RowTiled: a `c × b` matrix stored in the **first `c` rows** of one block row (**zeros in
/// rows `c..s0`**, e.g. DiagATB's output or updated weights) becomes the vertically tiled B̃ that
/// DiagABT expects (row `i` holds row `i mod c`).
///
/// `c` must divide `s0`. Cost: `log2(s0/c)` Rot per block (right rotations by `c·s1, 2c·s1, …`,
/// keys from [`tile_rows_keys`]), no level, no Mult.
pub fn tile_rows<E: Evaluator>(
    ev: &E,
    m: &PackedMatrix<E::Ciphertext>,
) -> Result<PackedMatrix<E::Ciphertext>> {
    let shape = m.shape;
    check_slots(ev.slots(), shape)?;
    if m.layout != Layout::Plain || m.block_rows() != 1 {
        return Err(Error::shape(
            "tile_rows needs a Plain matrix with one block row",
        ));
    }
    Layout::RowTiled.check(m.rows, m.cols, shape)?;
    let count = shape.s0 / m.rows;
    let blocks = m
        .blocks
        .iter()
        .map(|b| {
            ev.replicate(b, m.rows * shape.s1, count)
                .map_err(Error::from)
        })
        .collect::<Result<_>>()?;
    PackedMatrix::from_blocks(m.rows, m.cols, shape, Layout::RowTiled, blocks)
}

/// A rotation that is free (and needs no key) when `step ≡ 0 mod slots`.
pub(crate) fn rot<E: Evaluator>(ev: &E, x: &E::Ciphertext, step: i64) -> Result<E::Ciphertext> {
    if RotStep(step).is_identity(ev.slots()) {
        Ok(x.clone())
    } else {
        Ok(ev.rotate(x, RotStep(step))?)
    }
}

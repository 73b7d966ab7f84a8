//! Encrypted matrix products `A B^T` and `A^T B`: HETAL's DiagABT and DiagATB and the baselines
//! they are compared with, behind one interface with algorithms selectable by name.
//!
//! The algorithms follow `docs/diag-algorithms.md` (the reconstruction checked against HETAL's
//! corrected Table 7) step by step. Notation: `A = ⌈a/s0⌉` and `B = ⌈b/s1⌉` are block counts
//! (written `nA`, `nB` below), `c` the class count, `h = c/2`, `S = s0·s1` the slot count;
//! CMult = ciphertext × plaintext, Mult = ciphertext × ciphertext with relinearisation,
//! Rot = rotation (single or hoisted), Conj = conjugation. Additions, `·i` and level drops are free.
//!
//! * [`AbtAlgorithm`]: `C = A B^T` with `A` an `a × b` matrix and `B` a `c × b` matrix
//!   (the forward pass `Z = X W^T`).
//! * [`AtbAlgorithm`]: `C = A^T B` with `A` an `a × c` matrix and `B` an `a × b` matrix
//!   (the gradient `G = (P − Y)^T X`).
//!
//! Every algorithm states the [`Layout`]s of its inputs and output
//! ([`AbtAlgorithm::input_layouts`]), the keys it needs ([`AbtAlgorithm::required_keys`]), its
//! exact op counts ([`AbtAlgorithm::expected_counts`]) and its depth
//! ([`AbtAlgorithm::output_level`]); `multiply` runs it on any [`Evaluator`].
//!
//! ```
//! use hetal_linalg::matmul::{AbtAlgorithm, MatmulDims};
//! use hetal_linalg::packed::{Matrix, UnitShape};
//! use hetal_traits::mock::{MockClient, MockEvaluator, MockParams};
//! use hetal_traits::{Encoder, KeyGenerator};
//!
//! let shape = UnitShape::new(8, 8)?;
//! let dims = MatmulDims::new(12, 10, 4, shape)?; // A: 12 x 10, B: 4 x 10
//! let mut client = MockClient::new(MockParams::ideal(64, 5, 40.0), 1);
//! let algo: AbtAlgorithm = "diag_abt".parse()?;
//! let keys = client.generate_evaluation_keys(&algo.required_keys(&dims)?)?;
//! let server = MockEvaluator::new(keys);
//! let a = Matrix::from_fn(12, 10, |i, j| (i as f64 - j as f64) / 16.0);
//! let b = Matrix::from_fn(4, 10, |i, j| ((i * j) % 5) as f64 / 8.0);
//! let (ca, cb) = algo.encrypt_inputs(&mut client, &a, &b, shape, server.max_level(), server.max_level())?;
//! let c = algo.multiply(&server, &ca, &cb)?;
//! assert_eq!(c.level().0, 5 - 3);
//! assert!(c.decrypt(&client)?.max_abs_diff(&a.mul_abt(&b)?) < 1e-9);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod baselines;
mod diag;
pub mod harness;
mod primitives;
pub mod sim;

use crate::error::{Error, Result};
use crate::packed::{Layout, Matrix, PackedMatrix, UnitShape, check_slots};
use hetal_traits::counting::{OpCounts, OpKind};
use hetal_traits::{Encryptor, Evaluator, KeyRequest, Level};
use primitives::doubling;
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

type Ct<E> = <E as Evaluator>::Ciphertext;

/// One process's operands `(A, B)` of a product shared by rows ([`AtbAlgorithm::multiply_shared`]).
pub type LocalOperands<'a, C> = (&'a PackedMatrix<C>, &'a PackedMatrix<C>);

/// The shape of a product: `a`, `b`, `c` as in HETAL's tables (`A B^T`: `a × b` times
/// `(c × b)^T`; `A^T B`: `(a × c)^T` times `a × b`) and the unit shape of the blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MatmulDims {
    /// Rows of the data matrix (the batch).
    pub a: usize,
    /// Columns of the data matrix (the features).
    pub b: usize,
    /// Rows of the small matrix (the classes).
    pub c: usize,
    /// The block shape.
    pub shape: UnitShape,
}

impl MatmulDims {
    /// Dimensions; all must be positive.
    pub fn new(a: usize, b: usize, c: usize, shape: UnitShape) -> Result<Self> {
        if a == 0 || b == 0 || c == 0 {
            return Err(Error::shape(format!("empty product ({a}, {b}, {c})")));
        }
        Ok(MatmulDims { a, b, c, shape })
    }

    /// HETAL's benchmark setting: `s0 = a` (one block row), `s1 = slots / a`.
    pub fn benchmark(a: usize, b: usize, c: usize, slots: usize) -> Result<Self> {
        MatmulDims::new(a, b, c, UnitShape::benchmark(a, slots)?)
    }

    /// Block rows of the data matrix: `⌈a/s0⌉`.
    pub fn blocks_a(&self) -> u64 {
        self.a.div_ceil(self.shape.s0) as u64
    }

    /// Block columns of the data matrix: `⌈b/s1⌉`.
    pub fn blocks_b(&self) -> u64 {
        self.b.div_ceil(self.shape.s1) as u64
    }

    /// Ciphertexts per column in Jin et al.'s column packing: `⌈a/S⌉`.
    pub fn column_chunks(&self) -> u64 {
        self.a.div_ceil(self.shape.slots()) as u64
    }
}

impl fmt::Display for MatmulDims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}x{}", self.a, self.b, self.c)
    }
}

/// The two packed operands of a product, in the order of the product (`A`, `B`).
pub type Operands<C> = (PackedMatrix<C>, PackedMatrix<C>);

/// The four op counts of HETAL's tables (plus conjugations, which the tables leave out).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct OpTally {
    /// Ciphertext × plaintext multiplications.
    pub cmult: u64,
    /// Ciphertext × ciphertext multiplications (with relinearisation).
    pub mult: u64,
    /// Rotations, single and hoisted.
    pub rot: u64,
    /// Conjugations.
    pub conj: u64,
}

impl OpTally {
    /// Reads the tally from a [`hetal_traits::counting::Counting`] snapshot.
    pub fn from_counts(c: &OpCounts) -> Self {
        OpTally {
            cmult: c.get(OpKind::CMult),
            mult: c.get(OpKind::Mult),
            rot: c.rotations(),
            conj: c.get(OpKind::Conj),
        }
    }
}

impl fmt::Display for OpTally {
    /// `CMult/Mult/Rot` as in HETAL's Table 7 (Conj left out).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.cmult, self.mult, self.rot)
    }
}

/// The two DiagATB variants (docs/diag-algorithms.md, section 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AtbVariant {
    /// `E = RotLeft(A', k)`, `B` untouched: 4 levels on `A`, 2 on `B` (for `c ≥ 4`).
    RotLeft,
    /// `E = rot(A', k)` (hoisted) and `PRotUp(B, k)`: 3 levels on each operand (for `c ≥ 4`).
    PRotUp,
}

/// The two bit-checks of the class count for the Diag algorithms: a power of two ≥ 2 dividing
/// `s0` and `s1`.
fn check_class_count(c: usize, shape: UnitShape) -> Result<()> {
    if !c.is_power_of_two() || c < 2 || !shape.s0.is_multiple_of(c) || !shape.s1.is_multiple_of(c) {
        return Err(Error::shape(format!(
            "the padded class count c = {c} must be a power of two >= 2 dividing s0 = {} and s1 = {}",
            shape.s0, shape.s1
        )));
    }
    Ok(())
}

/// The baselines only need `c ≤ s0` and `c ≤ s1`.
fn check_small_class_count(c: usize, shape: UnitShape) -> Result<()> {
    if c > shape.s0 || c > shape.s1 {
        return Err(Error::shape(format!(
            "c = {c} must be at most s0 = {} and s1 = {}",
            shape.s0, shape.s1
        )));
    }
    Ok(())
}

/// Checks layouts, the common unit shape and the evaluator's slot count.
/// Checks the operands of an `A^T B` product shared by rows ([`AtbAlgorithm::multiply_shared`])
/// against the whole product's shape `out` (`local`: `(Ã, B)` in column-tiled and plain
/// layouts with the same rows; `None` only with a shared sum, `has_sum`), and returns the
/// local row-block count and the output's block columns `(na, nb)`.
fn check_shared_operands<E: Evaluator>(
    ev: &E,
    local: Option<LocalOperands<'_, Ct<E>>>,
    out: SharedAtb,
    has_sum: bool,
) -> Result<(usize, usize)> {
    let SharedAtb {
        classes: c,
        cols,
        shape,
    } = out;
    let Some((at, b)) = local else {
        if !has_sum {
            return Err(Error::shape("A^T B without operands or a shared sum"));
        }
        return Ok((0, cols.div_ceil(shape.s1)));
    };
    same_shape(ev, at, Layout::ColTiled, b, Layout::Plain)?;
    if at.rows() != b.rows() {
        return Err(Error::shape(format!(
            "A^T B: A has {} rows, B has {}",
            at.rows(),
            b.rows()
        )));
    }
    if at.cols() != c || b.cols() != cols || at.shape() != shape {
        return Err(Error::shape(format!(
            "A^T B: a {}x{} product in ({}, {}) blocks, expected {c}x{cols} in ({}, {})",
            at.cols(),
            b.cols(),
            at.shape().s0,
            at.shape().s1,
            shape.s0,
            shape.s1
        )));
    }
    Ok((b.block_rows(), b.block_cols()))
}

fn same_shape<C>(
    ev: &impl Evaluator,
    a: &PackedMatrix<C>,
    la: Layout,
    b: &PackedMatrix<C>,
    lb: Layout,
) -> Result<()> {
    if a.layout() != la || b.layout() != lb {
        return Err(Error::shape(format!(
            "inputs in layouts {:?} and {:?}, expected {la:?} and {lb:?}",
            a.layout(),
            b.layout()
        )));
    }
    if a.shape() != b.shape() {
        return Err(Error::shape("the two inputs have different unit shapes"));
    }
    check_slots(ev.slots(), a.shape())
}

/// `rescale(Σ x ⊙ y)`: one Mult per pair, a single rescale.
fn dot<'a, E: Evaluator>(
    ev: &E,
    pairs: impl Iterator<Item = (&'a Ct<E>, &'a Ct<E>)>,
) -> Result<Ct<E>>
where
    Ct<E>: 'a,
{
    let mut acc: Option<Ct<E>> = None;
    for (x, y) in pairs {
        let m = ev.mul(x, y)?;
        acc = Some(match acc {
            None => m,
            Some(a) => ev.add(&a, &m)?,
        });
    }
    Ok(ev.rescale(&acc.ok_or_else(|| Error::shape("empty product"))?)?)
}

/// `Σ terms` in their order (left to right), rescaled: the second half of [`dot`] for products
/// formed elsewhere.
fn sum_rescale<E: Evaluator>(ev: &E, terms: Vec<Ct<E>>) -> Result<Ct<E>> {
    let mut acc: Option<Ct<E>> = None;
    for m in terms {
        acc = Some(match acc {
            None => m,
            Some(a) => ev.add(&a, &m)?,
        });
    }
    Ok(ev.rescale(&acc.ok_or_else(|| Error::shape("empty product"))?)?)
}

/// The sums over row blocks of an `A^T B` product whose rows are shared between processes
/// ([`AtbAlgorithm::multiply_shared`]): each process computes the products of its own row blocks,
/// and every sum is formed, on every process, from all processes' products in block order, so
/// that the result is the same on every process and equal, operation by operation, to the
/// product of one process holding all the rows.
pub trait RowBlockSum<C> {
    /// This process's products, one per local row block in block order (none for a process
    /// without rows); returns every process's products in global block order (the processes
    /// hold consecutive row blocks in the order of their ranks). Called the same number of
    /// times, in the same order, on every process.
    fn gather(&mut self, local: Vec<C>) -> Result<Vec<C>>;
}

/// The output of an `A^T B` product whose rows are shared between processes: `classes × cols`
/// (`c × b`) in `shape` blocks, known also to a process without rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharedAtb {
    /// Columns of `A` (`c`, the padded classes): rows of the output.
    pub classes: usize,
    /// Columns of `B` (`b`): columns of the output.
    pub cols: usize,
    /// The unit shape.
    pub shape: UnitShape,
}

fn keys<I: IntoIterator<Item = i64>>(steps: I, conjugation: bool) -> KeyRequest {
    let mut k = KeyRequest::default();
    k.add_rotations(steps);
    k.conjugation = conjugation;
    k
}

fn log2(x: usize) -> u64 {
    x.trailing_zeros() as u64
}

/// `min(la − da, lb − db)`, or `None` if a level would go below 0.
fn out_level(la: Level, lb: Level, da: u32, db: u32) -> Option<Level> {
    Some(la.checked_sub(da)?.min(lb.checked_sub(db)?))
}

fn check_depth(la: Level, lb: Level, da: u32, db: u32) -> Result<()> {
    if out_level(la, lb, da, db).is_none() {
        let (needed, available) = if la.0 < da { (da, la.0) } else { (db, lb.0) };
        return Err(Error::DepthExhausted { needed, available });
    }
    Ok(())
}

macro_rules! named_enum {
    ($t:ident, $what:literal, [$($v:ident => $name:literal),+ $(,)?]) => {
        impl $t {
            /// Every algorithm, in display order.
            pub const ALL: &'static [$t] = &[$($t::$v),+];

            /// The algorithm's name (what [`FromStr`] accepts).
            pub fn name(self) -> &'static str {
                match self { $($t::$v => $name),+ }
            }

            /// The accepted names, comma separated.
            pub fn names() -> String {
                Self::ALL.iter().map(|a| a.name()).collect::<Vec<_>>().join(", ")
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str($t::name(*self))
            }
        }

        impl FromStr for $t {
            type Err = Error;
            /// Parses a name (case-insensitive; `-` and `_` are interchangeable).
            fn from_str(s: &str) -> Result<Self> {
                let norm = s.trim().to_ascii_lowercase().replace('-', "_");
                Self::ALL
                    .iter()
                    .copied()
                    .find(|a| a.name() == norm)
                    .ok_or_else(|| Error::UnknownAlgorithm { name: format!("{} {s}", $what), known: Self::names() })
            }
        }
    };
}

/// Algorithms for `C = A B^T`, `A`: `a × b`, `B`: `c × b`, `C`: `a × c`.
///
/// | algorithm | inputs (A, B) | output | CMult | Mult | Rot | Conj | levels used (A, B) |
/// |---|---|---|---|---|---|---|---|
/// | `diag_abt` | Plain, RowTiled | Plain, first `c` columns | `c·nA` | `h·nA·nB` | `h(nB + 2 nA log s1)` | `nA` | 3, 3 |
/// | `col_major` | Plain, Plain | Plain, first `c` columns | `c(nA + nB)` | `c·nA·nB` | `c(nB log s0 + nA(log s1 + 1)) − nA` | 0 | 2, 3 |
/// | `jin` | Columns, Replicated | Columns | 0 | `b·c·⌈a/S⌉` | 0 | 0 | 1, 1 |
/// | `volley_revolver` | Plain, Plain | Plain, first `c` columns | `2 s0 nA` | `s0·nA·nB` | `(s0−1) nB + 2 s0 nA log s1` | 0 | 3, 3 |
///
/// Requirements: `diag_abt` needs `c` a power of two ≥ 2 dividing `s0` and `s1` (pad the classes
/// with zero rows); the others need `c ≤ min(s0, s1)`; `jin` needs nothing of the blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AbtAlgorithm {
    /// HETAL's DiagABT (docs/diag-algorithms.md, section 3): `B' = B̃ + i·rot(B̃, s1)` and its `h − 1`
    /// successive rotations by `2·s1`; per block row and class pair, `Σ_q A ⊙ R`, SumCols with
    /// fill, the complex diagonal mask `½(D_{2m} − i·D_{2m+1})`; finally `x + conj(x)`.
    /// Keys: `s1`, `2·s1`, `±1, ±2, …, ±s1/2`, conjugation.
    DiagAbt,
    /// Crockett's ColMajor: for each class `k`, row `k` of `B` masked and broadcast down
    /// (SumRows), multiplied with `A`, summed along the rows, column 0 masked and rotated right
    /// by `k`. Keys: `2^j·s1`, `2^j`, `−1 … −(c−1)`.
    ColMajor,
    /// Jin et al. (PrivGD): column `r` of `C` is `Σ_j col_j(A) ⊙ rep(B[r, j])`. No keys.
    Jin,
    /// Chiang's Volley Revolver: for `r < s0`, `rot(B, r·s1)` (successive rotations by `s1`),
    /// Mult, SumCols with fill, mask `(i, (i+r) mod s0)` where that column is `< c`.
    /// Keys: `s1`, `±2^j`.
    VolleyRevolver,
}

named_enum!(AbtAlgorithm, "A B^T algorithm", [
    DiagAbt => "diag_abt",
    ColMajor => "col_major",
    Jin => "jin",
    VolleyRevolver => "volley_revolver",
]);

impl AbtAlgorithm {
    /// The layouts of `(A, B)` that [`AbtAlgorithm::multiply`] expects.
    pub fn input_layouts(self) -> (Layout, Layout) {
        match self {
            AbtAlgorithm::DiagAbt => (Layout::Plain, Layout::RowTiled),
            AbtAlgorithm::ColMajor | AbtAlgorithm::VolleyRevolver => (Layout::Plain, Layout::Plain),
            AbtAlgorithm::Jin => (Layout::Columns, Layout::Replicated),
        }
    }

    /// The layout of the output (`a × c`).
    pub fn output_layout(self) -> Layout {
        match self {
            AbtAlgorithm::DiagAbt | AbtAlgorithm::ColMajor | AbtAlgorithm::VolleyRevolver => {
                Layout::Plain
            }
            AbtAlgorithm::Jin => Layout::Columns,
        }
    }

    /// Levels consumed on `(A, B)`.
    pub fn depths(self) -> (u32, u32) {
        match self {
            AbtAlgorithm::DiagAbt | AbtAlgorithm::VolleyRevolver => (3, 3),
            AbtAlgorithm::ColMajor => (2, 3),
            AbtAlgorithm::Jin => (1, 1),
        }
    }

    /// The output level for inputs at `la`, `lb`, or `None` if they are too low.
    pub fn output_level(self, la: Level, lb: Level) -> Option<Level> {
        let (da, db) = self.depths();
        out_level(la, lb, da, db)
    }

    /// The evaluation keys `multiply` needs for `dims`.
    pub fn required_keys(self, dims: &MatmulDims) -> Result<KeyRequest> {
        let s = dims.shape;
        let (s1, l0, l1) = (s.s1 as i64, s.log_s0(), s.log_s1());
        Ok(match self {
            AbtAlgorithm::DiagAbt => {
                check_class_count(dims.c, s)?;
                let mut steps = vec![s1];
                if dims.c > 2 {
                    steps.push(2 * s1);
                }
                keys(
                    steps
                        .into_iter()
                        .chain(doubling(1, l1))
                        .chain(doubling(-1, l1)),
                    true,
                )
            }
            AbtAlgorithm::ColMajor => {
                check_small_class_count(dims.c, s)?;
                keys(
                    doubling(s1, l0)
                        .chain(doubling(1, l1))
                        .chain((1..dims.c as i64).map(|k| -k)),
                    false,
                )
            }
            AbtAlgorithm::Jin => KeyRequest::default(),
            AbtAlgorithm::VolleyRevolver => {
                check_small_class_count(dims.c, s)?;
                keys(
                    std::iter::once(s1)
                        .chain(doubling(1, l1))
                        .chain(doubling(-1, l1)),
                    false,
                )
            }
        })
    }

    /// The exact op counts of `multiply` on `dims` (docs/diag-algorithms.md, section 4; Volley Revolver as
    /// implemented here).
    pub fn expected_counts(self, dims: &MatmulDims) -> OpTally {
        let (na, nb, c) = (dims.blocks_a(), dims.blocks_b(), dims.c as u64);
        let (s0, l0, l1) = (
            dims.shape.s0 as u64,
            log2(dims.shape.s0),
            log2(dims.shape.s1),
        );
        let h = c / 2;
        match self {
            AbtAlgorithm::DiagAbt => OpTally {
                cmult: c * na,
                mult: h * na * nb,
                rot: h * (nb + 2 * na * l1),
                conj: na,
            },
            AbtAlgorithm::ColMajor => OpTally {
                cmult: c * (na + nb),
                mult: c * na * nb,
                rot: c * (nb * l0 + na * (l1 + 1)) - na,
                conj: 0,
            },
            AbtAlgorithm::Jin => OpTally {
                cmult: 0,
                mult: dims.b as u64 * c * dims.column_chunks(),
                rot: 0,
                conj: 0,
            },
            AbtAlgorithm::VolleyRevolver => OpTally {
                cmult: 2 * s0 * na,
                mult: s0 * na * nb,
                rot: (s0 - 1) * nb + 2 * s0 * na * l1,
                conj: 0,
            },
        }
    }

    /// Packs and encrypts `A` (`a × b`) and `B` (`c × b`) in the layouts this algorithm expects
    /// (for Jin et al. the replicate packing takes `c·b` ciphertexts: see [`jin_abt_streaming`]
    /// for large shapes).
    pub fn encrypt_inputs<Enc>(
        self,
        enc: &mut Enc,
        a: &Matrix,
        b: &Matrix,
        shape: UnitShape,
        level_a: Level,
        level_b: Level,
    ) -> Result<Operands<Enc::Ciphertext>>
    where
        Enc: Encryptor,
    {
        let (la, lb) = self.input_layouts();
        Ok((
            PackedMatrix::encrypt(enc, a, shape, la, level_a)?,
            PackedMatrix::encrypt(enc, b, shape, lb, level_b)?,
        ))
    }

    /// Computes `A B^T` homomorphically. `a` (`a × b`) and `b` (`c × b`) must be in
    /// [`AbtAlgorithm::input_layouts`]; the output (`a × c`) is in
    /// [`AbtAlgorithm::output_layout`] at [`AbtAlgorithm::output_level`].
    pub fn multiply<E: Evaluator>(
        self,
        ev: &E,
        a: &PackedMatrix<Ct<E>>,
        b: &PackedMatrix<Ct<E>>,
    ) -> Result<PackedMatrix<Ct<E>>> {
        let (da, db) = self.depths();
        check_depth(a.level(), b.level(), da, db)?;
        match self {
            AbtAlgorithm::DiagAbt => diag::diag_abt(ev, a, b),
            AbtAlgorithm::ColMajor => baselines::col_major(ev, a, b),
            AbtAlgorithm::VolleyRevolver => baselines::volley_abt(ev, a, b),
            AbtAlgorithm::Jin => {
                if b.layout() != Layout::Replicated || b.cols() != a.cols() {
                    return Err(Error::shape(
                        "Jin A B^T needs a replicate-packed B with as many columns as A",
                    ));
                }
                baselines::jin_abt_with(ev, a, b.rows(), |r, j| Ok(b.block(r, j).clone()))
            }
        }
    }
}

/// Algorithms for `C = A^T B`, `A`: `a × c`, `B`: `a × b`, `C`: `c × b`.
///
/// | algorithm | inputs (A, B) | output | CMult | Mult | Rot | Conj | levels used (A, B) |
/// |---|---|---|---|---|---|---|---|
/// | `diag_atb_rotleft` | ColTiled, Plain | Plain, first `c` rows | `h(nA + nB)` | `h·nA·nB` | `h(2 nA + nB log s0)` | `nB` | 4, 2 |
/// | `diag_atb_protup` | ColTiled, Plain | Plain, first `c` rows | `nA + (h−1) nA nB + h nB` | `h·nA·nB` | `2 nA + (h−1)(nA + nA nB) + h nB log s0` | `nB` | 3, 3 |
/// | `diag_atb` (auto) | ColTiled, Plain | Plain, first `c` rows | as the variant chosen | | | | |
/// | `row_major` | Plain, Plain | Plain, first `c` rows | `c(nA + nB)` | `c·nA·nB` | `c(nB log s0 + nA(log s1 + 1)) − nA` | 0 | 3, 2 |
/// | `jin` | Columns, Columns | Replicated | 0 | `b·c·⌈a/S⌉` | `b·c·log S` | 0 | 1, 1 |
/// | `volley_revolver` | ColTiled, Plain | Plain, first `c` rows | `(c−1) nA + c nB` | `c·nA·nB` | `2(c−1) nA + c nB (s0−1)` | 0 | 3, 2 |
///
/// (For `c = 2` the DiagATB variants coincide and use 3 levels on `A`, 2 on `B`.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AtbAlgorithm {
    /// HETAL's DiagATB, RotLeft variant: `A' = Ã + i·RotLeft(Ã, 1)`; per class pair `k = 2m`,
    /// `E = RotLeft(A', k)`, `Σ_p E ⊙ B`, SumRows, complex mask `½(D_k − i·D_{k+1})`; finally
    /// `x + conj(x)`. Keys: `1 … c−2` (even, and 1), `−s1`, `2^j·s1`, conjugation.
    DiagAtbRotLeft,
    /// HETAL's DiagATB, PRotUp variant: `E = rot(A', k)` (hoisted) and `PRotUp(B, k)`.
    /// Keys: `1`, even `k < c`, `±s1`, `2^j·s1`, conjugation.
    DiagAtbPRotUp,
    /// DiagATB choosing the variant with the higher output level (RotLeft on a tie, as it needs
    /// fewer operations): RotLeft iff `min(lA−4, lB−2) ≥ min(lA−3, lB−3)` (docs/diag-algorithms.md, section 2
    /// item 5). Keys: both variants'.
    DiagAtbAuto,
    /// Crockett's RowMajor: for each class `k`, column `k` of `A` masked, rotated to column 0 and
    /// broadcast along the rows, multiplied with `B`, SumRows, row `k` masked.
    /// Keys: `1 … c−1`, `−2^j`, `2^j·s1`.
    RowMajor,
    /// Jin et al. (PrivGD): `C[r, j] = Σ_slots col_r(A) ⊙ col_j(B)` by a full rotate-and-sum.
    /// Keys: `2^t`, `t < log S`.
    Jin,
    /// Chiang's Volley Revolver: `RotLeft(Ã, k)` for `k < c` (Chiang's plain rotation is only
    /// right when the last `c` columns of each block are zero padding, so the exact per-row
    /// rotation is used), Mult, a linear sum down the rows (`s0 − 1` rotations by `s1`), mask.
    /// Keys: `1 … c−1`, `±s1`.
    VolleyRevolver,
}

named_enum!(AtbAlgorithm, "A^T B algorithm", [
    DiagAtbRotLeft => "diag_atb_rotleft",
    DiagAtbPRotUp => "diag_atb_protup",
    DiagAtbAuto => "diag_atb",
    RowMajor => "row_major",
    Jin => "jin",
    VolleyRevolver => "volley_revolver",
]);

impl AtbAlgorithm {
    /// The layouts of `(A, B)` that [`AtbAlgorithm::multiply`] expects.
    pub fn input_layouts(self) -> (Layout, Layout) {
        match self {
            AtbAlgorithm::DiagAtbRotLeft
            | AtbAlgorithm::DiagAtbPRotUp
            | AtbAlgorithm::DiagAtbAuto
            | AtbAlgorithm::VolleyRevolver => (Layout::ColTiled, Layout::Plain),
            AtbAlgorithm::RowMajor => (Layout::Plain, Layout::Plain),
            AtbAlgorithm::Jin => (Layout::Columns, Layout::Columns),
        }
    }

    /// The layout of the output (`c × b`).
    pub fn output_layout(self) -> Layout {
        match self {
            AtbAlgorithm::Jin => Layout::Replicated,
            AtbAlgorithm::DiagAtbRotLeft
            | AtbAlgorithm::DiagAtbPRotUp
            | AtbAlgorithm::DiagAtbAuto
            | AtbAlgorithm::RowMajor
            | AtbAlgorithm::VolleyRevolver => Layout::Plain,
        }
    }

    /// For [`AtbAlgorithm::DiagAtbAuto`], the variant it runs for inputs at `la`, `lb` with `c`
    /// classes; every other algorithm is returned unchanged.
    pub fn resolve(self, la: Level, lb: Level, c: usize) -> AtbAlgorithm {
        match self {
            AtbAlgorithm::DiagAtbAuto => {
                let (la, lb) = (la.0 as i64, lb.0 as i64);
                let (rl, pr) = if c > 2 {
                    ((la - 4).min(lb - 2), (la - 3).min(lb - 3))
                } else {
                    (0, 0)
                };
                if rl >= pr {
                    AtbAlgorithm::DiagAtbRotLeft
                } else {
                    AtbAlgorithm::DiagAtbPRotUp
                }
            }
            AtbAlgorithm::DiagAtbRotLeft
            | AtbAlgorithm::DiagAtbPRotUp
            | AtbAlgorithm::RowMajor
            | AtbAlgorithm::Jin
            | AtbAlgorithm::VolleyRevolver => self,
        }
    }

    /// Levels consumed on `(A, B)` with `c` classes (for Auto: of the variant chosen at `la`, `lb`).
    pub fn depths(self, la: Level, lb: Level, c: usize) -> (u32, u32) {
        match self.resolve(la, lb, c) {
            AtbAlgorithm::DiagAtbRotLeft if c > 2 => (4, 2),
            AtbAlgorithm::DiagAtbPRotUp if c > 2 => (3, 3),
            AtbAlgorithm::DiagAtbRotLeft
            | AtbAlgorithm::DiagAtbPRotUp
            | AtbAlgorithm::DiagAtbAuto => (3, 2),
            AtbAlgorithm::RowMajor => (3, 2),
            AtbAlgorithm::Jin => (1, 1),
            AtbAlgorithm::VolleyRevolver if c > 1 => (3, 2),
            AtbAlgorithm::VolleyRevolver => (2, 2),
        }
    }

    /// The output level for inputs at `la`, `lb` with `c` classes, or `None` if they are too low.
    /// DiagATB: RotLeft `min(lA − 2, lB) − 2`, PRotUp `min(lA − 1, lB − 1) − 2` (`c ≥ 4`).
    pub fn output_level(self, la: Level, lb: Level, c: usize) -> Option<Level> {
        let (da, db) = self.depths(la, lb, c);
        out_level(la, lb, da, db)
    }

    /// The evaluation keys `multiply` needs for `dims`.
    pub fn required_keys(self, dims: &MatmulDims) -> Result<KeyRequest> {
        let s = dims.shape;
        let (s1, l0, l1) = (s.s1 as i64, s.log_s0(), s.log_s1());
        let c = dims.c as i64;
        let even = move || (1..c / 2).map(|m| 2 * m);
        Ok(match self {
            AtbAlgorithm::DiagAtbRotLeft => {
                check_class_count(dims.c, s)?;
                keys(
                    [1, -s1].into_iter().chain(even()).chain(doubling(s1, l0)),
                    true,
                )
            }
            AtbAlgorithm::DiagAtbPRotUp => {
                check_class_count(dims.c, s)?;
                let mut steps = vec![1, -s1];
                if c > 2 {
                    steps.push(s1);
                }
                keys(
                    steps.into_iter().chain(even()).chain(doubling(s1, l0)),
                    true,
                )
            }
            AtbAlgorithm::DiagAtbAuto => {
                let mut k = AtbAlgorithm::DiagAtbRotLeft.required_keys(dims)?;
                k.merge(&AtbAlgorithm::DiagAtbPRotUp.required_keys(dims)?);
                k
            }
            AtbAlgorithm::RowMajor => {
                check_small_class_count(dims.c, s)?;
                keys(
                    (1..c).chain(doubling(-1, l1)).chain(doubling(s1, l0)),
                    false,
                )
            }
            AtbAlgorithm::Jin => keys(doubling(1, s.slots().trailing_zeros()), false),
            AtbAlgorithm::VolleyRevolver => {
                check_small_class_count(dims.c, s)?;
                let mut steps = vec![s1];
                if c > 1 {
                    steps.push(-s1);
                }
                keys(steps.into_iter().chain(1..c), false)
            }
        })
    }

    /// The exact op counts of `multiply` on `dims` with inputs at `la`, `lb` (the levels only
    /// matter for [`AtbAlgorithm::DiagAtbAuto`]).
    pub fn expected_counts(self, dims: &MatmulDims, la: Level, lb: Level) -> OpTally {
        let (na, nb, c) = (dims.blocks_a(), dims.blocks_b(), dims.c as u64);
        let (s0, l0, l1) = (
            dims.shape.s0 as u64,
            log2(dims.shape.s0),
            log2(dims.shape.s1),
        );
        let h = c / 2;
        match self.resolve(la, lb, dims.c) {
            AtbAlgorithm::DiagAtbRotLeft | AtbAlgorithm::DiagAtbAuto => OpTally {
                cmult: h * (na + nb),
                mult: h * na * nb,
                rot: h * (2 * na + nb * l0),
                conj: nb,
            },
            AtbAlgorithm::DiagAtbPRotUp => OpTally {
                cmult: na + (h - 1) * na * nb + h * nb,
                mult: h * na * nb,
                rot: 2 * na + (h - 1) * (na + na * nb) + h * nb * l0,
                conj: nb,
            },
            AtbAlgorithm::RowMajor => OpTally {
                cmult: c * (na + nb),
                mult: c * na * nb,
                rot: c * (nb * l0 + na * (l1 + 1)) - na,
                conj: 0,
            },
            AtbAlgorithm::Jin => {
                let bc = dims.b as u64 * c;
                OpTally {
                    cmult: 0,
                    mult: bc * dims.column_chunks(),
                    rot: bc * log2(dims.shape.slots()),
                    conj: 0,
                }
            }
            AtbAlgorithm::VolleyRevolver => OpTally {
                cmult: (c - 1) * na + c * nb,
                mult: c * na * nb,
                rot: 2 * (c - 1) * na + c * nb * (s0 - 1),
                conj: 0,
            },
        }
    }

    /// Packs and encrypts `A` (`a × c`) and `B` (`a × b`) in the layouts this algorithm expects.
    pub fn encrypt_inputs<Enc>(
        self,
        enc: &mut Enc,
        a: &Matrix,
        b: &Matrix,
        shape: UnitShape,
        level_a: Level,
        level_b: Level,
    ) -> Result<Operands<Enc::Ciphertext>>
    where
        Enc: Encryptor,
    {
        let (la, lb) = self.input_layouts();
        Ok((
            PackedMatrix::encrypt(enc, a, shape, la, level_a)?,
            PackedMatrix::encrypt(enc, b, shape, lb, level_b)?,
        ))
    }

    /// Computes `A^T B` homomorphically. `a` (`a × c`) and `b` (`a × b`) must be in
    /// [`AtbAlgorithm::input_layouts`]; the output (`c × b`) is in
    /// [`AtbAlgorithm::output_layout`] at [`AtbAlgorithm::output_level`].
    pub fn multiply<E: Evaluator>(
        self,
        ev: &E,
        a: &PackedMatrix<Ct<E>>,
        b: &PackedMatrix<Ct<E>>,
    ) -> Result<PackedMatrix<Ct<E>>> {
        let (la, lb) = (a.level(), b.level());
        let (da, db) = self.depths(la, lb, a.cols());
        check_depth(la, lb, da, db)?;
        match self.resolve(la, lb, a.cols()) {
            AtbAlgorithm::DiagAtbRotLeft | AtbAlgorithm::DiagAtbAuto => {
                diag::diag_atb(ev, a, b, AtbVariant::RotLeft)
            }
            AtbAlgorithm::DiagAtbPRotUp => diag::diag_atb(ev, a, b, AtbVariant::PRotUp),
            AtbAlgorithm::RowMajor => baselines::row_major(ev, a, b),
            AtbAlgorithm::VolleyRevolver => baselines::volley_atb(ev, a, b),
            AtbAlgorithm::Jin => {
                let (c, nb) = (a.cols(), b.cols());
                let out: Mutex<Vec<Option<Ct<E>>>> = Mutex::new(vec![None; c * nb]);
                baselines::jin_atb_with(ev, a, b, |r, j, ct| {
                    out.lock().unwrap_or_else(|p| p.into_inner())[r * nb + j] = Some(ct);
                    Ok(())
                })?;
                let blocks = out
                    .into_inner()
                    .unwrap_or_else(|p| p.into_inner())
                    .into_iter()
                    .map(|x| x.ok_or_else(|| Error::shape("missing output entry")))
                    .collect::<Result<Vec<_>>>()?;
                PackedMatrix::from_blocks(c, nb, a.shape(), Layout::Replicated, blocks)
            }
        }
    }

    /// `A^T B` with the rows of `A` and `B` shared between processes, one block row or more
    /// each, consecutive in the order of their ranks: `local` is this process's `(A, B)` (`None`
    /// for a process without rows), `out` the whole product's shape, and `sum` forms every sum
    /// over row blocks from all processes' products ([`RowBlockSum`]). Every process gets the
    /// whole product, the same as [`AtbAlgorithm::multiply`] on all the rows (the same
    /// operations in the same order; the products are formed before the sums, so the memory of
    /// one sum's products is held at once). DiagATB (its variant resolved at the local levels:
    /// every process must hold its operands at the same levels) and Volley Revolver only.
    pub fn multiply_shared<E: Evaluator>(
        self,
        ev: &E,
        local: Option<LocalOperands<'_, Ct<E>>>,
        out: SharedAtb,
        sum: &mut dyn RowBlockSum<Ct<E>>,
    ) -> Result<PackedMatrix<Ct<E>>> {
        let algo = match local {
            Some((a, b)) => {
                let (la, lb) = (a.level(), b.level());
                let (da, db) = self.depths(la, lb, a.cols());
                check_depth(la, lb, da, db)?;
                self.resolve(la, lb, a.cols())
            }
            None => self,
        };
        match algo {
            AtbAlgorithm::DiagAtbRotLeft | AtbAlgorithm::DiagAtbAuto => {
                diag::diag_atb_shared(ev, local, out, AtbVariant::RotLeft, Some(sum))
            }
            AtbAlgorithm::DiagAtbPRotUp => {
                diag::diag_atb_shared(ev, local, out, AtbVariant::PRotUp, Some(sum))
            }
            AtbAlgorithm::VolleyRevolver => baselines::volley_atb_shared(ev, local, out, Some(sum)),
            AtbAlgorithm::RowMajor | AtbAlgorithm::Jin => Err(Error::InvalidParameter {
                reason: format!("{self} has no row-shared form"),
            }),
        }
    }
}

/// An algorithm for `C = A B^T` (`A`: `a × b`, `B`: `c × b`, `C`: `a × c`): what training,
/// `hetal matmul`, the benchmarks and the [`harness`] need of it. Implement it in any crate to
/// plug a new algorithm in; the built-ins are the variants of [`AbtAlgorithm`].
///
/// Contract (checked by [`harness::check_abt`]): [`AbtProduct::multiply`] on inputs in
/// [`AbtProduct::input_layouts`] at levels `la`, `lb` returns the product in
/// [`AbtProduct::output_layout`] (zero outside the matrix for [`Layout::Plain`]) at
/// [`AbtProduct::output_level`], using exactly [`AbtProduct::expected_counts`] and no key
/// beyond [`AbtProduct::required_keys`]; inputs too low for the depth are refused with an error.
pub trait AbtProduct {
    /// The algorithm's name, for tables.
    fn name(&self) -> String;
    /// The layouts of `(A, B)` that [`AbtProduct::multiply`] expects.
    fn input_layouts(&self) -> (Layout, Layout);
    /// The layout of the output (`a × c`).
    fn output_layout(&self) -> Layout;
    /// Levels consumed on `(A, B)` for inputs at `la`, `lb`.
    fn depths(&self, dims: &MatmulDims, la: Level, lb: Level) -> (u32, u32);
    /// The output level for inputs at `la`, `lb` (`min(la − da, lb − db)` of
    /// [`AbtProduct::depths`]), or `None` if they are too low.
    fn output_level(&self, dims: &MatmulDims, la: Level, lb: Level) -> Option<Level> {
        let (da, db) = self.depths(dims, la, lb);
        out_level(la, lb, da, db)
    }
    /// The evaluation keys `multiply` needs for `dims` (an error for dims it does not support).
    fn required_keys(&self, dims: &MatmulDims) -> Result<KeyRequest>;
    /// The exact op counts of `multiply` on `dims` with inputs at `la`, `lb`.
    fn expected_counts(&self, dims: &MatmulDims, la: Level, lb: Level) -> OpTally;
    /// Packs and encrypts `A` (`a × b`) and `B` (`c × b`) in [`AbtProduct::input_layouts`].
    fn encrypt_inputs<Enc: Encryptor>(
        &self,
        enc: &mut Enc,
        a: &Matrix,
        b: &Matrix,
        shape: UnitShape,
        level_a: Level,
        level_b: Level,
    ) -> Result<Operands<Enc::Ciphertext>> {
        let (la, lb) = self.input_layouts();
        Ok((
            PackedMatrix::encrypt(enc, a, shape, la, level_a)?,
            PackedMatrix::encrypt(enc, b, shape, lb, level_b)?,
        ))
    }
    /// Computes `A B^T` homomorphically on any evaluator.
    fn multiply<E: Evaluator>(
        &self,
        ev: &E,
        a: &PackedMatrix<Ct<E>>,
        b: &PackedMatrix<Ct<E>>,
    ) -> Result<PackedMatrix<Ct<E>>>;
}

/// An algorithm for `C = A^T B` (`A`: `a × c`, `B`: `a × b`, `C`: `c × b`), the counterpart of
/// [`AbtProduct`] with the same contract (checked by [`harness::check_atb`]); the built-ins are
/// the variants of [`AtbAlgorithm`].
pub trait AtbProduct {
    /// The algorithm's name, for tables.
    fn name(&self) -> String;
    /// The layouts of `(A, B)` that [`AtbProduct::multiply`] expects.
    fn input_layouts(&self) -> (Layout, Layout);
    /// The layout of the output (`c × b`).
    fn output_layout(&self) -> Layout;
    /// Levels consumed on `(A, B)` for inputs at `la`, `lb`.
    fn depths(&self, dims: &MatmulDims, la: Level, lb: Level) -> (u32, u32);
    /// The output level for inputs at `la`, `lb`, or `None` if they are too low.
    fn output_level(&self, dims: &MatmulDims, la: Level, lb: Level) -> Option<Level> {
        let (da, db) = self.depths(dims, la, lb);
        out_level(la, lb, da, db)
    }
    /// The evaluation keys `multiply` needs for `dims` (an error for dims it does not support).
    fn required_keys(&self, dims: &MatmulDims) -> Result<KeyRequest>;
    /// The exact op counts of `multiply` on `dims` with inputs at `la`, `lb`.
    fn expected_counts(&self, dims: &MatmulDims, la: Level, lb: Level) -> OpTally;
    /// Packs and encrypts `A` (`a × c`) and `B` (`a × b`) in [`AtbProduct::input_layouts`].
    fn encrypt_inputs<Enc: Encryptor>(
        &self,
        enc: &mut Enc,
        a: &Matrix,
        b: &Matrix,
        shape: UnitShape,
        level_a: Level,
        level_b: Level,
    ) -> Result<Operands<Enc::Ciphertext>> {
        let (la, lb) = self.input_layouts();
        Ok((
            PackedMatrix::encrypt(enc, a, shape, la, level_a)?,
            PackedMatrix::encrypt(enc, b, shape, lb, level_b)?,
        ))
    }
    /// Computes `A^T B` homomorphically on any evaluator.
    fn multiply<E: Evaluator>(
        &self,
        ev: &E,
        a: &PackedMatrix<Ct<E>>,
        b: &PackedMatrix<Ct<E>>,
    ) -> Result<PackedMatrix<Ct<E>>>;
}

macro_rules! forward_ref {
    ($tr:ident) => {
        impl<T: $tr + ?Sized> $tr for &T {
            fn name(&self) -> String {
                (**self).name()
            }
            fn input_layouts(&self) -> (Layout, Layout) {
                (**self).input_layouts()
            }
            fn output_layout(&self) -> Layout {
                (**self).output_layout()
            }
            fn depths(&self, dims: &MatmulDims, la: Level, lb: Level) -> (u32, u32) {
                (**self).depths(dims, la, lb)
            }
            fn output_level(&self, dims: &MatmulDims, la: Level, lb: Level) -> Option<Level> {
                (**self).output_level(dims, la, lb)
            }
            fn required_keys(&self, dims: &MatmulDims) -> Result<KeyRequest> {
                (**self).required_keys(dims)
            }
            fn expected_counts(&self, dims: &MatmulDims, la: Level, lb: Level) -> OpTally {
                (**self).expected_counts(dims, la, lb)
            }
            fn encrypt_inputs<Enc: Encryptor>(
                &self,
                enc: &mut Enc,
                a: &Matrix,
                b: &Matrix,
                shape: UnitShape,
                level_a: Level,
                level_b: Level,
            ) -> Result<Operands<Enc::Ciphertext>> {
                (**self).encrypt_inputs(enc, a, b, shape, level_a, level_b)
            }
            fn multiply<E: Evaluator>(
                &self,
                ev: &E,
                a: &PackedMatrix<Ct<E>>,
                b: &PackedMatrix<Ct<E>>,
            ) -> Result<PackedMatrix<Ct<E>>> {
                (**self).multiply(ev, a, b)
            }
        }
    };
}

forward_ref!(AbtProduct);
forward_ref!(AtbProduct);

impl AbtProduct for AbtAlgorithm {
    fn name(&self) -> String {
        AbtAlgorithm::name(*self).to_string()
    }
    fn input_layouts(&self) -> (Layout, Layout) {
        AbtAlgorithm::input_layouts(*self)
    }
    fn output_layout(&self) -> Layout {
        AbtAlgorithm::output_layout(*self)
    }
    fn depths(&self, _: &MatmulDims, _: Level, _: Level) -> (u32, u32) {
        AbtAlgorithm::depths(*self)
    }
    fn required_keys(&self, dims: &MatmulDims) -> Result<KeyRequest> {
        AbtAlgorithm::required_keys(*self, dims)
    }
    fn expected_counts(&self, dims: &MatmulDims, _: Level, _: Level) -> OpTally {
        AbtAlgorithm::expected_counts(*self, dims)
    }
    fn multiply<E: Evaluator>(
        &self,
        ev: &E,
        a: &PackedMatrix<Ct<E>>,
        b: &PackedMatrix<Ct<E>>,
    ) -> Result<PackedMatrix<Ct<E>>> {
        AbtAlgorithm::multiply(*self, ev, a, b)
    }
}

impl AtbProduct for AtbAlgorithm {
    /// The name; for [`AtbAlgorithm::DiagAtbAuto`] the variant is resolved per call (see
    /// [`AtbAlgorithm::resolve`]).
    fn name(&self) -> String {
        AtbAlgorithm::name(*self).to_string()
    }
    fn input_layouts(&self) -> (Layout, Layout) {
        AtbAlgorithm::input_layouts(*self)
    }
    fn output_layout(&self) -> Layout {
        AtbAlgorithm::output_layout(*self)
    }
    fn depths(&self, dims: &MatmulDims, la: Level, lb: Level) -> (u32, u32) {
        AtbAlgorithm::depths(*self, la, lb, dims.c)
    }
    fn required_keys(&self, dims: &MatmulDims) -> Result<KeyRequest> {
        AtbAlgorithm::required_keys(*self, dims)
    }
    fn expected_counts(&self, dims: &MatmulDims, la: Level, lb: Level) -> OpTally {
        AtbAlgorithm::expected_counts(*self, dims, la, lb)
    }
    fn multiply<E: Evaluator>(
        &self,
        ev: &E,
        a: &PackedMatrix<Ct<E>>,
        b: &PackedMatrix<Ct<E>>,
    ) -> Result<PackedMatrix<Ct<E>>> {
        AtbAlgorithm::multiply(*self, ev, a, b)
    }
}

/// Jin et al. `A B^T` with the replicate-packed `B` (`c × b`) supplied on demand:
/// `replica(r, j)` returns a ciphertext holding `B[r, j]` in every slot (e.g. encrypted by the
/// client as needed), so that the `c·b` replicas never have to be held at once. Same op counts
/// as [`AbtAlgorithm::Jin`]; `a` is column-packed, the output column-packed `a × c`.
pub fn jin_abt_streaming<E, F>(
    ev: &E,
    a: &PackedMatrix<Ct<E>>,
    c: usize,
    replica: F,
) -> Result<PackedMatrix<Ct<E>>>
where
    E: Evaluator,
    F: Fn(usize, usize) -> Result<Ct<E>> + Sync,
{
    check_depth(a.level(), a.level(), 1, 0)?;
    baselines::jin_abt_with(ev, a, c, replica)
}

/// Jin et al. `A^T B` handing each output entry `C[r, j]` (replicated in every slot) to
/// `sink(r, j, ct)` instead of collecting the `c·b` ciphertexts. Same op counts as
/// [`AtbAlgorithm::Jin`]; both inputs column-packed.
pub fn jin_atb_streaming<E, F>(
    ev: &E,
    a: &PackedMatrix<Ct<E>>,
    b: &PackedMatrix<Ct<E>>,
    sink: F,
) -> Result<()>
where
    E: Evaluator,
    F: Fn(usize, usize, Ct<E>) -> Result<()> + Sync,
{
    check_depth(a.level(), b.level(), 1, 1)?;
    baselines::jin_atb_with(ev, a, b, sink)
}

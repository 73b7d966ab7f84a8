//! A data-free evaluator for planning and op counting at large shapes.
//!
//! [`SymbolicEvaluator`] carries no slot values: a ciphertext is only a level and a scale. It
//! enforces the level, scale and key rules of [`hetal_traits::evaluator`] like the mock (on an
//! ideal chain: `q_0 = 2^(log_scale + 20)`, `q_l = 2^log_scale`), so every algorithm of this
//! module takes exactly the same code path on it as on a real backend: none of them branches on
//! slot values. Wrapped in [`hetal_traits::counting::Counting`] it gives the exact op counts of a
//! shape in microseconds, e.g. Jin et al.'s `A^T B` with 184560 rotations of 32768 slots.

use super::{AbtProduct, AtbProduct, MatmulDims, Operands};
use crate::error::Result as LinalgResult;
use crate::packed::{Layout, PackedMatrix};
use hetal_traits::{
    BootstrapInfo, Complex64, Encoder, Error, Evaluator, KeyRequest, Level, Leveled, Operation,
    Result, RotStep, Scale, check_encode_input,
};
use std::collections::BTreeSet;

/// A ciphertext or plaintext of the [`SymbolicEvaluator`]: a level and a scale, no values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Symbolic {
    level: Level,
    scale: Scale,
}

impl Leveled for Symbolic {
    fn level(&self) -> Level {
        self.level
    }
    fn scale(&self) -> Scale {
        self.scale
    }
}

/// An evaluator that tracks levels, scales and keys only; see the [module docs](self).
#[derive(Clone, Debug)]
pub struct SymbolicEvaluator {
    slots: usize,
    max_level: Level,
    log_scale: f64,
    rotations: BTreeSet<usize>,
    conjugation: bool,
}

impl SymbolicEvaluator {
    /// An evaluator with `slots` slots, levels `0..=max_level`, scale `2^log_scale`, holding the
    /// keys of `keys` (bootstrapping is never available).
    pub fn new(slots: usize, max_level: u32, log_scale: f64, keys: &KeyRequest) -> Self {
        SymbolicEvaluator {
            slots,
            max_level: Level(max_level),
            log_scale,
            rotations: keys.normalized_rotations(slots).into_iter().collect(),
            conjugation: keys.conjugation,
        }
    }

    /// A fresh ciphertext at `level` with the canonical scale.
    pub fn fresh(&self, level: Level) -> Symbolic {
        Symbolic {
            level,
            scale: self.canonical_scale(level),
        }
    }

    /// A packed `rows × cols` matrix of fresh ciphertexts at `level`.
    pub fn packed(
        &self,
        rows: usize,
        cols: usize,
        layout: Layout,
        dims: &MatmulDims,
        level: Level,
    ) -> LinalgResult<PackedMatrix<Symbolic>> {
        let (gr, gc) = layout.grid(rows, cols, dims.shape);
        PackedMatrix::from_blocks(
            rows,
            cols,
            dims.shape,
            layout,
            vec![self.fresh(level); gr * gc],
        )
    }

    /// The two inputs of an `A B^T` algorithm for `dims` (`a × b` and `c × b`).
    pub fn abt_inputs<A: AbtProduct>(
        &self,
        algo: A,
        dims: &MatmulDims,
        la: Level,
        lb: Level,
    ) -> LinalgResult<Operands<Symbolic>> {
        let (ya, yb) = algo.input_layouts();
        Ok((
            self.packed(dims.a, dims.b, ya, dims, la)?,
            self.packed(dims.c, dims.b, yb, dims, lb)?,
        ))
    }

    /// The two inputs of an `A^T B` algorithm for `dims` (`a × c` and `a × b`).
    pub fn atb_inputs<A: AtbProduct>(
        &self,
        algo: A,
        dims: &MatmulDims,
        la: Level,
        lb: Level,
    ) -> LinalgResult<Operands<Symbolic>> {
        let (ya, yb) = algo.input_layouts();
        Ok((
            self.packed(dims.a, dims.c, ya, dims, la)?,
            self.packed(dims.a, dims.b, yb, dims, lb)?,
        ))
    }

    fn binary(&self, a: &Symbolic, b: &Symbolic, op: Operation) -> Result<Symbolic> {
        // Ideal chain: dropping keeps the scale.
        let level = a.level.min(b.level);
        if !a.scale.matches(b.scale) {
            return Err(Error::ScaleMismatch {
                op,
                lhs: a.scale,
                rhs: b.scale,
            });
        }
        Ok(Symbolic {
            level,
            scale: a.scale,
        })
    }

    fn need_level(level: Level, op: Operation) -> Result<()> {
        if level.0 == 0 {
            Err(Error::LevelExhausted { op, level })
        } else {
            Ok(())
        }
    }
}

impl Encoder for SymbolicEvaluator {
    type Plaintext = Symbolic;

    fn slots(&self) -> usize {
        self.slots
    }
    fn max_level(&self) -> Level {
        self.max_level
    }
    fn prime(&self, level: Level) -> f64 {
        if level.0 == 0 {
            (self.log_scale + 20.0).exp2()
        } else {
            self.log_scale.exp2()
        }
    }
    fn canonical_scale(&self, _level: Level) -> Scale {
        Scale::from_log2(self.log_scale)
    }
    fn encode(&self, values: &[Complex64], level: Level, scale: Scale) -> Result<Symbolic> {
        check_encode_input(self, values, level, scale)?;
        Ok(Symbolic { level, scale })
    }
    fn decode(&self, _pt: &Symbolic) -> Result<Vec<Complex64>> {
        Err(Error::invalid("the symbolic evaluator holds no values"))
    }
}

impl Evaluator for SymbolicEvaluator {
    type Ciphertext = Symbolic;

    fn add(&self, a: &Symbolic, b: &Symbolic) -> Result<Symbolic> {
        self.binary(a, b, Operation::Add)
    }
    fn sub(&self, a: &Symbolic, b: &Symbolic) -> Result<Symbolic> {
        self.binary(a, b, Operation::Add)
    }
    fn neg(&self, a: &Symbolic) -> Result<Symbolic> {
        Ok(*a)
    }
    fn add_plain(&self, a: &Symbolic, p: &Symbolic) -> Result<Symbolic> {
        if p.level < a.level {
            return Err(Error::LevelMismatch {
                op: Operation::Add,
                expected: a.level,
                actual: p.level,
            });
        }
        self.binary(
            a,
            &Symbolic {
                level: a.level,
                scale: p.scale,
            },
            Operation::Add,
        )
    }
    fn sub_plain(&self, a: &Symbolic, p: &Symbolic) -> Result<Symbolic> {
        self.add_plain(a, p)
    }
    fn add_const(&self, a: &Symbolic, _c: Complex64) -> Result<Symbolic> {
        Ok(*a)
    }
    fn mul(&self, a: &Symbolic, b: &Symbolic) -> Result<Symbolic> {
        let level = a.level.min(b.level);
        Self::need_level(level, Operation::Mul)?;
        Ok(Symbolic {
            level,
            scale: Scale(a.scale.value() * b.scale.value()),
        })
    }
    fn mul_plain(&self, a: &Symbolic, p: &Symbolic) -> Result<Symbolic> {
        if p.level < a.level {
            return Err(Error::LevelMismatch {
                op: Operation::MulPlain,
                expected: a.level,
                actual: p.level,
            });
        }
        Self::need_level(a.level, Operation::MulPlain)?;
        Ok(Symbolic {
            level: a.level,
            scale: Scale(a.scale.value() * p.scale.value()),
        })
    }
    fn mul_const(&self, a: &Symbolic, _c: Complex64, const_scale: Scale) -> Result<Symbolic> {
        Self::need_level(a.level, Operation::MulConst)?;
        Ok(Symbolic {
            level: a.level,
            scale: Scale(a.scale.value() * const_scale.value()),
        })
    }
    fn mul_integer(&self, a: &Symbolic, _k: i64) -> Result<Symbolic> {
        Ok(*a)
    }
    fn mul_i(&self, a: &Symbolic) -> Result<Symbolic> {
        Ok(*a)
    }
    fn rescale(&self, a: &Symbolic) -> Result<Symbolic> {
        Self::need_level(a.level, Operation::Rescale)?;
        Ok(Symbolic {
            level: Level(a.level.0 - 1),
            scale: Scale(a.scale.value() / self.prime(a.level)),
        })
    }
    fn drop_to_level(&self, a: &Symbolic, level: Level) -> Result<Symbolic> {
        if level > a.level {
            return Err(Error::LevelMismatch {
                op: Operation::DropLevel,
                expected: a.level,
                actual: level,
            });
        }
        Ok(Symbolic {
            level,
            scale: a.scale,
        })
    }
    fn rotate(&self, a: &Symbolic, step: RotStep) -> Result<Symbolic> {
        if !self.has_rotation_key(step) {
            return Err(Error::MissingRotationKey {
                step,
                normalized: step.normalized(self.slots),
            });
        }
        Ok(*a)
    }
    fn rotate_hoisted(&self, a: &Symbolic, steps: &[RotStep]) -> Result<Vec<Symbolic>> {
        steps.iter().map(|&s| self.rotate(a, s)).collect()
    }
    fn conjugate(&self, a: &Symbolic) -> Result<Symbolic> {
        if !self.conjugation {
            return Err(Error::MissingConjugationKey);
        }
        Ok(*a)
    }
    fn has_rotation_key(&self, step: RotStep) -> bool {
        let k = step.normalized(self.slots);
        k == 0 || self.rotations.contains(&k)
    }
    fn has_conjugation_key(&self) -> bool {
        self.conjugation
    }
    fn bootstrap_info(&self) -> Option<BootstrapInfo> {
        None
    }
    fn bootstrap(&self, _a: &Symbolic) -> Result<Symbolic> {
        Err(Error::BootstrapUnavailable {
            reason: "the symbolic evaluator does not bootstrap".into(),
        })
    }
}

//! An evaluator wrapper that counts every operation, by kind and by the level it ran at.
//!
//! ```
//! use hetal_traits::counting::{Counting, OpKind};
//! use hetal_traits::mock::{MockClient, MockEvaluator, MockParams};
//! use hetal_traits::{Encoder, Encryptor, EvaluatorExt};
//!
//! let mut client = MockClient::new(MockParams::ideal(16, 2, 40.0), 1);
//! let server = Counting::new(MockEvaluator::new(client.unrestricted_keys()));
//! let x = client.encrypt_real(&[1.0; 16], server.max_level())?;
//! let _ = server.sum_slots(&x)?;
//! assert_eq!(server.snapshot().get(OpKind::Rot), 4); // log2(16) rotations
//! # Ok::<(), hetal_traits::Error>(())
//! ```

use crate::error::Result;
use crate::evaluator::{Encoder, Evaluator, Leveled};
use crate::types::{BootstrapInfo, Complex64, Level, RotStep, Scale};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;

/// The kinds of operation that are counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum OpKind {
    /// Encoding a plaintext.
    Encode,
    /// Ciphertext-ciphertext multiplication with relinearisation (includes squaring).
    Mult,
    /// Ciphertext-plaintext multiplication.
    CMult,
    /// Ciphertext-constant multiplication (with a scale).
    ConstMult,
    /// Multiplication by an integer (exact, no level).
    IntMult,
    /// Multiplication by the imaginary unit (exact, no level).
    MulI,
    /// Ciphertext-ciphertext addition or subtraction.
    Add,
    /// Ciphertext-plaintext or ciphertext-constant addition or subtraction.
    AddPlain,
    /// Negation.
    Neg,
    /// A single (non-hoisted, non-identity) rotation.
    Rot,
    /// One rotation inside a hoisted batch (identity steps excluded).
    HoistedRot,
    /// Complex conjugation.
    Conj,
    /// Rescaling.
    Rescale,
    /// An explicit or implicit level drop.
    DropLevel,
    /// Bootstrapping.
    Bootstrap,
    /// One pair bootstrap ([`Evaluator::bootstrap_pair`]: two real ciphertexts through one
    /// bootstrap), counted once.
    BootstrapPair,
    /// One sparse bootstrap ([`Evaluator::bootstrap_sparse`]) that ran the smaller circuit
    /// (the inner evaluator [`has_sparse_bootstrap`](Evaluator::has_sparse_bootstrap) for its
    /// period). One that fell back to the full circuit is counted as [`OpKind::Bootstrap`].
    BootstrapSparse,
    /// One sparse pair bootstrap ([`Evaluator::bootstrap_pair_sparse`]) that ran the smaller
    /// circuit, counted once; a fallback to the full circuit is counted as
    /// [`OpKind::BootstrapPair`].
    BootstrapPairSparse,
    /// Key switches (relinearisation, rotation, conjugation); bootstrapping's internal ones are not included.
    KeySwitch,
}

impl OpKind {
    /// Every kind, in display order.
    pub const ALL: [OpKind; 19] = [
        OpKind::Mult,
        OpKind::CMult,
        OpKind::ConstMult,
        OpKind::IntMult,
        OpKind::MulI,
        OpKind::Add,
        OpKind::AddPlain,
        OpKind::Neg,
        OpKind::Rot,
        OpKind::HoistedRot,
        OpKind::Conj,
        OpKind::Rescale,
        OpKind::DropLevel,
        OpKind::Bootstrap,
        OpKind::BootstrapPair,
        OpKind::BootstrapSparse,
        OpKind::BootstrapPairSparse,
        OpKind::KeySwitch,
        OpKind::Encode,
    ];
}

/// Tallies of operations, in total and per level.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpCounts {
    totals: BTreeMap<OpKind, u64>,
    by_level: BTreeMap<(OpKind, Level), u64>,
}

impl OpCounts {
    fn record(&mut self, kind: OpKind, level: Level, n: u64) {
        if n == 0 {
            return;
        }
        *self.totals.entry(kind).or_default() += n;
        *self.by_level.entry((kind, level)).or_default() += n;
    }

    /// The number of operations of `kind`.
    pub fn get(&self, kind: OpKind) -> u64 {
        self.totals.get(&kind).copied().unwrap_or(0)
    }

    /// The number of operations of `kind` that ran at `level`.
    pub fn at_level(&self, kind: OpKind, level: Level) -> u64 {
        self.by_level.get(&(kind, level)).copied().unwrap_or(0)
    }

    /// All rotations, single and hoisted: the "Rot" column of HETAL's tables.
    pub fn rotations(&self) -> u64 {
        self.get(OpKind::Rot) + self.get(OpKind::HoistedRot)
    }

    /// The levels at which `kind` ran, with counts.
    pub fn levels(&self, kind: OpKind) -> Vec<(Level, u64)> {
        self.by_level
            .iter()
            .filter(|((k, _), _)| *k == kind)
            .map(|((_, l), n)| (*l, *n))
            .collect()
    }

    /// The operations counted since `earlier` (a previous snapshot of the same counter).
    pub fn since(&self, earlier: &OpCounts) -> OpCounts {
        let mut out = OpCounts::default();
        for (&(k, l), &n) in &self.by_level {
            let before = earlier.at_level(k, l);
            out.record(k, l, n.saturating_sub(before));
        }
        out
    }

    /// Every bootstrap, of any kind (full, pair, sparse, sparse pair), each counted once.
    pub fn bootstraps(&self) -> u64 {
        self.get(OpKind::Bootstrap)
            + self.get(OpKind::BootstrapPair)
            + self.get(OpKind::BootstrapSparse)
            + self.get(OpKind::BootstrapPairSparse)
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.totals.is_empty()
    }
}

impl fmt::Display for OpCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = OpKind::ALL
            .iter()
            .filter(|k| self.get(**k) > 0)
            .map(|k| format!("{k:?}={}", self.get(*k)))
            .collect();
        write!(f, "{}", parts.join(" "))
    }
}

/// Wraps an evaluator and counts what goes through it. Successful operations only are counted.
#[derive(Debug)]
pub struct Counting<E> {
    inner: E,
    counts: Mutex<OpCounts>,
}

impl<E> Counting<E> {
    /// Wraps `inner` with zeroed counters.
    pub fn new(inner: E) -> Self {
        Counting {
            inner,
            counts: Mutex::new(OpCounts::default()),
        }
    }

    /// The wrapped evaluator.
    pub fn inner(&self) -> &E {
        &self.inner
    }

    /// Unwraps.
    pub fn into_inner(self) -> E {
        self.inner
    }

    /// A copy of the counters.
    pub fn snapshot(&self) -> OpCounts {
        self.lock().clone()
    }

    /// Zeroes the counters.
    pub fn reset(&self) {
        *self.lock() = OpCounts::default();
    }

    /// Returns the counters and zeroes them.
    pub fn take(&self) -> OpCounts {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OpCounts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn rec(&self, kind: OpKind, level: Level, n: u64) {
        self.lock().record(kind, level, n);
    }
}

impl<E: Encoder> Encoder for Counting<E> {
    type Plaintext = E::Plaintext;

    fn slots(&self) -> usize {
        self.inner.slots()
    }
    fn max_level(&self) -> Level {
        self.inner.max_level()
    }
    fn prime(&self, level: Level) -> f64 {
        self.inner.prime(level)
    }
    fn canonical_scale(&self, level: Level) -> Scale {
        self.inner.canonical_scale(level)
    }
    fn log2_modulus(&self, level: Level) -> f64 {
        self.inner.log2_modulus(level)
    }
    fn encode(&self, values: &[Complex64], level: Level, scale: Scale) -> Result<E::Plaintext> {
        let p = self.inner.encode(values, level, scale)?;
        self.rec(OpKind::Encode, level, 1);
        Ok(p)
    }
    fn decode(&self, pt: &E::Plaintext) -> Result<Vec<Complex64>> {
        self.inner.decode(pt)
    }
}

impl<E: Evaluator> Counting<E> {
    /// Records implicit level drops of a binary operation.
    fn binary(&self, a: &E::Ciphertext, b: &E::Ciphertext) -> Level {
        let l = a.level().min(b.level());
        let drops = (a.level() != l) as u64 + (b.level() != l) as u64;
        self.rec(OpKind::DropLevel, l, drops);
        l
    }
}

impl<E: Evaluator> Evaluator for Counting<E> {
    type Ciphertext = E::Ciphertext;

    fn add(&self, a: &Self::Ciphertext, b: &Self::Ciphertext) -> Result<Self::Ciphertext> {
        let r = self.inner.add(a, b)?;
        let l = self.binary(a, b);
        self.rec(OpKind::Add, l, 1);
        Ok(r)
    }
    fn sub(&self, a: &Self::Ciphertext, b: &Self::Ciphertext) -> Result<Self::Ciphertext> {
        let r = self.inner.sub(a, b)?;
        let l = self.binary(a, b);
        self.rec(OpKind::Add, l, 1);
        Ok(r)
    }
    fn neg(&self, a: &Self::Ciphertext) -> Result<Self::Ciphertext> {
        let r = self.inner.neg(a)?;
        self.rec(OpKind::Neg, a.level(), 1);
        Ok(r)
    }
    fn add_plain(&self, a: &Self::Ciphertext, p: &Self::Plaintext) -> Result<Self::Ciphertext> {
        let r = self.inner.add_plain(a, p)?;
        self.rec(OpKind::AddPlain, a.level(), 1);
        Ok(r)
    }
    fn sub_plain(&self, a: &Self::Ciphertext, p: &Self::Plaintext) -> Result<Self::Ciphertext> {
        let r = self.inner.sub_plain(a, p)?;
        self.rec(OpKind::AddPlain, a.level(), 1);
        Ok(r)
    }
    fn add_const(&self, a: &Self::Ciphertext, c: Complex64) -> Result<Self::Ciphertext> {
        let r = self.inner.add_const(a, c)?;
        self.rec(OpKind::AddPlain, a.level(), 1);
        Ok(r)
    }
    fn mul(&self, a: &Self::Ciphertext, b: &Self::Ciphertext) -> Result<Self::Ciphertext> {
        let r = self.inner.mul(a, b)?;
        let l = self.binary(a, b);
        self.rec(OpKind::Mult, l, 1);
        self.rec(OpKind::KeySwitch, l, 1);
        Ok(r)
    }
    fn square(&self, a: &Self::Ciphertext) -> Result<Self::Ciphertext> {
        let r = self.inner.square(a)?;
        self.rec(OpKind::Mult, a.level(), 1);
        self.rec(OpKind::KeySwitch, a.level(), 1);
        Ok(r)
    }
    fn mul_plain(&self, a: &Self::Ciphertext, p: &Self::Plaintext) -> Result<Self::Ciphertext> {
        let r = self.inner.mul_plain(a, p)?;
        self.rec(OpKind::CMult, a.level(), 1);
        Ok(r)
    }
    fn mul_const(&self, a: &Self::Ciphertext, c: Complex64, s: Scale) -> Result<Self::Ciphertext> {
        let r = self.inner.mul_const(a, c, s)?;
        self.rec(OpKind::ConstMult, a.level(), 1);
        Ok(r)
    }
    fn mul_integer(&self, a: &Self::Ciphertext, k: i64) -> Result<Self::Ciphertext> {
        let r = self.inner.mul_integer(a, k)?;
        self.rec(OpKind::IntMult, a.level(), 1);
        Ok(r)
    }
    fn mul_i(&self, a: &Self::Ciphertext) -> Result<Self::Ciphertext> {
        let r = self.inner.mul_i(a)?;
        self.rec(OpKind::MulI, a.level(), 1);
        Ok(r)
    }
    fn rescale(&self, a: &Self::Ciphertext) -> Result<Self::Ciphertext> {
        let r = self.inner.rescale(a)?;
        self.rec(OpKind::Rescale, a.level(), 1);
        Ok(r)
    }
    fn drop_to_level(&self, a: &Self::Ciphertext, level: Level) -> Result<Self::Ciphertext> {
        let r = self.inner.drop_to_level(a, level)?;
        self.rec(OpKind::DropLevel, a.level(), (level != a.level()) as u64);
        Ok(r)
    }
    fn rotate(&self, a: &Self::Ciphertext, step: RotStep) -> Result<Self::Ciphertext> {
        let r = self.inner.rotate(a, step)?;
        let n = (!step.is_identity(self.slots())) as u64;
        self.rec(OpKind::Rot, a.level(), n);
        self.rec(OpKind::KeySwitch, a.level(), n);
        Ok(r)
    }
    fn rotate_hoisted(
        &self,
        a: &Self::Ciphertext,
        steps: &[RotStep],
    ) -> Result<Vec<Self::Ciphertext>> {
        let r = self.inner.rotate_hoisted(a, steps)?;
        let n = steps
            .iter()
            .filter(|s| !s.is_identity(self.slots()))
            .count() as u64;
        self.rec(OpKind::HoistedRot, a.level(), n);
        self.rec(OpKind::KeySwitch, a.level(), n);
        Ok(r)
    }
    fn conjugate(&self, a: &Self::Ciphertext) -> Result<Self::Ciphertext> {
        let r = self.inner.conjugate(a)?;
        self.rec(OpKind::Conj, a.level(), 1);
        self.rec(OpKind::KeySwitch, a.level(), 1);
        Ok(r)
    }
    fn has_rotation_key(&self, step: RotStep) -> bool {
        self.inner.has_rotation_key(step)
    }
    fn has_conjugation_key(&self) -> bool {
        self.inner.has_conjugation_key()
    }
    fn bootstrap_info(&self) -> Option<BootstrapInfo> {
        self.inner.bootstrap_info()
    }
    fn bootstrap(&self, a: &Self::Ciphertext) -> Result<Self::Ciphertext> {
        let r = self.inner.bootstrap(a)?;
        self.rec(OpKind::Bootstrap, a.level(), 1);
        Ok(r)
    }
    fn bootstrap_pair(
        &self,
        a: &Self::Ciphertext,
        b: &Self::Ciphertext,
    ) -> Result<(Self::Ciphertext, Self::Ciphertext)> {
        let r = self.inner.bootstrap_pair(a, b)?;
        self.rec(OpKind::BootstrapPair, a.level(), 1);
        Ok(r)
    }
    fn has_sparse_bootstrap(&self, slots: usize) -> bool {
        self.inner.has_sparse_bootstrap(slots)
    }
    /// Forwards to the inner evaluator; counted as [`OpKind::BootstrapSparse`] when it has the
    /// sparse circuit for `slots`, else as [`OpKind::Bootstrap`] (what ran).
    fn bootstrap_sparse(&self, a: &Self::Ciphertext, slots: usize) -> Result<Self::Ciphertext> {
        let r = self.inner.bootstrap_sparse(a, slots)?;
        let kind = if self.inner.has_sparse_bootstrap(slots) {
            OpKind::BootstrapSparse
        } else {
            OpKind::Bootstrap
        };
        self.rec(kind, a.level(), 1);
        Ok(r)
    }
    /// Forwards to the inner evaluator; counted once, as [`OpKind::BootstrapPairSparse`] when it
    /// has the sparse circuit for `slots`, else as [`OpKind::BootstrapPair`].
    fn bootstrap_pair_sparse(
        &self,
        a: &Self::Ciphertext,
        b: &Self::Ciphertext,
        slots: usize,
    ) -> Result<(Self::Ciphertext, Self::Ciphertext)> {
        let r = self.inner.bootstrap_pair_sparse(a, b, slots)?;
        let kind = if self.inner.has_sparse_bootstrap(slots) {
            OpKind::BootstrapPairSparse
        } else {
            OpKind::BootstrapPair
        };
        self.rec(kind, a.level(), 1);
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::{MockClient, MockEvaluator, MockParams};
    use crate::{Encryptor, EvaluatorExt, KeyGenerator, KeyRequest};

    #[test]
    fn tallies_a_fixed_sequence() {
        let mut client =
            MockClient::new(MockParams::ideal(8, 4, 40.0).with_bootstrap(1, 4, 1.0), 9);
        let mut req = KeyRequest::with_rotations([1, 2, 3]);
        req.conjugation = true;
        req.bootstrapping = true;
        req.add_sparse_bootstrap_slots([2]);
        let e = Counting::new(MockEvaluator::new(
            client.generate_evaluation_keys(&req).unwrap(),
        ));
        let x = client.encrypt_real(&[0.5; 8], Level(4)).unwrap();
        let y = e.mul_rescale(&x, &x).unwrap(); // Mult@4, Rescale@4
        let z = e.add(&x, &y).unwrap(); // DropLevel@3, Add@3
        let _ = e.rotate(&z, RotStep(1)).unwrap(); // Rot@3
        let _ = e.rotate(&z, RotStep(8)).unwrap(); // identity: not counted
        let _ = e
            .rotate_hoisted(&x, &[RotStep(1), RotStep(0), RotStep(3)])
            .unwrap(); // 2 HoistedRot@4
        let _ = e.conjugate(&y).unwrap(); // Conj@3
        let m = e.mask(&y, &[1.0, 0.0]).unwrap(); // Encode@3, CMult@3, Rescale@3
        let _ = e.mul_scalar(&m, 2.0).unwrap(); // ConstMult@2, Rescale@2
        let _ = e.bootstrap(&m).unwrap(); // Bootstrap@2
        let _ = e.bootstrap_pair(&m, &m).unwrap(); // BootstrapPair@2 (not two Bootstraps)
        let p = e.drop_to_level(&x, Level(1)).unwrap(); // DropLevel@4
        let _ = e.bootstrap_sparse(&p, 2).unwrap(); // BootstrapSparse@1
        let _ = e.bootstrap_pair_sparse(&p, &p, 2).unwrap(); // BootstrapPairSparse@1
        let _ = e.bootstrap_sparse(&p, 8).unwrap(); // the full period: Bootstrap@1
        assert!(e.bootstrap_sparse(&p, 4).is_err()); // no keys for 4: not counted
        assert!(e.rotate(&x, RotStep(5)).is_err()); // failed: not counted
        let c = e.snapshot();
        assert_eq!(c.get(OpKind::Mult), 1);
        assert_eq!(c.at_level(OpKind::Mult, Level(4)), 1);
        assert_eq!(c.get(OpKind::Rescale), 3);
        assert_eq!(
            c.levels(OpKind::Rescale),
            vec![(Level(2), 1), (Level(3), 1), (Level(4), 1)]
        );
        assert_eq!(c.get(OpKind::DropLevel), 2);
        assert_eq!(c.at_level(OpKind::Add, Level(3)), 1);
        assert_eq!(c.get(OpKind::Rot), 1);
        assert_eq!(c.get(OpKind::HoistedRot), 2);
        assert_eq!(c.rotations(), 3);
        assert_eq!(c.get(OpKind::Conj), 1);
        assert_eq!(c.get(OpKind::KeySwitch), 1 + 1 + 2 + 1);
        assert_eq!(c.get(OpKind::Encode), 1);
        assert_eq!(c.get(OpKind::CMult), 1);
        assert_eq!(c.get(OpKind::ConstMult), 1);
        assert_eq!(c.get(OpKind::Bootstrap), 2);
        assert_eq!(c.at_level(OpKind::Bootstrap, Level(1)), 1);
        assert_eq!(c.at_level(OpKind::BootstrapPair, Level(2)), 1);
        assert_eq!(c.at_level(OpKind::BootstrapSparse, Level(1)), 1);
        assert_eq!(c.at_level(OpKind::BootstrapPairSparse, Level(1)), 1);
        assert_eq!(c.bootstraps(), 5);
        assert_eq!(
            c.to_string(),
            "Mult=1 CMult=1 ConstMult=1 Add=1 Rot=1 HoistedRot=2 Conj=1 Rescale=3 DropLevel=2 Bootstrap=2 BootstrapPair=1 BootstrapSparse=1 BootstrapPairSparse=1 KeySwitch=5 Encode=1"
        );
        let before = e.snapshot();
        let _ = e.rotate(&x, RotStep(2)).unwrap();
        assert_eq!(e.snapshot().since(&before).to_string(), "Rot=1 KeySwitch=1");
        e.reset();
        assert!(e.snapshot().is_empty());
    }
}

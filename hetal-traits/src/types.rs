//! Newtypes for the integers and reals that HE code juggles: levels, scales and rotation steps.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A complex slot value.
pub type Complex64 = num_complex::Complex64;

/// The level of a ciphertext or plaintext: the number of rescalings it can still undergo.
///
/// Level 0 is the bottom of the modulus chain (only the base prime is left); a fresh ciphertext
/// usually sits at [`Encoder::max_level`](crate::Encoder::max_level). Multiplying and then
/// rescaling moves a ciphertext from level `l` to level `l - 1`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Level(pub u32);

impl Level {
    /// The level as an index into the modulus chain (`q_0 .. q_level`).
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// The level below, or `None` at level 0.
    pub fn below(self) -> Option<Level> {
        self.0.checked_sub(1).map(Level)
    }

    /// `self - k` levels, or `None` if that would go below level 0.
    pub fn checked_sub(self, k: u32) -> Option<Level> {
        self.0.checked_sub(k).map(Level)
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "level {}", self.0)
    }
}

/// The scaling factor Δ of a CKKS plaintext or ciphertext: a slot value `v` is represented by the
/// integer-valued polynomial whose decoding is `v · Δ`.
///
/// Scales are tracked exactly (as `f64` products and quotients of the actual primes); two scales
/// are considered equal when their relative difference is below [`Scale::RELATIVE_TOLERANCE`].
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize, Deserialize)]
pub struct Scale(pub f64);

impl Scale {
    /// Relative difference under which two scales are treated as the same (2^-30). A mismatch of
    /// that size perturbs a value by a relative 2^-30, below the precision of any CKKS parameter
    /// set in this project; a genuine mismatch (a missed rescale, two different primes) is many
    /// orders of magnitude larger.
    pub const RELATIVE_TOLERANCE: f64 = 9.313225746154785e-10;

    /// The scale 2^bits.
    pub fn from_log2(bits: f64) -> Scale {
        Scale(bits.exp2())
    }

    /// log2 of the scale.
    pub fn log2(self) -> f64 {
        self.0.log2()
    }

    /// The raw value.
    pub fn value(self) -> f64 {
        self.0
    }

    /// Whether two scales are equal up to [`Scale::RELATIVE_TOLERANCE`].
    pub fn matches(self, other: Scale) -> bool {
        let (a, b) = (self.0, other.0);
        (a - b).abs() <= Self::RELATIVE_TOLERANCE * a.abs().max(b.abs())
    }

    /// Whether the scale is a finite positive number.
    pub fn is_valid(self) -> bool {
        self.0.is_finite() && self.0 > 0.0
    }
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "2^{:.4}", self.log2())
    }
}

/// A slot rotation amount. Positive steps rotate **left**: `rotate(x, k)[t] = x[(t + k) mod slots]`;
/// negative steps rotate right.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct RotStep(pub i64);

impl RotStep {
    /// The equivalent left rotation in `0..slots`.
    pub fn normalized(self, slots: usize) -> usize {
        let s = slots as i64;
        (((self.0 % s) + s) % s) as usize
    }

    /// Whether this step is the identity for `slots` slots.
    pub fn is_identity(self, slots: usize) -> bool {
        self.normalized(slots) == 0
    }
}

impl From<i64> for RotStep {
    fn from(k: i64) -> Self {
        RotStep(k)
    }
}

impl fmt::Display for RotStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rotation by {}", self.0)
    }
}

/// What a bootstrapping-capable evaluator promises about `bootstrap`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BootstrapInfo {
    /// The lowest level a ciphertext may have when it is bootstrapped.
    pub min_input_level: Level,
    /// The level of a bootstrapped ciphertext.
    pub output_level: Level,
    /// Bootstrapping is only correct for slots whose real and imaginary parts lie in
    /// `[-input_bound, input_bound]`.
    pub input_bound: f64,
}

/// The evaluation keys a client is asked to generate for a server.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRequest {
    /// Rotation steps the server will use (normalised by the backend; the identity needs no key).
    pub rotations: Vec<RotStep>,
    /// Whether a conjugation key is needed.
    pub conjugation: bool,
    /// Whether bootstrapping keys are needed.
    pub bootstrapping: bool,
    /// Slot counts `n` (powers of two below the slot count) for which the server wants the
    /// sparse bootstrap of ciphertexts whose slots repeat with period `n`
    /// ([`Evaluator::bootstrap_sparse`](crate::Evaluator::bootstrap_sparse)); needs
    /// `bootstrapping`. Backends with a sparse circuit generate its extra keys (CKKS: the trace's
    /// automorphisms and the `n`-slot DFT rotations). Absent in older serialised requests: empty.
    #[serde(default)]
    pub sparse_bootstrap_slots: Vec<usize>,
}

impl KeyRequest {
    /// A request with the given rotations, conjugation and no bootstrapping.
    pub fn with_rotations<I: IntoIterator<Item = i64>>(steps: I) -> Self {
        KeyRequest {
            rotations: steps.into_iter().map(RotStep).collect(),
            ..KeyRequest::default()
        }
    }

    /// Adds slot counts to [`KeyRequest::sparse_bootstrap_slots`] (kept sorted, without
    /// duplicates).
    pub fn add_sparse_bootstrap_slots<I: IntoIterator<Item = usize>>(
        &mut self,
        slots: I,
    ) -> &mut Self {
        self.sparse_bootstrap_slots.extend(slots);
        self.sparse_bootstrap_slots.sort_unstable();
        self.sparse_bootstrap_slots.dedup();
        self
    }

    /// Adds rotation steps (duplicates are kept out).
    pub fn add_rotations<I: IntoIterator<Item = i64>>(&mut self, steps: I) -> &mut Self {
        for s in steps {
            if !self.rotations.contains(&RotStep(s)) {
                self.rotations.push(RotStep(s));
            }
        }
        self
    }

    /// Merges another request into this one.
    pub fn merge(&mut self, other: &KeyRequest) -> &mut Self {
        self.add_rotations(other.rotations.iter().map(|r| r.0));
        self.conjugation |= other.conjugation;
        self.bootstrapping |= other.bootstrapping;
        self.add_sparse_bootstrap_slots(other.sparse_bootstrap_slots.iter().copied());
        self
    }

    /// The distinct non-identity left-rotation amounts in `1..slots`, sorted.
    pub fn normalized_rotations(&self, slots: usize) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .rotations
            .iter()
            .map(|r| r.normalized(slots))
            .filter(|&r| r != 0)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rot_step_normalizes_both_directions() {
        assert_eq!(RotStep(3).normalized(8), 3);
        assert_eq!(RotStep(-1).normalized(8), 7);
        assert_eq!(RotStep(-9).normalized(8), 7);
        assert!(RotStep(16).is_identity(8));
    }

    #[test]
    fn scale_matching_is_relative() {
        let a = Scale::from_log2(40.0);
        assert!(a.matches(Scale(a.0 * (1.0 + 1e-12))));
        assert!(!a.matches(Scale(a.0 * (1.0 + 1e-6))));
        assert!(!a.matches(Scale::from_log2(80.0)));
        assert_eq!(format!("{}", Scale::from_log2(40.0)), "2^40.0000");
    }

    #[test]
    fn key_request_dedups() {
        let mut r = KeyRequest::with_rotations([1, 2, -1]);
        r.add_rotations([2, 3, 7]);
        assert_eq!(r.normalized_rotations(8), vec![1, 2, 3, 7]);
    }

    #[test]
    fn key_request_merge_unions_sparse_slots() {
        let mut a = KeyRequest::default();
        a.add_sparse_bootstrap_slots([64, 8]);
        let mut b = KeyRequest {
            bootstrapping: true,
            ..KeyRequest::default()
        };
        b.add_sparse_bootstrap_slots([8, 16]);
        a.merge(&b);
        assert!(a.bootstrapping);
        assert_eq!(a.sparse_bootstrap_slots, vec![8, 16, 64]);
    }
}

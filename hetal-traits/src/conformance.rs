//! The conformance suite every backend must pass (feature `conformance`).
//!
//! A backend provides a *setup function* `fn(&KeyRequest) -> Setup<E, C>` that builds a client
//! and an evaluator holding the keys asked for, and declares the precision it promises. The
//! [`conformance_suite!`](crate::conformance_suite) macro then instantiates every test of this
//! module for that setup, in a module whose name carries the parameter-set name:
//!
//! ```ignore
//! hetal_traits::conformance_suite!(ckks_insecure_test_n2048, my_setups::insecure_n2048);
//! // -> tests `ckks_insecure_test_n2048::mul_rescale`, `ckks_insecure_test_n2048::rotate`, ...
//! ```
//!
//! Randomness is seeded: every property test uses proptest's deterministic ChaCha runner.
//! Slot values are drawn with real and imaginary parts uniform in `[-1, 1]`. Precision is
//! measured in bits: `-log2(max_t |got_t - want_t|)`.
//!
//! Requirements on the setup: at least 16 slots and at least 3 levels; a rotation key for every
//! step in [`suite_rotations`] and for no other step in `1..8` (the suite checks that a rotation by
//! 7 is refused); the conjugation key exactly when the request asks for it; bootstrapping keys
//! when asked and the parameters allow it.

use crate::error::{Error, Operation};
use crate::evaluator::{ClientFor, Evaluator, Leveled};
use crate::ext::EvaluatorExt;
use crate::types::{Complex64, KeyRequest, Level, RotStep, Scale};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::cell::RefCell;

/// What a backend hands to the suite.
#[derive(Debug)]
pub struct Setup<E: Evaluator, C> {
    /// The server.
    pub evaluator: E,
    /// The client (encrypts and decrypts with the secret key the evaluation keys belong to).
    pub client: C,
    /// Promised precision (bits, minimum over slots) of a fresh encryption of values in the unit box.
    pub fresh_precision_bits: f64,
    /// Promised precision after one multiplication and rescale of two fresh ciphertexts.
    pub mul_precision_bits: f64,
    /// Promised precision of one rotation, conjugation or other key switch of a fresh ciphertext.
    pub keyswitch_precision_bits: f64,
    /// Promised precision after bootstrapping a fresh ciphertext (ignored without bootstrapping).
    pub bootstrap_precision_bits: f64,
    /// Promised precision after a sparse bootstrap ([`Evaluator::bootstrap_sparse`]) of a fresh
    /// ciphertext replicated with each period of [`suite_sparse_slots`] (ignored without
    /// bootstrapping).
    pub sparse_bootstrap_precision_bits: f64,
    /// A ciphertext from other parameters or another secret key, if the backend can make one.
    pub foreign: Option<E::Ciphertext>,
    /// Number of cases per property test.
    pub cases: u32,
}

/// A setup function.
pub type SetupFn<E, C> = fn(&KeyRequest) -> Setup<E, C>;

/// The rotation steps the suite asks for (it never asks for 6 or 7).
pub fn suite_rotations(slots: usize) -> Vec<i64> {
    vec![1, 2, 3, 4, 5, -1, -4, 8, (slots / 2) as i64]
}

/// The periods of the sparse-bootstrap tests: `slots/4` and `slots/16`, those of at least 8.
pub fn suite_sparse_slots(slots: usize) -> Vec<usize> {
    [slots / 16, slots / 4]
        .into_iter()
        .filter(|&n| n >= 8)
        .collect()
}

/// The key request of most tests.
pub fn suite_request(slots: usize, conjugation: bool, bootstrapping: bool) -> KeyRequest {
    let mut r = KeyRequest::with_rotations(suite_rotations(slots));
    r.conjugation = conjugation;
    r.bootstrapping = bootstrapping;
    r
}

/// Precision in bits of `got` against `want`: `(min over slots, mean)`, i.e.
/// `(-log2 max error, -log2 mean error)`.
pub fn precision_bits(got: &[Complex64], want: &[Complex64]) -> (f64, f64) {
    let n = want.len().max(1);
    let mut max = 0.0f64;
    let mut sum = 0.0f64;
    for (g, w) in got.iter().zip(want) {
        let e = (g - w).norm();
        max = max.max(e);
        sum += e;
    }
    (
        -(max.max(f64::MIN_POSITIVE)).log2(),
        -((sum / n as f64).max(f64::MIN_POSITIVE)).log2(),
    )
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    )
}

fn unit_box(n: usize) -> impl Strategy<Value = Vec<Complex64>> {
    prop::collection::vec(
        (-1.0f64..1.0, -1.0f64..1.0).prop_map(|(a, b)| Complex64::new(a, b)),
        n,
    )
}

fn make<E: Evaluator, C>(setup: SetupFn<E, C>, conj: bool, boot: bool) -> Setup<E, C> {
    // Ask with a provisional slot count of 2^20; steps are normalised by the backend.
    let probe = setup(&KeyRequest::default());
    let slots = probe.evaluator.slots();
    drop(probe);
    setup(&suite_request(slots, conj, boot))
}

fn check_bits(
    what: &str,
    got: &[Complex64],
    want: &[Complex64],
    bits: f64,
) -> Result<(), TestCaseError> {
    let (min, mean) = precision_bits(got, want);
    if min < bits {
        return Err(TestCaseError::fail(format!(
            "{what}: {min:.2} bits (mean {mean:.2}) < promised {bits:.2}"
        )));
    }
    Ok(())
}

fn assert_bits(what: &str, got: &[Complex64], want: &[Complex64], bits: f64) {
    if let Err(e) = check_bits(what, got, want, bits) {
        panic!("{e}");
    }
}

fn map<F: Fn(Complex64) -> Complex64>(v: &[Complex64], f: F) -> Vec<Complex64> {
    v.iter().map(|&z| f(z)).collect()
}

fn zip<F: Fn(Complex64, Complex64) -> Complex64>(
    a: &[Complex64],
    b: &[Complex64],
    f: F,
) -> Vec<Complex64> {
    a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect()
}

fn rot(v: &[Complex64], k: i64) -> Vec<Complex64> {
    let n = v.len();
    let k = RotStep(k).normalized(n);
    (0..n).map(|t| v[(t + k) % n]).collect()
}

/// Encode then decode is (nearly) the identity, at every level.
pub fn encode_decode<E: Evaluator, C: ClientFor<E>>(setup: SetupFn<E, C>) {
    let s = make(setup, false, false);
    let n = s.evaluator.slots();
    let top = s.evaluator.max_level().0;
    let mut r = runner(s.cases);
    r.run(&(unit_box(n), 0..=top), |(v, l)| {
        let pt = s
            .evaluator
            .encode_at(&v, Level(l))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(pt.level(), Level(l));
        prop_assert!(pt.scale().matches(s.evaluator.canonical_scale(Level(l))));
        let back = s
            .evaluator
            .decode(&pt)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_bits("encode/decode", &back, &v, s.fresh_precision_bits)
    })
    .unwrap();
}

/// Encrypt then decrypt recovers the values with the promised precision, at every level.
pub fn encrypt_decrypt<E: Evaluator, C: ClientFor<E>>(setup: SetupFn<E, C>) {
    let s = make(setup, false, false);
    let client = RefCell::new(s.client);
    let n = s.evaluator.slots();
    let top = s.evaluator.max_level().0;
    runner(s.cases)
        .run(&(unit_box(n), 0..=top), |(v, l)| {
            let mut c = client.borrow_mut();
            let ct = c
                .encrypt_values(&v, Level(l))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(ct.level(), Level(l));
            let got = c
                .decrypt_values(&ct)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            check_bits("encrypt/decrypt", &got, &v, s.fresh_precision_bits)
        })
        .unwrap();
}

/// Additions, subtractions, negation, plaintext and constant additions match the float results.
pub fn additive_ops<E: Evaluator, C: ClientFor<E>>(setup: SetupFn<E, C>) {
    let s = make(setup, false, false);
    let e = &s.evaluator;
    let client = RefCell::new(s.client);
    let n = e.slots();
    let top = e.max_level();
    let bits = s.fresh_precision_bits - 1.0;
    runner(s.cases)
        .run(
            &(unit_box(n), unit_box(n), -1.0f64..1.0, -1.0f64..1.0),
            |(a, b, cr, ci)| {
                let c = Complex64::new(cr, ci);
                let mut cl = client.borrow_mut();
                let fail = |e: Error| TestCaseError::fail(e.to_string());
                let ca = cl.encrypt_values(&a, top).map_err(fail)?;
                let cb = cl.encrypt_values(&b, top).map_err(fail)?;
                let pb = e.encode_at(&b, top).map_err(fail)?;
                let cases: Vec<(&str, E::Ciphertext, Vec<Complex64>)> = vec![
                    (
                        "add",
                        e.add(&ca, &cb).map_err(fail)?,
                        zip(&a, &b, |x, y| x + y),
                    ),
                    (
                        "sub",
                        e.sub(&ca, &cb).map_err(fail)?,
                        zip(&a, &b, |x, y| x - y),
                    ),
                    ("neg", e.neg(&ca).map_err(fail)?, map(&a, |x| -x)),
                    (
                        "add_plain",
                        e.add_plain(&ca, &pb).map_err(fail)?,
                        zip(&a, &b, |x, y| x + y),
                    ),
                    (
                        "sub_plain",
                        e.sub_plain(&ca, &pb).map_err(fail)?,
                        zip(&a, &b, |x, y| x - y),
                    ),
                    (
                        "add_const",
                        e.add_const(&ca, c).map_err(fail)?,
                        map(&a, |x| x + c),
                    ),
                    (
                        "mul_integer",
                        e.mul_integer(&ca, -3).map_err(fail)?,
                        map(&a, |x| x * -3.0),
                    ),
                    (
                        "mul_i",
                        e.mul_i(&ca).map_err(fail)?,
                        map(&a, |x| x * Complex64::new(0.0, 1.0)),
                    ),
                ];
                for (what, ct, want) in cases {
                    prop_assert_eq!(ct.level(), top, "{} changed the level", what);
                    prop_assert!(
                        ct.scale().matches(e.canonical_scale(top)),
                        "{} changed the scale",
                        what
                    );
                    let got = cl.decrypt_values(&ct).map_err(fail)?;
                    // mul_integer by 3 triples the error.
                    let b = if what == "mul_integer" {
                        bits - 2.0
                    } else {
                        bits
                    };
                    check_bits(what, &got, &want, b)?;
                }
                Ok(())
            },
        )
        .unwrap();
}

/// Multiplications (ct-ct, ct-pt, ct-constant) followed by rescaling: values, levels and scales.
pub fn multiplicative_ops<E: Evaluator, C: ClientFor<E>>(setup: SetupFn<E, C>) {
    let s = make(setup, false, false);
    let e = &s.evaluator;
    let client = RefCell::new(s.client);
    let n = e.slots();
    let top = e.max_level().0;
    runner(s.cases)
        .run(
            &(unit_box(n), unit_box(n), -1.0f64..1.0, 1..=top),
            |(a, b, c, l)| {
                let lvl = Level(l);
                let below = Level(l - 1);
                let mut cl = client.borrow_mut();
                let fail = |e: Error| TestCaseError::fail(e.to_string());
                let ca = cl.encrypt_values(&a, lvl).map_err(fail)?;
                let cb = cl.encrypt_values(&b, lvl).map_err(fail)?;
                let pb = e.encode_at(&b, lvl).map_err(fail)?;
                let raw = e.mul(&ca, &cb).map_err(fail)?;
                prop_assert_eq!(raw.level(), lvl);
                prop_assert!(
                    raw.scale()
                        .matches(Scale(ca.scale().value() * cb.scale().value()))
                );
                let cases: Vec<(&str, E::Ciphertext, Vec<Complex64>)> = vec![
                    (
                        "mul",
                        e.rescale(&raw).map_err(fail)?,
                        zip(&a, &b, |x, y| x * y),
                    ),
                    (
                        "square",
                        e.square_rescale(&ca).map_err(fail)?,
                        map(&a, |x| x * x),
                    ),
                    (
                        "mul_plain",
                        e.mul_plain_rescale(&ca, &pb).map_err(fail)?,
                        zip(&a, &b, |x, y| x * y),
                    ),
                    (
                        "mul_scalar",
                        e.mul_scalar(&ca, c).map_err(fail)?,
                        map(&a, |x| x * c),
                    ),
                    (
                        "mul_const_to_scale",
                        e.mul_const_to_scale(&ca, Complex64::new(0.0, c), e.canonical_scale(below))
                            .map_err(fail)?,
                        map(&a, |x| x * Complex64::new(0.0, c)),
                    ),
                ];
                for (what, ct, want) in cases {
                    prop_assert_eq!(
                        ct.level(),
                        below,
                        "{} did not consume exactly one level",
                        what
                    );
                    prop_assert!(
                        ct.scale().matches(e.canonical_scale(below)),
                        "{}: scale {} is not the canonical {}",
                        what,
                        ct.scale(),
                        e.canonical_scale(below)
                    );
                    let got = cl.decrypt_values(&ct).map_err(fail)?;
                    check_bits(what, &got, &want, s.mul_precision_bits)?;
                }
                Ok(())
            },
        )
        .unwrap();
}

/// Rotations match the slot permutation, compose, and hoisted rotations equal single ones.
pub fn rotations<E: Evaluator, C: ClientFor<E>>(setup: SetupFn<E, C>) {
    let s = make(setup, false, false);
    let e = &s.evaluator;
    let client = RefCell::new(s.client);
    let n = e.slots();
    let top = e.max_level().0;
    let steps = suite_rotations(n);
    let bits = s.keyswitch_precision_bits;
    runner(s.cases)
        .run(
            &(unit_box(n), prop::sample::select(steps.clone()), 0..=top),
            |(a, k, l)| {
                let mut cl = client.borrow_mut();
                let fail = |e: Error| TestCaseError::fail(e.to_string());
                let ca = cl.encrypt_values(&a, Level(l)).map_err(fail)?;
                let r = e.rotate(&ca, RotStep(k)).map_err(fail)?;
                prop_assert_eq!(r.level(), Level(l));
                check_bits(
                    "rotate",
                    &cl.decrypt_values(&r).map_err(fail)?,
                    &rot(&a, k),
                    bits,
                )?;
                // Composition: rot(rot(a, 1), 2) = rot(a, 3); rot(rot(a, 4), -4) = a.
                let r12 = e
                    .rotate(&e.rotate(&ca, RotStep(1)).map_err(fail)?, RotStep(2))
                    .map_err(fail)?;
                check_bits(
                    "rot1∘rot2",
                    &cl.decrypt_values(&r12).map_err(fail)?,
                    &rot(&a, 3),
                    bits - 1.0,
                )?;
                let back = e
                    .rotate(&e.rotate(&ca, RotStep(4)).map_err(fail)?, RotStep(-4))
                    .map_err(fail)?;
                check_bits(
                    "rot4∘rot-4",
                    &cl.decrypt_values(&back).map_err(fail)?,
                    &a,
                    bits - 1.0,
                )?;
                // Identity rotations need no key and change nothing.
                let id = e.rotate(&ca, RotStep(n as i64)).map_err(fail)?;
                check_bits(
                    "rotate by slots",
                    &cl.decrypt_values(&id).map_err(fail)?,
                    &a,
                    s.fresh_precision_bits,
                )?;
                // Hoisted = single, in order, including an identity step.
                let hs: Vec<RotStep> = vec![RotStep(k), RotStep(0), RotStep(1), RotStep(-1)];
                let hoisted = e.rotate_hoisted(&ca, &hs).map_err(fail)?;
                prop_assert_eq!(hoisted.len(), hs.len());
                for (h, st) in hoisted.iter().zip(&hs) {
                    check_bits(
                        "hoisted",
                        &cl.decrypt_values(h).map_err(fail)?,
                        &rot(&a, st.0),
                        bits,
                    )?;
                }
                Ok(())
            },
        )
        .unwrap();
}

/// Conjugation conjugates every slot and keeps level and scale.
pub fn conjugation<E: Evaluator, C: ClientFor<E>>(setup: SetupFn<E, C>) {
    let s = make(setup, true, false);
    let e = &s.evaluator;
    assert!(e.has_conjugation_key());
    let client = RefCell::new(s.client);
    let n = e.slots();
    runner(s.cases)
        .run(&unit_box(n), |a| {
            let mut cl = client.borrow_mut();
            let fail = |e: Error| TestCaseError::fail(e.to_string());
            let ca = cl.encrypt_values(&a, e.max_level()).map_err(fail)?;
            let c = e.conjugate(&ca).map_err(fail)?;
            prop_assert_eq!(c.level(), ca.level());
            check_bits(
                "conjugate",
                &cl.decrypt_values(&c).map_err(fail)?,
                &map(&a, |z| z.conj()),
                s.keyswitch_precision_bits,
            )?;
            let re = e.real_part(&ca, false).map_err(fail)?;
            check_bits(
                "2 Re",
                &cl.decrypt_values(&re).map_err(fail)?,
                &map(&a, |z| Complex64::new(2.0 * z.re, 0.0)),
                s.keyswitch_precision_bits - 1.0,
            )
        })
        .unwrap();
}

/// Level rules: automatic alignment of levels, scale-preserving drops, depth exhaustion.
pub fn level_rules<E: Evaluator, C: ClientFor<E>>(setup: SetupFn<E, C>) {
    let s = make(setup, false, false);
    let e = &s.evaluator;
    let mut cl = s.client;
    let n = e.slots();
    let top = e.max_level();
    assert!(top.0 >= 2, "the suite needs at least 3 levels");
    let a: Vec<Complex64> = (0..n)
        .map(|i| Complex64::new(((i * 37) % 101) as f64 / 101.0 - 0.5, 0.25))
        .collect();
    let ca = cl.encrypt_values(&a, top).unwrap();
    // drop_to_level keeps the value and a canonical scale.
    for l in (0..=top.0).rev() {
        let d = e.drop_to_level(&ca, Level(l)).unwrap();
        assert_eq!(d.level(), Level(l));
        assert!(
            d.scale().matches(e.canonical_scale(Level(l))),
            "dropped scale {} vs canonical {}",
            d.scale(),
            e.canonical_scale(Level(l))
        );
        assert_bits(
            "drop_to_level",
            &cl.decrypt_values(&d).unwrap(),
            &a,
            s.mul_precision_bits,
        );
    }
    // Raising a level is refused.
    let low = e.drop_to_level(&ca, Level(1)).unwrap();
    assert!(matches!(
        e.drop_to_level(&low, top),
        Err(Error::LevelMismatch {
            op: Operation::DropLevel,
            ..
        })
    ));
    // Operands at different levels are aligned to the lower one.
    let sum = e.add(&ca, &low).unwrap();
    assert_eq!(sum.level(), Level(1));
    assert_bits(
        "add across levels",
        &cl.decrypt_values(&sum).unwrap(),
        &map(&a, |x| x * 2.0),
        s.mul_precision_bits - 1.0,
    );
    let prod = e.mul_rescale(&ca, &low).unwrap();
    assert_eq!(prod.level(), Level(0));
    assert_bits(
        "mul across levels",
        &cl.decrypt_values(&prod).unwrap(),
        &map(&a, |x| x * x),
        s.mul_precision_bits - 1.0,
    );
    // Depth: square and rescale down to level 0, then every level-consuming op fails.
    let mut x = ca.clone();
    let mut want = a.clone();
    while x.level().0 > 0 {
        let before = x.level();
        x = e.square_rescale(&x).unwrap();
        want = map(&want, |z| z * z);
        assert_eq!(x.level().0 + 1, before.0);
    }
    assert_bits(
        "squaring chain",
        &cl.decrypt_values(&x).unwrap(),
        &want,
        s.mul_precision_bits - top.0 as f64 - 1.0,
    );
    assert!(matches!(
        e.mul(&x, &x),
        Err(Error::LevelExhausted {
            op: Operation::Mul,
            ..
        })
    ));
    assert!(matches!(e.square(&x), Err(Error::LevelExhausted { .. })));
    assert!(matches!(
        e.rescale(&x),
        Err(Error::LevelExhausted {
            op: Operation::Rescale,
            ..
        })
    ));
    let p0 = e.encode_at(&a, Level(0)).unwrap();
    assert!(matches!(
        e.mul_plain(&x, &p0),
        Err(Error::LevelExhausted {
            op: Operation::MulPlain,
            ..
        })
    ));
    assert!(matches!(
        e.mul_const(&x, Complex64::new(2.0, 0.0), e.canonical_scale(Level(0))),
        Err(Error::LevelExhausted {
            op: Operation::MulConst,
            ..
        })
    ));
    // Level-free ops still work at level 0.
    assert!(e.add(&x, &x).is_ok());
    assert!(e.rotate(&x, RotStep(1)).is_ok());
    // A plaintext below the ciphertext's level is refused.
    let p1 = e.encode_at(&a, Level(1)).unwrap();
    assert!(matches!(
        e.mul_plain(&ca, &p1),
        Err(Error::LevelMismatch { .. })
    ));
    assert!(matches!(
        e.add_plain(&ca, &p1),
        Err(Error::LevelMismatch { .. })
    ));
}

/// Scale rules: adding operands of different scales is refused, at any level.
pub fn scale_rules<E: Evaluator, C: ClientFor<E>>(setup: SetupFn<E, C>) {
    let s = make(setup, false, false);
    let e = &s.evaluator;
    let mut cl = s.client;
    let n = e.slots();
    let top = e.max_level();
    let a: Vec<Complex64> = (0..n)
        .map(|i| Complex64::new((i % 7) as f64 / 7.0, 0.0))
        .collect();
    let ca = cl.encrypt_values(&a, top).unwrap();
    let unrescaled = e.mul(&ca, &ca).unwrap();
    assert!(matches!(
        e.add(&ca, &unrescaled),
        Err(Error::ScaleMismatch { .. })
    ));
    assert!(matches!(
        e.sub(&unrescaled, &ca),
        Err(Error::ScaleMismatch { .. })
    ));
    let p = e.encode_at(&a, top).unwrap();
    assert!(matches!(
        e.add_plain(&unrescaled, &p),
        Err(Error::ScaleMismatch { .. })
    ));
    // A plaintext at twice the scale is refused too.
    let p2 = e
        .encode(&a, top, Scale(e.canonical_scale(top).value() * 2.0))
        .unwrap();
    assert!(matches!(
        e.add_plain(&ca, &p2),
        Err(Error::ScaleMismatch { .. })
    ));
    // An encryption at a non-canonical scale keeps it.
    let pt = e
        .encode(&a, top, Scale(e.canonical_scale(top).value() * 2.0))
        .unwrap();
    let odd = crate::Encryptor::encrypt(&mut cl, &pt).unwrap();
    assert!(
        odd.scale()
            .matches(Scale(e.canonical_scale(top).value() * 2.0))
    );
    assert_bits(
        "non-canonical scale",
        &cl.decrypt_values(&odd).unwrap(),
        &a,
        s.fresh_precision_bits,
    );
}

/// Missing keys are reported, never papered over.
pub fn missing_keys<E: Evaluator, C: ClientFor<E>>(setup: SetupFn<E, C>) {
    let s = make(setup, false, false);
    let e = &s.evaluator;
    let mut cl = s.client;
    let n = e.slots();
    let ca = cl
        .encrypt_values(&[Complex64::new(0.5, 0.0)], e.max_level())
        .unwrap();
    assert!(!e.has_rotation_key(RotStep(7)));
    assert!(e.has_rotation_key(RotStep(0)));
    assert!(e.has_rotation_key(RotStep(1)));
    assert!(matches!(
        e.rotate(&ca, RotStep(7)),
        Err(Error::MissingRotationKey { normalized: 7, .. })
    ));
    let minus = RotStep(-(n as i64) + 6);
    assert!(matches!(
        e.rotate(&ca, minus),
        Err(Error::MissingRotationKey { normalized: 6, .. })
    ));
    assert!(matches!(
        e.rotate_hoisted(&ca, &[RotStep(1), RotStep(7)]),
        Err(Error::MissingRotationKey { .. })
    ));
    assert!(!e.has_conjugation_key());
    assert!(matches!(
        e.conjugate(&ca),
        Err(Error::MissingConjugationKey)
    ));
}

/// Bad inputs to encoding are errors.
pub fn invalid_inputs<E: Evaluator, C: ClientFor<E>>(setup: SetupFn<E, C>) {
    let s = make(setup, false, false);
    let e = &s.evaluator;
    let n = e.slots();
    let top = e.max_level();
    let too_many = vec![Complex64::new(0.0, 0.0); n + 1];
    assert!(matches!(
        e.encode_at(&too_many, top),
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        e.encode_at(&[Complex64::new(f64::NAN, 0.0)], top),
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        e.encode_real_at(&[f64::INFINITY], top),
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        e.encode_at(&[Complex64::new(1.0, 0.0)], Level(top.0 + 1)),
        Err(Error::LevelMismatch { .. })
    ));
    assert!(matches!(
        e.encode(&[Complex64::new(1.0, 0.0)], top, Scale(-1.0)),
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        e.encode(&[Complex64::new(1.0, 0.0)], top, Scale(f64::NAN)),
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        e.encode_real_at(&[1e300], Level(0)),
        Err(Error::ScaleOverflow { .. })
    ));
}

/// Ciphertexts from other parameters or keys are refused.
pub fn foreign_ciphertexts<E: Evaluator, C: ClientFor<E>>(setup: SetupFn<E, C>) {
    let s = make(setup, false, false);
    let Some(foreign) = s.foreign.as_ref() else {
        return;
    };
    let e = &s.evaluator;
    let mut cl = s.client;
    let ca = cl
        .encrypt_values(&[Complex64::new(0.5, 0.0)], e.max_level())
        .unwrap();
    assert!(matches!(
        e.add(&ca, foreign),
        Err(Error::ParameterMismatch { .. })
    ));
    assert!(matches!(
        e.mul(foreign, &ca),
        Err(Error::ParameterMismatch { .. })
    ));
    assert!(matches!(
        e.rotate(foreign, RotStep(1)),
        Err(Error::ParameterMismatch { .. })
    ));
    assert!(matches!(
        cl.decrypt_values(foreign),
        Err(Error::ParameterMismatch { .. })
    ));
}

/// Bootstrapping: refused when unavailable; otherwise it refreshes to the promised level and precision.
pub fn bootstrapping<E: Evaluator, C: ClientFor<E>>(setup: SetupFn<E, C>) {
    let s = make(setup, false, true);
    let e = &s.evaluator;
    let mut cl = s.client;
    let n = e.slots();
    let a: Vec<Complex64> = (0..n)
        .map(|i| {
            Complex64::new(
                ((i * 13) % 17) as f64 / 17.0 - 0.5,
                ((i * 5) % 11) as f64 / 11.0 - 0.5,
            )
        })
        .collect();
    let Some(info) = e.bootstrap_info() else {
        let ca = cl.encrypt_values(&a, e.max_level()).unwrap();
        assert!(matches!(
            e.bootstrap(&ca),
            Err(Error::BootstrapUnavailable { .. })
        ));
        return;
    };
    let ca = cl.encrypt_values(&a, info.min_input_level).unwrap();
    let b = e.bootstrap(&ca).unwrap();
    assert_eq!(b.level(), info.output_level);
    assert!(b.scale().matches(e.canonical_scale(info.output_level)));
    assert_bits(
        "bootstrap",
        &cl.decrypt_values(&b).unwrap(),
        &a,
        s.bootstrap_precision_bits,
    );
    if let Some(below) = info.min_input_level.below() {
        let low = cl.encrypt_values(&a, below).unwrap();
        assert!(matches!(
            e.bootstrap(&low),
            Err(Error::LevelExhausted {
                op: Operation::Bootstrap,
                ..
            })
        ));
    }
}

/// Seeded real values in `[-amp, amp]` (imaginary parts zero).
fn real_values(n: usize, seed: u64, amp: f64) -> Vec<Complex64> {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| Complex64::new(rng.random_range(-amp..=amp), 0.0))
        .collect()
}

/// Precision lost over twenty refreshes in a row, in bits: independent errors of twenty pair
/// bootstraps, each output also picking up the other's imaginary error, add up to about
/// `sqrt(2·20) ≈ 2^2.7` times one refresh's error.
pub const TWENTY_REFRESHES_LOSS_BITS: f64 = 3.0;

/// Precision lost over ten sparse refreshes in a row, in bits: `log2 10 ≈ 3.32`, rounded up.
/// A sparse bootstrap's error is dominated by the sine's non-linearity on the larger
/// coefficients of a part-full vector, a deterministic function of the values, so the errors of
/// consecutive refreshes add up rather than average out.
pub const TEN_SPARSE_REFRESHES_LOSS_BITS: f64 = 3.4;

/// Pair bootstrapping ([`Evaluator::bootstrap_pair`]): two real ciphertexts come back at the
/// output level with the canonical scale, real-valued, each within the promised bootstrap
/// precision, also after 20 pair bootstraps in a row (within
/// [`TWENTY_REFRESHES_LOSS_BITS`] less); different levels or scales are refused with typed
/// errors; a complex input is refused with [`Error::ComplexInput`] by a backend that can see the
/// values, and otherwise gives `(Re(a + i·b), Im(a + i·b))`, which is what the refresh of
/// `a + i·b` split by conjugation computes. Without bootstrapping it is
/// [`Error::BootstrapUnavailable`].
pub fn bootstrap_pair<E: Evaluator, C: ClientFor<E>>(setup: SetupFn<E, C>) {
    let s = make(setup, false, true);
    let e = &s.evaluator;
    let mut cl = s.client;
    let n = e.slots();
    let a = real_values(n, 1, 1.0);
    let b = real_values(n, 2, 1.0);
    let Some(info) = e.bootstrap_info() else {
        let ca = cl.encrypt_values(&a, e.max_level()).unwrap();
        let cb = cl.encrypt_values(&b, e.max_level()).unwrap();
        assert!(matches!(
            e.bootstrap_pair(&ca, &cb),
            Err(Error::BootstrapUnavailable { .. })
        ));
        return;
    };
    let bits = s.bootstrap_precision_bits;
    let check = |cl: &C, x: &E::Ciphertext, want: &[Complex64], what: &str, bits: f64| {
        assert_eq!(x.level(), info.output_level, "{what}: level");
        assert!(
            x.scale().matches(e.canonical_scale(info.output_level)),
            "{what}: scale {} is not canonical",
            x.scale()
        );
        assert_bits(what, &cl.decrypt_values(x).unwrap(), want, bits);
    };
    // One pair from the lowest input level.
    let ca = cl.encrypt_values(&a, info.min_input_level).unwrap();
    let cb = cl.encrypt_values(&b, info.min_input_level).unwrap();
    let (x, y) = e.bootstrap_pair(&ca, &cb).unwrap();
    check(&cl, &x, &a, "bootstrap_pair: first", bits);
    check(&cl, &y, &b, "bootstrap_pair: second", bits);
    // Twenty in a row.
    let mut x = cl.encrypt_values(&a, info.output_level).unwrap();
    let mut y = cl.encrypt_values(&b, info.output_level).unwrap();
    for i in 1..=20 {
        (x, y) = e.bootstrap_pair(&x, &y).unwrap();
        let worn = bits - TWENTY_REFRESHES_LOSS_BITS;
        check(&cl, &x, &a, &format!("bootstrap_pair {i}: first"), worn);
        check(&cl, &y, &b, &format!("bootstrap_pair {i}: second"), worn);
    }
    // Different levels.
    if let Some(below) = info.output_level.below()
        && below >= info.min_input_level
    {
        let hi = cl.encrypt_values(&a, info.output_level).unwrap();
        let lo = cl.encrypt_values(&b, below).unwrap();
        assert!(matches!(
            e.bootstrap_pair(&hi, &lo),
            Err(Error::LevelMismatch {
                op: Operation::Bootstrap,
                ..
            })
        ));
    }
    // Different scales at the same level.
    if info.output_level.0 >= 1 {
        let ca = cl.encrypt_values(&a, info.output_level).unwrap();
        let cb = cl.encrypt_values(&b, info.output_level).unwrap();
        let doubled = e
            .mul_const(&cb, Complex64::new(0.5, 0.0), Scale(2.0))
            .unwrap();
        assert!(matches!(
            e.bootstrap_pair(&ca, &doubled),
            Err(Error::ScaleMismatch {
                op: Operation::Bootstrap,
                ..
            })
        ));
    }
    // Below the minimum input level.
    if let Some(below) = info.min_input_level.below() {
        let ca = cl.encrypt_values(&a, below).unwrap();
        assert!(matches!(
            e.bootstrap_pair(&ca, &ca),
            Err(Error::LevelExhausted {
                op: Operation::Bootstrap,
                ..
            })
        ));
    }
    // A complex input (components small enough that a + i·b stays in range).
    let half_a = real_values(n, 3, 0.5);
    let cplx: Vec<Complex64> = real_values(n, 4, 0.5)
        .iter()
        .zip(real_values(n, 5, 0.25))
        .map(|(r, i)| Complex64::new(r.re, i.re))
        .collect();
    let ca = cl.encrypt_values(&half_a, info.output_level).unwrap();
    let cb = cl.encrypt_values(&cplx, info.output_level).unwrap();
    match e.bootstrap_pair(&ca, &cb) {
        Err(Error::ComplexInput {
            op: Operation::Bootstrap,
            max_abs_imag,
            ..
        }) => assert!(max_abs_imag > 0.0),
        Ok((x, y)) => {
            let z = zip(&half_a, &cplx, |p, q| p + q * Complex64::new(0.0, 1.0));
            check(
                &cl,
                &x,
                &map(&z, |v| Complex64::new(v.re, 0.0)),
                "Re(a+ib)",
                bits,
            );
            check(
                &cl,
                &y,
                &map(&z, |v| Complex64::new(v.im, 0.0)),
                "Im(a+ib)",
                bits,
            );
        }
        Err(other) => panic!("complex input to bootstrap_pair: unexpected {other}"),
    }
}

/// Pair bootstrapping without bootstrapping keys: [`Error::BootstrapUnavailable`] (for setups
/// that honour `request.bootstrapping = false`; a setup that always holds bootstrapping keys has
/// nothing to check here).
pub fn bootstrap_pair_without_keys<E: Evaluator, C: ClientFor<E>>(setup: SetupFn<E, C>) {
    let s = make(setup, false, false);
    let e = &s.evaluator;
    if e.bootstrap_info().is_some() {
        return;
    }
    let mut cl = s.client;
    let n = e.slots();
    let ca = cl
        .encrypt_values(&real_values(n, 6, 0.5), e.max_level())
        .unwrap();
    let cb = cl
        .encrypt_values(&real_values(n, 7, 0.5), e.max_level())
        .unwrap();
    assert!(matches!(
        e.bootstrap_pair(&ca, &cb),
        Err(Error::BootstrapUnavailable { .. })
    ));
    assert!(matches!(
        e.bootstrap(&ca),
        Err(Error::BootstrapUnavailable { .. })
    ));
}

/// Seeded complex values in the unit box, replicated with period `period` over `n` slots.
fn periodic_values(n: usize, period: usize, seed: u64, real: bool) -> Vec<Complex64> {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let first: Vec<Complex64> = (0..period)
        .map(|_| {
            let im = if real {
                0.0
            } else {
                rng.random_range(-1.0..=1.0)
            };
            Complex64::new(rng.random_range(-1.0..=1.0), im)
        })
        .collect();
    (0..n).map(|t| first[t % period]).collect()
}

/// The mean of each residue class of `v` modulo `period`, replicated (what a sparse bootstrap
/// computes from a vector that is not periodic, on a backend that cannot see it).
fn class_means(v: &[Complex64], period: usize) -> Vec<Complex64> {
    let copies = (v.len() / period) as f64;
    let mut first = vec![Complex64::new(0.0, 0.0); period];
    for (t, x) in v.iter().enumerate() {
        first[t % period] += x / copies;
    }
    (0..v.len()).map(|t| first[t % period]).collect()
}

fn sparse_request(slots: usize, with_sparse: bool) -> KeyRequest {
    let mut r = suite_request(slots, false, true);
    if with_sparse {
        r.add_sparse_bootstrap_slots(suite_sparse_slots(slots));
    }
    r
}

/// Sparse bootstrapping ([`Evaluator::bootstrap_sparse`]) with keys for the periods of
/// [`suite_sparse_slots`]: [`Evaluator::has_sparse_bootstrap`] answers `true` for them and
/// `false` for the full slot count; a ciphertext replicated with such a period comes back at the
/// output level with the canonical scale, periodic and within the promised sparse precision, also
/// after ten sparse bootstraps in a row (within [`TEN_SPARSE_REFRESHES_LOSS_BITS`] less); the full
/// slot count is the full bootstrap; periods that are not powers of two dividing the slot count
/// give [`Error::InvalidInput`]; a level below the minimum [`Error::LevelExhausted`]; an input
/// that is not periodic [`Error::NotPeriodic`] on a backend that can see it, and otherwise the
/// class means ([`Evaluator::bootstrap_sparse`]'s contract). Without bootstrapping it is
/// [`Error::BootstrapUnavailable`].
pub fn bootstrap_sparse<E: Evaluator, C: ClientFor<E>>(setup: SetupFn<E, C>) {
    let probe = setup(&KeyRequest::default());
    let n = probe.evaluator.slots();
    drop(probe);
    let s = setup(&sparse_request(n, true));
    let e = &s.evaluator;
    let mut cl = s.client;
    let periods = suite_sparse_slots(n);
    let Some(info) = e.bootstrap_info() else {
        let ca = cl
            .encrypt_values(&periodic_values(n, 8, 1, false), e.max_level())
            .unwrap();
        assert!(matches!(
            e.bootstrap_sparse(&ca, 8),
            Err(Error::BootstrapUnavailable { .. })
        ));
        return;
    };
    let bits = s.sparse_bootstrap_precision_bits;
    let check = |cl: &C, x: &E::Ciphertext, want: &[Complex64], what: &str, bits: f64| {
        assert_eq!(x.level(), info.output_level, "{what}: level");
        assert!(
            x.scale().matches(e.canonical_scale(info.output_level)),
            "{what}: scale {} is not canonical",
            x.scale()
        );
        assert_bits(what, &cl.decrypt_values(x).unwrap(), want, bits);
    };
    assert!(
        !e.has_sparse_bootstrap(n),
        "the full slot count is no sparse circuit"
    );
    for (k, &p) in periods.iter().enumerate() {
        assert!(
            e.has_sparse_bootstrap(p),
            "no sparse bootstrap for period {p}"
        );
        let a = periodic_values(n, p, 10 + k as u64, false);
        let ca = cl.encrypt_values(&a, info.min_input_level).unwrap();
        let b = e.bootstrap_sparse(&ca, p).unwrap();
        check(&cl, &b, &a, &format!("bootstrap_sparse({p})"), bits);
        let mut x = cl.encrypt_values(&a, info.output_level).unwrap();
        for i in 1..=10 {
            x = e.bootstrap_sparse(&x, p).unwrap();
            let worn = bits - TEN_SPARSE_REFRESHES_LOSS_BITS;
            check(&cl, &x, &a, &format!("bootstrap_sparse({p}) {i}"), worn);
        }
        // Not periodic: refused where visible, else the class means.
        let mut bumped = a.clone();
        bumped[n - 1] += Complex64::new(0.25, 0.0);
        let cb = cl.encrypt_values(&bumped, info.output_level).unwrap();
        match e.bootstrap_sparse(&cb, p) {
            Err(Error::NotPeriodic {
                period,
                max_deviation,
                ..
            }) => {
                assert_eq!(period, p);
                assert!(max_deviation > 0.2);
            }
            Ok(y) => check(
                &cl,
                &y,
                &class_means(&bumped, p),
                &format!("bootstrap_sparse({p}) of a non-periodic input"),
                bits,
            ),
            Err(other) => panic!("non-periodic input to bootstrap_sparse: unexpected {other}"),
        }
    }
    // The full slot count is the full bootstrap.
    let a = periodic_values(n, n, 20, false);
    let ca = cl.encrypt_values(&a, info.min_input_level).unwrap();
    let b = e.bootstrap_sparse(&ca, n).unwrap();
    check(
        &cl,
        &b,
        &a,
        "bootstrap_sparse(slots)",
        s.bootstrap_precision_bits,
    );
    for bad in [0, 3, 2 * n, n - 1] {
        assert!(
            matches!(
                e.bootstrap_sparse(&ca, bad),
                Err(Error::InvalidInput { .. })
            ),
            "period {bad}"
        );
    }
    if let (Some(below), Some(&p)) = (info.min_input_level.below(), periods.first()) {
        let low = cl
            .encrypt_values(&periodic_values(n, p, 21, false), below)
            .unwrap();
        assert!(matches!(
            e.bootstrap_sparse(&low, p),
            Err(Error::LevelExhausted {
                op: Operation::Bootstrap,
                ..
            })
        ));
    }
}

/// Sparse pair bootstrapping ([`Evaluator::bootstrap_pair_sparse`]): two real ciphertexts
/// replicated with a period of [`suite_sparse_slots`] come back at the output level with the
/// canonical scale, real-valued, periodic, within the promised sparse precision, also after ten
/// in a row (within [`TEN_SPARSE_REFRESHES_LOSS_BITS`] less); different levels or scales give typed
/// errors; an invalid period [`Error::InvalidInput`]; a complex input [`Error::ComplexInput`]
/// where visible, else `(Re(a + i·b), Im(a + i·b))`.
pub fn bootstrap_pair_sparse<E: Evaluator, C: ClientFor<E>>(setup: SetupFn<E, C>) {
    let probe = setup(&KeyRequest::default());
    let n = probe.evaluator.slots();
    drop(probe);
    let s = setup(&sparse_request(n, true));
    let e = &s.evaluator;
    let mut cl = s.client;
    let Some(info) = e.bootstrap_info() else {
        let ca = cl
            .encrypt_values(&periodic_values(n, 8, 1, true), e.max_level())
            .unwrap();
        assert!(matches!(
            e.bootstrap_pair_sparse(&ca, &ca, 8),
            Err(Error::BootstrapUnavailable { .. })
        ));
        return;
    };
    let bits = s.sparse_bootstrap_precision_bits;
    let check = |cl: &C, x: &E::Ciphertext, want: &[Complex64], what: &str, bits: f64| {
        assert_eq!(x.level(), info.output_level, "{what}: level");
        assert!(
            x.scale().matches(e.canonical_scale(info.output_level)),
            "{what}: scale {} is not canonical",
            x.scale()
        );
        assert_bits(what, &cl.decrypt_values(x).unwrap(), want, bits);
    };
    for (k, &p) in suite_sparse_slots(n).iter().enumerate() {
        let a = periodic_values(n, p, 30 + k as u64, true);
        let b = periodic_values(n, p, 40 + k as u64, true);
        let ca = cl.encrypt_values(&a, info.min_input_level).unwrap();
        let cb = cl.encrypt_values(&b, info.min_input_level).unwrap();
        let (x, y) = e.bootstrap_pair_sparse(&ca, &cb, p).unwrap();
        check(
            &cl,
            &x,
            &a,
            &format!("bootstrap_pair_sparse({p}): first"),
            bits,
        );
        check(
            &cl,
            &y,
            &b,
            &format!("bootstrap_pair_sparse({p}): second"),
            bits,
        );
        let mut x = cl.encrypt_values(&a, info.output_level).unwrap();
        let mut y = cl.encrypt_values(&b, info.output_level).unwrap();
        for i in 1..=10 {
            (x, y) = e.bootstrap_pair_sparse(&x, &y, p).unwrap();
            let worn = bits - TEN_SPARSE_REFRESHES_LOSS_BITS;
            check(&cl, &x, &a, &format!("pair_sparse({p}) {i}: first"), worn);
            check(&cl, &y, &b, &format!("pair_sparse({p}) {i}: second"), worn);
        }
        assert!(matches!(
            e.bootstrap_pair_sparse(&ca, &cb, 3),
            Err(Error::InvalidInput { .. })
        ));
        if let Some(below) = info.output_level.below()
            && below >= info.min_input_level
        {
            let hi = cl.encrypt_values(&a, info.output_level).unwrap();
            let lo = cl.encrypt_values(&b, below).unwrap();
            assert!(matches!(
                e.bootstrap_pair_sparse(&hi, &lo, p),
                Err(Error::LevelMismatch {
                    op: Operation::Bootstrap,
                    ..
                })
            ));
        }
        if info.output_level.0 >= 1 {
            let ca = cl.encrypt_values(&a, info.output_level).unwrap();
            let cb = cl.encrypt_values(&b, info.output_level).unwrap();
            let doubled = e
                .mul_const(&cb, Complex64::new(0.5, 0.0), Scale(2.0))
                .unwrap();
            assert!(matches!(
                e.bootstrap_pair_sparse(&ca, &doubled, p),
                Err(Error::ScaleMismatch {
                    op: Operation::Bootstrap,
                    ..
                })
            ));
        }
        // A complex input (components small enough that a + i·b stays in range).
        let half: Vec<Complex64> = a.iter().map(|v| v * 0.5).collect();
        let cplx: Vec<Complex64> = periodic_values(n, p, 50 + k as u64, false)
            .iter()
            .map(|v| Complex64::new(v.re * 0.5, v.im * 0.25))
            .collect();
        let ca = cl.encrypt_values(&half, info.output_level).unwrap();
        let cb = cl.encrypt_values(&cplx, info.output_level).unwrap();
        match e.bootstrap_pair_sparse(&ca, &cb, p) {
            Err(Error::ComplexInput { max_abs_imag, .. }) => assert!(max_abs_imag > 0.0),
            Ok((x, y)) => {
                let z = zip(&half, &cplx, |p, q| p + q * Complex64::new(0.0, 1.0));
                check(&cl, &x, &map(&z, |v| Complex64::new(v.re, 0.0)), "Re", bits);
                check(&cl, &y, &map(&z, |v| Complex64::new(v.im, 0.0)), "Im", bits);
            }
            Err(other) => panic!("complex input to bootstrap_pair_sparse: unexpected {other}"),
        }
    }
}

/// Sparse bootstrapping with bootstrapping keys but no sparse keys:
/// [`Evaluator::has_sparse_bootstrap`] answers `false`, and `bootstrap_sparse` /
/// `bootstrap_pair_sparse` either refuse with [`Error::BootstrapUnavailable`] (the strict mock)
/// or refresh with the full bootstrap within its promised precision (CKKS, the trait's default).
pub fn bootstrap_sparse_without_keys<E: Evaluator, C: ClientFor<E>>(setup: SetupFn<E, C>) {
    let probe = setup(&KeyRequest::default());
    let n = probe.evaluator.slots();
    drop(probe);
    let s = setup(&sparse_request(n, false));
    let e = &s.evaluator;
    let Some(info) = e.bootstrap_info() else {
        return;
    };
    let mut cl = s.client;
    let bits = s.bootstrap_precision_bits;
    for p in suite_sparse_slots(n) {
        assert!(!e.has_sparse_bootstrap(p), "period {p} without keys");
        let a = periodic_values(n, p, 60, true);
        let b = periodic_values(n, p, 61, true);
        let ca = cl.encrypt_values(&a, info.min_input_level).unwrap();
        let cb = cl.encrypt_values(&b, info.min_input_level).unwrap();
        match e.bootstrap_sparse(&ca, p) {
            Err(Error::BootstrapUnavailable { .. }) => {}
            Ok(x) => {
                assert_eq!(x.level(), info.output_level);
                assert_bits("full fallback", &cl.decrypt_values(&x).unwrap(), &a, bits);
            }
            Err(other) => panic!("bootstrap_sparse without sparse keys: unexpected {other}"),
        }
        match e.bootstrap_pair_sparse(&ca, &cb, p) {
            Err(Error::BootstrapUnavailable { .. }) => {}
            Ok((x, y)) => {
                assert_bits("pair fallback", &cl.decrypt_values(&x).unwrap(), &a, bits);
                assert_bits("pair fallback", &cl.decrypt_values(&y).unwrap(), &b, bits);
            }
            Err(other) => panic!("bootstrap_pair_sparse without sparse keys: unexpected {other}"),
        }
    }
}

/// Instantiates the conformance suite for a setup function, in a module named after the
/// parameter set.
#[macro_export]
macro_rules! conformance_suite {
    ($name:ident, $setup:path) => {
        mod $name {
            use super::*;
            #[test]
            fn encode_decode() {
                $crate::conformance::encode_decode($setup)
            }
            #[test]
            fn encrypt_decrypt() {
                $crate::conformance::encrypt_decrypt($setup)
            }
            #[test]
            fn additive_ops() {
                $crate::conformance::additive_ops($setup)
            }
            #[test]
            fn multiplicative_ops() {
                $crate::conformance::multiplicative_ops($setup)
            }
            #[test]
            fn rotations() {
                $crate::conformance::rotations($setup)
            }
            #[test]
            fn conjugation() {
                $crate::conformance::conjugation($setup)
            }
            #[test]
            fn level_rules() {
                $crate::conformance::level_rules($setup)
            }
            #[test]
            fn scale_rules() {
                $crate::conformance::scale_rules($setup)
            }
            #[test]
            fn missing_keys() {
                $crate::conformance::missing_keys($setup)
            }
            #[test]
            fn invalid_inputs() {
                $crate::conformance::invalid_inputs($setup)
            }
            #[test]
            fn foreign_ciphertexts() {
                $crate::conformance::foreign_ciphertexts($setup)
            }
            #[test]
            fn bootstrapping() {
                $crate::conformance::bootstrapping($setup)
            }
            #[test]
            fn bootstrap_pair() {
                $crate::conformance::bootstrap_pair($setup)
            }
            #[test]
            fn bootstrap_pair_without_keys() {
                $crate::conformance::bootstrap_pair_without_keys($setup)
            }
            #[test]
            fn bootstrap_sparse() {
                $crate::conformance::bootstrap_sparse($setup)
            }
            #[test]
            fn bootstrap_pair_sparse() {
                $crate::conformance::bootstrap_pair_sparse($setup)
            }
            #[test]
            fn bootstrap_sparse_without_keys() {
                $crate::conformance::bootstrap_sparse_without_keys($setup)
            }
        }
    };
}

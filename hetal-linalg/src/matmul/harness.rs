//! The checks every matrix-product algorithm passes, for algorithms written outside this crate.
//!
//! [`check_abt`] and [`check_atb`] run an [`AbtProduct`] / [`AtbProduct`] on the exact mock
//! ([`hetal_traits::mock`]) over random cases (slot counts `2^6 .. 2^9`, unit shapes, class
//! counts `c ∈ {2, 4, 8}` dividing both block sides, matrix sizes up to three blocks per side
//! with ragged edges, input levels between [`HarnessConfig::min_level`] and
//! [`HarnessConfig::max_level`]) and check, per case:
//!
//! 1. the decrypted result against the plaintext product (max abs error ≤
//!    [`HarnessConfig::tolerance`] times `1 + ` the summed dimension), and zeros outside the
//!    matrix in every block of a [`Layout::Plain`] output;
//! 2. the output layout and shape;
//! 3. the op counts (CMult/Mult/Rot/Conj through [`Counting`]) against the algorithm's own
//!    [`AbtProduct::expected_counts`];
//! 4. the output level against [`AbtProduct::output_level`], and that inputs too low for the
//!    depth are refused with an error;
//! 5. the keys: the evaluator holds only what [`AbtProduct::required_keys`] asks for (so a
//!    missing key fails the run), and with [`HarnessConfig::require_all_keys_used`] every
//!    requested rotation (and the conjugation key) is used.
//!
//! A case whose dims the algorithm refuses in `required_keys` is skipped and counted; a run where
//! every case is skipped fails. [`measure_abt`] / [`measure_atb`] run one shape and return
//! counts, level, error and time, to compare a new algorithm with the built-ins.
//!
//! ```
//! use hetal_linalg::matmul::{AbtAlgorithm, harness};
//!
//! let report = harness::check_abt(&AbtAlgorithm::DiagAbt, &harness::HarnessConfig::quick())?;
//! assert!(report.checked > 0 && report.max_error < 1e-6);
//! # Ok::<(), hetal_linalg::Error>(())
//! ```

use super::{AbtProduct, AtbProduct, MatmulDims, OpTally};
use crate::error::{Error, Result};
use crate::packed::{Layout, Matrix, PackedMatrix, UnitShape};
use hetal_traits::counting::Counting;
use hetal_traits::mock::{MockCiphertext, MockClient, MockEvaluator, MockParams};
use hetal_traits::{
    BootstrapInfo, Complex64, Encoder, Evaluator, KeyGenerator, KeyRequest, Level, RotStep, Scale,
};
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What the harness runs.
#[derive(Clone, Debug, PartialEq)]
pub struct HarnessConfig {
    /// Number of random cases.
    pub cases: usize,
    /// Seed of the cases and the data.
    pub seed: u64,
    /// Top level of the mock chain (ideal 2^40 primes).
    pub max_level: u32,
    /// Lowest input level drawn (below the depth, the refusal is checked).
    pub min_level: u32,
    /// Tolerance per unit of the summed dimension (the exact mock's error is ~1e-12).
    pub tolerance: f64,
    /// Whether every requested rotation key and the conjugation key must be used in each case.
    pub require_all_keys_used: bool,
}

impl Default for HarnessConfig {
    /// 24 cases, seed 1, levels 2..=7, tolerance 1e-9, every key used.
    fn default() -> Self {
        HarnessConfig {
            cases: 24,
            seed: 1,
            max_level: 7,
            min_level: 2,
            tolerance: 1e-9,
            require_all_keys_used: true,
        }
    }
}

impl HarnessConfig {
    /// Six cases (doc tests, quick checks).
    pub fn quick() -> Self {
        HarnessConfig {
            cases: 6,
            ..Self::default()
        }
    }
}

/// One checked case.
#[derive(Clone, Debug, PartialEq)]
pub struct CaseReport {
    /// The shape.
    pub dims: MatmulDims,
    /// Input levels.
    pub levels: (Level, Level),
    /// The output level (`None`: refused as too deep, as declared).
    pub output_level: Option<Level>,
    /// Measured op counts (equal to the formula when the case passed).
    pub counts: OpTally,
    /// Max abs error against the plaintext product.
    pub max_error: f64,
}

/// The harness's verdict on an algorithm that passed.
#[derive(Clone, Debug, PartialEq)]
pub struct HarnessReport {
    /// The algorithm's name.
    pub name: String,
    /// Cases run through every check.
    pub checked: usize,
    /// Cases whose levels were too low, refused as declared.
    pub refused: usize,
    /// Cases whose dims the algorithm does not support (`required_keys` failed).
    pub skipped: usize,
    /// The largest error over the checked cases.
    pub max_error: f64,
    /// Every case.
    pub cases: Vec<CaseReport>,
}

/// One measured run (see [`measure_abt`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    /// The algorithm's name.
    pub name: String,
    /// Measured op counts.
    pub counts: OpTally,
    /// The counts the algorithm declares.
    pub formula: OpTally,
    /// The output level.
    pub output_level: Level,
    /// Number of rotation keys requested.
    pub rotation_keys: usize,
    /// Max abs error against the plaintext product.
    pub max_error: f64,
    /// Time of the product alone on the mock.
    pub time: Duration,
}

/// SplitMix64: the harness's own seeded generator (no dependency on a random crate).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
    fn matrix(&mut self, rows: usize, cols: usize) -> Matrix {
        Matrix::from_fn(rows, cols, |_, _| self.unit())
    }
}

/// A random case: dims (ragged in most cases) and input levels.
fn draw(rng: &mut Rng, cfg: &HarnessConfig, i: usize) -> Result<(MatmulDims, Level, Level)> {
    let log_slots = rng.range(6, 9) as u32;
    let log_c = rng.range(1, 3) as u32;
    let log_s0 = rng.range(log_c as u64, (log_slots - log_c) as u64) as u32;
    let shape = UnitShape::new(1 << log_s0, 1 << (log_slots - log_s0))?;
    let side = |rng: &mut Rng, s: usize| match i % 4 {
        // Exact multiples of the block side.
        0 => s * rng.range(1, 2) as usize,
        // One short of a block boundary, or one past it.
        1 => (s * rng.range(1, 3) as usize).saturating_sub(1).max(1),
        2 => s * rng.range(1, 2) as usize + 1,
        _ => rng.range(1, 3 * s as u64) as usize,
    };
    let a = side(rng, shape.s0);
    let b = side(rng, shape.s1);
    let dims = MatmulDims::new(a, b, 1 << log_c, shape)?;
    let lo = cfg.min_level.min(cfg.max_level) as u64;
    let la = Level(rng.range(lo, cfg.max_level as u64) as u32);
    let lb = Level(rng.range(lo, cfg.max_level as u64) as u32);
    Ok((dims, la, lb))
}

fn fail(name: &str, check: &str, case: String, detail: String) -> Error {
    Error::Check {
        algorithm: name.to_string(),
        check: check.to_string(),
        case,
        detail,
    }
}

/// The part both products share: keys, run, counts, level, result, padding.
struct Run<'a> {
    name: &'a str,
    cfg: &'a HarnessConfig,
    case: String,
}

impl Run<'_> {
    fn err(&self, check: &str, detail: String) -> Error {
        fail(self.name, check, self.case.clone(), detail)
    }

    /// Checks the product and returns the error against `want`.
    #[allow(clippy::too_many_arguments)]
    fn check_output(
        &self,
        out: &PackedMatrix<MockCiphertext>,
        client: &MockClient,
        want: &Matrix,
        layout: Layout,
        level: Level,
        counts: OpTally,
        formula: OpTally,
        summed: usize,
    ) -> Result<f64> {
        if counts != formula {
            return Err(self.err(
                "op counts",
                format!(
                    "measured {counts} conj {}, declared {formula} conj {}",
                    counts.conj, formula.conj
                ),
            ));
        }
        if out.level() != level {
            return Err(self.err(
                "output level",
                format!("got {}, declared {}", out.level(), level),
            ));
        }
        if out.layout() != layout || out.rows() != want.rows() || out.cols() != want.cols() {
            return Err(self.err(
                "output layout",
                format!(
                    "got {:?} {}x{}, declared {layout:?} {}x{}",
                    out.layout(),
                    out.rows(),
                    out.cols(),
                    want.rows(),
                    want.cols()
                ),
            ));
        }
        let tol = self.cfg.tolerance * (1.0 + summed as f64);
        let err = out.decrypt(client)?.max_abs_diff(want);
        if err.is_nan() || err > tol {
            return Err(self.err("result", format!("max error {err:e} > {tol:e}")));
        }
        if layout == Layout::Plain {
            let shape = out.shape();
            let slots = out.decrypt_slots(client)?;
            let (_, gc) = out.grid();
            for (k, v) in slots.iter().enumerate() {
                let (p, q) = (k / gc, k % gc);
                for (s, z) in v.iter().enumerate() {
                    let (i, l) = (s / shape.s1, s % shape.s1);
                    let inside = p * shape.s0 + i < out.rows() && q * shape.s1 + l < out.cols();
                    if !inside && z.norm() > tol {
                        return Err(self.err(
                            "zero padding",
                            format!("slot ({i},{l}) of block ({p},{q}) holds {z}"),
                        ));
                    }
                }
            }
        }
        Ok(err)
    }

    fn check_keys(
        &self,
        req: &KeyRequest,
        used: &KeyUse<MockEvaluator>,
        slots: usize,
    ) -> Result<()> {
        if !self.cfg.require_all_keys_used {
            return Ok(());
        }
        let asked: BTreeSet<usize> = req.normalized_rotations(slots).into_iter().collect();
        let got = used.rotations();
        let unused: Vec<usize> = asked.difference(&got).copied().collect();
        if !unused.is_empty() {
            return Err(self.err(
                "rotation keys",
                format!("requested but never used (left rotations mod slots): {unused:?}"),
            ));
        }
        if req.conjugation && !used.conjugated() {
            return Err(self.err(
                "rotation keys",
                "the conjugation key is requested but never used".into(),
            ));
        }
        Ok(())
    }
}

/// The mock with exactly the requested keys, recording which it uses, counted.
fn server(client: &mut MockClient, req: &KeyRequest) -> Result<Counting<KeyUse<MockEvaluator>>> {
    let keys = client.generate_evaluation_keys(req)?;
    Ok(Counting::new(KeyUse::new(MockEvaluator::try_new(keys)?)))
}

macro_rules! check_product {
    ($fn:ident, $tr:ident, $what:literal, $inputs:expr, $want:expr, $summed:expr) => {
        #[doc = concat!("Runs the checks of the module documentation on an ", $what, " algorithm.")]
        ///
        /// Returns the report if every case passes, else the first failure as
        /// [`Error::Check`] (algorithm, check, case, detail).
        pub fn $fn<A: $tr + ?Sized>(algo: &A, cfg: &HarnessConfig) -> Result<HarnessReport> {
            let name = algo.name();
            let mut rng = Rng(cfg.seed ^ 0x6865_7461_6c);
            let mut report = HarnessReport {
                name: name.clone(),
                checked: 0,
                refused: 0,
                skipped: 0,
                max_error: 0.0,
                cases: Vec::new(),
            };
            for i in 0..cfg.cases {
                let (dims, la, lb) = draw(&mut rng, cfg, i)?;
                let run = Run {
                    name: &name,
                    cfg,
                    case: format!("{dims} shape {:?} levels ({}, {})", dims.shape, la, lb),
                };
                let Ok(req) = algo.required_keys(&dims) else {
                    report.skipped += 1;
                    continue;
                };
                let params = MockParams::ideal(dims.shape.slots(), cfg.max_level, 40.0);
                let mut client = MockClient::try_new(params, rng.next())?;
                let ev = server(&mut client, &req)?;
                let (ma, mb) = $inputs(&mut rng, &dims);
                let want: Matrix = $want(&ma, &mb)?;
                let (ca, cb) = algo.encrypt_inputs(&mut client, &ma, &mb, dims.shape, la, lb)?;
                let Some(level) = algo.output_level(&dims, la, lb) else {
                    if algo.multiply(&ev, &ca, &cb).is_ok() {
                        return Err(run.err(
                            "output level",
                            "declared too deep for these levels, but multiply succeeded".into(),
                        ));
                    }
                    report.refused += 1;
                    report.cases.push(CaseReport {
                        dims,
                        levels: (la, lb),
                        output_level: None,
                        counts: OpTally::default(),
                        max_error: 0.0,
                    });
                    continue;
                };
                ev.reset();
                let out = algo
                    .multiply(&ev, &ca, &cb)
                    .map_err(|e| run.err("multiply", e.to_string()))?;
                let counts = OpTally::from_counts(&ev.snapshot());
                let err = run.check_output(
                    &out,
                    &client,
                    &want,
                    algo.output_layout(),
                    level,
                    counts,
                    algo.expected_counts(&dims, la, lb),
                    $summed(&dims),
                )?;
                run.check_keys(&req, ev.inner(), dims.shape.slots())?;
                report.checked += 1;
                report.max_error = report.max_error.max(err);
                report.cases.push(CaseReport {
                    dims,
                    levels: (la, lb),
                    output_level: Some(level),
                    counts,
                    max_error: err,
                });
            }
            if report.checked == 0 && report.refused == 0 {
                return Err(fail(
                    &name,
                    "coverage",
                    format!("{} cases", cfg.cases),
                    "the algorithm supports none of the drawn shapes".into(),
                ));
            }
            Ok(report)
        }
    };
}

check_product!(
    check_abt,
    AbtProduct,
    "`A B^T`",
    |rng: &mut Rng, d: &MatmulDims| (rng.matrix(d.a, d.b), rng.matrix(d.c, d.b)),
    |a: &Matrix, b: &Matrix| a.mul_abt(b),
    |d: &MatmulDims| d.b
);

check_product!(
    check_atb,
    AtbProduct,
    "`A^T B`",
    |rng: &mut Rng, d: &MatmulDims| (rng.matrix(d.a, d.c), rng.matrix(d.a, d.b)),
    |a: &Matrix, b: &Matrix| a.mul_atb(b),
    |d: &MatmulDims| d.a
);

macro_rules! measure_product {
    ($fn:ident, $tr:ident, $what:literal, $inputs:expr, $want:expr) => {
        #[doc = concat!("Runs an ", $what, " algorithm once on `dims` at levels `la`, `lb` on the exact mock")]
        /// (top level `max_level`, data seeded by `seed`) and returns its counts, declared
        /// counts, output level, key count, error and time.
        pub fn $fn<A: $tr + ?Sized>(
            algo: &A,
            dims: &MatmulDims,
            max_level: u32,
            la: Level,
            lb: Level,
            seed: u64,
        ) -> Result<Measurement> {
            let mut rng = Rng(seed);
            let req = algo.required_keys(dims)?;
            let params = MockParams::ideal(dims.shape.slots(), max_level, 40.0);
            let mut client = MockClient::try_new(params, seed)?;
            let ev = server(&mut client, &req)?;
            let (ma, mb) = $inputs(&mut rng, dims);
            let want: Matrix = $want(&ma, &mb)?;
            let (ca, cb) = algo.encrypt_inputs(&mut client, &ma, &mb, dims.shape, la, lb)?;
            ev.reset();
            let t = Instant::now();
            let out = algo.multiply(&ev, &ca, &cb)?;
            let time = t.elapsed();
            Ok(Measurement {
                name: algo.name(),
                counts: OpTally::from_counts(&ev.snapshot()),
                formula: algo.expected_counts(dims, la, lb),
                output_level: out.level(),
                rotation_keys: req.normalized_rotations(dims.shape.slots()).len(),
                max_error: out.decrypt(&client)?.max_abs_diff(&want),
                time,
            })
        }
    };
}

measure_product!(
    measure_abt,
    AbtProduct,
    "`A B^T`",
    |rng: &mut Rng, d: &MatmulDims| (rng.matrix(d.a, d.b), rng.matrix(d.c, d.b)),
    |a: &Matrix, b: &Matrix| a.mul_abt(b)
);

measure_product!(
    measure_atb,
    AtbProduct,
    "`A^T B`",
    |rng: &mut Rng, d: &MatmulDims| (rng.matrix(d.a, d.c), rng.matrix(d.a, d.b)),
    |a: &Matrix, b: &Matrix| a.mul_atb(b)
);

/// An evaluator wrapper that records which rotation steps (normalised to left rotations modulo
/// the slot count) and whether conjugation were used; every operation is the inner one's.
#[derive(Debug)]
pub struct KeyUse<E> {
    inner: E,
    used: Mutex<(BTreeSet<usize>, bool)>,
}

impl<E: Encoder> KeyUse<E> {
    /// Wraps `inner`.
    pub fn new(inner: E) -> Self {
        KeyUse {
            inner,
            used: Mutex::new((BTreeSet::new(), false)),
        }
    }

    /// The rotations used so far (identity excluded).
    pub fn rotations(&self) -> BTreeSet<usize> {
        self.lock().0.clone()
    }

    /// Whether a conjugation was used.
    pub fn conjugated(&self) -> bool {
        self.lock().1
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (BTreeSet<usize>, bool)> {
        self.used.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn record(&self, step: RotStep) {
        let slots = self.inner.slots() as i64;
        let k = step.0.rem_euclid(slots) as usize;
        if k != 0 {
            self.lock().0.insert(k);
        }
    }
}

impl<E: Encoder> Encoder for KeyUse<E> {
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
    fn encode(
        &self,
        values: &[Complex64],
        level: Level,
        scale: Scale,
    ) -> hetal_traits::Result<E::Plaintext> {
        self.inner.encode(values, level, scale)
    }
    fn decode(&self, pt: &E::Plaintext) -> hetal_traits::Result<Vec<Complex64>> {
        self.inner.decode(pt)
    }
}

type HeResult<T> = hetal_traits::Result<T>;

impl<E: Evaluator> Evaluator for KeyUse<E> {
    type Ciphertext = E::Ciphertext;
    fn add(&self, a: &Self::Ciphertext, b: &Self::Ciphertext) -> HeResult<Self::Ciphertext> {
        self.inner.add(a, b)
    }
    fn sub(&self, a: &Self::Ciphertext, b: &Self::Ciphertext) -> HeResult<Self::Ciphertext> {
        self.inner.sub(a, b)
    }
    fn neg(&self, a: &Self::Ciphertext) -> HeResult<Self::Ciphertext> {
        self.inner.neg(a)
    }
    fn add_plain(&self, a: &Self::Ciphertext, p: &Self::Plaintext) -> HeResult<Self::Ciphertext> {
        self.inner.add_plain(a, p)
    }
    fn sub_plain(&self, a: &Self::Ciphertext, p: &Self::Plaintext) -> HeResult<Self::Ciphertext> {
        self.inner.sub_plain(a, p)
    }
    fn add_const(&self, a: &Self::Ciphertext, c: Complex64) -> HeResult<Self::Ciphertext> {
        self.inner.add_const(a, c)
    }
    fn mul(&self, a: &Self::Ciphertext, b: &Self::Ciphertext) -> HeResult<Self::Ciphertext> {
        self.inner.mul(a, b)
    }
    fn square(&self, a: &Self::Ciphertext) -> HeResult<Self::Ciphertext> {
        self.inner.square(a)
    }
    fn mul_plain(&self, a: &Self::Ciphertext, p: &Self::Plaintext) -> HeResult<Self::Ciphertext> {
        self.inner.mul_plain(a, p)
    }
    fn mul_const(
        &self,
        a: &Self::Ciphertext,
        c: Complex64,
        s: Scale,
    ) -> HeResult<Self::Ciphertext> {
        self.inner.mul_const(a, c, s)
    }
    fn mul_integer(&self, a: &Self::Ciphertext, k: i64) -> HeResult<Self::Ciphertext> {
        self.inner.mul_integer(a, k)
    }
    fn mul_i(&self, a: &Self::Ciphertext) -> HeResult<Self::Ciphertext> {
        self.inner.mul_i(a)
    }
    fn rescale(&self, a: &Self::Ciphertext) -> HeResult<Self::Ciphertext> {
        self.inner.rescale(a)
    }
    fn drop_to_level(&self, a: &Self::Ciphertext, level: Level) -> HeResult<Self::Ciphertext> {
        self.inner.drop_to_level(a, level)
    }
    fn rotate(&self, a: &Self::Ciphertext, step: RotStep) -> HeResult<Self::Ciphertext> {
        let r = self.inner.rotate(a, step)?;
        self.record(step);
        Ok(r)
    }
    fn rotate_hoisted(
        &self,
        a: &Self::Ciphertext,
        steps: &[RotStep],
    ) -> HeResult<Vec<Self::Ciphertext>> {
        let r = self.inner.rotate_hoisted(a, steps)?;
        for &s in steps {
            self.record(s);
        }
        Ok(r)
    }
    fn conjugate(&self, a: &Self::Ciphertext) -> HeResult<Self::Ciphertext> {
        let r = self.inner.conjugate(a)?;
        self.lock().1 = true;
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
    fn bootstrap(&self, a: &Self::Ciphertext) -> HeResult<Self::Ciphertext> {
        self.inner.bootstrap(a)
    }
    fn bootstrap_pair(
        &self,
        a: &Self::Ciphertext,
        b: &Self::Ciphertext,
    ) -> HeResult<(Self::Ciphertext, Self::Ciphertext)> {
        self.inner.bootstrap_pair(a, b)
    }
    fn has_sparse_bootstrap(&self, slots: usize) -> bool {
        self.inner.has_sparse_bootstrap(slots)
    }
    fn bootstrap_sparse(&self, a: &Self::Ciphertext, slots: usize) -> HeResult<Self::Ciphertext> {
        self.inner.bootstrap_sparse(a, slots)
    }
    fn bootstrap_pair_sparse(
        &self,
        a: &Self::Ciphertext,
        b: &Self::Ciphertext,
        slots: usize,
    ) -> HeResult<(Self::Ciphertext, Self::Ciphertext)> {
        self.inner.bootstrap_pair_sparse(a, b, slots)
    }
}

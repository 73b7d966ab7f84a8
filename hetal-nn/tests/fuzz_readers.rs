//! Fuzzing of every message reader of the client and of the server (issue 16), on the mock and
//! on CKKS at the insecure bootstrappable N = 2^12 preset: random bytes, truncations, bit flips
//! (with and without a recomputed checksum, as a hostile writer could do), extreme values
//! written over the encoding, and shape fields set to extremes. Every read must return (an
//! error, or success for a harmless change), never panic, and allocate a bounded amount of
//! memory, measured by a counting global allocator.
//!
//! The CI test runs a few hundred cases per reader. The ignored test runs
//! `HETAL_FUZZ_COUNT` cases (default 100,000) in all; run it with
//! `/usr/bin/time -v cargo test --release -p hetal-nn --test fuzz_readers -- --ignored --nocapture`
//! to see the peak resident memory of the process.

use hetal_ckks::{CkksClient, CkksEvaluator, CkksParams, SecretKey};
use hetal_nn::client::{Client, ClientState};
use hetal_nn::config::{Optimizer, TrainConfig};
use hetal_nn::data::Splits;
use hetal_nn::protocol::{
    Checkpoint, Decision, EncMatrix, EncryptedData, EncryptedModel, EpochResult, MessageKind, Plan,
    ServerStats, from_bytes, reseal, to_bytes,
};
use hetal_nn::server::{Server, TrainingServer};
use hetal_nn::softmax::{LinalgSoftmax, SoftmaxApprox};
use hetal_traits::mock::{MockClient, MockEvaluationKeys, MockEvaluator, MockParams};
use hetal_traits::{Decryptor, Encryptor, Evaluator, KeyGenerator, KeyRequest, Level};
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::alloc::{GlobalAlloc, Layout, System};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Counts live heap bytes and their peak.
struct Counting;
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: the caller's layout contract is passed on unchanged.
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let c = CURRENT.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(c, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(p, l) };
        CURRENT.fetch_sub(l.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        // SAFETY: as above.
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            if new >= l.size() {
                let c = CURRENT.fetch_add(new - l.size(), Ordering::Relaxed) + new - l.size();
                PEAK.fetch_max(c, Ordering::Relaxed);
            } else {
                CURRENT.fetch_sub(l.size() - new, Ordering::Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Serialises the tests of this file (the allocator's counts are process-wide).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `f`, returning its result and the peak of extra heap bytes during it.
fn measure<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let r = f();
    (r, PEAK.load(Ordering::Relaxed).saturating_sub(base))
}

type Reader<'a> = Box<dyn FnMut(&[u8]) -> Result<(), String> + 'a>;

/// One reader under test: a valid message, messages with extreme shape fields (each must be
/// refused), and the reader.
struct Target<'a> {
    name: String,
    valid: Vec<u8>,
    /// Whether the file carries hetal-nn's checksum trailer (then any unsealed change must fail).
    sealed: bool,
    extremes: Vec<(String, Vec<u8>)>,
    read: Reader<'a>,
}

#[derive(Default, Debug)]
struct Tally {
    cases: usize,
    errors: usize,
    accepted: usize,
    peak: usize,
}

/// Extreme values for size fields.
const EXTREMES: [usize; 8] = [
    0,
    1,
    3,
    1 << 31,
    1 << 32,
    1 << 62,
    usize::MAX / 2 + 1,
    usize::MAX,
];

fn header_len(valid: &[u8]) -> usize {
    16 + u32::from_le_bytes([valid[12], valid[13], valid[14], valid[15]]) as usize
}

/// One mutated message and whether it must be refused.
fn mutate(t: &Target, rng: &mut ChaCha8Rng) -> (Vec<u8>, bool) {
    let v = &t.valid;
    let n = v.len();
    let seal = |b: &mut Vec<u8>| {
        if t.sealed {
            let _ = reseal(b);
        }
    };
    match rng.random_range(0..7u32) {
        0 => {
            // Random bytes after a valid header (or none), sealed.
            let len = rng.random_range(0..=2 * n.min(1 << 16));
            let mut b = if t.sealed && rng.random_bool(0.5) {
                v[..header_len(v)].to_vec()
            } else {
                Vec::new()
            };
            let start = b.len();
            b.resize(start + len, 0);
            rng.fill_bytes(&mut b[start..]);
            b.extend_from_slice(&[0; 32]);
            seal(&mut b);
            (b, false)
        }
        1 => {
            let cut = rng.random_range(0..n);
            (v[..cut].to_vec(), true)
        }
        2 | 3 => {
            let mut b = v.clone();
            for _ in 0..rng.random_range(1..=8) {
                let i = rng.random_range(0..n);
                b[i] ^= 1 << rng.random_range(0..8);
            }
            let changed = b != *v;
            if rng.random_bool(0.5) {
                seal(&mut b);
                (b, false)
            } else {
                (b, changed && t.sealed)
            }
        }
        4 => {
            // Extreme values written over the encoding (bincode varint markers and all-ones).
            let mut b = v.clone();
            let patterns: [&[u8]; 5] = [
                &[0xff; 9],
                &[0xfd, 0, 0, 0, 0, 0, 0, 0, 0x40],
                &[0xfc, 0xff, 0xff, 0xff, 0xff],
                &[0xfb, 0xff, 0xff],
                &[0; 9],
            ];
            let p = patterns[rng.random_range(0..patterns.len())];
            let lo = if t.sealed { header_len(v) } else { 0 };
            let hi = n.saturating_sub(if t.sealed { 32 } else { 0 });
            if hi > lo + p.len() {
                let i = rng.random_range(lo..hi - p.len());
                b[i..i + p.len()].copy_from_slice(p);
            }
            seal(&mut b);
            (b, false)
        }
        5 if !t.extremes.is_empty() => {
            let (_, b) = &t.extremes[rng.random_range(0..t.extremes.len())];
            (b.clone(), true)
        }
        _ => {
            // Insert or delete a few bytes, sealed.
            let mut b = v.clone();
            let i = rng.random_range(0..n);
            if rng.random_bool(0.5) {
                let k = rng.random_range(1..=16).min(n - i);
                b.drain(i..i + k);
            } else {
                for _ in 0..rng.random_range(1..=16) {
                    b.insert(i, rng.random());
                }
            }
            seal(&mut b);
            (b, false)
        }
    }
}

/// Runs `count` cases spread over `targets`; panics on a panic, an accepted case that must be
/// refused, or a reader allocating more than its bound.
fn fuzz(targets: &mut [Target], count: usize, seed: u64) -> Vec<(String, Tally)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut tallies: Vec<(String, Tally)> = targets
        .iter()
        .map(|t| (t.name.clone(), Tally::default()))
        .collect();
    // Every reader accepts its valid message, refuses every extreme one, within the bound.
    for (t, (_, tally)) in targets.iter_mut().zip(&mut tallies) {
        let valid = t.valid.clone();
        let (r, _) = measure(|| (t.read)(&valid));
        r.unwrap_or_else(|e| panic!("{}: the valid message is refused: {e}", t.name));
        let extremes = std::mem::take(&mut t.extremes);
        for (what, b) in &extremes {
            let (r, peak) = measure(|| catch_unwind(AssertUnwindSafe(|| (t.read)(b))));
            let r = r.unwrap_or_else(|_| panic!("{}: panic on {what}", t.name));
            assert!(r.is_err(), "{}: {what} was accepted", t.name);
            tally.cases += 1;
            tally.errors += 1;
            tally.peak = tally.peak.max(peak);
        }
        t.extremes = extremes;
    }
    for i in 0..count {
        let k = i % targets.len();
        let t = &mut targets[k];
        let (bytes, must_fail) = mutate(t, &mut rng);
        // A blob with its own integrity check (the secret key's digest): any change must fail.
        let must_fail = must_fail || (!t.sealed && bytes != t.valid);
        let bound = (64 << 20) + 16 * t.valid.len().max(bytes.len());
        let (r, peak) = measure(|| catch_unwind(AssertUnwindSafe(|| (t.read)(&bytes))));
        let r = r.unwrap_or_else(|_| panic!("{}: panic on case {i}", t.name));
        let tally = &mut tallies[k].1;
        tally.cases += 1;
        tally.peak = tally.peak.max(peak);
        match r {
            Ok(()) => {
                assert!(!must_fail, "{}: case {i} must be refused", targets[k].name);
                tally.accepted += 1;
            }
            Err(_) => tally.errors += 1,
        }
        assert!(
            peak <= bound,
            "{}: case {i} allocated {peak} bytes (bound {bound})",
            targets[k].name
        );
    }
    tallies
}

/// `value` encoded as `kind` with a field changed by `f` (sealed: a hostile writer's file).
fn variant<T: Serialize + Clone>(kind: &str, value: &T, f: impl FnOnce(&mut T)) -> Vec<u8> {
    let mut v = value.clone();
    f(&mut v);
    to_bytes(kind, &v).unwrap()
}

/// Extreme variants of the shape fields of a matrix inside a message.
fn matrix_extremes<T: Serialize + Clone, C>(
    kind: &str,
    value: &T,
    what: &str,
    get: impl Fn(&mut T) -> &mut EncMatrix<C>,
) -> Vec<(String, Vec<u8>)> {
    let mut out = shape_extremes(kind, value, what, &get);
    for &x in &EXTREMES {
        out.push((
            format!("{what}.rows = {x}"),
            variant(kind, value, |v| get(v).rows = x),
        ));
    }
    out
}

/// As [`matrix_extremes`] without the row count (for a matrix of any row count).
fn shape_extremes<T: Serialize + Clone, C>(
    kind: &str,
    value: &T,
    what: &str,
    get: &impl Fn(&mut T) -> &mut EncMatrix<C>,
) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for &x in &EXTREMES {
        out.push((
            format!("{what}.cols = {x}"),
            variant(kind, value, |v| get(v).cols = x),
        ));
        out.push((
            format!("{what}.unit.1 = {x}"),
            variant(kind, value, |v| get(v).unit.1 = x),
        ));
        out.push((
            format!("{what}.unit = ({x}, {x})"),
            variant(kind, value, |v| get(v).unit = (x, x)),
        ));
    }
    out.push((
        format!("{what}: plausible wrong unit shape"),
        variant(kind, value, |v| {
            let m = get(v);
            m.unit = (m.unit.0 * 2, m.unit.1 / 2)
        }),
    ));
    out
}

/// The data of the runs: small, so that the messages are small.
fn data() -> (Splits, TrainConfig) {
    let splits = Splits::synthetic(100, 8, 3, 3).unwrap();
    let cfg = TrainConfig {
        learning_rate: 1.0,
        batch_size: 32,
        epochs: 3,
        patience: None,
        optimizer: Optimizer::Nesterov,
        seed: 2,
    };
    (splits, cfg)
}

/// A client of `plan` and its encrypted messages.
struct Messages<C> {
    data: EncryptedData<C>,
    result: EpochResult<C>,
    model: EncryptedModel<C>,
    logits: EncMatrix<C>,
    ckpt: Checkpoint<C>,
}

fn messages<K, C>(client: &mut Client<K>, splits: &Splits) -> Messages<C>
where
    K: Encryptor<Ciphertext = C> + Decryptor<Ciphertext = C>,
    C: hetal_traits::Ciphertext,
{
    let data = client.encrypt_data(splits).unwrap();
    let plan = client.plan.clone();
    let pc = plan.padded_classes;
    // A well-formed epoch result and model: the server's shapes, encrypted by the client (the
    // readers only care about form).
    let zeros = |client: &mut Client<K>, rows: usize, cols: usize| {
        let x = ndarray::Array2::<f64>::zeros((rows, cols - 1));
        client.encrypt_features(&x).ok();
        let m = hetal_linalg::packed::Matrix::zeros(rows, cols);
        EncMatrix::from_packed(
            &hetal_linalg::packed::PackedMatrix::encrypt(
                &mut client.backend,
                &m,
                plan.shape().unwrap(),
                hetal_linalg::packed::Layout::Plain,
                Level(plan.encrypt_level.unwrap_or(0)),
            )
            .unwrap(),
        )
    };
    let result = EpochResult {
        epoch: 0,
        val_logits: zeros(client, plan.val_rows, pc),
        train_probs: plan
            .batch_rows
            .iter()
            .enumerate()
            .map(|(b, &r)| (b, zeros(client, r, pc)))
            .collect(),
        epoch_time: Duration::from_millis(5),
    };
    let model = EncryptedModel {
        epoch: 0,
        weights: data.initial_weights.clone(),
        stats: ServerStats::default(),
    };
    let logits = zeros(client, splits.test.len(), pc);
    let ckpt = Checkpoint {
        plan: plan.clone(),
        epochs_done: 1,
        step: plan.batch_rows.len() as u64,
        w: data.initial_weights.clone(),
        v: data.initial_weights.clone(),
        best: None,
        pending: Some(result.clone()),
        stopped: false,
        stats: ServerStats::default(),
    };
    Messages {
        data,
        result,
        model,
        logits,
        ckpt,
    }
}

/// The client's and the server's readers on one backend.
fn targets<'a, K, E>(
    label: &str,
    client: &'a mut Client<K>,
    splits: &'a Splits,
    m: &Messages<E::Ciphertext>,
    make_ev: &'a dyn Fn() -> E,
    keys: (Vec<u8>, Reader<'a>),
) -> Vec<Target<'a>>
where
    K: Encryptor<Ciphertext = E::Ciphertext> + Decryptor<Ciphertext = E::Ciphertext>,
    E: Evaluator + 'a,
    E::Ciphertext: Serialize + DeserializeOwned + 'a,
{
    type Res<C> = EpochResult<C>;
    let rk = Res::<E::Ciphertext>::KIND;
    let mk = EncryptedModel::<E::Ciphertext>::KIND;
    let dk = EncryptedData::<E::Ciphertext>::KIND;
    let ck = Checkpoint::<E::Ciphertext>::KIND;
    let lk = "inference-logits";
    let plan = client.plan.clone();
    // The client judged epoch 0 (best) before the model arrives.
    let mut judged = ClientState::default();
    judged.stopping.record(0.5);
    judged.history.push(hetal_nn::plain::EpochRecord {
        epoch: 0,
        train_loss: 0.5,
        val_loss: 0.5,
        val_accuracy: 0.5,
    });
    let client = std::cell::RefCell::new(client);
    let client: &'a std::cell::RefCell<&'a mut Client<K>> = Box::leak(Box::new(client));
    let test_rows = splits.test.len();

    let mut result_extremes = matrix_extremes(rk, &m.result, "val_logits", |r| &mut r.val_logits);
    result_extremes.extend(matrix_extremes(rk, &m.result, "train_probs[0]", |r| {
        &mut r.train_probs[0].1
    }));
    for &x in &EXTREMES[1..] {
        result_extremes.push((
            format!("epoch {x}"),
            variant(rk, &m.result, |r| r.epoch = x),
        ));
        result_extremes.push((
            format!("batch index {x}"),
            variant(rk, &m.result, |r| r.train_probs[0].0 = x),
        ));
    }
    result_extremes.push((
        "no probabilities".into(),
        variant(rk, &m.result, |r| r.train_probs.clear()),
    ));
    let mut model_extremes = matrix_extremes(mk, &m.model, "weights", |r| &mut r.weights);
    for &x in &EXTREMES[1..] {
        model_extremes.push((format!("epoch {x}"), variant(mk, &m.model, |r| r.epoch = x)));
    }
    let logits_extremes = matrix_extremes(lk, &m.logits, "logits", |r| r);
    let plan_extremes: Vec<(String, Vec<u8>)> = EXTREMES
        .iter()
        .flat_map(|&x| {
            [
                (
                    format!("classes {x}"),
                    variant(Plan::KIND, &plan, |p| p.classes = x),
                ),
                (
                    format!("padded classes {x}"),
                    variant(Plan::KIND, &plan, |p| p.padded_classes = x),
                ),
                (
                    format!("slots {x}"),
                    variant(Plan::KIND, &plan, |p| p.slots = x),
                ),
                (
                    format!("unit {x}"),
                    variant(Plan::KIND, &plan, |p| p.unit.1 = x),
                ),
            ]
        })
        .filter(|(_, b)| *b != to_bytes(Plan::KIND, &plan).unwrap())
        .collect();
    let mut data_extremes = matrix_extremes(dk, &m.data, "val_x", |d| &mut d.val_x);
    data_extremes.extend(matrix_extremes(dk, &m.data, "train_x[0]", |d| {
        &mut d.train_x[0]
    }));
    let mut ckpt_extremes = matrix_extremes(ck, &m.ckpt, "w", |c| &mut c.w);
    for &x in &EXTREMES[2..] {
        ckpt_extremes.push((
            format!("epochs done {x}"),
            variant(ck, &m.ckpt, |c| c.epochs_done = x),
        ));
    }

    let softmax = || Some(Box::new(LinalgSoftmax::asoftmax()) as Box<dyn SoftmaxApprox<E>>);
    let data = m.data.clone();
    let ckpt = m.ckpt.clone();
    let data2 = data.clone();
    let data3 = data.clone();
    let ckpt2 = ckpt.clone();
    let judged2 = judged.clone();
    let mut v = vec![
        Target {
            name: format!("{label} client: epoch result"),
            valid: to_bytes(rk, &m.result).unwrap(),
            sealed: true,
            extremes: result_extremes,
            read: Box::new(move |b| {
                let r: Res<E::Ciphertext> = from_bytes(rk, b).map_err(|e| e.to_string())?;
                let mut c = client.borrow_mut();
                c.state = ClientState::default();
                let out = c.review_epoch(&r, splits).map(|_| ());
                c.state = ClientState::default();
                out.map_err(|e| e.to_string())
            }),
        },
        Target {
            name: format!("{label} client: model"),
            valid: to_bytes(mk, &m.model).unwrap(),
            sealed: true,
            extremes: model_extremes,
            read: Box::new(move |b| {
                let r: EncryptedModel<E::Ciphertext> =
                    from_bytes(mk, b).map_err(|e| e.to_string())?;
                let mut c = client.borrow_mut();
                c.state = judged.clone();
                let out = c.decrypt_model(&r).map(|_| ());
                c.state = ClientState::default();
                out.map_err(|e| e.to_string())
            }),
        },
        Target {
            name: format!("{label} client: inference logits"),
            valid: to_bytes(lk, &m.logits).unwrap(),
            sealed: true,
            extremes: logits_extremes,
            read: Box::new(move |b| {
                let z: EncMatrix<E::Ciphertext> = from_bytes(lk, b).map_err(|e| e.to_string())?;
                let c = client.borrow();
                c.predictions_for(&z, test_rows)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }),
        },
        Target {
            name: format!("{label} client: plan"),
            valid: to_bytes(Plan::KIND, &plan).unwrap(),
            sealed: true,
            extremes: plan_extremes,
            read: Box::new(move |b| {
                let p: Plan = from_bytes(Plan::KIND, b).map_err(|e| e.to_string())?;
                p.validate().map_err(|e| e.to_string())?;
                let c = client.borrow();
                if p.slots != c.backend.slots() {
                    return Err("slots".into());
                }
                Ok(())
            }),
        },
        Target {
            name: format!("{label} client: state"),
            valid: to_bytes("client-state", &judged2).unwrap(),
            sealed: true,
            extremes: vec![],
            read: Box::new(move |b| {
                let s: ClientState = from_bytes("client-state", b).map_err(|e| e.to_string())?;
                s.validate(plan.config.epochs).map_err(|e| e.to_string())
            }),
        },
        Target {
            name: format!("{label} server: encrypted data"),
            valid: to_bytes(dk, &m.data).unwrap(),
            sealed: true,
            extremes: data_extremes,
            read: Box::new(move |b| {
                let d: EncryptedData<E::Ciphertext> =
                    from_bytes(dk, b).map_err(|e| e.to_string())?;
                Server::new(make_ev(), softmax(), &d)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }),
        },
        Target {
            name: format!("{label} server: checkpoint"),
            valid: to_bytes(ck, &m.ckpt).unwrap(),
            sealed: true,
            extremes: ckpt_extremes,
            read: Box::new(move |b| {
                let c: Checkpoint<E::Ciphertext> = from_bytes(ck, b).map_err(|e| e.to_string())?;
                Server::resume(make_ev(), softmax(), &data, &c)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }),
        },
        Target {
            name: format!("{label} server: decision"),
            valid: to_bytes(
                Decision::KIND,
                &Decision {
                    epoch: 0,
                    improved: true,
                    stop: false,
                },
            )
            .unwrap(),
            sealed: true,
            extremes: vec![],
            read: Box::new(move |b| {
                let d: Decision = from_bytes(Decision::KIND, b).map_err(|e| e.to_string())?;
                let mut s = Server::resume(make_ev(), softmax(), &data2, &ckpt2)
                    .map_err(|e| e.to_string())?;
                s.apply_decision(d).map_err(|e| e.to_string())
            }),
        },
        Target {
            name: format!("{label} server: inference request"),
            valid: to_bytes("inference-features", &data3.val_x).unwrap(),
            sealed: true,
            extremes: shape_extremes("inference-features", &data3.val_x, "x", &|x| x),
            read: Box::new(move |b| {
                let x: EncMatrix<E::Ciphertext> =
                    from_bytes("inference-features", b).map_err(|e| e.to_string())?;
                let mut s = Server::resume(make_ev(), softmax(), &data3, &ckpt)
                    .map_err(|e| e.to_string())?;
                // The features' shape is checked before any product; CKKS data at level 0 and an
                // evaluator without rotation keys then fail in the product, which is fine here.
                match s.infer(&x) {
                    Ok(_) => Ok(()),
                    Err(hetal_nn::Error::Linalg(e))
                        if e.to_string().contains("depth") || e.to_string().contains("key") =>
                    {
                        Ok(())
                    }
                    Err(e) => Err(e.to_string()),
                }
            }),
        },
    ];
    v.push(Target {
        name: format!("{label} server: evaluation keys"),
        valid: keys.0,
        sealed: true,
        extremes: vec![],
        read: keys.1,
    });
    v
}

fn run_all(count: usize) -> Vec<(String, Tally)> {
    let (splits, cfg) = data();
    let mut out = Vec::new();

    // The mock.
    let params: MockParams = MockParams::ideal(256, 12, 40.0).with_bootstrap(3, 12, 1.0);
    let plan = Plan::new(&splits, &cfg, params.slots, 64.0, "asoftmax").unwrap();
    let softmax = LinalgSoftmax::asoftmax();
    let req = plan
        .key_request(
            &softmax
                .required_keys(plan.shape().unwrap(), plan.classes)
                .unwrap(),
            true,
        )
        .unwrap();
    let mut backend = MockClient::new(params, 7);
    let keys = backend.generate_evaluation_keys(&req).unwrap();
    let mut client = Client::new(backend, plan).unwrap();
    let m = messages(&mut client, &splits);
    let k2 = keys.clone();
    let make_ev = move || MockEvaluator::new(k2.clone());
    let key_bytes = to_bytes("mock-evaluation-keys", &keys).unwrap();
    let key_reader: Reader = Box::new(|b| {
        let k: MockEvaluationKeys =
            from_bytes("mock-evaluation-keys", b).map_err(|e| e.to_string())?;
        MockEvaluator::try_new(k)
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    let mut t = targets(
        "mock",
        &mut client,
        &splits,
        &m,
        &make_ev,
        (key_bytes, key_reader),
    );
    let mock_count = count * 3 / 5;
    out.extend(fuzz(&mut t, mock_count, 1));
    drop(t);

    // CKKS at the insecure bootstrappable N = 2^12 preset, data encrypted at level 0 (small
    // ciphertexts), an evaluator with the relinearisation key only.
    let preset = hetal_ckks::bootstrap::presets::insecure_boot_n12();
    let params = CkksParams::new(&preset.params).unwrap();
    let mut plan = Plan::new(&splits, &cfg, params.slots, 64.0, "asoftmax").unwrap();
    plan.encrypt_level = Some(0);
    let mut ckks = CkksClient::from_seed(params.clone(), 9);
    let keys = ckks
        .generate_evaluation_keys(&KeyRequest::default())
        .unwrap();
    let sk_bytes = ckks.secret_key().to_bytes();
    let mut client = Client::new(ckks, plan).unwrap();
    let m = messages(&mut client, &splits);
    let (p2, k2) = (params.clone(), keys.clone());
    let make_ev = move || CkksEvaluator::new(p2.clone(), k2.clone()).unwrap();
    let key_bytes = to_bytes("ckks-evaluation-keys", &keys.to_bytes(&params)).unwrap();
    let p3 = params.clone();
    let key_reader: Reader = Box::new(move |b| {
        let blob: Vec<u8> = from_bytes("ckks-evaluation-keys", b).map_err(|e| e.to_string())?;
        hetal_ckks::EvaluationKeys::from_bytes(&p3, &blob)
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    let mut t = targets(
        "ckks",
        &mut client,
        &splits,
        &m,
        &make_ev,
        (key_bytes, key_reader),
    );
    // The secret key blob (hetal-ckks's own format with its digest: every change must fail).
    let p4 = params.clone();
    t.push(Target {
        name: "ckks client: secret key".into(),
        valid: sk_bytes,
        sealed: false,
        extremes: vec![],
        read: Box::new(move |b| {
            SecretKey::from_bytes(&p4, b)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }),
    });
    out.extend(fuzz(&mut t, count - mock_count, 2));
    out
}

fn report(tallies: &[(String, Tally)]) {
    let (mut cases, mut peak) = (0, 0);
    for (name, t) in tallies {
        println!(
            "{name}: {} cases, {} refused, {} accepted, peak {:.2} MiB",
            t.cases,
            t.errors,
            t.accepted,
            t.peak as f64 / (1u64 << 20) as f64
        );
        cases += t.cases;
        peak = peak.max(t.peak);
    }
    println!(
        "{cases} cases in all, 0 panics, largest peak of one read {:.2} MiB",
        peak as f64 / (1u64 << 20) as f64
    );
}

#[test]
fn every_reader_refuses_hostile_files_without_panic_or_blow_up() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let t = run_all(3000);
    report(&t);
    assert!(t.iter().all(|(_, t)| t.errors > 0));
}

#[test]
#[ignore = "long: HETAL_FUZZ_COUNT cases (default 100,000); see the module docs"]
fn fuzz_many() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let count = std::env::var("HETAL_FUZZ_COUNT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let t = run_all(count);
    report(&t);
}

/// A length prefix claiming 4 GiB for a string or a byte buffer (what the long fuzz run first
/// found in a plan) is refused without allocating anything like it, in hetal-nn's messages and
/// in hetal-ckks's blobs.
#[test]
fn huge_length_prefixes_allocate_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut msg = to_bytes("plan", &String::from("abc")).unwrap();
    let at = header_len(&msg);
    let mut b = msg[..at].to_vec();
    b.extend_from_slice(&[0xfd, 0, 0, 0, 0, 1, 0, 0, 0]);
    b.extend_from_slice(b"abc");
    b.extend_from_slice(&[0; 32]);
    reseal(&mut b).unwrap();
    let (r, peak) = measure(|| from_bytes::<String>("plan", &b));
    assert!(r.is_err());
    assert!(peak <= 2 << 20, "{peak} bytes");
    // (serde preallocates at most 1 MiB for a sequence whatever its claimed length.)
    let (r, peak) = measure(|| from_bytes::<Vec<u8>>("plan", &b));
    assert!(r.is_err());
    assert!(peak <= 2 << 20, "{peak} bytes");
    msg.truncate(0);

    let params = CkksParams::new(&hetal_ckks::presets::insecure_test_n10()).unwrap();
    let c = CkksClient::from_seed(params.clone(), 1);
    let ct = c.public_key().to_bytes(&params);
    // Overwrite every 8-byte window with a fixed-width length of 2^32 in turn.
    let mut worst = 0;
    for i in 0..ct.len().saturating_sub(8).min(4096) {
        let mut b = ct.clone();
        b[i..i + 8].copy_from_slice(&(1u64 << 32).to_le_bytes());
        let (_, peak) = measure(|| hetal_ckks::PublicKey::from_bytes(&params, &b).is_ok());
        worst = worst.max(peak);
    }
    assert!(worst < 64 << 20, "{worst} bytes");
}

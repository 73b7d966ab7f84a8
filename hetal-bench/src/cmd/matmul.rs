//! `hetal matmul`: HETAL's matrix-multiplication comparison (Table 7 op counts and timings).
//!
//! For each shape `(a, b, c)` it runs every selected `A B^T` algorithm (`X W^T`, `X`: `a × b`,
//! `W`: `c × b`) and `A^T B` algorithm (`P^T X`, `P`: `a × c`) and prints the measured
//! CMult/Mult/Rot/Conj counts (checked against the formulas), the levels consumed, the time of the
//! homomorphic product alone (single-threaded by default; encryption of the inputs, and for Jin
//! et al. the on-demand encryption of the replicas and the decryption of the outputs, excluded),
//! the max error against the float product, and the speedup of DiagABT/DiagATB over each
//! baseline.
//!
//! Backends: `mock` (exact plaintext arithmetic with CKKS's level/scale rules, optional noise),
//! `symbolic` (data-free: counts and levels only, instant at any shape) and `ckks` (hetal-ckks
//! with a named preset, e.g. n16-l12: N = 2^16, 32768 slots, 12 levels as in HETAL's FGb
//! setting). Runs whose predicted op count exceeds `--max-ops` are skipped (their formula counts
//! are still printed).

use hetal_ckks::{CkksClient, CkksEvaluator};
use hetal_linalg::matmul::sim::SymbolicEvaluator;
use hetal_linalg::matmul::{
    AbtAlgorithm, AbtProduct, AtbAlgorithm, AtbProduct, MatmulDims, OpTally, jin_abt_streaming,
    jin_atb_streaming,
};
use hetal_linalg::packed::{Layout, Matrix, PackedMatrix, UnitShape};
use hetal_traits::counting::Counting;
use hetal_traits::mock::{MockClient, MockEvaluator, MockParams};
use hetal_traits::{
    Decryptor, Encoder, Encryptor, Evaluator, KeyGenerator, KeyRequest, Level, Leveled,
};
use rand::{RngExt, SeedableRng};
use std::sync::Mutex;
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error>;

/// Arguments of `hetal matmul`.
#[derive(clap::Args, Debug)]
pub struct MatmulArgs {
    /// Backend: mock, symbolic or ckks.
    #[arg(long, default_value = "mock")]
    pub backend: String,
    /// Shapes `AxBxC`, comma separated (default: HETAL's Table 7 shapes).
    #[arg(
        long,
        default_value = "128x128x4,256x256x8,512x769x4,1024x769x8,2048x769x16"
    )]
    pub shapes: String,
    /// Slot count for mock and symbolic (the ckks preset fixes its own).
    #[arg(long, default_value_t = 32768)]
    pub slots: usize,
    /// Rows per block `s0` (default: HETAL's benchmark choice s0 = a, one block row).
    #[arg(long)]
    pub s0: Option<usize>,
    /// `A B^T` algorithms, comma separated, or "all" / "none".
    #[arg(long, default_value = "all")]
    pub abt: String,
    /// `A^T B` algorithms, comma separated, or "all" / "none".
    #[arg(long, default_value = "all")]
    pub atb: String,
    /// Level of the first operand (default: the top level).
    #[arg(long)]
    pub level_a: Option<u32>,
    /// Level of the second operand (default: the top level).
    #[arg(long)]
    pub level_b: Option<u32>,
    /// Levels of the mock and symbolic backends (HETAL's FGb parameters: 12).
    #[arg(long, default_value_t = 12)]
    pub levels: u32,
    /// Standard deviation of the mock's simulated CKKS noise (0: exact).
    #[arg(long, default_value_t = 0.0)]
    pub noise: f64,
    /// hetal-ckks preset for `--backend ckks` (`hetal presets` lists them; e.g. n16-l12,
    /// insecure-n12).
    #[arg(long, default_value = "n16-l12", value_parser = super::presets::preset)]
    pub preset: &'static hetal_ckks::presets::Preset,
    /// Worker threads for the product (1 = single-threaded, the comparison setting).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Skip runs whose predicted CMult + Mult + Rot exceeds this (formula counts are printed).
    #[arg(long, default_value_t = 40_000)]
    pub max_ops: u64,
    /// Seed of the data and the keys.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// One algorithm's result on one shape.
struct Row {
    name: String,
    main: bool,
    formula: OpTally,
    counts: Option<OpTally>,
    out_level: Option<Level>,
    time: Option<Duration>,
    err: Option<f64>,
    note: String,
}

fn parse_shapes(s: &str) -> Result<Vec<(usize, usize, usize)>, BoxError> {
    s.split(',')
        .map(|t| {
            let v: Vec<usize> = t
                .trim()
                .split('x')
                .map(|x| x.parse::<usize>())
                .collect::<Result<_, _>>()?;
            match v.as_slice() {
                [a, b, c] => Ok((*a, *b, *c)),
                _ => Err(format!("shape {t:?} is not AxBxC").into()),
            }
        })
        .collect()
}

fn parse_list<T: std::str::FromStr<Err = hetal_linalg::Error> + Copy>(
    s: &str,
    all: &[T],
) -> Result<Vec<T>, BoxError> {
    match s.trim() {
        "all" => Ok(all.to_vec()),
        "none" | "" => Ok(Vec::new()),
        list => Ok(list
            .split(',')
            .map(|x| x.parse::<T>())
            .collect::<Result<_, _>>()?),
    }
}

fn total(t: &OpTally) -> u64 {
    t.cmult + t.mult + t.rot
}

/// Random data of a shape: X (a × b), W (c × b), P (a × c), entries in [-1, 1).
struct Data {
    x: Matrix,
    w: Matrix,
    p: Matrix,
}

impl Data {
    fn abt(&self) -> Result<Matrix, BoxError> {
        Ok(self.x.mul_abt(&self.w)?)
    }
    fn atb(&self) -> Result<Matrix, BoxError> {
        Ok(self.p.mul_atb(&self.x)?)
    }
    fn new(dims: &MatmulDims, seed: u64) -> Self {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut m = |r: usize, c: usize| Matrix::from_fn(r, c, |_, _| rng.random_range(-1.0..1.0));
        Data {
            x: m(dims.a, dims.b),
            w: m(dims.c, dims.b),
            p: m(dims.a, dims.c),
        }
    }
}

/// Runs the selected algorithms on one shape with a real (mock or CKKS) backend.
fn run_shape<C, E>(
    args: &MatmulArgs,
    dims: &MatmulDims,
    abts: &[AbtAlgorithm],
    atbs: &[AtbAlgorithm],
    client: &mut C,
    make_ev: &dyn Fn(&mut C, &KeyRequest) -> Result<E, BoxError>,
) -> Result<(Vec<Row>, Vec<Row>), BoxError>
where
    E: Evaluator,
    C: Encryptor<Ciphertext = E::Ciphertext> + Decryptor<Ciphertext = E::Ciphertext> + Send + Sync,
{
    let data = Data::new(dims, args.seed);
    let top = client.max_level();
    let la = Level(args.level_a.unwrap_or(top.0));
    let lb = Level(args.level_b.unwrap_or(top.0));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()?;
    let want_abt = data.x.mul_abt(&data.w)?;
    let want_atb = data.p.mul_atb(&data.x)?;
    let mut keys = KeyRequest::default();
    for a in abts {
        keys.merge(&a.required_keys(dims)?);
    }
    for a in atbs {
        keys.merge(&a.required_keys(dims)?);
    }
    let ev = Counting::new(make_ev(client, &keys)?);
    let mut abt_rows = Vec::new();
    for &algo in abts {
        let mut row = planned_abt(&algo, dims, la, lb, args.max_ops);
        row.main = algo == AbtAlgorithm::DiagAbt;
        if row.note.is_empty() && algo != AbtAlgorithm::Jin {
            measure_abt(&algo, &mut row, dims, &data, client, &ev, &pool, (la, lb))?;
        }
        if !row.note.is_empty() || algo != AbtAlgorithm::Jin {
            abt_rows.push(row);
            continue;
        }
        let (out, time) = {
            let ca = PackedMatrix::encrypt(client, &data.x, dims.shape, Layout::Columns, la)?;
            let slots = dims.shape.slots();
            let enc = Mutex::new((&mut *client, Duration::ZERO));
            ev.reset();
            let t0 = Instant::now();
            let out = pool.install(|| {
                jin_abt_streaming(&ev, &ca, dims.c, |r, j| {
                    let t = Instant::now();
                    let mut g = enc.lock().unwrap_or_else(|p| p.into_inner());
                    let ct = g.0.encrypt_real(&vec![data.w.get(r, j); slots], lb)?;
                    g.1 += t.elapsed();
                    Ok(ct)
                })
            })?;
            let elapsed = t0.elapsed();
            let spent = enc.into_inner().unwrap_or_else(|p| p.into_inner()).1;
            row.note = format!(
                "replicas encrypted on demand ({:.1} s, excluded)",
                spent.as_secs_f64()
            );
            (out, elapsed.saturating_sub(spent))
        };
        row.counts = Some(OpTally::from_counts(&ev.snapshot()));
        row.time = Some(time);
        row.out_level = Some(out.level());
        row.err = Some(out.decrypt(&*client)?.max_abs_diff(&want_abt));
        abt_rows.push(row);
    }
    let mut atb_rows = Vec::new();
    for &algo in atbs {
        let mut row = planned_atb(&algo, dims, la, lb, args.max_ops);
        row.name = atb_name(algo, dims, la, lb);
        row.main = algo == AtbAlgorithm::DiagAtbAuto;
        if !row.note.is_empty() {
            atb_rows.push(row);
            continue;
        }
        if algo == AtbAlgorithm::Jin {
            let ca = PackedMatrix::encrypt(client, &data.p, dims.shape, Layout::Columns, la)?;
            let cb = PackedMatrix::encrypt(client, &data.x, dims.shape, Layout::Columns, lb)?;
            let got = Mutex::new((vec![0.0; dims.c * dims.b], Duration::ZERO, Level(u32::MAX)));
            let dec: &C = client;
            ev.reset();
            let t0 = Instant::now();
            pool.install(|| {
                jin_atb_streaming(&ev, &ca, &cb, |r, j, ct| {
                    let t = Instant::now();
                    let v = dec.decrypt_real(&ct)?;
                    let mut g = got.lock().unwrap_or_else(|p| p.into_inner());
                    g.0[r * dims.b + j] = v[0];
                    g.1 += t.elapsed();
                    g.2 = g.2.min(ct.level());
                    Ok(())
                })
            })?;
            let elapsed = t0.elapsed();
            let (vals, spent, level) = got.into_inner().unwrap_or_else(|p| p.into_inner());
            row.counts = Some(OpTally::from_counts(&ev.snapshot()));
            row.time = Some(elapsed.saturating_sub(spent));
            row.out_level = Some(level);
            row.err = Some(Matrix::new(dims.c, dims.b, vals)?.max_abs_diff(&want_atb));
            row.note = format!(
                "outputs decrypted as they come ({:.1} s, excluded)",
                spent.as_secs_f64()
            );
        } else {
            measure_atb(&algo, &mut row, dims, &data, client, &ev, &pool, (la, lb))?;
        }
        atb_rows.push(row);
    }
    Ok((abt_rows, atb_rows))
}

/// Counts and levels on the data-free evaluator.
fn run_symbolic(
    args: &MatmulArgs,
    dims: &MatmulDims,
    abts: &[AbtAlgorithm],
    atbs: &[AtbAlgorithm],
) -> Result<(Vec<Row>, Vec<Row>), BoxError> {
    let la = Level(args.level_a.unwrap_or(args.levels));
    let lb = Level(args.level_b.unwrap_or(args.levels));
    let mut out = (Vec::new(), Vec::new());
    for &algo in abts {
        let mut row = symbolic_abt(&algo, args, dims, la, lb)?;
        row.main = algo == AbtAlgorithm::DiagAbt;
        out.0.push(row);
    }
    for &algo in atbs {
        let mut row = symbolic_atb(&algo, args, dims, la, lb)?;
        row.name = atb_name(algo, dims, la, lb);
        row.main = algo == AtbAlgorithm::DiagAtbAuto;
        out.1.push(row);
    }
    Ok(out)
}

/// The name of a built-in `A^T B` row, with the variant DiagATB (auto) resolves to.
fn atb_name(algo: AtbAlgorithm, dims: &MatmulDims, la: Level, lb: Level) -> String {
    let resolved = algo.resolve(la, lb, dims.c);
    if resolved == algo {
        algo.to_string()
    } else {
        format!("{algo} (={resolved})")
    }
}

macro_rules! generic_rows {
    ($planned:ident, $measure:ident, $symbolic:ident, $inputs:ident, $tr:ident, $x:ident, $y:ident, $want:ident) => {
        /// The row before running: name, formula counts and output level of any implementor;
        /// a note if its predicted op count exceeds `max_ops`.
        fn $planned<A: $tr>(
            algo: &A,
            dims: &MatmulDims,
            la: Level,
            lb: Level,
            max_ops: u64,
        ) -> Row {
            let formula = algo.expected_counts(dims, la, lb);
            Row {
                name: algo.name(),
                main: false,
                formula,
                counts: None,
                out_level: algo.output_level(dims, la, lb),
                time: None,
                err: None,
                note: if total(&formula) > max_ops {
                    format!("skipped: {} predicted ops > --max-ops", total(&formula))
                } else {
                    String::new()
                },
            }
        }

        /// Runs any implementor on the shape's data: counts, output level, time of the product
        /// alone (inputs encrypted first), max error against the float product.
        #[allow(clippy::too_many_arguments)]
        fn $measure<A: $tr + Sync, C, E>(
            algo: &A,
            row: &mut Row,
            dims: &MatmulDims,
            data: &Data,
            client: &mut C,
            ev: &Counting<E>,
            pool: &rayon::ThreadPool,
            (la, lb): (Level, Level),
        ) -> Result<(), BoxError>
        where
            E: Evaluator,
            C: Encryptor<Ciphertext = E::Ciphertext> + Decryptor<Ciphertext = E::Ciphertext>,
        {
            let want = data.$want()?;
            let (ca, cb) = algo.encrypt_inputs(client, &data.$x, &data.$y, dims.shape, la, lb)?;
            ev.reset();
            let t0 = Instant::now();
            let out = pool.install(|| algo.multiply(ev, &ca, &cb))?;
            row.time = Some(t0.elapsed());
            row.counts = Some(OpTally::from_counts(&ev.snapshot()));
            row.out_level = Some(out.level());
            row.err = Some(out.decrypt(&*client)?.max_abs_diff(&want));
            Ok(())
        }

        /// Counts and output level of any implementor on the data-free evaluator.
        fn $symbolic<A: $tr>(
            algo: &A,
            args: &MatmulArgs,
            dims: &MatmulDims,
            la: Level,
            lb: Level,
        ) -> Result<Row, BoxError> {
            let ev = Counting::new(SymbolicEvaluator::new(
                args.slots,
                args.levels,
                40.0,
                &algo.required_keys(dims)?,
            ));
            let (a, b) = ev.inner().$inputs(algo, dims, la, lb)?;
            let c = algo.multiply(&ev, &a, &b)?;
            let mut row = $planned(algo, dims, la, lb, u64::MAX);
            row.counts = Some(OpTally::from_counts(&ev.snapshot()));
            row.out_level = Some(c.level());
            Ok(row)
        }
    };
}

generic_rows!(
    planned_abt,
    measure_abt,
    symbolic_abt,
    abt_inputs,
    AbtProduct,
    x,
    w,
    abt
);
generic_rows!(
    planned_atb,
    measure_atb,
    symbolic_atb,
    atb_inputs,
    AtbProduct,
    p,
    x,
    atb
);

fn print_rows(title: &str, la: u32, lb: u32, rows: &[Row]) {
    println!("  {title}");
    println!(
        "    {:<34} {:>18} {:>5} {:>9} {:>12} {:>10}  note",
        "algorithm", "CMult/Mult/Rot", "Conj", "levels", "time", "max err"
    );
    for r in rows {
        let counts = match &r.counts {
            Some(c) if *c == r.formula => format!("{c}"),
            Some(c) => format!("{c} (formula {})", r.formula),
            None => format!("({})", r.formula),
        };
        let conj = r.counts.map_or(r.formula.conj, |c| c.conj);
        let levels = match r.out_level {
            Some(l) => format!("{la},{lb}->{}", l.0),
            None => "too low".to_string(),
        };
        let time = r
            .time
            .map_or("-".to_string(), |t| format!("{:.3} s", t.as_secs_f64()));
        let err = r.err.map_or("-".to_string(), |e| format!("{e:.1e}"));
        println!(
            "    {:<34} {counts:>18} {conj:>5} {levels:>9} {time:>12} {err:>10}  {}",
            r.name, r.note
        );
    }
    if let Some((diag, d)) = rows
        .iter()
        .find(|r| r.main)
        .and_then(|r| Some((&r.name, r.time?)))
    {
        for r in rows.iter().filter(|r| !r.name.starts_with("diag")) {
            if let Some(t) = r.time {
                println!(
                    "    speedup of {diag} over {}: {:.1}x",
                    r.name,
                    t.as_secs_f64() / d.as_secs_f64().max(1e-12)
                );
            }
        }
    }
}

/// Runs the comparison.
pub fn run(args: &MatmulArgs) -> Result<(), BoxError> {
    let shapes = parse_shapes(&args.shapes)?;
    let abts = parse_list(&args.abt, AbtAlgorithm::ALL)?;
    let atbs = parse_list(&args.atb, AtbAlgorithm::ALL)?;
    let backend = args.backend.to_ascii_lowercase();
    let ckks = if backend == "ckks" {
        Some((args.preset.name.to_string(), args.preset.params()?))
    } else {
        None
    };
    let slots = match &ckks {
        Some((_, p)) => CkksClient::from_seed(p.clone(), 0).slots(),
        None => args.slots,
    };
    println!(
        "hetal matmul: backend {backend}{}, {slots} slots, {} thread(s); counts are CMult/Mult/Rot (formula in parentheses when not run)",
        ckks.as_ref()
            .map_or(String::new(), |(n, _)| format!(" ({n})")),
        args.threads
    );
    for (a, b, c) in shapes {
        let shape = match args.s0 {
            Some(s0) => UnitShape::with_rows(s0, slots)?,
            None => UnitShape::benchmark(a, slots)?,
        };
        let dims = MatmulDims::new(a, b, c, shape)?;
        println!(
            "\n({a}, {b}, {c}): unit shape ({}, {}), {} x {} blocks",
            shape.s0,
            shape.s1,
            dims.blocks_a(),
            dims.blocks_b()
        );
        let (abt_rows, atb_rows, top) = match (backend.as_str(), &ckks) {
            ("mock", _) => {
                let params = MockParams::ideal(slots, args.levels, 40.0).with_noise(args.noise);
                let mut client = MockClient::try_new(params, args.seed)?;
                let make =
                    |c: &mut MockClient, k: &KeyRequest| -> Result<MockEvaluator, BoxError> {
                        Ok(MockEvaluator::try_new(c.generate_evaluation_keys(k)?)?)
                    };
                let (x, y) = run_shape(args, &dims, &abts, &atbs, &mut client, &make)?;
                (x, y, args.levels)
            }
            ("symbolic", _) => {
                let (x, y) = run_symbolic(args, &dims, &abts, &atbs)?;
                (x, y, args.levels)
            }
            ("ckks", Some((_, params))) => {
                let mut client = CkksClient::from_seed(params.clone(), args.seed);
                let threads = args.threads;
                let make =
                    |c: &mut CkksClient, k: &KeyRequest| -> Result<CkksEvaluator, BoxError> {
                        let t = Instant::now();
                        let keys = c.generate_evaluation_keys(k)?;
                        eprintln!(
                            "  ({} rotation keys generated in {:.1} s)",
                            k.rotations.len(),
                            t.elapsed().as_secs_f64()
                        );
                        Ok(CkksEvaluator::new(params.clone(), keys)?.with_threads(threads)?)
                    };
                let top = client.max_level().0;
                let (x, y) = run_shape(args, &dims, &abts, &atbs, &mut client, &make)?;
                (x, y, top)
            }
            (other, _) => {
                return Err(
                    format!("unknown backend {other:?}; known: mock, symbolic, ckks").into(),
                );
            }
        };
        let la = args.level_a.unwrap_or(top);
        let lb = args.level_b.unwrap_or(top);
        if !abt_rows.is_empty() {
            print_rows("A B^T (X W^T)", la, lb, &abt_rows);
        }
        if !atb_rows.is_empty() {
            print_rows("A^T B (P^T X)", la, lb, &atb_rows);
        }
    }
    Ok(())
}

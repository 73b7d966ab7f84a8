//! `hetal softmax-error`: HETAL's softmax error table, re-run on the mock backend.
//!
//! For each class count `c` and each input range `R_i` (default 4, 8, 32, 128), `--samples` rows
//! are drawn uniformly from `[-R_i, R_i]^c` (seeded), packed `2^log_slots / c'` rows per mock
//! ciphertext, and every softmax method of `hetal_linalg::approx::softmax` is evaluated
//! homomorphically on the exact mock, so the error is the approximation's own. The error of a row
//! is `max_j |softmax_j - approx_j|` against the exact softmax (`f64`, max subtracted). The column
//! "up to R" pools the samples of every range up to `R`, as the authors' script does, and a method
//! is shown only on the ranges the script evaluates it on. Each cell is `max / mean`; the line
//! below each method shows the authors' figures (docs/papers.md in this repository, section 1,
//! "HETAL's ASoftmax and its reference figures"; their script at 10^6 samples per range) where
//! they exist.
//!
//! `--ckks` runs the ASoftmax variants on real CKKS instead, with hetal-ckks's bootstrappable
//! `boot-n16` preset (N = 2^16, 32768 slots, 9 levels between bootstraps; `--preset
//! insecure-boot-n12-sparse-l9`
//! for a quick insecure N = 2^12 check): one ciphertext per class count, `--samples` rows at most
//! (capped at one block) split evenly over the ranges, compared with the exact softmax and with
//! the plaintext pipeline (what the mock computes) on the same rows. Key generation and every
//! bootstrap are expensive (boot_n16: about 11 GiB of keys, tens of seconds per bootstrap on a
//! small machine): a spot check of the scheme's added error, not the full table.

use hetal_linalg::approx::Refresher;
use hetal_linalg::approx::softmax::{
    AsoftmaxParams, RowLayout, SoftmaxMethod, asoftmax_variants, softmax_exact,
};
use hetal_traits::Evaluator;
use hetal_traits::mock::{MockClient, MockEvaluator, MockParams};
use hetal_traits::{Decryptor, Encryptor, Level};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::sync::Mutex;
use std::time::Instant;

/// Arguments of `hetal softmax-error`.
#[derive(clap::Args, Debug)]
pub struct SoftmaxErrorArgs {
    /// Class counts, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "3,7,10")]
    pub classes: Vec<usize>,
    /// Samples (rows) per input range.
    #[arg(long, default_value_t = 1_000_000)]
    pub samples: usize,
    /// Input ranges R (rows uniform in [-R, R]^c), comma separated, increasing.
    #[arg(long, value_delimiter = ',', default_value = "4,8,32,128")]
    pub ranges: Vec<f64>,
    /// Methods, comma separated (asoftmax, asoftmax-precise, asoftmax-hetal,
    /// asoftmax-hetal-precise, asoftmax-original, hong, privgd, gumbel), or "all".
    #[arg(long, value_delimiter = ',', default_value = "all")]
    pub methods: Vec<String>,
    /// log2 of the mock's slot count (small blocks stay in cache: 2^10 is several times faster
    /// per row than 2^16; the result does not depend on it beyond the sampling seeds).
    #[arg(long, default_value_t = 10)]
    pub log_slots: u32,
    /// Seed of the input sampling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Evaluate the plaintext (`f64`) reference of each method instead of the mock: the same
    /// computation, much faster; for studying the spread of the sampled maxima over seeds.
    #[arg(long)]
    pub plain: bool,
    /// Run the ASoftmax variants on CKKS with bootstrapping instead of the mock: one
    /// ciphertext per class count (at most `--samples` rows, split over the ranges), a spot check.
    /// Default methods on CKKS: asoftmax, asoftmax-precise.
    #[arg(long)]
    pub ckks: bool,
    /// The bootstrappable preset of `--ckks`: `boot-n16` (N = 2^16, 32768 slots, 9 levels between
    /// bootstraps; keys need about 13 GiB and a minute) or `insecure-boot-n12-sparse-l9` (N = 2^12, 128 slots,
    /// 9 levels, insecure: a quick check).
    #[arg(long, default_value = "boot-n16")]
    pub preset: String,
}

/// A row of the table.
type Row = SoftmaxMethod;

/// The authors' row a method is compared with (HETAL's parameters are the authors' ASoftmax).
fn authors_method(m: &Row) -> Option<SoftmaxMethod> {
    use SoftmaxMethod as M;
    match m {
        M::AsoftmaxHetal => Some(M::Asoftmax),
        M::AsoftmaxHetalPrecise => Some(M::AsoftmaxPrecise),
        M::AsoftmaxOriginal | M::Hong | M::PrivGd | M::Gumbel => Some(*m),
        M::Asoftmax | M::AsoftmaxPrecise | M::AsoftmaxWindowed | M::NormalizeSquare(_) => None,
    }
}

/// The chain and bootstrapping of hetal-ckks's `boot_n16` on a mock (no keys): what the dry
/// runs of the "bootstraps per call" column run on, from the bootstrap's output level.
fn boot_n16_mirror() -> Result<(MockParams, Level), Box<dyn std::error::Error>> {
    let preset = hetal_ckks::bootstrap::presets::boot_n16();
    let params = hetal_ckks::CkksParams::new(&preset.params)?;
    let q = params.q_primes();
    let top = q.len() as u32 - 1;
    let out = top - preset.config.circuit.depth();
    let m =
        MockParams::from_chain(2, &q, preset.params.log_scale.exp2()).with_bootstrap(0, out, 1.0);
    Ok((m, Level(out)))
}

/// Max and sum of per-row errors.
#[derive(Clone, Copy, Debug, Default)]
struct Stats {
    max: f64,
    sum: f64,
    count: u64,
}

impl Stats {
    fn merge(self, o: Stats) -> Stats {
        Stats {
            max: self.max.max(o.max),
            sum: self.sum + o.sum,
            count: self.count + o.count,
        }
    }
}

/// The authors' figures (docs/papers.md in this repository, section 1), `(c, method, [max/mean per pooled range])`.
fn authors(c: usize, m: SoftmaxMethod) -> Option<[Option<(f64, f64)>; 4]> {
    use SoftmaxMethod as M;
    let t = match (c, m) {
        (3, M::Asoftmax) => [
            Some((3.72e-3, 1.53e-3)),
            Some((3.72e-3, 1.49e-3)),
            Some((3.72e-3, 1.45e-3)),
            Some((3.72e-3, 1.38e-3)),
        ],
        (3, M::AsoftmaxPrecise) => [
            Some((1.31e-3, 2.82e-4)),
            Some((1.31e-3, 3.89e-4)),
            Some((2.21e-3, 5.61e-4)),
            Some((2.21e-3, 6.40e-4)),
        ],
        (3, M::AsoftmaxOriginal) => [Some((3.70e-7, 4.38e-8)), None, None, None],
        (3, M::Hong) => [
            Some((7.52e-2, 1.62e-2)),
            Some((5.98e-1, 1.99e-2)),
            None,
            None,
        ],
        (3, M::PrivGd) => [Some((1.81e-1, 9.10e-2)), None, None, None],
        (3, M::Gumbel) => [
            Some((9.24e-1, 6.96e-1)),
            Some((9.65e-1, 7.13e-1)),
            Some((1.00, 5.81e-1)),
            None,
        ],
        (7, M::Asoftmax) => [
            Some((6.51e-3, 3.10e-3)),
            Some((7.15e-3, 2.86e-3)),
            Some((8.37e-3, 2.88e-3)),
            Some((8.52e-3, 2.86e-3)),
        ],
        (7, M::AsoftmaxPrecise) => [
            Some((2.51e-3, 3.73e-4)),
            Some((2.90e-3, 5.20e-4)),
            Some((6.30e-3, 9.90e-4)),
            Some((6.41e-3, 1.29e-3)),
        ],
        (7, M::AsoftmaxOriginal) => [Some((8.72e-7, 9.13e-8)), None, None, None],
        (7, M::Hong) => [
            Some((8.80e-2, 2.97e-2)),
            Some((1.84e-1, 4.16e-2)),
            None,
            None,
        ],
        (7, M::PrivGd) => [Some((4.84e-1, 1.30e-1)), None, None, None],
        (7, M::Gumbel) => [
            Some((8.99e-1, 4.92e-1)),
            Some((9.52e-1, 5.32e-1)),
            Some((9.99e-1, 4.25e-1)),
            None,
        ],
        (10, M::Asoftmax) => [
            Some((1.53e-2, 4.60e-3)),
            Some((1.52e-2, 4.20e-3)),
            Some((1.52e-2, 3.95e-3)),
            Some((2.03e-2, 3.86e-3)),
        ],
        (10, M::AsoftmaxPrecise) => [
            Some((3.71e-3, 6.26e-4)),
            Some((4.69e-3, 7.08e-4)),
            Some((8.99e-3, 1.20e-3)),
            Some((9.35e-3, 1.60e-3)),
        ],
        (10, M::AsoftmaxOriginal) => [Some((1.26e-6, 1.02e-7)), None, None, None],
        (10, M::Hong) => [
            Some((8.61e-2, 3.40e-2)),
            Some((1.83e-1, 5.16e-2)),
            None,
            None,
        ],
        (10, M::PrivGd) => [Some((7.42e-1, 1.50e-1)), None, None, None],
        (10, M::Gumbel) => [
            Some((8.89e-1, 3.99e-1)),
            Some((9.36e-1, 4.48e-1)),
            Some((9.96e-1, 3.77e-1)),
            None,
        ],
        _ => return None,
    };
    Some(t)
}

fn parse_methods(names: &[String]) -> Result<Vec<Row>, Box<dyn std::error::Error>> {
    if names.iter().any(|n| n == "all") {
        return Ok(SoftmaxMethod::ALL.to_vec());
    }
    names
        .iter()
        .map(|n| SoftmaxMethod::by_name(n).map_err(|e| e.to_string().into()))
        .collect()
}

/// Seed of one chunk of one range, so that chunks can be drawn in any order.
fn chunk_seed(seed: u64, c: usize, range_idx: usize, chunk: usize) -> u64 {
    let mut h = seed ^ 0x9e37_79b9_7f4a_7c15;
    for v in [c as u64, range_idx as u64, chunk as u64] {
        h = (h ^ v).wrapping_mul(0x0100_0000_01b3).rotate_left(29);
    }
    h
}

/// Per-method stats for every range, for one class count.
fn run_classes(
    args: &SoftmaxErrorArgs,
    c: usize,
    methods: &[Row],
) -> Result<Vec<Vec<Stats>>, Box<dyn std::error::Error>> {
    let slots = 1usize << args.log_slots;
    let layout = RowLayout::dense(slots, c)?;
    let levels = methods.iter().map(|m| m.depth(c)).max().unwrap_or(1) + 1;
    let client = Mutex::new(MockClient::try_new(
        MockParams::ideal(slots, levels, 40.0),
        1,
    )?);
    let ev = MockEvaluator::try_new(client.lock().map_err(|_| "poisoned")?.unrestricted_keys())?;
    let rf = Refresher::new(&ev);
    let rows_per_ct = layout.s0();
    let chunks = args.samples.div_ceil(rows_per_ct);
    let mut out = vec![vec![Stats::default(); args.ranges.len()]; methods.len()];
    for (ri, &range) in args.ranges.iter().enumerate() {
        let active: Vec<usize> = (0..methods.len())
            .filter(|&k| range <= methods[k].max_range())
            .collect();
        if active.is_empty() {
            continue;
        }
        let t0 = Instant::now();
        let per_chunk: Result<Vec<Vec<Stats>>, String> = (0..chunks)
            .into_par_iter()
            .map(|j| {
                let n = rows_per_ct.min(args.samples - j * rows_per_ct);
                let mut rng = ChaCha8Rng::seed_from_u64(chunk_seed(args.seed, c, ri, j));
                let x: Vec<f64> = (0..n * c)
                    .map(|_| rng.random_range(-range..range))
                    .collect();
                let packed = layout.pack(&x).map_err(|e| e.to_string())?;
                let ct = {
                    let mut cl = client.lock().map_err(|_| "poisoned")?;
                    cl.encrypt_real(&packed, Level(levels))
                        .map_err(|e| e.to_string())?
                };
                let exact: Vec<Vec<f64>> = x.chunks(c).map(softmax_exact).collect();
                if args.plain {
                    let mut stats = vec![Stats::default(); active.len()];
                    for (slot, &k) in active.iter().enumerate() {
                        for (row, want) in x.chunks(c).zip(&exact) {
                            let got = methods[k].eval_plain(row);
                            let err = (0..c).map(|q| (got[q] - want[q]).abs()).fold(0.0, f64::max);
                            let s = &mut stats[slot];
                            s.max = if err.is_nan() {
                                f64::INFINITY
                            } else {
                                s.max.max(err)
                            };
                            s.sum += err;
                            s.count += 1;
                        }
                    }
                    return Ok(stats);
                }
                // The ASoftmax variants share their normalisation and row maximum.
                let variants: Vec<usize> = active
                    .iter()
                    .copied()
                    .filter(|&k| methods[k].asoftmax_params().is_some())
                    .collect();
                let params: Vec<_> = variants
                    .iter()
                    .filter_map(|&k| methods[k].asoftmax_params())
                    .collect();
                let mut outs: Vec<Option<_>> = vec![None; methods.len()];
                for (k, o) in variants.iter().zip(
                    asoftmax_variants(&ev, &ct, &layout, &params, &rf)
                        .map_err(|e| format!("asoftmax: {e}"))?,
                ) {
                    outs[*k] = Some(o);
                }
                let mut stats = vec![Stats::default(); active.len()];
                for (slot, &k) in active.iter().enumerate() {
                    let out = match outs[k].take() {
                        Some(o) => o,
                        None => methods[k]
                            .eval(&ev, &ct, &layout, &rf)
                            .map_err(|e| format!("{}: {e}", methods[k].name()))?,
                    };
                    let v = {
                        let cl = client.lock().map_err(|_| "poisoned")?;
                        cl.decrypt_real(&out).map_err(|e| e.to_string())?
                    };
                    let got = layout.unpack(&v, n);
                    let mut s = Stats::default();
                    for (i, want) in exact.iter().enumerate() {
                        let err = (0..c)
                            .map(|q| (got[i * c + q] - want[q]).abs())
                            .fold(0.0, f64::max);
                        s.max = if err.is_nan() {
                            f64::INFINITY
                        } else {
                            s.max.max(err)
                        };
                        s.sum += err;
                        s.count += 1;
                    }
                    stats[slot] = s;
                }
                Ok(stats)
            })
            .collect();
        for chunk in per_chunk? {
            for (slot, &k) in active.iter().enumerate() {
                out[k][ri] = out[k][ri].merge(chunk[slot]);
            }
        }
        eprintln!(
            "c={c} range={range}: {} rows x {} methods in {:.1} s",
            args.samples,
            active.len(),
            t0.elapsed().as_secs_f64()
        );
    }
    Ok(out)
}

fn cell(s: Option<(f64, f64)>) -> String {
    match s {
        Some((m, a)) => format!("{m:.2e} / {a:.2e}"),
        None => "—".to_string(),
    }
}

/// Runs the subcommand.
pub fn run(args: &SoftmaxErrorArgs) -> Result<(), Box<dyn std::error::Error>> {
    if args.samples == 0 || args.ranges.is_empty() || args.ranges.windows(2).any(|w| w[0] >= w[1]) {
        return Err("need at least one sample and increasing ranges".into());
    }
    if !(4..=20).contains(&args.log_slots) {
        return Err("--log-slots must be in 4..=20".into());
    }
    if args.ckks {
        return run_ckks(args);
    }
    let methods = parse_methods(&args.methods)?;
    let standard = args.ranges == [4.0, 8.0, 32.0, 128.0];
    println!(
        "softmax error on {} ({} slots, {} samples per range, seed {}); cell = max / mean of max_i |softmax_i - approx_i|",
        if args.plain {
            "the plaintext references"
        } else {
            "the exact mock"
        },
        1usize << args.log_slots,
        args.samples,
        args.seed
    );
    let (mirror, boot_level) = boot_n16_mirror()?;
    for &c in &args.classes {
        let stats = run_classes(args, c, &methods)?;
        println!();
        println!("c = {c}");
        let mut header = format!("| {:<28} |", "method");
        for (i, r) in args.ranges.iter().enumerate() {
            let h = if i == 0 {
                format!("[-{r},{r}]")
            } else {
                format!("up to [-{r},{r}]")
            };
            header += &format!(" {h:<21} |");
        }
        header += " depth | boots |";
        println!("{header}");
        println!("|{}|", vec!["---"; args.ranges.len() + 3].join("|"));
        for (k, m) in methods.iter().enumerate() {
            let mut line = format!("| {:<28} |", m.name());
            let mut pooled = Stats::default();
            for (ri, &r) in args.ranges.iter().enumerate() {
                pooled = pooled.merge(stats[k][ri]);
                let v = if r <= m.max_range() && pooled.count > 0 {
                    Some((pooled.max, pooled.sum / pooled.count as f64))
                } else {
                    None
                };
                line += &format!(" {:<21} |", cell(v));
            }
            // Bootstraps of one call from the bootstrap's output level on boot_n16's chain.
            let boots = m
                .dry_run(&mirror, c, boot_level)
                .map(|d| d.bootstraps().to_string())
                .unwrap_or_else(|_| "—".into());
            line += &format!(" {:>5} | {:>5} |", m.depth(c), boots);
            println!("{line}");
            // The authors' figures after the last row compared with them.
            let key = authors_method(m);
            let last = methods.get(k + 1).is_none_or(|n| authors_method(n) != key);
            if standard
                && last
                && let Some(key) = key
                && let Some(a) = authors(c, key)
            {
                let name = match key {
                    SoftmaxMethod::Asoftmax => "HETAL ASoftmax",
                    SoftmaxMethod::AsoftmaxPrecise => "HETAL ASoftmax precise",
                    other @ (SoftmaxMethod::AsoftmaxHetal
                    | SoftmaxMethod::AsoftmaxHetalPrecise
                    | SoftmaxMethod::AsoftmaxWindowed
                    | SoftmaxMethod::AsoftmaxOriginal
                    | SoftmaxMethod::NormalizeSquare(_)
                    | SoftmaxMethod::Hong
                    | SoftmaxMethod::PrivGd
                    | SoftmaxMethod::Gumbel) => other.name(),
                };
                let mut line = format!("| {:<28} |", format!("  authors' script: {name}"));
                for v in a {
                    line += &format!(" {:<21} |", cell(v));
                }
                line += &format!(" {:>5} | {:>5} |", "", "");
                println!("{line}");
            }
        }
    }
    Ok(())
}

/// The `--ckks` run (default methods: the tuned `asoftmax` and `normalize-square`; the ASoftmax
/// variants among them share the row maximum) on CKKS with bootstrapping. One ciphertext per
/// class count, its rows split evenly over the ranges; for every range the error against the
/// exact softmax on CKKS and on the plaintext pipeline (= the exact mock) of the same rows, and
/// `max |CKKS - plaintext|`.
fn run_ckks(args: &SoftmaxErrorArgs) -> Result<(), Box<dyn std::error::Error>> {
    use hetal_ckks::CkksClient;
    use hetal_ckks::CkksParams;
    use hetal_ckks::bootstrap::{BootstrappingEvaluator, generate_bootstrap_keys};
    use hetal_linalg::poly::mirror_params;
    use hetal_traits::counting::{Counting, OpKind};
    use hetal_traits::{Encoder, KeyRequest};

    let rows: Vec<Row> = if args.methods.iter().any(|n| n == "all") {
        vec![
            SoftmaxMethod::Asoftmax,
            SoftmaxMethod::NormalizeSquare(hetal_linalg::approx::softmax::LogitBound::B128),
        ]
    } else {
        parse_methods(&args.methods)?
    };
    let preset = hetal_ckks::presets::bootstrappable(&args.preset)?;
    let params = CkksParams::new(&preset.params)?;
    let mut client = CkksClient::from_seed(params.clone(), args.seed);
    let slots = client.slots();
    let mut rotations = Vec::new();
    for &c in &args.classes {
        let layout = RowLayout::dense(slots, c)?;
        for r in &rows {
            rotations.extend(r.rotations(&layout));
        }
    }
    rotations.sort();
    rotations.dedup();
    let t0 = Instant::now();
    let req = KeyRequest {
        rotations,
        ..KeyRequest::default()
    };
    let (keys, _) = generate_bootstrap_keys(&mut client, &preset.config, &req)?;
    let ev = Counting::new(BootstrappingEvaluator::new(params, keys, &preset.config)?);
    let info = ev.bootstrap_info().ok_or("the preset cannot bootstrap")?;
    println!(
        "softmax error on CKKS {} ({slots} slots, bootstrap from level {} to {}, input bound {}, \
         {} threads); keys in {:.0} s",
        preset.params.name,
        info.min_input_level.0,
        info.output_level.0,
        info.input_bound,
        rayon::current_num_threads(),
        t0.elapsed().as_secs_f64()
    );
    let rf = Refresher::new(&ev);
    let ps: Vec<AsoftmaxParams> = rows.iter().filter_map(|r| r.asoftmax_params()).collect();
    for &c in &args.classes {
        let layout = RowLayout::dense(slots, c)?;
        let n = args.samples.min(layout.s0());
        let nr = args.ranges.len();
        // Rows split evenly over the ranges: row i from range i mod nr (capped at the method's).
        let mut rng = ChaCha8Rng::seed_from_u64(chunk_seed(args.seed, c, 99, 0));
        let x: Vec<f64> = (0..n)
            .flat_map(|i| {
                let r = args.ranges[i % nr];
                (0..c).map(|_| rng.random_range(-r..r)).collect::<Vec<_>>()
            })
            .collect();
        let ct = client.encrypt_real(&layout.pack(&x)?, ev.max_level())?;
        println!();
        println!("c = {c}: {n} rows in one block");
        let t = Instant::now();
        let before = ev.snapshot();
        let mut outs = asoftmax_variants(&ev, &ct, &layout, &ps, &rf)?.into_iter();
        if !ps.is_empty() {
            let used = ev.snapshot().since(&before);
            println!(
                "  ASoftmax variants together: {:.0} s, {} bootstraps ({} Mult, {} Rot)",
                t.elapsed().as_secs_f64(),
                used.get(OpKind::Bootstrap),
                used.get(OpKind::Mult),
                used.get(OpKind::Rot)
            );
        }
        for row in &rows {
            let out = if row.asoftmax_params().is_some() {
                outs.next().ok_or("missing ASoftmax output")?
            } else {
                let t = Instant::now();
                let before = ev.snapshot();
                let o = row.eval(&ev, &ct, &layout, &rf)?;
                let used = ev.snapshot().since(&before);
                println!(
                    "  {}: {:.0} s, {} bootstraps ({} Mult, {} Rot)",
                    row.name(),
                    t.elapsed().as_secs_f64(),
                    used.get(OpKind::Bootstrap),
                    used.get(OpKind::Mult),
                    used.get(OpKind::Rot)
                );
                o
            };
            let dry = row.dry_run(&mirror_params(&ev, 2), c, ev.max_level())?;
            println!(
                "  {}: depth {} without bootstrapping; alone it takes {} bootstraps from level {} (dry run), output level {}",
                row.name(),
                row.depth(c),
                dry.bootstraps(),
                ev.max_level().0,
                dry.output_level.0
            );
            let got = layout.unpack(&client.decrypt_real(&out)?, n);
            for (ri, &range) in args.ranges.iter().enumerate() {
                let (mut ck, mut pl, mut diff) = (Stats::default(), Stats::default(), 0.0f64);
                for (i, xr) in x.chunks(c).enumerate().filter(|(i, _)| i % nr == ri) {
                    let want = softmax_exact(xr);
                    let plain = row.eval_plain(xr);
                    let g = &got[i * c..(i + 1) * c];
                    let e_ck = (0..c).map(|q| (g[q] - want[q]).abs()).fold(0.0, f64::max);
                    let e_pl = (0..c)
                        .map(|q| (plain[q] - want[q]).abs())
                        .fold(0.0, f64::max);
                    let d = (0..c).map(|q| (g[q] - plain[q]).abs()).fold(0.0, f64::max);
                    ck = ck.merge(Stats {
                        max: if e_ck.is_nan() { f64::INFINITY } else { e_ck },
                        sum: e_ck,
                        count: 1,
                    });
                    pl = pl.merge(Stats {
                        max: if e_pl.is_nan() { f64::INFINITY } else { e_pl },
                        sum: e_pl,
                        count: 1,
                    });
                    diff = diff.max(if d.is_nan() { f64::INFINITY } else { d });
                }
                let cnt = ck.count.max(1) as f64;
                println!(
                    "    [-{range},{range}] {} rows: CKKS {:.2e} / {:.2e}, mock {:.2e} / {:.2e}, max |CKKS - mock| {diff:.2e}",
                    ck.count,
                    ck.max,
                    ck.sum / cnt,
                    pl.max,
                    pl.sum / cnt
                );
            }
        }
    }
    Ok(())
}

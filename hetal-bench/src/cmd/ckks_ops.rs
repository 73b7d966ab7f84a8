//! `hetal ckks-ops`: single-threaded timings of the basic CKKS operations on a preset, in the form
//! the peer comparison (`scripts/compare_peers.py`) reads.

use hetal_ckks::{CkksClient, CkksEvaluator, CkksParams};
use hetal_traits::{Complex64, Decryptor, Encoder, Evaluator, KeyGenerator, KeyRequest, RotStep};
use rand::{RngExt, SeedableRng};
use std::collections::BTreeMap;
use std::time::Instant;

/// Arguments of `hetal ckks-ops`.
#[derive(clap::Args, Debug)]
pub struct CkksOpsArgs {
    /// Preset name (`hetal presets` lists them), e.g. n16-l20 (OpenFHE's limb count) or n16-l12
    /// (HEaaN FGb's 13 limbs).
    #[arg(long, default_value = "n16-l20", value_parser = super::presets::preset)]
    pub preset: &'static hetal_ckks::presets::Preset,
    /// Timed repetitions per operation (after one warm-up); the median is reported.
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
    /// Worker threads (1 = single-threaded, the comparison setting).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn median_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut ts: Vec<f64> = (0..reps.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ts.sort_by(f64::total_cmp);
    ts[ts.len() / 2]
}

/// Runs the timings.
pub fn run(args: &CkksOpsArgs) -> Result<(), Box<dyn std::error::Error>> {
    let lit = args.preset.literal()?;
    let params = CkksParams::new(&lit)?;
    let mut client = CkksClient::from_seed(params.clone(), 1);
    let steps: Vec<i64> = (1..=8).collect();
    let t_keys = Instant::now();
    let keys = client.generate_evaluation_keys(&KeyRequest::with_rotations(steps.clone()))?;
    let keygen_ms = t_keys.elapsed().as_secs_f64() * 1e3;
    let server = CkksEvaluator::new(params.clone(), keys)?.with_threads(args.threads)?;
    let slots = server.slots();
    let top = server.max_level();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let x: Vec<Complex64> = (0..slots)
        .map(|_| Complex64::new(rng.random_range(-1.0..1.0), 0.0))
        .collect();
    let y: Vec<Complex64> = (0..slots)
        .map(|_| Complex64::new(rng.random_range(-1.0..1.0), 0.0))
        .collect();
    let px = server.encode_at(&x, top)?;
    let py = server.encode_at(&y, top)?;
    let cx = client.encrypt_public(&px)?;
    let cy = client.encrypt_public(&py)?;
    let rot_steps: Vec<RotStep> = steps.iter().map(|&k| RotStep(k)).collect();
    let r = args.reps;

    let mut ms: BTreeMap<&str, f64> = BTreeMap::new();
    // Run every timed closure inside the evaluator's pool so that `--threads` holds for client ops too.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()?;
    pool.install(|| -> Result<(), hetal_traits::Error> {
        ms.insert("encode", median_ms(r, || drop(server.encode_at(&x, top))));
        ms.insert("encrypt", median_ms(r, || drop(client.encrypt_public(&px))));
        ms.insert("decrypt", median_ms(r, || drop(client.decrypt_values(&cx))));
        ms.insert("add", median_ms(r.max(20), || drop(server.add(&cx, &cy))));
        ms.insert(
            "mul_plain",
            median_ms(r.max(10), || drop(server.mul_plain(&cx, &py))),
        );
        ms.insert(
            "mul_relin_rescale",
            median_ms(r, || {
                drop(server.mul(&cx, &cy).and_then(|m| server.rescale(&m)))
            }),
        );
        ms.insert(
            "rotate",
            median_ms(r, || drop(server.rotate(&cx, RotStep(1)))),
        );
        ms.insert(
            "rotate_hoisted_8",
            median_ms(r, || drop(server.rotate_hoisted(&cx, &rot_steps))),
        );
        Ok(())
    })?;
    let prod = server.rescale(&server.mul(&cx, &cy)?)?;
    let got = client.decrypt_values(&prod)?;
    let err = got
        .iter()
        .zip(x.iter().zip(&y))
        .map(|(g, (a, b))| (g.re - a.re * b.re).abs())
        .fold(0.0, f64::max);
    let mul_bits = -err.log2();
    let limbs = top.0 + 1;
    if args.json {
        let out = serde_json::json!({
            "library": "hetal",
            "params": {
                "preset": lit.name, "logn": lit.log_n, "limbs": limbs, "dnum": lit.dnum,
                "special_primes": params.num_p(), "log_qp": (params.log_qp() * 10.0).round() / 10.0,
                "threads": args.threads,
            },
            "keygen_ms": keygen_ms,
            "mul_precision_bits": (mul_bits * 100.0).round() / 100.0,
            "ms": ms,
        });
        println!("{out}");
    } else {
        println!(
            "hetal CKKS {}: N = 2^{}, {} limbs, dnum {}, {} special primes, log QP {:.1}, {} thread(s)",
            lit.name,
            lit.log_n,
            limbs,
            lit.dnum,
            params.num_p(),
            params.log_qp(),
            args.threads
        );
        for (op, t) in &ms {
            println!("  {op:<20} {t:>10.3} ms");
        }
        println!("  precision after mul+relin+rescale: {mul_bits:.1} bits (min over slots)");
        println!("  evaluation-key generation (relin + 8 rotations): {keygen_ms:.0} ms");
    }
    Ok(())
}

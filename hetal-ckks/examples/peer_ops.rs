//! Times the basic CKKS operations single-threaded at the OpenFHE peer-benchmark setting
//! (N = 2^16, 60-bit q_0, 20 scaling primes of 40 bits, scale 2^40, dnum 3) and prints a table.
//!
//! `cargo run --release -p hetal-ckks --example peer_ops` (set `PEER_OPS_PRESET=n14` for N = 2^14
//! with L = 5 as in the peer script, `PEER_OPS_JSON=path` to also write the medians as JSON).

use hetal_ckks::{CkksClient, CkksEvaluator, CkksParams, presets};
use hetal_traits::{Complex64, Decryptor, Encoder, Evaluator, KeyGenerator, KeyRequest, RotStep};
use std::hint::black_box;
use std::time::Instant;

/// (wall median ms, wall min ms, CPU median ms, reps).
type Timing = (f64, f64, f64, usize);

/// CPU time of the calling thread in nanoseconds (Linux), if available.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// (wall median ms, wall min ms, CPU median ms, reps): one warm-up call, then at least
/// `min_reps` calls and up to ~`budget_s` seconds (at most 25 calls), as the peer script does.
fn time<T>(min_reps: usize, budget_s: f64, mut f: impl FnMut() -> T) -> Timing {
    black_box(f()); // warm-up
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    let start = Instant::now();
    while wall.len() < min_reps || (start.elapsed().as_secs_f64() < budget_s && wall.len() < 25) {
        let c = thread_cpu_ns();
        let t = Instant::now();
        black_box(f());
        wall.push(t.elapsed().as_secs_f64() * 1e3);
        if let (Some(a), Some(b)) = (c, thread_cpu_ns()) {
            cpu.push((b - a) as f64 / 1e6);
        }
    }
    wall.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    let cpu_med = if cpu.is_empty() {
        f64::NAN
    } else {
        cpu[cpu.len() / 2]
    };
    (wall[wall.len() / 2], wall[0], cpu_med, wall.len())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let which = std::env::var("PEER_OPS_PRESET").unwrap_or_else(|_| "n16".into());
    let lit = match which.as_str() {
        "n14" => {
            let mut l = presets::n14_l7();
            l.name = "N14_L5 (peer setting)".into();
            l.moduli = hetal_ckks::Moduli::Bits {
                q: [vec![60], vec![40; 5]].concat(),
                p: vec![50, 50],
            };
            l.dnum = 3;
            l
        }
        _ => presets::n16_l20(),
    };
    let params = CkksParams::new(&lit)?;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    pool.install(|| -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let t0 = Instant::now();
        let mut client = CkksClient::from_seed(params.clone(), 1);
        let keys = client.generate_evaluation_keys(&KeyRequest::with_rotations(1..=8))?;
        let keygen_s = t0.elapsed().as_secs_f64();
        let eval = CkksEvaluator::new(params.clone(), keys)?;
        let top = eval.max_level();
        let slots = eval.slots();
        let x: Vec<Complex64> = (0..slots).map(|i| Complex64::new(((i * 7919) % 1000) as f64 / 500.0 - 1.0, 0.0)).collect();
        let pt = eval.encode_at(&x, top)?;
        let a = client.encrypt_public(&pt)?;
        let b = client.encrypt_public(&pt)?;
        let prod = eval.mul(&a, &b)?;
        let mut rows: Vec<(&str, Timing)> = Vec::new();
        // The degree-2 part of a product, for timing relinearisation alone (one key switch + add).
        let relin_key = eval.keys().relin_key().ok_or("no relinearisation key")?;
        let d2 = a.c1_ntt().to_vec();
        rows.push(("encode", time(3, 1.0, || eval.encode_at(&x, top).unwrap())));
        rows.push(("encrypt (pk)", time(3, 1.0, || client.encrypt_public(&pt).unwrap())));
        rows.push(("decrypt+decode", time(3, 1.0, || client.decrypt_values(&a).unwrap())));
        rows.push(("add", time(3, 1.0, || eval.add(&a, &b).unwrap())));
        rows.push(("mul_plain", time(3, 1.0, || eval.mul_plain(&a, &pt).unwrap())));
        rows.push(("mul_ct+relin (no rescale)", time(3, 1.0, || eval.mul(&a, &b).unwrap())));
        rows.push((
            "relin",
            time(3, 1.0, || hetal_ckks::keyswitch::key_switch(&params, &d2, top.index(), relin_key)),
        ));
        rows.push(("rescale", time(3, 1.0, || eval.rescale(&prod).unwrap())));
        rows.push(("mul_ct+relin+rescale", time(3, 1.0, || eval.rescale(&eval.mul(&a, &b).unwrap()).unwrap())));
        rows.push(("rotate (1 key switch)", time(3, 1.0, || eval.rotate(&a, RotStep(1)).unwrap())));
        let steps: Vec<RotStep> = (1..=8).map(RotStep).collect();
        rows.push(("rot x8 hoisted", time(3, 1.0, || eval.rotate_hoisted(&a, &steps).unwrap())));
        // Precision, as the peer script reports it: −log2(max abs error).
        let prec = |got: &[Complex64], want: &[Complex64]| {
            -got.iter().zip(want).map(|(g, w)| (g.re - w.re).abs()).fold(0.0, f64::max).log2()
        };
        let fresh = prec(&client.decrypt_values(&a)?, &x);
        let sq: Vec<Complex64> = x.iter().map(|v| v * v).collect();
        let after = prec(&client.decrypt_values(&eval.rescale(&prod)?)?, &sq);
        println!(
            "hetal-ckks {}: N=2^{}, {} slots, Q: {} limbs (log Q = {:.0}), P: {} limbs, dnum {}, log QP = {:.0}, 1 thread",
            lit.name,
            lit.log_n,
            slots,
            params.num_q,
            params.log_q(),
            params.num_p(),
            params.digits.len(),
            params.log_qp()
        );
        println!("keygen (relin + 8 rotations): {keygen_s:.1} s; precision fresh {fresh:.1} b, after mul {after:.1} b; top level {}", top.0);
        println!("| op | median ms (min) | cpu ms | n |");
        println!("|---|---|---|---|");
        for (name, (med, min, cpu, n)) in &rows {
            println!("| {name} | {med:.3} ({min:.3}) | {cpu:.3} | {n} |");
        }
        if let Ok(path) = std::env::var("PEER_OPS_JSON") {
            let body: Vec<String> = rows
                .iter()
                .map(|(k, (m, mn, c, n))| {
                    let c = if c.is_finite() { *c } else { *m };
                    format!("\"{k}\": {{\"median_ms\": {m}, \"min_ms\": {mn}, \"cpu_median_ms\": {c}, \"reps\": {n}}}")
                })
                .collect();
            std::fs::write(path, format!("{{{}}}\n", body.join(", ")))?;
        }
        Ok(())
    }).map_err(|e| e as Box<dyn std::error::Error>)
}

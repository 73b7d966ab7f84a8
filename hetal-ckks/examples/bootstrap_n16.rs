//! Measures bootstrapping on the secure N = 2^16 preset: precision over all 32768 slots for
//! uniform inputs in [-1, 1], levels left, single-thread bootstrap time, key-generation time and
//! peak memory.
//!
//! `cargo run --release -p hetal-ckks --example bootstrap_n16 [runs] [--json] [--dense] [--pair]
//! [--preset NAME] [--budget-gib G]`
//! (`--dense`: `boot_n16_dense`, the dense-secret variant; `--preset NAME`: any bootstrappable
//! preset of the registry, e.g. `boot-n16-deep`; `--budget-gib G`: the key set's memory budget
//! instead of 80% of the available memory; `--pair`: also `runs` pair bootstraps of two real
//! ciphertexts, timed on one thread, with the real parts' precision of both outputs over all
//! slots; `--sparse N1,N2,..`: also generate the sparse-bootstrap keys for these periods and
//! time `runs` sparse bootstraps (and with `--pair` sparse pair bootstraps) of real inputs
//! replicated with each period, with their precision over all slots)

use hetal_ckks::bootstrap::{
    BootstrappingEvaluator, estimate_memory, generate_bootstrap_keys, precision_bits, presets,
    sparse_precision_bits,
};
use hetal_ckks::{CkksClient, CkksParams};
use hetal_traits::{Complex64, Decryptor, Encryptor, Evaluator, KeyRequest, Level, Leveled};
use rand::{RngExt, SeedableRng};
use std::time::Instant;

fn vm_hwm() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// CPU seconds (user + system) of this process so far, from `/proc/self/stat` (clock ticks of
/// 1/100 s). With a one-thread pool this is the bootstrap's own CPU time, whatever else the machine
/// runs.
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ut: f64 = f.get(11)?.parse().ok()?;
            let st: f64 = f.get(12)?.parse().ok()?;
            Some((ut + st) / 100.0)
        })
        .unwrap_or(f64::NAN)
}

fn main() -> hetal_traits::Result<()> {
    // Arguments: [runs] [--json] (--json: also print one JSON line at the end, for
    // scripts/compare_peers.py --boot).
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let value_of = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let preset_name = value_of("--preset");
    let budget_gib: Option<f64> = value_of("--budget-gib").and_then(|v| v.parse().ok());
    let runs: usize = args
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            *i == 0
                || !matches!(
                    args[i - 1].as_str(),
                    "--preset" | "--budget-gib" | "--sparse"
                )
        })
        .find_map(|(_, a)| a.parse().ok())
        .unwrap_or(1);
    let mut cpu_runs: Vec<f64> = Vec::new();
    let mut wall_runs: Vec<f64> = Vec::new();
    let mut prec: Vec<(f64, f64)> = Vec::new();
    let mut levels_left = 0u32;
    // --dense: the dense-secret variant of the preset.
    let mut preset = if let Some(name) = &preset_name {
        hetal_ckks::presets::bootstrappable(name)
            .map_err(|e| hetal_traits::Error::invalid(e.to_string()))?
    } else if args.iter().any(|a| a == "--dense") {
        presets::boot_n16_dense()
    } else {
        presets::boot_n16()
    };
    if let Some(g) = budget_gib {
        preset.config.memory_budget_bytes = Some((g * 1073741824.0) as u64);
    }
    let params = CkksParams::new(&preset.params)?;
    let q: Vec<String> = params
        .q_primes()
        .iter()
        .map(|&x| format!("{:.1}", (x as f64).log2()))
        .collect();
    println!(
        "preset {}: N = 2^{}, {} slots, log QP = {:.1}, security {:?}, dnum {}, h = {}, encapsulation h' = {:?}",
        preset.params.name,
        preset.params.log_n,
        params.slots,
        params.log_qp(),
        preset.params.security,
        params.digits.len(),
        preset.params.hamming_weight,
        preset.config.sparse_secret_weight
    );
    println!(
        "chain bits: [{}], P: {:?}",
        q.join(", "),
        params
            .p_primes()
            .iter()
            .map(|&x| format!("{:.1}", (x as f64).log2()))
            .collect::<Vec<_>>()
    );
    println!(
        "scales: level 0 2^{:.3}, output level 2^{:.3}, top 2^{:.3}",
        params.scales[0].log2(),
        params.scales[hetal_ckks::presets::bootstrap_output_level(&preset) as usize].log2(),
        params.scales[params.max_level()].log2()
    );
    println!(
        "circuit: {:?}, depth {}",
        preset.config.circuit,
        preset.config.circuit.depth()
    );
    println!(
        "EvalMod design error (|x - I| <= 2^-9): 2^{:.1}",
        preset.config.circuit.evalmod.max_error(1.0 / 512.0).log2()
    );
    let mut request = KeyRequest::default();
    if let Some(list) = value_of("--sparse") {
        let periods: Vec<usize> = list
            .split(',')
            .map(|x| {
                x.trim()
                    .parse()
                    .map_err(|_| hetal_traits::Error::invalid(format!("bad period {x}")))
            })
            .collect::<hetal_traits::Result<_>>()?;
        request.add_sparse_bootstrap_slots(periods);
    }
    let est = estimate_memory(&params, &preset.config, &request)?;
    println!(
        "memory estimate: {} keys x {:.1} MiB = {:.2} GiB, {} diagonals {:.2} GiB, working {:.2} GiB, total {:.2} GiB",
        est.keys,
        est.bytes_per_key as f64 / 1048576.0,
        (est.keys as u64 * est.bytes_per_key) as f64 / 1073741824.0,
        est.diagonals,
        est.plaintext_bytes as f64 / 1073741824.0,
        est.working_bytes as f64 / 1073741824.0,
        est.total_bytes() as f64 / 1073741824.0
    );
    if !request.sparse_bootstrap_slots.is_empty() {
        println!(
            "of which sparse circuits {:?}: {} extra keys = {:.2} GiB, {} diagonals {:.2} GiB",
            request.sparse_bootstrap_slots,
            est.sparse_keys,
            (est.sparse_keys as u64 * est.bytes_per_key) as f64 / 1073741824.0,
            est.sparse_diagonals,
            est.sparse_plaintext_bytes as f64 / 1073741824.0
        );
    }
    let mut client = CkksClient::from_seed(params.clone(), 2026);
    let t = Instant::now();
    let (keys, _) = generate_bootstrap_keys(&mut client, &preset.config, &request)?;
    let keygen_s = t.elapsed().as_secs_f64();
    println!(
        "key generation: {:.1} s ({} Galois keys), VmHWM {}",
        t.elapsed().as_secs_f64(),
        keys.galois_elements().len(),
        vm_hwm()
    );
    let t = Instant::now();
    let eval = BootstrappingEvaluator::new(params.clone(), keys, &preset.config)?;
    println!(
        "matrix encoding: {:.1} s, {} diagonals, VmHWM {}",
        t.elapsed().as_secs_f64(),
        eval.circuit().diagonal_count(),
        vm_hwm()
    );
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| hetal_traits::Error::invalid(e.to_string()))?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    for run in 0..runs {
        let v: Vec<Complex64> = (0..params.slots)
            .map(|_| Complex64::new(rng.random_range(-1.0..=1.0), 0.0))
            .collect();
        let ct = client.encrypt_values(&v, Level(0))?;
        let t = Instant::now();
        let c = cpu_seconds();
        let out = one.install(|| eval.bootstrap(&ct))?;
        let secs = t.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - c;
        let got = client.decrypt_values(&out)?;
        let (min, mean) = precision_bits(&got, &v);
        let real: Vec<Complex64> = got.iter().map(|z| Complex64::new(z.re, 0.0)).collect();
        let (rmin, rmean) = precision_bits(&real, &v);
        cpu_runs.push(cpu);
        wall_runs.push(secs);
        prec.push((mean, min));
        levels_left = out.level().0;
        println!(
            "run {run}: bootstrap (1 thread) wall {secs:.2} s, CPU {cpu:.2} s; levels left {}; precision over {} slots: mean {mean:.2} bits, min {min:.2} bits (real parts: mean {rmean:.2}, min {rmin:.2})",
            out.level().0,
            v.len()
        );
    }
    let mut pair_cpu: Vec<f64> = Vec::new();
    let mut pair_wall: Vec<f64> = Vec::new();
    let mut pair_prec: Vec<(f64, f64)> = Vec::new();
    if args.iter().any(|a| a == "--pair") {
        for run in 0..runs {
            let mut real = || -> Vec<Complex64> {
                (0..params.slots)
                    .map(|_| Complex64::new(rng.random_range(-1.0..=1.0), 0.0))
                    .collect()
            };
            let (a, b) = (real(), real());
            let ca = client.encrypt_values(&a, Level(0))?;
            let cb = client.encrypt_values(&b, Level(0))?;
            let t = Instant::now();
            let c = cpu_seconds();
            let (x, y) = one.install(|| eval.bootstrap_pair(&ca, &cb))?;
            let secs = t.elapsed().as_secs_f64();
            let cpu = cpu_seconds() - c;
            let mut parts = Vec::new();
            for (ct, want) in [(&x, &a), (&y, &b)] {
                let got = client.decrypt_values(ct)?;
                let re: Vec<Complex64> = got.iter().map(|z| Complex64::new(z.re, 0.0)).collect();
                parts.push(precision_bits(&re, want));
            }
            let min = parts[0].0.min(parts[1].0);
            let mean = parts[0].1.min(parts[1].1);
            pair_cpu.push(cpu);
            pair_wall.push(secs);
            pair_prec.push((mean, min));
            println!(
                "pair run {run}: pair bootstrap (1 thread) wall {secs:.2} s, CPU {cpu:.2} s ({:.2} s per real ciphertext); levels left {}/{}; real parts over {} slots: first mean {:.2} min {:.2} bits, second mean {:.2} min {:.2} bits",
                cpu / 2.0,
                x.level().0,
                y.level().0,
                a.len(),
                parts[0].1,
                parts[0].0,
                parts[1].1,
                parts[1].0
            );
        }
    }
    let mut sparse_json = Vec::new();
    for &n in &request.sparse_bootstrap_slots {
        let declared = sparse_precision_bits(&params, &preset.config, n);
        let mut periodic = || -> Vec<Complex64> {
            let first: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..=1.0)).collect();
            (0..params.slots)
                .map(|t| Complex64::new(first[t % n], 0.0))
                .collect()
        };
        let (mut cpus, mut worst) = (Vec::new(), (f64::INFINITY, f64::INFINITY));
        for run in 0..runs {
            let v = periodic();
            let ct = client.encrypt_values(&v, Level(0))?;
            let t = Instant::now();
            let c = cpu_seconds();
            let out = one.install(|| eval.bootstrap_sparse(&ct, n))?;
            let secs = t.elapsed().as_secs_f64();
            let cpu = cpu_seconds() - c;
            let got = client.decrypt_values(&out)?;
            let (min, mean) = precision_bits(&got, &v);
            cpus.push(cpu);
            worst = (worst.0.min(mean), worst.1.min(min));
            println!(
                "sparse n = {n} run {run}: bootstrap_sparse (1 thread) wall {secs:.2} s, CPU {cpu:.2} s; levels left {}; precision over {} slots: mean {mean:.2} bits, min {min:.2} bits (declared {declared:.2})",
                out.level().0,
                v.len()
            );
        }
        let mut pair = String::new();
        if args.iter().any(|a| a == "--pair") {
            let mut pcpus = Vec::new();
            let mut pworst = (f64::INFINITY, f64::INFINITY);
            for run in 0..runs {
                let (a, b) = (periodic(), periodic());
                let ca = client.encrypt_values(&a, Level(0))?;
                let cb = client.encrypt_values(&b, Level(0))?;
                let c = cpu_seconds();
                let (x, y) = one.install(|| eval.bootstrap_pair_sparse(&ca, &cb, n))?;
                let cpu = cpu_seconds() - c;
                let mut parts = Vec::new();
                for (ct, want) in [(&x, &a), (&y, &b)] {
                    let got = client.decrypt_values(ct)?;
                    let re: Vec<Complex64> =
                        got.iter().map(|z| Complex64::new(z.re, 0.0)).collect();
                    parts.push(precision_bits(&re, want));
                }
                let (min, mean) = (parts[0].0.min(parts[1].0), parts[0].1.min(parts[1].1));
                pcpus.push(cpu);
                pworst = (pworst.0.min(mean), pworst.1.min(min));
                println!(
                    "sparse n = {n} pair run {run}: bootstrap_pair_sparse (1 thread) CPU {cpu:.2} s ({:.2} s per real ciphertext); real parts over {} slots: mean {mean:.2} min {min:.2} bits",
                    cpu / 2.0,
                    a.len()
                );
            }
            pcpus.sort_by(f64::total_cmp);
            pair = format!(
                ", \"pair_cpu_s\": {:.2}, \"pair_precision_mean_bits\": {:.2}, \"pair_precision_min_bits\": {:.2}",
                pcpus[pcpus.len() / 2],
                pworst.0,
                pworst.1
            );
        }
        cpus.sort_by(f64::total_cmp);
        if !cpus.is_empty() {
            sparse_json.push(format!(
                "{{\"period\": {n}, \"cpu_s\": {:.2}, \"precision_mean_bits\": {:.2}, \"precision_min_bits\": {:.2}, \"declared_bits\": {declared:.2}{pair}}}",
                cpus[cpus.len() / 2],
                worst.0,
                worst.1
            ));
        }
        // Breakdown of one sparse bootstrap (1 thread, CPU seconds).
        if let Some(circuit) = eval.sparse_circuit(n) {
            let v = periodic();
            let ct = client.encrypt_values(&v, Level(0))?;
            one.install(|| -> hetal_traits::Result<()> {
                let c = cpu_seconds();
                let raised = eval.raise(&ct)?;
                let c1 = cpu_seconds();
                let traced = eval.trace_for(&raised, n)?;
                let c2 = cpu_seconds();
                let x = circuit.coeff_to_slot(eval.inner(), &traced)?;
                let c3 = cpu_seconds();
                let y = circuit.eval_mod_sparse(eval.inner(), &x)?;
                let c4 = cpu_seconds();
                let _ = circuit.slot_to_coeff(eval.inner(), &y)?;
                let c5 = cpu_seconds();
                println!(
                    "sparse n = {n} breakdown (1 thread, CPU s): encapsulation + ModRaise {:.2}, trace ({} automorphisms) {:.2}, CoeffToSlot {:.2} ({} diagonals in the circuit), EvalMod x1 {:.2}, SlotToCoeff {:.2}",
                    c1 - c,
                    hetal_ckks::bootstrap::trace_elements_for(&params, n).len(),
                    c2 - c1,
                    c3 - c2,
                    circuit.diagonal_count(),
                    c4 - c3,
                    c5 - c4
                );
                Ok(())
            })?;
        }
    }
    let v: Vec<Complex64> = (0..params.slots)
        .map(|_| Complex64::new(rng.random_range(-1.0..=1.0), 0.0))
        .collect();
    let ct = client.encrypt_values(&v, Level(0))?;
    // Breakdown (one thread, CPU seconds).
    one.install(|| -> hetal_traits::Result<()> {
        let c = cpu_seconds();
        let raised = eval.raise(&ct)?;
        let c1 = cpu_seconds();
        let x = eval.circuit().coeff_to_slot(eval.inner(), &raised)?;
        let c2 = cpu_seconds();
        let y = eval.circuit().eval_mod_complex(eval.inner(), &x)?;
        let c3 = cpu_seconds();
        let out = eval.circuit().slot_to_coeff(eval.inner(), &y)?;
        let c4 = cpu_seconds();
        println!(
            "breakdown (1 thread, CPU s): encapsulation + ModRaise {:.2}, CoeffToSlot {:.2} (level {} -> {}), EvalMod x2 {:.2} (-> level {}), SlotToCoeff {:.2} (-> level {})",
            c1 - c,
            c2 - c1,
            raised.level().0,
            x.level().0,
            c3 - c2,
            y.level().0,
            c4 - c3,
            out.level().0
        );
        Ok(())
    })?;
    let t = Instant::now();
    let out = eval.bootstrap(&ct)?;
    let (min, mean) = precision_bits(&client.decrypt_values(&out)?, &v);
    println!(
        "bootstrap ({} threads): {:.2} s, mean {mean:.2} min {min:.2} bits",
        rayon::current_num_threads(),
        t.elapsed().as_secs_f64()
    );
    println!("peak memory (VmHWM): {}", vm_hwm());
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let pair_json = if pair_cpu.is_empty() {
        String::new()
    } else {
        let (mean, min) = pair_prec
            .iter()
            .fold((f64::INFINITY, f64::INFINITY), |a, &(m, n)| {
                (a.0.min(m), a.1.min(n))
            });
        format!(
            ", \"pair_cpu_s\": {:.2}, \"pair_wall_s\": {:.2}, \"pair_real_precision_mean_bits\": {mean:.2}, \"pair_real_precision_min_bits\": {min:.2}",
            med(&mut pair_cpu),
            med(&mut pair_wall)
        )
    };
    if json && !cpu_runs.is_empty() {
        let (mean, min) = prec
            .iter()
            .fold((f64::INFINITY, f64::INFINITY), |a, &(m, n)| {
                (a.0.min(m), a.1.min(n))
            });
        println!(
            "{{\"library\": \"hetal\", \"preset\": \"{}\", \"runs\": {}, \"bootstrap_cpu_s\": {:.2}, \"bootstrap_wall_s\": {:.2}, \"precision_mean_bits\": {:.2}, \"precision_min_bits\": {:.2}, \"levels_left\": {}, \"keygen_s\": {:.1}, \"vm_hwm\": \"{}\"{pair_json}, \"sparse\": [{}]}}",
            preset.params.name,
            cpu_runs.len(),
            med(&mut cpu_runs),
            med(&mut wall_runs),
            mean,
            min,
            levels_left,
            keygen_s,
            vm_hwm().trim(),
            sparse_json.join(", ")
        );
    }
    Ok(())
}

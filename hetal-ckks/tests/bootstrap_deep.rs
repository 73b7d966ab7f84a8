//! The deep bootstrappable chain (`boot-n16-deep`: 14 levels per bootstrap at scale 2^36): its
//! declared shape and security at N = 2^16 (parameters only, no keys), and the same chain and
//! circuit at N = 2^12 (`insecure-boot-n12-deep`) bootstrapping within its declared precision,
//! every one of the 14 levels usable, and a second bootstrap after them.

use hetal_ckks::bootstrap::{
    BootstrappingEvaluator, generate_bootstrap_keys, precision_bits, presets,
};
use hetal_ckks::params::{SPARSE_192_MAX_LOG_QP_N16, Security};
use hetal_ckks::presets::{bootstrap_output_level, by_name};
use hetal_ckks::{CkksClient, CkksParams};
use hetal_traits::{
    Complex64, Decryptor, Encoder, Encryptor, Evaluator, EvaluatorExt, KeyRequest, Level, Leveled,
};
use rand::{RngExt, SeedableRng};

fn log2_sum(primes: &[u64]) -> f64 {
    primes.iter().map(|&x| (x as f64).log2()).sum()
}

/// N = 2^16: 14 levels after the bootstrap at the canonical scale 2^36, log QP within the
/// sparse-secret bound, every key-switching digit at least 8 bits below `P`, and the circuit and
/// encapsulation of `boot-n16` (whose EvalMod failure bound therefore carries over).
#[test]
fn boot_n16_deep_declares_14_levels_within_the_sparse_bound() {
    let deep = presets::boot_n16_deep();
    let boot = presets::boot_n16();
    assert_eq!(deep.config.circuit, boot.config.circuit);
    assert_eq!(
        deep.config.sparse_secret_weight,
        boot.config.sparse_secret_weight
    );
    assert_eq!(deep.params.security, Security::Sparse192Classic128);
    assert_eq!(deep.params.hamming_weight, 192);
    let p = CkksParams::new(&deep.params).unwrap();
    assert_eq!(p.slots, 1 << 15);
    assert!(
        p.log_qp() <= f64::from(SPARSE_192_MAX_LOG_QP_N16),
        "{}",
        p.log_qp()
    );
    let out = bootstrap_output_level(&deep) as usize;
    assert_eq!(out, 14);
    assert_eq!(out + deep.config.circuit.depth() as usize, p.max_level());
    // The working scale after a bootstrap and on every user level is 2^36.
    for l in 0..=out {
        assert!((p.scales[l].log2() - 36.0).abs() < 0.01, "level {l}");
    }
    // Message ratio q_0 / Δ_0 = 2^8, as in boot-n16.
    let q = p.q_primes();
    assert!(((q[0] as f64).log2() - p.scales[0].log2() - 8.0).abs() < 0.01);
    let log_p = log2_sum(&p.p_primes());
    for d in &p.digits {
        assert!(log2_sum(&q[d.clone()]) + 8.0 <= log_p, "digit {d:?}");
    }
    // The registry entry agrees with the configuration.
    let entry = by_name("boot-n16-deep").unwrap();
    assert_eq!(entry.precision_bits, deep.config.precision_bits);
    assert_eq!(entry.output_level().unwrap(), 14);
}

fn values(slots: usize, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<Complex64> {
    (0..slots)
        .map(|_| Complex64::new(rng.random_range(-1.0..=1.0), rng.random_range(-1.0..=1.0)))
        .collect()
}

/// N = 2^12 with the deep chain: one bootstrap within the declared precision, 14 multiplications
/// by unit-modulus values (one per level, down to level 0) within 2 bits of it, then a second
/// bootstrap from level 0, again within 2 bits of the declared precision.
#[test]
fn deep_chain_bootstraps_and_keeps_14_usable_levels() {
    let preset = presets::insecure_boot_n12_deep();
    let declared = preset.config.precision_bits;
    let params = CkksParams::new(&preset.params).unwrap();
    let mut client = CkksClient::from_seed(params.clone(), 21);
    let (keys, _) =
        generate_bootstrap_keys(&mut client, &preset.config, &KeyRequest::default()).unwrap();
    let eval = BootstrappingEvaluator::new(params, keys, &preset.config).unwrap();
    let info = eval.bootstrap_info().unwrap();
    assert_eq!(info.output_level, Level(14));

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let v = values(eval.slots(), &mut rng);
    let ct = client.encrypt_values(&v, Level(0)).unwrap();
    let out = eval.bootstrap(&ct).unwrap();
    assert_eq!(out.level(), Level(14));
    assert!(out.scale().matches(eval.canonical_scale(Level(14))));
    assert!((out.scale().value().log2() - 36.0).abs() < 0.01);
    let (min, mean) = precision_bits(&client.decrypt_values(&out).unwrap(), &v);
    eprintln!("deep n12: bootstrap precision min {min:.2} mean {mean:.2} bits");
    assert!(min >= declared, "min precision {min} < declared {declared}");

    // Spend every user level: multiply by random unit-modulus values, tracking the product.
    let mut want = v.clone();
    let mut y = out;
    while y.level() > Level(0) {
        let w: Vec<Complex64> = (0..eval.slots())
            .map(|_| Complex64::from_polar(1.0, rng.random_range(0.0..std::f64::consts::TAU)))
            .collect();
        y = eval.mul_values(&y, &w).unwrap();
        for (a, b) in want.iter_mut().zip(&w) {
            *a *= b;
        }
        assert!(y.scale().matches(eval.canonical_scale(y.level())));
    }
    let (min, mean) = precision_bits(&client.decrypt_values(&y).unwrap(), &want);
    eprintln!("deep n12: after 14 levels min {min:.2} mean {mean:.2} bits");
    assert!(min >= declared - 2.0, "after 14 levels: {min}");

    let again = eval.bootstrap(&y).unwrap();
    assert_eq!(again.level(), Level(14));
    let (min, mean) = precision_bits(&client.decrypt_values(&again).unwrap(), &want);
    eprintln!("deep n12: second bootstrap min {min:.2} mean {mean:.2} bits");
    assert!(min >= declared - 2.0, "second bootstrap: {min}");
}

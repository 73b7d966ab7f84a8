//! Bootstrapping on the small insecure presets (N = 2^12): precision of one bootstrap for full
//! and sparse packing, 20 bootstraps in a row, the key-memory guard.

use hetal_ckks::bootstrap::{
    BootstrapPreset, BootstrappingEvaluator, circuit_rotations, estimate_memory,
    generate_bootstrap_keys, precision_bits, presets,
};
use hetal_ckks::{CkksClient, CkksParams};
use hetal_traits::{
    Complex64, Decryptor, Encoder, Encryptor, Evaluator, EvaluatorExt, KeyRequest, Level, Leveled,
};
use rand::{RngExt, SeedableRng};

fn setup(preset: &BootstrapPreset, seed: u64) -> (CkksClient, BootstrappingEvaluator) {
    let params = CkksParams::new(&preset.params).unwrap();
    let mut client = CkksClient::from_seed(params.clone(), seed);
    let (keys, _) =
        generate_bootstrap_keys(&mut client, &preset.config, &KeyRequest::default()).unwrap();
    let eval = BootstrappingEvaluator::new(params, keys, &preset.config).unwrap();
    (client, eval)
}

fn random_values(slots: usize, seed: u64, complex: bool) -> Vec<Complex64> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..slots)
        .map(|_| {
            let re = rng.random_range(-1.0..=1.0);
            let im = if complex {
                rng.random_range(-1.0..=1.0)
            } else {
                0.0
            };
            Complex64::new(re, im)
        })
        .collect()
}

fn check_one(preset: BootstrapPreset, complex: bool) {
    let (mut client, eval) = setup(&preset, 11);
    let info = eval.bootstrap_info().unwrap();
    assert_eq!(info.min_input_level, Level(0));
    assert!(info.output_level >= Level(2));
    let v = random_values(eval.slots(), 5, complex);
    let ct = client.encrypt_values(&v, Level(0)).unwrap();
    let out = eval.bootstrap(&ct).unwrap();
    assert_eq!(out.level(), info.output_level);
    assert!(out.scale().matches(eval.canonical_scale(info.output_level)));
    let got = client.decrypt_values(&out).unwrap();
    let (min, mean) = precision_bits(&got, &v);
    eprintln!(
        "{}: {} slots, precision min {min:.2} mean {mean:.2} bits",
        preset.params.name,
        eval.slots()
    );
    assert!(
        min >= preset.config.precision_bits,
        "min precision {min} < declared {}",
        preset.config.precision_bits
    );
    // The refreshed ciphertext is usable: square it and compare.
    let sq = eval.square_rescale(&out).unwrap();
    let got = client.decrypt_values(&sq).unwrap();
    let want: Vec<Complex64> = v.iter().map(|z| z * z).collect();
    let (min_sq, _) = precision_bits(&got, &want);
    assert!(
        min_sq >= preset.config.precision_bits - 2.0,
        "after a square: {min_sq}"
    );
}

#[test]
fn bootstrap_full_packing_real_and_complex() {
    check_one(presets::insecure_boot_n12(), true);
}

#[test]
fn bootstrap_sparse_packing() {
    check_one(presets::insecure_boot_n12_sparse(), true);
}

#[test]
fn bootstrap_twenty_times_in_a_row() {
    let preset = presets::insecure_boot_n12();
    let (mut client, eval) = setup(&preset, 12);
    let v = random_values(eval.slots(), 6, false);
    let mut ct = client
        .encrypt_values(&v, eval.bootstrap_info().unwrap().output_level)
        .unwrap();
    for i in 0..20 {
        ct = eval.bootstrap(&ct).unwrap();
        let got = client.decrypt_values(&ct).unwrap();
        let (min, mean) = precision_bits(&got, &v);
        eprintln!("bootstrap {}: min {min:.2} mean {mean:.2} bits", i + 1);
        assert!(
            min >= preset.config.precision_bits,
            "bootstrap {}: {min} < {}",
            i + 1,
            preset.config.precision_bits
        );
    }
}

#[test]
fn bootstrap_key_generation_refuses_when_over_budget() {
    let mut preset = presets::insecure_boot_n12();
    let params = CkksParams::new(&preset.params).unwrap();
    let est = estimate_memory(&params, &preset.config, &KeyRequest::default()).unwrap();
    assert!(est.keys > 10 && est.bytes_per_key > 0 && est.plaintext_bytes > 0);
    preset.config.memory_budget_bytes = Some(est.total_bytes() - 1);
    let mut client = CkksClient::from_seed(params, 1);
    let err =
        generate_bootstrap_keys(&mut client, &preset.config, &KeyRequest::default()).unwrap_err();
    assert!(err.to_string().contains("GiB"), "{err}");
    let used = circuit_rotations(client.params(), &preset.config);
    let extra = KeyRequest::with_rotations([(1..).find(|k| !used.contains(k)).unwrap() as i64]);
    let with_extra = estimate_memory(client.params(), &preset.config, &extra).unwrap();
    assert_eq!(with_extra.keys, est.keys + 1);
    preset.config.memory_budget_bytes = Some(with_extra.total_bytes());
    let (keys, got) = generate_bootstrap_keys(&mut client, &preset.config, &extra).unwrap();
    assert_eq!(got, with_extra);
    // Relinearisation, conjugation and the encapsulation key back to the main secret.
    assert!(keys.encapsulation().is_some());
    assert_eq!(keys.galois_elements().len() + 3, got.keys);
}

/// The presets' main secret is dense (weight 2N/3): ModRaise under it gives an overflow `I` far
/// beyond the EvalMod range, so bootstrapping without encapsulation fails, and with it succeeds.
/// A configuration that asks for encapsulation refuses keys without it (and keys for another
/// sparse weight).
#[test]
fn encapsulation_is_what_keeps_the_dense_secret_bootstrappable() {
    let preset = presets::insecure_boot_n12();
    assert!(preset.params.hamming_weight > 2000);
    let params = CkksParams::new(&preset.params).unwrap();
    let mut client = CkksClient::from_seed(params.clone(), 5);
    let (keys, _) =
        generate_bootstrap_keys(&mut client, &preset.config, &KeyRequest::default()).unwrap();
    let v = random_values(params.slots, 6, false);
    let ct = client.encrypt_values(&v, Level(0)).unwrap();
    let run = |config: &hetal_ckks::bootstrap::BootstrapConfig| {
        let eval = BootstrappingEvaluator::new(params.clone(), keys.clone(), config).unwrap();
        let out = eval.bootstrap(&ct).unwrap();
        precision_bits(&client.decrypt_values(&out).unwrap(), &v).0
    };
    let with = run(&preset.config);
    let mut plain = preset.config.clone();
    plain.sparse_secret_weight = None;
    let without = run(&plain);
    eprintln!("precision with encapsulation {with:.2} bits, without {without:.2} bits");
    assert!(with >= preset.config.precision_bits, "{with}");
    assert!(without < 2.0, "{without}");

    let mut other = preset.config.clone();
    other.sparse_secret_weight = Some(64);
    let err = BootstrappingEvaluator::new(params.clone(), keys.clone(), &other).unwrap_err();
    assert!(err.to_string().contains("weight"), "{err}");
    let (leveled, _) =
        generate_bootstrap_keys(&mut client, &plain, &KeyRequest::default()).unwrap();
    assert!(leveled.encapsulation().is_none());
    let err = BootstrappingEvaluator::new(params, leveled, &preset.config).unwrap_err();
    assert!(err.to_string().contains("encapsulation"), "{err}");
}

/// Bootstrapping keys (with their encapsulation keys) survive serialisation: the keys read back
/// bootstrap to exactly the same ciphertext; a blob cut short or with a corrupted sparse weight
/// is an error.
#[test]
fn bootstrap_keys_round_trip_through_bytes() {
    let preset = presets::insecure_boot_n12();
    let params = CkksParams::new(&preset.params).unwrap();
    let mut client = CkksClient::from_seed(params.clone(), 8);
    let (keys, _) =
        generate_bootstrap_keys(&mut client, &preset.config, &KeyRequest::default()).unwrap();
    let bytes = keys.to_bytes(&params);
    let back = hetal_ckks::EvaluationKeys::from_bytes(&params, &bytes).unwrap();
    assert_eq!(
        back.encapsulation().map(|k| k.sparse_weight()),
        Some(hetal_ckks::bootstrap::ENCAPSULATION_WEIGHT)
    );
    let v = random_values(params.slots, 9, true);
    let ct = client.encrypt_values(&v, Level(0)).unwrap();
    let a = BootstrappingEvaluator::new(params.clone(), keys, &preset.config)
        .unwrap()
        .bootstrap(&ct)
        .unwrap();
    let b = BootstrappingEvaluator::new(params.clone(), back, &preset.config)
        .unwrap()
        .bootstrap(&ct)
        .unwrap();
    assert_eq!(
        client.decrypt_values(&a).unwrap(),
        client.decrypt_values(&b).unwrap()
    );
    assert!(hetal_ckks::EvaluationKeys::from_bytes(&params, &bytes[..bytes.len() - 9]).is_err());
    // The encapsulation keys are the last field but one (the last is the list of sparse
    // periods, here empty: its 8-byte length): a blob of keys without them has the `None` tag
    // there where ours has the `Some` tag followed by the sparse weight (a u64).
    let mut plain = preset.config.clone();
    plain.sparse_secret_weight = None;
    let (leveled, _) =
        generate_bootstrap_keys(&mut client, &plain, &KeyRequest::default()).unwrap();
    let pos = leveled.to_bytes(&params).len() - 8;
    assert_eq!(bytes[pos - 1], 1);
    let w = (hetal_ckks::bootstrap::ENCAPSULATION_WEIGHT as u64).to_le_bytes();
    assert_eq!(bytes[pos..pos + 8], w);
    for bad in [0u64, 1 << 40] {
        let mut broken = bytes.clone();
        broken[pos..pos + 8].copy_from_slice(&bad.to_le_bytes());
        let err = hetal_ckks::EvaluationKeys::from_bytes(&params, &broken).unwrap_err();
        assert!(err.to_string().contains("sparse secret weight"), "{err}");
    }
}

/// Real values in `[-1, 1]` as complex slots with zero imaginary parts.
fn reals(slots: usize, seed: u64) -> Vec<Complex64> {
    random_values(slots, seed, false)
}

fn check_pair(preset: BootstrapPreset) {
    let (mut client, eval) = setup(&preset, 21);
    let info = eval.bootstrap_info().unwrap();
    let (a, b) = (reals(eval.slots(), 22), reals(eval.slots(), 23));
    let ca = client.encrypt_values(&a, Level(0)).unwrap();
    let cb = client.encrypt_values(&b, Level(0)).unwrap();
    let counting = hetal_traits::counting::Counting::new(eval);
    let (x, y) = counting.bootstrap_pair(&ca, &cb).unwrap();
    assert_eq!(
        counting
            .snapshot()
            .get(hetal_traits::counting::OpKind::BootstrapPair),
        1
    );
    for (ct, want, what) in [(&x, &a, "first"), (&y, &b, "second")] {
        assert_eq!(ct.level(), info.output_level);
        assert!(
            ct.scale()
                .matches(counting.canonical_scale(info.output_level))
        );
        let got = client.decrypt_values(ct).unwrap();
        let (min, mean) = precision_bits(&got, want);
        let re: Vec<Complex64> = got.iter().map(|z| Complex64::new(z.re, 0.0)).collect();
        let (re_min, re_mean) = precision_bits(&re, want);
        eprintln!(
            "{} pair {what}: {} slots, real part min {re_min:.2} mean {re_mean:.2} bits (complex min {min:.2} mean {mean:.2})",
            preset.params.name,
            counting.slots()
        );
        assert!(
            min >= preset.config.precision_bits,
            "{what}: {min} < declared {}",
            preset.config.precision_bits
        );
    }
}

#[test]
fn bootstrap_pair_full_packing() {
    check_pair(presets::insecure_boot_n12());
}

#[test]
fn bootstrap_pair_sparse_packing() {
    check_pair(presets::insecure_boot_n12_sparse());
}

/// Twenty pair bootstraps in a row keep both real parts within the declared precision; a pair
/// costs one bootstrap's levels, and mismatched inputs are refused with typed errors.
#[test]
fn bootstrap_pair_twenty_times_in_a_row() {
    let preset = presets::insecure_boot_n12();
    let (mut client, eval) = setup(&preset, 24);
    let out_level = eval.bootstrap_info().unwrap().output_level;
    let (a, b) = (reals(eval.slots(), 25), reals(eval.slots(), 26));
    let mut x = client.encrypt_values(&a, out_level).unwrap();
    let mut y = client.encrypt_values(&b, out_level).unwrap();
    for i in 1..=20 {
        (x, y) = eval.bootstrap_pair(&x, &y).unwrap();
        let (ma, mean_a) = precision_bits(&client.decrypt_values(&x).unwrap(), &a);
        let (mb, mean_b) = precision_bits(&client.decrypt_values(&y).unwrap(), &b);
        eprintln!("pair {i}: min {ma:.2}/{mb:.2} mean {mean_a:.2}/{mean_b:.2} bits");
        assert!(
            ma.min(mb) >= preset.config.precision_bits,
            "pair {i}: {ma}/{mb} < {}",
            preset.config.precision_bits
        );
    }
    let low = client.encrypt_values(&a, Level(0)).unwrap();
    assert!(matches!(
        eval.bootstrap_pair(&x, &low),
        Err(hetal_traits::Error::LevelMismatch { .. })
    ));
    let doubled = eval
        .mul_const(&y, Complex64::new(0.5, 0.0), hetal_traits::Scale(2.0))
        .unwrap();
    assert!(matches!(
        eval.bootstrap_pair(&x, &doubled),
        Err(hetal_traits::Error::ScaleMismatch { .. })
    ));
}

/// `drop_to_level` from the top of a bootstrappable chain (scales near 2^60) to a user level
/// (2^40) lands on the canonical scale in one call, so the result adds to a fresh ciphertext.
#[test]
fn drop_from_bootstrapping_levels_is_canonical_in_one_step() {
    use hetal_traits::KeyGenerator;
    let preset = presets::insecure_boot_n12();
    let params = CkksParams::new(&preset.params).unwrap();
    let mut client = CkksClient::from_seed(params.clone(), 27);
    let keys = client
        .generate_evaluation_keys(&KeyRequest::default())
        .unwrap();
    let eval = hetal_ckks::CkksEvaluator::new(params, keys).unwrap();
    let top = eval.max_level();
    let v = reals(eval.slots(), 28);
    let ct = client.encrypt_values(&v, top).unwrap();
    for t in 0..top.0 {
        let d = eval.drop_to_level(&ct, Level(t)).unwrap();
        assert_eq!(d.level(), Level(t));
        assert!(
            d.scale().matches(eval.canonical_scale(Level(t))),
            "level {t}: {} vs {}",
            d.scale(),
            eval.canonical_scale(Level(t))
        );
        let fresh = client.encrypt_values(&v, Level(t)).unwrap();
        let sum = eval.add(&d, &fresh).unwrap();
        let want: Vec<Complex64> = v.iter().map(|z| z * 2.0).collect();
        let (min, _) = precision_bits(&client.decrypt_values(&sum).unwrap(), &want);
        assert!(min > 20.0, "level {t}: {min} bits");
    }
}

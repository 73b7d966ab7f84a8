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
    // The encapsulation keys are the last field: a blob of keys without them ends with the
    // `None` tag where ours has the `Some` tag followed by the sparse weight (a u64).
    let mut plain = preset.config.clone();
    plain.sparse_secret_weight = None;
    let (leveled, _) =
        generate_bootstrap_keys(&mut client, &plain, &KeyRequest::default()).unwrap();
    let pos = leveled.to_bytes(&params).len();
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

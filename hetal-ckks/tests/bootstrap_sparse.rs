//! Sparse bootstrapping of part-full ciphertexts on the small insecure preset (N = 2^12, 2048
//! slots): a ciphertext whose slots repeat with period `n` refreshed through the `n`-slot circuit
//! (trace, smaller DFTs, one EvalMod) keeps the declared precision and its period, single and
//! pair, also ten in a row; without sparse keys the full bootstrap runs; the key set and the
//! memory estimate agree.

use hetal_ckks::bootstrap::{
    BootstrappingEvaluator, SPARSE_TEN_IN_A_ROW_LOSS_BITS, estimate_memory,
    generate_bootstrap_keys, precision_bits, presets, sparse_precision_bits, trace_elements_for,
};
use hetal_ckks::{CkksClient, CkksParams, EvaluationKeys};
use hetal_traits::counting::{Counting, OpKind};
use hetal_traits::{
    Complex64, Decryptor, Encoder, Encryptor, Error, Evaluator, KeyRequest, Level, Leveled,
};
use rand::{RngExt, SeedableRng};
use std::time::Instant;

fn params_of() -> CkksParams {
    CkksParams::new(&presets::insecure_boot_n12().params).unwrap()
}

fn setup(periods: &[usize], seed: u64) -> (CkksClient, BootstrappingEvaluator) {
    let preset = presets::insecure_boot_n12();
    let params = CkksParams::new(&preset.params).unwrap();
    let mut client = CkksClient::from_seed(params.clone(), seed);
    let mut req = KeyRequest::default();
    req.add_sparse_bootstrap_slots(periods.iter().copied());
    let (keys, _) = generate_bootstrap_keys(&mut client, &preset.config, &req).unwrap();
    let eval = BootstrappingEvaluator::new(params, keys, &preset.config).unwrap();
    (client, eval)
}

/// Seeded values in the unit box (real if `!complex`), replicated with period `period`.
fn periodic(slots: usize, period: usize, seed: u64, complex: bool) -> Vec<Complex64> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let first: Vec<Complex64> = (0..period)
        .map(|_| {
            let re = rng.random_range(-1.0..=1.0);
            let im = if complex {
                rng.random_range(-1.0..=1.0)
            } else {
                0.0
            };
            Complex64::new(re, im)
        })
        .collect();
    (0..slots).map(|t| first[t % period]).collect()
}

/// The largest distance of a slot from its copy in the first period.
fn period_deviation(v: &[Complex64], period: usize) -> f64 {
    v.iter()
        .enumerate()
        .map(|(t, x)| (x - v[t % period]).norm())
        .fold(0.0, f64::max)
}

fn check(
    client: &CkksClient,
    eval: &BootstrappingEvaluator,
    ct: &hetal_ckks::Ciphertext,
    want: &[Complex64],
    period: usize,
    bits: f64,
    what: &str,
) -> (f64, f64) {
    let info = eval.bootstrap_info().unwrap();
    assert_eq!(ct.level(), info.output_level, "{what}: level");
    assert!(
        ct.scale().matches(eval.canonical_scale(info.output_level)),
        "{what}: scale"
    );
    let got = client.decrypt_values(ct).unwrap();
    let (min, mean) = precision_bits(&got, want);
    // Periodic: every copy within the declared precision of the first period.
    let dev = period_deviation(&got, period);
    assert!(
        -dev.log2() >= bits,
        "{what}: copies differ by {dev:e} (2^{:.2})",
        dev.log2()
    );
    assert!(
        min >= bits,
        "{what}: precision min {min:.2} (mean {mean:.2}) < {bits}"
    );
    (min, mean)
}

#[test]
fn sparse_bootstrap_keeps_precision_and_period() {
    let periods = [1 << 7, 1 << 9];
    let (mut client, eval) = setup(&periods, 21);
    let slots = eval.slots();
    assert_eq!(eval.sparse_periods(), periods.to_vec());
    for (k, &n) in periods.iter().enumerate() {
        assert!(eval.has_sparse_bootstrap(n));
        let bits = sparse_precision_bits(&params_of(), &presets::insecure_boot_n12().config, n);
        let v = periodic(slots, n, 100 + k as u64, true);
        let ct = client.encrypt_values(&v, Level(0)).unwrap();
        let out = eval.bootstrap_sparse(&ct, n).unwrap();
        let (min, mean) = check(&client, &eval, &out, &v, n, bits, "sparse");
        eprintln!(
            "sparse n = {n}: one bootstrap min {min:.2} mean {mean:.2} bits (declared {bits})"
        );
        // Ten in a row, from the output level.
        let mut x = client
            .encrypt_values(&v, eval.bootstrap_info().unwrap().output_level)
            .unwrap();
        let mut last = (0.0, 0.0);
        for i in 1..=10 {
            x = eval.bootstrap_sparse(&x, n).unwrap();
            last = check(
                &client,
                &eval,
                &x,
                &v,
                n,
                bits - SPARSE_TEN_IN_A_ROW_LOSS_BITS,
                &format!("sparse {i}"),
            );
        }
        eprintln!(
            "sparse n = {n}: after 10 min {:.2} mean {:.2} bits",
            last.0, last.1
        );
    }
    assert!(!eval.has_sparse_bootstrap(1 << 8));
    assert!(!eval.has_sparse_bootstrap(slots));
}

#[test]
fn sparse_pair_bootstrap_keeps_both_real_parts() {
    let n = 1 << 7;
    let (mut client, eval) = setup(&[n], 22);
    let slots = eval.slots();
    let bits = sparse_precision_bits(&params_of(), &presets::insecure_boot_n12().config, n);
    let a = periodic(slots, n, 1, false);
    let b = periodic(slots, n, 2, false);
    let ca = client.encrypt_values(&a, Level(0)).unwrap();
    let cb = client.encrypt_values(&b, Level(0)).unwrap();
    let (x, y) = eval.bootstrap_pair_sparse(&ca, &cb, n).unwrap();
    let pa = check(&client, &eval, &x, &a, n, bits, "pair first");
    let pb = check(&client, &eval, &y, &b, n, bits, "pair second");
    eprintln!("sparse pair n = {n}: {pa:.2?} / {pb:.2?} bits (min, mean)");
    let out = eval.bootstrap_info().unwrap().output_level;
    let (mut x, mut y) = (
        client.encrypt_values(&a, out).unwrap(),
        client.encrypt_values(&b, out).unwrap(),
    );
    for i in 1..=10 {
        (x, y) = eval.bootstrap_pair_sparse(&x, &y, n).unwrap();
        let worn = bits - SPARSE_TEN_IN_A_ROW_LOSS_BITS;
        check(&client, &eval, &x, &a, n, worn, &format!("pair {i} first"));
        check(&client, &eval, &y, &b, n, worn, &format!("pair {i} second"));
    }
    // Mismatched levels and invalid periods are typed errors.
    let lo = client.encrypt_values(&a, Level(0)).unwrap();
    let hi = client.encrypt_values(&b, Level(1)).unwrap();
    assert!(matches!(
        eval.bootstrap_pair_sparse(&lo, &hi, n),
        Err(Error::LevelMismatch { .. })
    ));
    for bad in [0, 3, 3 * n, 2 * slots] {
        assert!(matches!(
            eval.bootstrap_sparse(&lo, bad),
            Err(Error::InvalidInput { .. })
        ));
    }
}

#[test]
fn without_sparse_keys_the_full_bootstrap_runs() {
    let (mut client, eval) = setup(&[], 23);
    let n = 1 << 7;
    assert!(!eval.has_sparse_bootstrap(n));
    let v = periodic(eval.slots(), n, 3, true);
    let ct = client.encrypt_values(&v, Level(0)).unwrap();
    // The fallback is the full bootstrap, bit for bit (evaluation is deterministic).
    let sparse = eval.bootstrap_sparse(&ct, n).unwrap();
    let full = eval.bootstrap(&ct).unwrap();
    assert_eq!(
        client.decrypt_values(&sparse).unwrap(),
        client.decrypt_values(&full).unwrap()
    );
    let counted = Counting::new(eval);
    let _ = counted.bootstrap_sparse(&ct, n).unwrap();
    let _ = counted.bootstrap_pair_sparse(&ct, &ct, n).unwrap();
    let c = counted.snapshot();
    assert_eq!(c.get(OpKind::Bootstrap), 1);
    assert_eq!(c.get(OpKind::BootstrapPair), 1);
    assert_eq!(c.get(OpKind::BootstrapSparse), 0);
}

#[test]
fn non_periodic_input_is_averaged_over_its_classes() {
    let n = 1 << 9;
    let (mut client, eval) = setup(&[n], 24);
    let slots = eval.slots();
    let mut v = periodic(slots, n, 4, true);
    v[slots - 1] += Complex64::new(0.25, 0.0);
    let ct = client.encrypt_values(&v, Level(0)).unwrap();
    let got = client
        .decrypt_values(&eval.bootstrap_sparse(&ct, n).unwrap())
        .unwrap();
    let copies = (slots / n) as f64;
    let mut want = v.clone();
    for t in (slots - 1) % n..slots {
        if t % n == (slots - 1) % n {
            want[t] = v[t % n] + Complex64::new(0.25 / copies, 0.0);
        }
    }
    let bits = sparse_precision_bits(&params_of(), &presets::insecure_boot_n12().config, n);
    let (min, _) = precision_bits(&got, &want);
    assert!(min >= bits, "class means: {min:.2} bits");
}

#[test]
fn keys_estimate_and_serialisation_cover_the_sparse_circuits() {
    let preset = presets::insecure_boot_n12();
    let params = CkksParams::new(&preset.params).unwrap();
    let none = estimate_memory(&params, &preset.config, &KeyRequest::default()).unwrap();
    let mut req = KeyRequest::default();
    req.add_sparse_bootstrap_slots([1 << 7, 1 << 9]);
    let est = estimate_memory(&params, &preset.config, &req).unwrap();
    assert_eq!(none.sparse_keys, 0);
    assert!(est.sparse_keys > 0 && est.sparse_diagonals > 0);
    assert_eq!(est.keys, none.keys + est.sparse_keys);
    assert_eq!(est.diagonals, none.diagonals + est.sparse_diagonals);
    assert!(est.total_bytes() > none.total_bytes());
    eprintln!(
        "N = 2^12: {} keys (+{} sparse), {} diagonals (+{} sparse)",
        est.keys, est.sparse_keys, est.diagonals, est.sparse_diagonals
    );
    let mut client = CkksClient::from_seed(params.clone(), 25);
    let (keys, got) = generate_bootstrap_keys(&mut client, &preset.config, &req).unwrap();
    assert_eq!(got, est);
    // Relinearisation + conjugation + Galois keys + encapsulation back to the main secret.
    assert_eq!(
        keys.galois_elements().len() + 2 + usize::from(keys.encapsulation().is_some()),
        est.keys
    );
    for g in trace_elements_for(&params, 1 << 7) {
        assert!(keys.galois_elements().contains(&g));
    }
    assert_eq!(keys.sparse_bootstrap_slots(), &[1 << 7, 1 << 9]);
    // Above the budget nothing is generated (the sparse parts count).
    let mut tight = preset.config.clone();
    tight.memory_budget_bytes = Some(none.total_bytes());
    assert!(matches!(
        generate_bootstrap_keys(&mut client, &tight, &req),
        Err(Error::BootstrapUnavailable { .. })
    ));
    // Invalid periods are refused before anything is generated.
    for bad in [3usize, 4, 4096] {
        let mut r = KeyRequest::default();
        r.add_sparse_bootstrap_slots([bad]);
        assert!(
            matches!(
                estimate_memory(&params, &preset.config, &r),
                Err(Error::InvalidInput { .. })
            ),
            "period {bad}"
        );
    }
    // The serialised keys carry the periods, and the evaluator rebuilt from them has the circuits.
    let bytes = keys.to_bytes(&params);
    let back = EvaluationKeys::from_bytes(&params, &bytes).unwrap();
    assert_eq!(back.sparse_bootstrap_slots(), &[1 << 7, 1 << 9]);
    let eval = BootstrappingEvaluator::new(params.clone(), back, &preset.config).unwrap();
    assert_eq!(eval.sparse_periods(), vec![1 << 7, 1 << 9]);
    let v = periodic(eval.slots(), 1 << 9, 6, true);
    let ct = client.encrypt_values(&v, Level(0)).unwrap();
    let out = eval.bootstrap_sparse(&ct, 1 << 9).unwrap();
    let bits = sparse_precision_bits(&params, &preset.config, 1 << 9);
    check(&client, &eval, &out, &v, 1 << 9, bits, "after a round trip");
}

/// Correctness of the timing comparison only (the times are printed, not asserted): the sparse
/// and the full bootstrap of the same periodic ciphertext agree within the sparse precision.
#[test]
fn sparse_and_full_agree_and_are_timed() {
    let n = 1 << 7;
    let (mut client, eval) = setup(&[n], 26);
    let v = periodic(eval.slots(), n, 7, true);
    let ct = client.encrypt_values(&v, Level(0)).unwrap();
    let t = Instant::now();
    let full = eval.bootstrap(&ct).unwrap();
    let t_full = t.elapsed();
    let t = Instant::now();
    let sparse = eval.bootstrap_sparse(&ct, n).unwrap();
    let t_sparse = t.elapsed();
    eprintln!("N = 2^12, period {n}: full {t_full:.2?}, sparse {t_sparse:.2?}");
    let f = client.decrypt_values(&full).unwrap();
    let s = client.decrypt_values(&sparse).unwrap();
    let bits = sparse_precision_bits(&params_of(), &presets::insecure_boot_n12().config, n);
    assert!(precision_bits(&s, &f).0 >= bits - 1.0);
    let counted = Counting::new(eval);
    let _ = counted.bootstrap_sparse(&ct, n).unwrap();
    assert_eq!(counted.snapshot().get(OpKind::BootstrapSparse), 1);
}

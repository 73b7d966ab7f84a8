//! ASoftmax on real CKKS with bootstrapping, on a small **insecure** N = 2^12 preset: the
//! result matches the plaintext pipeline (what the exact mock computes) within a stated margin.

use hetal_ckks::bootstrap::{
    BootstrapPreset, BootstrappingEvaluator, bootstrappable_literal, generate_bootstrap_keys,
    presets,
};
use hetal_ckks::{CkksClient, CkksParams, Security};
use hetal_linalg::approx::Refresher;
use hetal_linalg::approx::softmax::{RowLayout, SoftmaxMethod, softmax_exact};
use hetal_traits::counting::{Counting, OpKind};
use hetal_traits::{Decryptor, Encoder, Encryptor, KeyRequest, Leveled};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// hetal-ckks's small bootstrapping circuit (that of `insecure_boot_n12_sparse`, 128 slots) over
/// 9 user levels of 40 bits instead of 2 (too few for the degree-7 comparison polynomials).
fn preset() -> BootstrapPreset {
    let base = presets::insecure_boot_n12_sparse();
    let boot = base.config.circuit.depth() as usize;
    let params = bootstrappable_literal(
        "INSECURE_TEST_SOFTMAX_N12",
        12,
        Some(7),
        48,
        9,
        40,
        &vec![60; boot],
        &[61; 6],
        5,
        32,
        Security::Insecure,
    )
    .unwrap();
    BootstrapPreset {
        params,
        config: base.config,
    }
}

/// `c = 3`, 32 rows from [-4,4] to [-128,128]: tuned ASoftmax on CKKS stays within `3e-4` of
/// the plaintext pipeline (measured about `4e-5`: the bootstrap error, about `2^-19` on this
/// preset, amplified about 30 times by the exponential's squarings after the bootstrap placed
/// inside them), hence within `3e-4 + 5e-5` of the exact softmax.
#[test]
fn tuned_asoftmax_on_ckks_matches_the_mock() {
    let preset = preset();
    let params = CkksParams::new(&preset.params).unwrap();
    let mut client = CkksClient::from_seed(params.clone(), 3);
    let c = 3;
    let layout = RowLayout::dense(128, c).unwrap();
    let method = SoftmaxMethod::Asoftmax;
    let req = KeyRequest {
        rotations: method.rotations(&layout),
        ..KeyRequest::default()
    };
    let (keys, _) = generate_bootstrap_keys(&mut client, &preset.config, &req).unwrap();
    let ev = Counting::new(BootstrappingEvaluator::new(params, keys, &preset.config).unwrap());
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let ranges = [4.0, 8.0, 32.0, 128.0];
    let n = layout.s0();
    let x: Vec<f64> = (0..n)
        .flat_map(|i| {
            let r: f64 = ranges[i % 4];
            (0..c).map(|_| rng.random_range(-r..r)).collect::<Vec<_>>()
        })
        .collect();
    let ct = client
        .encrypt_real(&layout.pack(&x).unwrap(), ev.max_level())
        .unwrap();
    let out = method
        .eval(&ev, &ct, &layout, &Refresher::new(&ev))
        .unwrap();
    let boots = ev.snapshot().get(OpKind::Bootstrap);
    let got = layout.unpack(&client.decrypt_real(&out).unwrap(), n);
    let (mut vs_plain, mut vs_exact) = (0.0f64, 0.0f64);
    for (i, row) in x.chunks(c).enumerate() {
        let plain = method.eval_plain(row);
        let exact = softmax_exact(row);
        for j in 0..c {
            vs_plain = vs_plain.max((got[i * c + j] - plain[j]).abs());
            vs_exact = vs_exact.max((got[i * c + j] - exact[j]).abs());
        }
    }
    eprintln!(
        "c={c}: {boots} bootstraps, output {}, max |CKKS - mock| {vs_plain:.2e}, max |CKKS - exact| {vs_exact:.2e}",
        out.level()
    );
    assert!(vs_plain <= 3e-4, "{vs_plain}");
    assert!(vs_exact <= 3e-4 + 5e-5, "{vs_exact}");
    // The dry run on the mirrored chain predicts the bootstraps.
    let dry = method
        .dry_run(
            &hetal_linalg::poly::mirror_params(&ev, 2),
            c,
            ev.max_level(),
        )
        .unwrap();
    assert_eq!(dry.bootstraps(), boots);
    assert_eq!(dry.output_level, out.level());
}

/// Normalize-and-square (`B = 128`) on CKKS, `c = 10` (8 rows, the block of 128 slots, scores
/// from `[-4, 4]`, `[-32, 32]` and `[-128, 128]`): within `NS_CKKS_MARGIN` of the plaintext
/// pipeline (measured 2.3e-4, 3 bootstraps from the top of the chain), with the bootstraps the
/// dry run predicts. The bootstrap error (about `2^-19` here) is amplified by the later
/// squarings (`2^(k-t)` for noise injected before step `t`) and by `1/y` on the small entries.
#[test]
fn normalize_square_on_ckks_matches_the_mock() {
    use hetal_linalg::approx::softmax::LogitBound;
    const NS_CKKS_MARGIN: f64 = 1e-3;
    let preset = preset();
    let params = CkksParams::new(&preset.params).unwrap();
    let mut client = CkksClient::from_seed(params.clone(), 5);
    let method = SoftmaxMethod::NormalizeSquare(LogitBound::B128);
    let layouts = [RowLayout::dense(128, 10).unwrap()];
    let mut rotations: Vec<_> = layouts.iter().flat_map(|l| method.rotations(l)).collect();
    rotations.sort();
    rotations.dedup();
    let req = KeyRequest {
        rotations,
        ..KeyRequest::default()
    };
    let (keys, _) = generate_bootstrap_keys(&mut client, &preset.config, &req).unwrap();
    let ev = Counting::new(BootstrappingEvaluator::new(params, keys, &preset.config).unwrap());
    let mut rng = ChaCha8Rng::seed_from_u64(23);
    for layout in layouts {
        let c = layout.classes();
        let n = layout.s0();
        let x: Vec<f64> = (0..n)
            .flat_map(|i| {
                let r: f64 = [4.0, 32.0, 128.0][i % 3];
                (0..c).map(|_| rng.random_range(-r..r)).collect::<Vec<_>>()
            })
            .collect();
        let ct = client
            .encrypt_real(&layout.pack(&x).unwrap(), ev.max_level())
            .unwrap();
        let before = ev.snapshot();
        let out = method
            .eval(&ev, &ct, &layout, &Refresher::new(&ev))
            .unwrap();
        let used = ev.snapshot().since(&before);
        let boots = used.get(OpKind::Bootstrap) + used.get(OpKind::BootstrapPair);
        let got = layout.unpack(&client.decrypt_real(&out).unwrap(), n);
        let (mut vs_plain, mut vs_exact) = (0.0f64, 0.0f64);
        for (i, row) in x.chunks(c).enumerate() {
            let plain = method.eval_plain(row);
            let exact = softmax_exact(row);
            for j in 0..c {
                vs_plain = vs_plain.max((got[i * c + j] - plain[j]).abs());
                vs_exact = vs_exact.max((got[i * c + j] - exact[j]).abs());
            }
        }
        eprintln!(
            "normalize-square c={c}: {boots} bootstraps, output {}, max |CKKS - mock| {vs_plain:.2e}, max |CKKS - exact| {vs_exact:.2e}",
            out.level()
        );
        assert!(vs_plain <= NS_CKKS_MARGIN, "c={c}: {vs_plain}");
        assert!(vs_exact <= NS_CKKS_MARGIN + 5e-4, "c={c}: {vs_exact}");
        let dry = method
            .dry_run(
                &hetal_linalg::poly::mirror_params(&ev, 2),
                c,
                ev.max_level(),
            )
            .unwrap();
        assert_eq!(dry.bootstraps(), boots, "c={c}");
        assert_eq!(dry.output_level, out.level(), "c={c}");
    }
}

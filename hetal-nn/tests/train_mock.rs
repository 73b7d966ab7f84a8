//! Encrypted training on the mock backend against the plaintext reference.

mod common;

use hetal_nn::config::{Method, Optimizer, TrainConfig};
use hetal_nn::data::Splits;
use hetal_nn::plain;
use hetal_nn::server::TrainingServer;
use hetal_nn::session::{self, Outcome, RunOptions};
use hetal_nn::softmax::{LinalgSoftmax, SoftmaxApprox};
use hetal_traits::mock::MockEvaluator;

fn asoftmax_reference(z: &ndarray::Array2<f64>, c: usize) -> ndarray::Array2<f64> {
    SoftmaxApprox::<MockEvaluator>::reference(&LinalgSoftmax::asoftmax(), z, c)
}

fn run(
    splits: &Splits,
    cfg: &TrainConfig,
    params: hetal_traits::mock::MockParams,
) -> (plain::Model, hetal_nn::report::TrainReport) {
    let (mut client, _data, mut server) = common::setup(splits, cfg, params);
    let mut steps = 0;
    let out = session::run(
        &mut client,
        &mut server,
        splits,
        &RunOptions::default(),
        &mut |p| {
            if matches!(p, hetal_nn::server::Progress::Step { .. }) {
                steps += 1;
            }
        },
    )
    .unwrap();
    let Outcome::Finished(model) = out else {
        panic!("not finished")
    };
    let (m, report) = session::report(&client, &model, splits, "mock").unwrap();
    assert_eq!(steps as u64, report.steps);
    (m, report)
}

#[test]
fn encrypted_digits_match_the_plaintext_reference() {
    let splits = Splits::digits(0).unwrap();
    let cfg = TrainConfig {
        learning_rate: 1.0,
        batch_size: 128,
        epochs: 3,
        patience: Some(3),
        optimizer: Optimizer::Nesterov,
        seed: 1,
    };
    let (m, report) = run(&splits, &cfg, common::fgb_like(2048));
    eprintln!("{report}");
    assert_eq!(report.steps, 30);
    assert!(
        report.bootstraps > 0,
        "the weights must have been refreshed"
    );

    // Same approximation in f64: the same model up to rounding (the mock is exact arithmetic).
    let reference = plain::train(
        &splits,
        &cfg,
        &Method::hetal(cfg.optimizer),
        &asoftmax_reference,
    )
    .unwrap();
    let diff = m
        .weights
        .iter()
        .zip(&reference.model.weights)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(diff < 1e-9, "max weight difference {diff:e}");
    assert_eq!(report.best_epoch, reference.best_epoch);
    for (a, b) in report.history.iter().zip(&reference.history) {
        assert!(
            (a.val_loss - b.val_loss).abs() < 1e-9 && (a.train_loss - b.train_loss).abs() < 1e-9,
            "{a:?} vs {b:?}"
        );
    }

    // The exact softmax: within a point of accuracy.
    let exact = plain::train(
        &splits,
        &cfg,
        &Method::hetal(cfg.optimizer),
        &plain::softmax_rows,
    )
    .unwrap();
    let exact_acc = exact.model.accuracy(&splits.test);
    eprintln!(
        "encrypted {:.4}, plaintext exact softmax {:.4}",
        report.test_accuracy, exact_acc
    );
    assert!(
        report.test_accuracy > 0.92,
        "test accuracy {}",
        report.test_accuracy
    );
    assert!((report.test_accuracy - exact_acc).abs() <= 0.01);
}

#[test]
fn sgd_with_simulated_ckks_noise_stays_close() {
    let splits = Splits::digits(2).unwrap().truncated(512, 180, 360);
    let cfg = TrainConfig {
        learning_rate: 2.0,
        batch_size: 64,
        epochs: 3,
        patience: Some(2),
        optimizer: Optimizer::Sgd,
        seed: 3,
    };
    // Bootstrapping range [-2, 2]: with [-1, 1], hetal-linalg's ASoftmax hands values of exactly
    // 1 plus noise to bootstrapping, which the strict mock rejects (hetal-nn/REQUESTS.md).
    let params = hetal_traits::mock::MockParams::ideal(1024, 12, 40.0)
        .with_bootstrap(3, 12, 2.0)
        .with_noise(1e-7);
    let (m, report) = run(&splits, &cfg, params);
    let reference = plain::train(
        &splits,
        &cfg,
        &Method::hetal(cfg.optimizer),
        &asoftmax_reference,
    )
    .unwrap();
    let diff = m
        .weights
        .iter()
        .zip(&reference.model.weights)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    let ref_acc = reference.model.accuracy(&splits.test);
    eprintln!(
        "noisy encrypted {:.4} vs reference {ref_acc:.4}, max weight difference {diff:e}",
        report.test_accuracy
    );
    // Noise of 1e-7 per operation moves the weights by far less than a learning step.
    assert!(diff > 0.0 && diff < 1e-3, "max weight difference {diff:e}");
    assert!((report.test_accuracy - ref_acc).abs() <= 0.005);
}

#[test]
fn encrypted_inference_matches_plaintext_inference() {
    let splits = Splits::digits(4).unwrap().truncated(256, 60, 300);
    let cfg = TrainConfig {
        learning_rate: 1.0,
        batch_size: 64,
        epochs: 2,
        patience: None,
        optimizer: Optimizer::Nesterov,
        seed: 0,
    };
    let (mut client, _data, mut server) = common::setup(&splits, &cfg, common::fgb_like(1024));
    let Outcome::Finished(model) = session::run(
        &mut client,
        &mut server,
        &splits,
        &RunOptions::default(),
        &mut |_| {},
    )
    .unwrap() else {
        panic!("not finished")
    };
    let m = client.decrypt_model(&model).unwrap();
    // The client encrypts the test features; the server computes logits under the encrypted model.
    let x = client.encrypt_features(&splits.test.features).unwrap();
    let logits = server.infer(&x).unwrap();
    let z = client.decrypt_matrix(&logits).unwrap();
    let want = m.logits(&splits.test.features);
    let max_err = (0..z.nrows())
        .flat_map(|i| (0..m.classes).map(move |j| (i, j)))
        .map(|(i, j)| (z[[i, j]] - want[[i, j]]).abs())
        .fold(0.0f64, f64::max);
    assert!(max_err < 1e-9, "logit error {max_err:e}");
    assert_eq!(
        client.predictions(&logits).unwrap(),
        m.predict(&splits.test.features)
    );
    // Features of the wrong width are refused.
    assert!(
        client
            .encrypt_features(&ndarray::Array2::zeros((3, 5)))
            .is_err()
    );
}

#[test]
fn early_stopping_stops_where_the_reference_stops() {
    let splits = Splits::digits(0).unwrap().truncated(512, 100, 359);
    let cfg = TrainConfig {
        learning_rate: 2.0,
        batch_size: 64,
        epochs: 10,
        patience: Some(1),
        optimizer: Optimizer::Nesterov,
        seed: 0,
    };
    let (m, report) = run(&splits, &cfg, common::fgb_like(1024));
    let reference = plain::train(
        &splits,
        &cfg,
        &Method::hetal(cfg.optimizer),
        &asoftmax_reference,
    )
    .unwrap();
    // The validation loss rises after epoch 7: with patience 1 both stop after epoch 8.
    assert_eq!(report.history.len(), 8);
    assert_eq!(reference.history.len(), 8);
    assert_eq!((report.best_epoch, reference.best_epoch), (6, 6));
    assert_eq!(report.steps, 8 * 8);
    // The returned model is the best epoch's, not the last one's.
    let diff = m
        .weights
        .iter()
        .zip(&reference.model.weights)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(diff < 1e-9, "max weight difference {diff:e}");
}

#[test]
fn a_non_ideal_modulus_chain_gives_the_same_model() {
    // Primes near 2^40 (as a CKKS preset has): scales drift from 2^40 and every level has its
    // own canonical scale; the training must manage them and give the same model.
    let primes: Vec<u64> = std::iter::once((1u64 << 58) - 27)
        .chain((1..=12u64).map(|i| {
            if i % 2 == 0 {
                (1u64 << 40) + 1 + 6 * i
            } else {
                (1u64 << 40) - 87 - 10 * i
            }
        }))
        .collect();
    let chain = hetal_traits::mock::MockParams::from_chain(1024, &primes, (1u64 << 40) as f64)
        .with_bootstrap(3, 12, 1.0);
    let splits = Splits::digits(1).unwrap().truncated(256, 60, 200);
    let cfg = TrainConfig {
        learning_rate: 1.0,
        batch_size: 64,
        epochs: 2,
        patience: None,
        optimizer: Optimizer::Nesterov,
        seed: 2,
    };
    let (m1, r1) = run(&splits, &cfg, chain);
    let (m2, r2) = run(&splits, &cfg, common::fgb_like(1024));
    let diff = m1
        .weights
        .iter()
        .zip(&m2.weights)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(diff < 1e-9, "max weight difference {diff:e}");
    assert_eq!(r1.test_accuracy, r2.test_accuracy);
}

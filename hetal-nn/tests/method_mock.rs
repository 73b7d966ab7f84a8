//! HE.CNNtraining's method (and mixes with HETAL's) on the mock backend against the f64 reference.

mod common;

use hetal_linalg::approx::sigmoid::SigmoidApprox;
use hetal_linalg::packed::{Layout, Matrix, PackedMatrix};
use hetal_nn::client::Client;
use hetal_nn::config::{Activation, Method, Optimizer, Products, TrainConfig, Update};
use hetal_nn::data::Splits;
use hetal_nn::plain;
use hetal_nn::protocol::{EncMatrix, EncryptedData, Plan};
use hetal_nn::server::{Server, TrainingServer};
use hetal_nn::session::{self, Outcome, RunOptions};
use hetal_nn::softmax::{LinalgSoftmax, SoftmaxApprox};
use hetal_traits::mock::{MockCiphertext, MockClient, MockEvaluator, MockParams};
use hetal_traits::{Encoder, KeyGenerator};
use ndarray::{Array2, s};
use rand::{RngExt, SeedableRng};

type Setup = (
    Client<MockClient>,
    EncryptedData<MockCiphertext>,
    MockEvaluator,
);

/// Client, encrypted data and evaluator for `method`.
fn setup(splits: &Splits, cfg: &TrainConfig, method: Method, params: MockParams) -> Setup {
    let plan = Plan::new(splits, cfg, params.slots, 64.0, "asoftmax")
        .unwrap()
        .with_method(method)
        .unwrap();
    let softmax = LinalgSoftmax::asoftmax();
    let sk = softmax
        .required_keys(plan.shape().unwrap(), plan.classes)
        .unwrap();
    let req = plan.key_request(&sk, params.bootstrap.is_some()).unwrap();
    let mut backend = MockClient::new(params, 7);
    let keys = backend.generate_evaluation_keys(&req).unwrap();
    let mut client = Client::new(backend, plan).unwrap();
    let data = client.encrypt_data(splits).unwrap();
    (client, data, MockEvaluator::new(keys))
}

fn softmax_for(method: &Method) -> Option<Box<dyn SoftmaxApprox<MockEvaluator>>> {
    (method.activation == Activation::Softmax)
        .then(|| Box::new(LinalgSoftmax::asoftmax()) as Box<dyn SoftmaxApprox<MockEvaluator>>)
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// One SGD step with `s = lr / n = 1` from random weights `W0` gives `W1 = W0 − (P − Y)^T X`:
/// so `W1 − W0` must be `(Y − P)^T X` with `P = σ̃(X W0^T)` computed in f64.
#[test]
fn sigmoid_gradient_is_y_minus_p_transposed_x() {
    let splits = Splits::digits(3).unwrap().truncated(100, 20, 20);
    let n = splits.train.len();
    let cfg = TrainConfig {
        learning_rate: n as f64,
        batch_size: n,
        epochs: 1,
        patience: None,
        optimizer: Optimizer::Sgd,
        seed: 0,
    };
    let c = splits.num_classes;
    let x = plain::with_bias(&splits.train.features);
    let y = splits.train.one_hot(c);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let w0 = Array2::from_shape_fn((c, x.ncols()), |_| rng.random_range(-0.3..0.3));
    for activation in [
        Activation::SigmoidCubic,
        Activation::SigmoidChebyshev {
            range: 16.0,
            degree: 7,
        },
    ] {
        for products in [Products::Diag, Products::VolleyRevolver] {
            let method = Method {
                activation,
                update: Update::Sgd,
                products,
            };
            let (mut client, mut data, ev) = setup(&splits, &cfg, method, common::fgb_like(1024));
            let pc = client.plan.padded_classes;
            let w0m = Matrix::from_fn(pc, x.ncols(), |i, j| if i < c { w0[[i, j]] } else { 0.0 });
            let shape = client.plan.shape().unwrap();
            let level = client.backend.max_level();
            data.initial_weights = EncMatrix::from_packed(
                &PackedMatrix::encrypt(&mut client.backend, &w0m, shape, Layout::Plain, level)
                    .unwrap(),
            );
            let mut server = Server::new(ev, None, &data).unwrap();
            server.run_epoch(&mut |_| {}).unwrap();
            let w1 = client.decrypt_matrix(&server.checkpoint().w).unwrap();
            let encrypted_grad = &w1.slice(s![..c, ..]) - &w0;

            let sg = match activation {
                Activation::SigmoidCubic => SigmoidApprox::hecnn(),
                Activation::SigmoidChebyshev { range, degree } => {
                    SigmoidApprox::chebyshev(range, degree).unwrap()
                }
                Activation::Softmax => unreachable!(),
            };
            let p = x.dot(&w0.t()).mapv(|t| sg.eval_plain(t));
            let expected = (&y - &p).t().dot(&x);
            let d = max_diff(
                encrypted_grad.as_slice().unwrap(),
                expected.as_standard_layout().as_slice().unwrap(),
            );
            let scale = expected.iter().fold(0.0f64, |a, b| a.max(b.abs()));
            eprintln!(
                "{}: max |(Y - P)^T X| = {scale:.3}, encrypted error {d:e}",
                method.describe()
            );
            assert!(scale > 1.0, "a trivial gradient proves nothing");
            assert!(d < 1e-9, "{}: error {d:e}", method.describe());
            // The padded classes' rows stay exactly zero (P is masked to the real classes).
            assert!(w1.slice(s![c.., ..]).iter().all(|v| v.abs() < 1e-12));
        }
    }
}

fn run_method(
    splits: &Splits,
    cfg: &TrainConfig,
    method: Method,
    params: MockParams,
) -> (plain::Model, hetal_nn::report::TrainReport) {
    let (mut client, data, ev) = setup(splits, cfg, method, params);
    let mut server = Server::new(ev, softmax_for(&method), &data).unwrap();
    let Outcome::Finished(model) = session::run(
        &mut client,
        &mut server,
        splits,
        &RunOptions::default(),
        &mut |_| {},
    )
    .unwrap() else {
        panic!("not finished")
    };
    session::report(&client, &model, splits, &method.describe()).unwrap()
}

/// Chiang's method end to end on the mock: it learns, and equals its f64 reference.
#[test]
fn cnntraining_learns_digits_and_matches_its_reference() {
    let splits = Splits::digits(0).unwrap().truncated(640, 180, 360);
    let method = Method::cnntraining();
    let cfg = TrainConfig {
        learning_rate: 1.0,
        batch_size: 128,
        epochs: 3,
        patience: None,
        optimizer: method.update.optimizer(),
        seed: 5,
    };
    let (m, report) = run_method(&splits, &cfg, method, common::fgb_like(2048));
    eprintln!("{report}");
    assert_eq!(report.steps, 15);
    assert!(
        report.bootstraps > 0,
        "the weights must have been refreshed"
    );
    let reference = plain::train(&splits, &cfg, &method, &plain::softmax_rows).unwrap();
    // The mock is exact arithmetic: only f64 rounding separates the two (different evaluation
    // orders of the products and the polynomial).
    let d = max_diff(&m.weights, &reference.model.weights);
    eprintln!("max weight difference to the f64 reference: {d:e}");
    assert!(d < 1e-9, "max weight difference {d:e}");
    assert_eq!(report.best_epoch, reference.best_epoch);
    for (a, b) in report.history.iter().zip(&reference.history) {
        assert!(
            (a.val_loss - b.val_loss).abs() < 1e-9 && (a.train_loss - b.train_loss).abs() < 1e-9,
            "{a:?} vs {b:?}"
        );
    }
    // Chance is 10 %; the f64 reference of this run reaches 85.8 %.
    assert!(
        report.test_accuracy > 0.8,
        "test accuracy {}",
        report.test_accuracy
    );
    assert!((report.test_accuracy - reference.model.accuracy(&splits.test)).abs() < 1e-12);
    // The SLE loss decreases.
    assert!(report.history[0].val_loss > report.history[2].val_loss);
}

/// The generic server running HETAL's method equals HETAL's own server.
#[test]
fn method_server_with_hetal_method_equals_hetal_server() {
    let splits = Splits::digits(1).unwrap().truncated(256, 60, 100);
    let cfg = TrainConfig {
        learning_rate: 1.0,
        batch_size: 64,
        epochs: 2,
        patience: None,
        optimizer: Optimizer::Nesterov,
        seed: 2,
    };
    let method = Method::hetal(Optimizer::Nesterov);
    let (m1, r1) = run_method(&splits, &cfg, method, common::fgb_like(1024));
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
    let (m2, r2) = session::report(&client, &model, &splits, "hetal").unwrap();
    assert!(max_diff(&m1.weights, &m2.weights) < 1e-12);
    assert_eq!(r1.history, r2.history);
}

/// Softmax with Volley Revolver and the quadratic gradient: another mix, against its reference.
#[test]
fn softmax_volley_revolver_qg_matches_reference() {
    let splits = Splits::digits(2).unwrap().truncated(256, 60, 100);
    let method = Method {
        activation: Activation::Softmax,
        update: Update::NagQg,
        products: Products::VolleyRevolver,
    };
    let cfg = TrainConfig {
        learning_rate: 1.0,
        batch_size: 64,
        epochs: 2,
        patience: None,
        optimizer: Optimizer::Nesterov,
        seed: 4,
    };
    let (m, _) = run_method(&splits, &cfg, method, common::fgb_like(1024));
    let sm = LinalgSoftmax::asoftmax();
    let approx = |z: &Array2<f64>, c: usize| SoftmaxApprox::<MockEvaluator>::reference(&sm, z, c);
    let reference = plain::train(&splits, &cfg, &method, &approx).unwrap();
    let d = max_diff(&m.weights, &reference.model.weights);
    assert!(d < 1e-9, "max weight difference {d:e}");
}

#[test]
fn mismatched_servers_and_data_are_rejected() {
    let splits = Splits::digits(0).unwrap().truncated(128, 20, 20);
    let method = Method::cnntraining();
    let cfg = TrainConfig {
        batch_size: 64,
        epochs: 1,
        ..TrainConfig::default()
    };
    let fresh = || setup(&splits, &cfg, method, common::fgb_like(1024));
    let (_client, data, ev) = fresh();
    assert_eq!(data.preconditioners.len(), 2);
    // A sigmoid takes no softmax.
    assert!(Server::new(ev, Some(Box::new(LinalgSoftmax::asoftmax())), &data).is_err());
    // Missing preconditioners.
    let (_client, mut data, ev) = fresh();
    data.preconditioners.pop();
    let e = Server::new(ev, None, &data).unwrap_err();
    assert!(e.to_string().contains("preconditioners"), "{e}");
    // A softmax method without a softmax.
    let (_c, data2, ev2) = setup(
        &splits,
        &cfg,
        Method {
            activation: Activation::Softmax,
            ..method
        },
        common::fgb_like(1024),
    );
    assert!(Server::new(ev2, None, &data2).is_err());
    // The plan's optimiser must agree with the configuration.
    let sgd = TrainConfig {
        optimizer: Optimizer::Sgd,
        ..cfg.clone()
    };
    let plan = Plan::new(&splits, &sgd, 1024, 64.0, "asoftmax").unwrap();
    assert!(plan.with_method(method).is_err());
}

/// Without bootstrapping, Chiang's setting: 24 levels of 40 bits (his `log Q = 990`) give
/// exactly 2 iterations of cubic sigmoid + Volley Revolver + quadratic-gradient NAG (10 levels
/// each), and the third fails cleanly with `DepthExhausted`.
#[test]
fn without_bootstrapping_depth_runs_out_after_two_iterations() {
    let splits = Splits::digits(0).unwrap().truncated(128, 40, 40);
    let method = Method::cnntraining();
    let cfg = TrainConfig {
        batch_size: 128,
        epochs: 5,
        patience: None,
        ..TrainConfig::default()
    };
    let (_client, data, ev) = setup(&splits, &cfg, method, MockParams::ideal(1024, 24, 40.0));
    let mut server = Server::new(ev, None, &data).unwrap();
    let mut done = 0;
    let err = loop {
        match server.run_epoch(&mut |_| {}) {
            Ok(r) => {
                done += 1;
                server
                    .apply_decision(hetal_nn::protocol::Decision {
                        epoch: r.epoch,
                        improved: true,
                        stop: false,
                    })
                    .unwrap();
            }
            Err(e) => break e,
        }
    };
    assert_eq!(done, 2);
    assert!(
        matches!(
            err,
            hetal_nn::Error::Linalg(hetal_linalg::Error::DepthExhausted { .. })
        ),
        "{err}"
    );
}

//! Pinned operation counts: a mock run of each training method, through the op-counting
//! wrapper, must keep exactly these operation counts and bootstraps. They were recorded before
//! the two training servers became one, so the refactor is checked to change no operation.
//! A deliberate change of an algorithm (a cheaper softmax, another bootstrap placement) updates
//! them in the same commit, with the reason.
//!
//! History: recorded on the two servers; unchanged by their unification into one `Server`.
//! Then the quiet bootstrap of hetal-linalg's `Refresher` (a ciphertext with a level to spare is
//! scaled by 2^-3 before bootstrapping and back by the integer 8 after it, which keeps the
//! bootstrap's value-dependent error small) added one ConstMult, one Rescale and one IntMult per
//! such bootstrap: +36 each for HETAL's method, +6 for HE.CNNtraining's; no bootstrap changed.

mod common;

use hetal_nn::client::Client;
use hetal_nn::config::{Activation, Method, Optimizer, Products, TrainConfig, Update};
use hetal_nn::data::Splits;
use hetal_nn::protocol::Plan;
use hetal_nn::server::{Server, TrainingServer};
use hetal_nn::session::{self, Outcome, RunOptions};
use hetal_nn::softmax::{LinalgSoftmax, SoftmaxApprox};
use hetal_traits::KeyGenerator;
use hetal_traits::counting::Counting;
use hetal_traits::mock::{MockClient, MockEvaluator, MockParams};

/// Trains `method` for 2 epochs on 192 digits (batch 64) and returns the server's op counts
/// (their `Display` form) and the bootstraps it reports.
fn counts(method: Method, params: MockParams) -> (String, u64) {
    let splits = Splits::digits(4).unwrap().truncated(192, 40, 40);
    let cfg = TrainConfig {
        learning_rate: 1.0,
        batch_size: 64,
        epochs: 2,
        patience: None,
        optimizer: method.update.optimizer(),
        seed: 3,
    };
    let plan = Plan::new(&splits, &cfg, params.slots, 64.0, "asoftmax")
        .unwrap()
        .with_method(method)
        .unwrap();
    let softmax = LinalgSoftmax::asoftmax();
    let sk = softmax
        .required_keys(plan.shape().unwrap(), plan.classes)
        .unwrap();
    let req = plan.key_request(&sk, true).unwrap();
    let mut backend = MockClient::new(params, 7);
    let keys = backend.generate_evaluation_keys(&req).unwrap();
    let mut client = Client::new(backend, plan).unwrap();
    let data = client.encrypt_data(&splits).unwrap();
    let ev = Counting::new(MockEvaluator::new(keys));
    let softmax = (method.activation == Activation::Softmax).then(|| {
        Box::new(LinalgSoftmax::asoftmax()) as Box<dyn SoftmaxApprox<Counting<MockEvaluator>>>
    });
    let mut server = Server::new(ev, softmax, &data).unwrap();
    let out = session::run(
        &mut client,
        &mut server,
        &splits,
        &RunOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    assert!(matches!(out, Outcome::Finished(_)));
    (
        server.evaluator().snapshot().to_string(),
        server.stats().bootstraps,
    )
}

fn check(name: &str, method: Method, expected: &str, bootstraps: u64) {
    let (got, b) = counts(method, common::fgb_like(2048));
    eprintln!("{name}: {got} (bootstraps {b})");
    assert_eq!(got, expected, "{name}: op counts changed");
    assert_eq!(b, bootstraps, "{name}: bootstraps changed");
}

#[test]
fn hetal_method_counts_are_pinned() {
    check(
        "hetal",
        Method::hetal(Optimizer::Nesterov),
        "Mult=942 CMult=488 ConstMult=432 IntMult=42 MulI=30 Add=2638 AddPlain=132 Rot=1996 HoistedRot=42 Conj=26 Rescale=1584 DropLevel=698 Bootstrap=119 KeySwitch=3006 Encode=512",
        9,
    );
}

#[test]
fn cnntraining_counts_are_pinned() {
    check(
        "cnntraining",
        Method::cnntraining(),
        "Mult=1854 CMult=1414 ConstMult=111 IntMult=21 Add=25314 AddPlain=18 Rot=24962 Rescale=2301 DropLevel=840 Bootstrap=21 KeySwitch=26816 Encode=1420",
        21,
    );
}

#[test]
fn cnntraining_without_quadratic_gradient_counts_are_pinned() {
    let m = Method {
        update: Update::Nag,
        ..Method::cnntraining()
    };
    check(
        "cnntraining-nag",
        m,
        "Mult=1836 CMult=1414 ConstMult=111 IntMult=21 Add=25314 AddPlain=18 Rot=24962 Rescale=2283 DropLevel=822 Bootstrap=21 KeySwitch=26798 Encode=1420",
        21,
    );
}

#[test]
fn softmax_volley_revolver_counts_are_pinned() {
    let m = Method {
        activation: Activation::Softmax,
        update: Update::Nag,
        products: Products::VolleyRevolver,
    };
    check(
        "softmax-vr",
        m,
        "Mult=2430 CMult=1468 ConstMult=441 IntMult=51 Add=25692 AddPlain=132 Rot=25058 Rescale=3165 DropLevel=1520 Bootstrap=125 KeySwitch=27488 Encode=1492",
        15,
    );
}

//! Shared setup of the integration tests: both roles on the mock backend.
#![allow(dead_code)]

use hetal_nn::client::Client;
use hetal_nn::config::TrainConfig;
use hetal_nn::data::Splits;
use hetal_nn::protocol::{EncryptedData, Plan};
use hetal_nn::server::Server;
use hetal_nn::softmax::LinalgSoftmax;
use hetal_traits::KeyGenerator;
use hetal_traits::mock::{MockCiphertext, MockClient, MockEvaluator, MockParams};

/// A mock chain like HEaaN's FGb: 12 levels, bootstrapping from level 3 back to 12, inputs in [-1, 1].
pub fn fgb_like(slots: usize) -> MockParams {
    MockParams::ideal(slots, 12, 40.0).with_bootstrap(3, 12, 1.0)
}

/// A client (with its encrypted data) and a server for `splits`.
pub fn setup(
    splits: &Splits,
    cfg: &TrainConfig,
    params: MockParams,
) -> (
    Client<MockClient>,
    EncryptedData<MockCiphertext>,
    Server<MockEvaluator>,
) {
    let plan = Plan::new(splits, cfg, params.slots, 64.0, "asoftmax").unwrap();
    let softmax = LinalgSoftmax::asoftmax();
    let req = plan
        .key_request(
            &softmax
                .required_keys(plan.shape().unwrap(), plan.classes)
                .unwrap(),
            true,
        )
        .unwrap();
    let mut backend = MockClient::new(params, 7);
    let keys = backend.generate_evaluation_keys(&req).unwrap();
    let mut client = Client::new(backend, plan).unwrap();
    let data = client.encrypt_data(splits).unwrap();
    let server = Server::new(MockEvaluator::new(keys), Some(Box::new(softmax)), &data).unwrap();
    (client, data, server)
}

/// A client for `method` on the mock (the plan's own key request, with bootstrapping keys when
/// `params` bootstrap), its encrypted data, and the evaluation keys a server needs.
pub fn method_session(
    splits: &Splits,
    cfg: &TrainConfig,
    method: hetal_nn::config::Method,
    params: MockParams,
) -> (
    Client<MockClient>,
    EncryptedData<MockCiphertext>,
    hetal_traits::mock::MockEvaluationKeys,
) {
    let plan = Plan::new(splits, cfg, params.slots, 64.0, "asoftmax")
        .unwrap()
        .with_method(method)
        .unwrap();
    let req = plan.evaluation_keys(params.bootstrap.is_some()).unwrap();
    let mut backend = MockClient::new(params, 7);
    let keys = backend.generate_evaluation_keys(&req).unwrap();
    let mut client = Client::new(backend, plan).unwrap();
    let data = client.encrypt_data(splits).unwrap();
    (client, data, keys)
}

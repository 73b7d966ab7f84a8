//! Killing training after an epoch and resuming from the checkpoint gives the same model as an
//! uninterrupted run (mock backend without noise, so results are bit-exact).

mod common;

use hetal_nn::client::Client;
use hetal_nn::config::{Optimizer, TrainConfig};
use hetal_nn::data::Splits;
use hetal_nn::protocol::{EncryptedData, read_message, write_message};
use hetal_nn::server::{Server, TrainingServer};
use hetal_nn::session::{self, Outcome, RunOptions};
use hetal_nn::softmax::LinalgSoftmax;
use hetal_traits::KeyGenerator;
use hetal_traits::mock::{MockCiphertext, MockClient, MockEvaluator};

fn small() -> (Splits, TrainConfig) {
    let splits = Splits::digits(0).unwrap().truncated(256, 60, 60);
    let cfg = TrainConfig {
        learning_rate: 1.0,
        batch_size: 64,
        epochs: 3,
        patience: None,
        optimizer: Optimizer::Nesterov,
        seed: 5,
    };
    (splits, cfg)
}

/// A "new process": the client rebuilt from its seed, the server from the saved data and keys.
fn restart(
    splits: &Splits,
    cfg: &TrainConfig,
    data_file: &std::path::Path,
    dir: &std::path::Path,
) -> (Client<MockClient>, Server<MockEvaluator>) {
    let params = common::fgb_like(1024);
    let data: EncryptedData<MockCiphertext> = read_message(data_file).unwrap();
    let softmax = LinalgSoftmax::asoftmax();
    let req = data
        .plan
        .key_request(
            &softmax
                .required_keys(data.plan.shape().unwrap(), data.plan.classes)
                .unwrap(),
            true,
        )
        .unwrap();
    let mut backend = MockClient::new(params, 7);
    let keys = backend.generate_evaluation_keys(&req).unwrap();
    let mut client = Client::new(backend, data.plan.clone()).unwrap();
    assert_eq!(&client.plan.config, cfg);
    let (ckpt, state) = session::load_checkpoint::<MockCiphertext>(dir)
        .unwrap()
        .expect("a checkpoint");
    client.state = state;
    let server = Server::resume(
        MockEvaluator::new(keys),
        Some(Box::new(softmax)),
        &data,
        &ckpt,
    )
    .unwrap();
    assert!(splits.val.len() == client.plan.val_rows);
    (client, server)
}

#[test]
fn resuming_after_an_interruption_gives_the_same_model() {
    let (splits, cfg) = small();

    // Uninterrupted.
    let dir_a = tempfile::tempdir().unwrap();
    let (mut client, _data, mut server) = common::setup(&splits, &cfg, common::fgb_like(1024));
    let opts = RunOptions {
        checkpoint_dir: Some(dir_a.path().into()),
        interrupt_after: None,
    };
    let Outcome::Finished(model_a) =
        session::run(&mut client, &mut server, &splits, &opts, &mut |_| {}).unwrap()
    else {
        panic!("the uninterrupted run did not finish")
    };
    let weights_a = client.decrypt_model(&model_a).unwrap();
    let history_a = client.state.history.clone();
    assert_eq!(history_a.len(), 3);

    // Killed after the first epoch (decision applied, checkpoint written).
    let dir_b = tempfile::tempdir().unwrap();
    let data_file = dir_b.path().join("data.bin");
    let (mut client, data, mut server) = common::setup(&splits, &cfg, common::fgb_like(1024));
    write_message(&data_file, &data).unwrap();
    let opts = RunOptions {
        checkpoint_dir: Some(dir_b.path().into()),
        interrupt_after: Some(1),
    };
    let out = session::run(&mut client, &mut server, &splits, &opts, &mut |_| {}).unwrap();
    assert_eq!(out, Outcome::Interrupted { epochs_done: 1 });
    drop((client, server));

    // Killed again, this time between the second epoch and the client's decision on it.
    let (client, mut server) = restart(&splits, &cfg, &data_file, dir_b.path());
    assert_eq!(server.epochs_done(), 1);
    let r = server.run_epoch(&mut |_| {}).unwrap();
    assert_eq!(r.epoch, 1);
    write_message(
        &session::server_checkpoint_path(dir_b.path()),
        &server.checkpoint(),
    )
    .unwrap();
    drop((client, server));

    let (mut client, mut server) = restart(&splits, &cfg, &data_file, dir_b.path());
    assert!(server.awaiting_decision().is_some());
    let opts = RunOptions {
        checkpoint_dir: Some(dir_b.path().into()),
        interrupt_after: None,
    };
    let Outcome::Finished(model_b) =
        session::run(&mut client, &mut server, &splits, &opts, &mut |_| {}).unwrap()
    else {
        panic!("the resumed run did not finish")
    };
    let weights_b = client.decrypt_model(&model_b).unwrap();
    assert_eq!(model_a.epoch, model_b.epoch);
    assert_eq!(
        weights_a, weights_b,
        "the resumed run must give the same model"
    );
    assert_eq!(
        history_a.iter().map(|r| r.val_loss).collect::<Vec<_>>(),
        client
            .state
            .history
            .iter()
            .map(|r| r.val_loss)
            .collect::<Vec<_>>()
    );
    assert_eq!(model_a.stats.steps, model_b.stats.steps);
}

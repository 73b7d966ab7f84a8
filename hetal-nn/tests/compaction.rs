//! Training with the logits compacted before the softmax ([`Plan::compaction`]) on the exact
//! mock: the same weights, bit for bit, as training without it; the plan's decision and keys.

mod common;

use hetal_nn::client::Client;
use hetal_nn::config::{CompactionMode, Method, Optimizer, Products, TrainConfig};
use hetal_nn::data::Splits;
use hetal_nn::protocol::Plan;
use hetal_nn::server::{Server, TrainingServer};
use hetal_nn::session::{self, Outcome, RunOptions};
use hetal_traits::KeyGenerator;
use hetal_traits::counting::{Counting, OpCounts, OpKind};
use hetal_traits::mock::{MockClient, MockEvaluator, MockParams};

fn train(
    splits: &Splits,
    cfg: &TrainConfig,
    params: MockParams,
    softmax: &str,
    method: Method,
    mode: CompactionMode,
) -> (Vec<f64>, Plan, OpCounts, u64) {
    let plan = Plan::new(splits, cfg, params.slots, 64.0, softmax)
        .unwrap()
        .with_method(method)
        .unwrap()
        .with_compaction(mode, false)
        .unwrap();
    let req = plan.evaluation_keys(true).unwrap();
    let mut backend = MockClient::new(params, 7);
    let keys = backend.generate_evaluation_keys(&req).unwrap();
    let mut client = Client::new(backend, plan.clone()).unwrap();
    let data = client.encrypt_data(splits).unwrap();
    let ev = Counting::new(MockEvaluator::new(keys));
    let mut server = Server::for_plan(ev, &data, None).unwrap();
    let out = session::run(
        &mut client,
        &mut server,
        splits,
        &RunOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    let Outcome::Finished(model) = out else {
        panic!("not finished")
    };
    let m = client.decrypt_model(&model).unwrap();
    (
        m.weights,
        plan,
        server.evaluator().snapshot(),
        server.stats().bootstraps,
    )
}

fn bits(w: &[f64]) -> Vec<u64> {
    w.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn compacted_training_gives_bit_identical_weights() {
    // 10 classes at batch 64: unit shape (64, 128) on 8192 slots, 16 of 128 columns used; one
    // block per step compacts into 1024 slots (period 1024, 8 copies).
    let splits = Splits::synthetic(400, 24, 10, 5).unwrap();
    let cfg = TrainConfig {
        learning_rate: 1.0,
        batch_size: 64,
        epochs: 2,
        patience: None,
        optimizer: Optimizer::Nesterov,
        seed: 2,
    };
    let hetal = Method::hetal(Optimizer::Nesterov);
    // HETAL's softmax and optimiser with Volley Revolver's products.
    let vr = Method {
        products: Products::VolleyRevolver,
        ..hetal
    };
    for (softmax, method) in [
        ("normalize-square", hetal),
        ("asoftmax", hetal),
        ("normalize-square", vr),
    ] {
        let params = common::fgb_like(8192);
        let (w_off, plan_off, ops_off, _) = train(
            &splits,
            &cfg,
            params.clone(),
            softmax,
            method,
            CompactionMode::Off,
        );
        let (w_on, plan_on, ops_on, _) =
            train(&splits, &cfg, params, softmax, method, CompactionMode::On);
        assert!(!plan_off.compaction);
        assert!(plan_on.compaction);
        assert_eq!(plan_on.unit, (64, 128));
        assert!(plan_on.describe_compaction().contains("period 1024"));
        assert!(w_off.iter().all(|v| v.is_finite()) && w_off.iter().any(|&v| v != 0.0));
        assert_eq!(
            bits(&w_on),
            bits(&w_off),
            "{softmax} {}: weights differ",
            method.describe()
        );
        // Compaction did run: it adds plaintext masks and rotations.
        assert!(
            ops_on.get(OpKind::CMult) > ops_off.get(OpKind::CMult),
            "{softmax}: {ops_on}\nvs\n{ops_off}"
        );
        eprintln!("{softmax}: off {ops_off}\non {ops_on}");
    }
}

#[test]
fn auto_compacts_only_when_it_pays() {
    let splits = Splits::digits(4).unwrap().truncated(192, 40, 40);
    let cfg = TrainConfig {
        batch_size: 64,
        ..TrainConfig::default()
    };
    // One block per step, s1 = 32 > c' = 16: pays only with sparse bootstrapping.
    let plan = Plan::new(&splits, &cfg, 2048, 64.0, "asoftmax").unwrap();
    assert!(
        !plan.compaction,
        "Plan::new decides auto without sparse bootstrapping"
    );
    let with_sparse = plan
        .clone()
        .with_compaction(CompactionMode::Auto, true)
        .unwrap();
    assert!(with_sparse.compaction);
    let keys_off = plan.evaluation_keys(true).unwrap();
    let keys_on = with_sparse.evaluation_keys(true).unwrap();
    assert!(keys_on.rotations.len() > keys_off.rotations.len());
    for r in &keys_off.rotations {
        assert!(keys_on.rotations.contains(r));
    }
    // Dense blocks (s1 = c'): never, not even when asked.
    let dense = Plan::new(&splits, &cfg, 1024, 64.0, "asoftmax").unwrap();
    assert_eq!(dense.unit.1, 16);
    assert!(
        !dense
            .clone()
            .with_compaction(CompactionMode::On, true)
            .unwrap()
            .compaction
    );
    // Compaction is for the softmax.
    let sig = plan.with_method(Method::cnntraining()).unwrap();
    assert!(!sig.compaction);
    assert!(sig.with_compaction(CompactionMode::On, false).is_err());
}

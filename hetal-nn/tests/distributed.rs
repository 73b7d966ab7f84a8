//! The data-parallel server (`hetal_nn::distributed`) on threads ([`ThreadGroup`]): `R` ranks
//! sharing each step by row blocks give bit-identical results to one process on the mock, for
//! HETAL's method and HE.CNNtraining's; a rank that leaves makes the others fail, not hang.

mod common;

use hetal_nn::client::Client;
use hetal_nn::config::{Method, Optimizer, TrainConfig};
use hetal_nn::data::Splits;
use hetal_nn::distributed::{Collective, DistServer, ThreadGroup, share_of};
use hetal_nn::protocol::{Checkpoint, Decision, EncMatrix, EncryptedData, EpochResult};
use hetal_nn::server::{Server, TrainingServer};
use hetal_traits::mock::{MockCiphertext, MockClient, MockEvaluationKeys, MockEvaluator};
use std::time::Duration;

type Ct = MockCiphertext;

fn setup(
    splits: &Splits,
    cfg: &TrainConfig,
    method: Method,
) -> (Client<MockClient>, EncryptedData<Ct>, MockEvaluationKeys) {
    common::method_session(splits, cfg, method, common::fgb_like(1024))
}

/// What a run leaves: every epoch's result and the final checkpoint.
type Trace = (Vec<EpochResult<Ct>>, Checkpoint<Ct>);

/// Drives `epochs` epochs on any server, the client's decisions replaced by a fixed rule
/// (epoch 0 improves, epoch 1 does not), so both runs see the same decisions.
fn drive<S: TrainingServer<Ev = MockEvaluator>>(s: &mut S, epochs: usize) -> Trace {
    let mut results = Vec::new();
    for e in 0..epochs {
        let mut r = s.run_epoch(&mut |_| {}).unwrap();
        r.epoch_time = Duration::ZERO;
        results.push(r);
        s.apply_decision(Decision {
            epoch: e,
            improved: e % 2 == 0,
            stop: e + 1 == epochs,
        })
        .unwrap();
    }
    let mut c = s.checkpoint();
    c.stats = Default::default();
    (results, c)
}

/// One rank's weights `(V, W)`.
type Weights = (EncMatrix<Ct>, EncMatrix<Ct>);

/// The ranks' traces: rank 0's (driving) and the others' weights `(V, W)`.
fn run_ranks(
    ranks: usize,
    data: &EncryptedData<Ct>,
    keys: &MockEvaluationKeys,
    epochs: usize,
) -> (Trace, Vec<Weights>) {
    let group = ThreadGroup::new(ranks, Duration::from_secs(120));
    std::thread::scope(|sc| {
        let handles: Vec<_> = group
            .into_iter()
            .map(|comm| {
                sc.spawn(move || {
                    let rank = comm.rank();
                    let ev = MockEvaluator::new(keys.clone());
                    let mut s = DistServer::new(ev, data, None, comm).unwrap();
                    if rank == 0 {
                        let t = drive(&mut s, epochs);
                        s.finish().unwrap();
                        (Some(t), s.weights())
                    } else {
                        s.follow(&mut |_| {}).unwrap();
                        (None, s.weights())
                    }
                })
            })
            .collect();
        let mut out: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let trace = out[0].0.take().unwrap();
        (trace, out.into_iter().map(|(_, w)| w).collect())
    })
}

fn check_equal_to_one_process(method: Method, optimizer: Optimizer, batch: usize, ranks: usize) {
    let splits = Splits::digits(1).unwrap().truncated(320, 60, 60);
    let cfg = TrainConfig {
        batch_size: batch,
        epochs: 2,
        optimizer,
        ..TrainConfig::default()
    };
    let (_client, data, keys) = setup(&splits, &cfg, method);
    let plan = &data.plan;
    let blocks: Vec<usize> = plan
        .batch_rows
        .iter()
        .map(|r| r.div_ceil(plan.unit.0))
        .collect();
    assert!(
        blocks.iter().any(|&n| n >= ranks),
        "no batch to share: {blocks:?} blocks of {} rows",
        plan.unit.0
    );
    let mut one = Server::for_plan(MockEvaluator::new(keys.clone()), &data, None).unwrap();
    let single = drive(&mut one, 2);
    let (dist, weights) = run_ranks(ranks, &data, &keys, 2);
    assert_eq!(single.0.len(), dist.0.len());
    for (a, b) in single.0.iter().zip(&dist.0) {
        assert!(a == b, "epoch {}: the results differ", a.epoch);
    }
    assert!(single.1 == dist.1, "the final checkpoints differ");
    for (r, (v, w)) in weights.iter().enumerate() {
        assert!(
            *v == single.1.v && *w == single.1.w,
            "rank {r} holds other weights"
        );
    }
}

#[test]
fn two_ranks_equal_one_process_for_hetal() {
    // 1024 slots, 16 padded classes: 64-row blocks; batch 128 = 2 blocks (the last batch of
    // 320 rows too), one per rank.
    check_equal_to_one_process(
        Method::hetal(Optimizer::Nesterov),
        Optimizer::Nesterov,
        128,
        2,
    );
}

#[test]
fn two_ranks_equal_one_process_for_cnntraining() {
    check_equal_to_one_process(Method::cnntraining(), Optimizer::Nesterov, 128, 2);
}

#[test]
fn three_ranks_with_uneven_and_empty_shares_equal_one_process() {
    // Batch 256 = 4 blocks (2, 1, 1 per rank); the last batch of 64 rows has 1 block, so two
    // ranks have no rows of it and only take part in the sums.
    check_equal_to_one_process(
        Method::hetal(Optimizer::Nesterov),
        Optimizer::Nesterov,
        256,
        3,
    );
}

#[test]
fn shares_cover_the_blocks_in_order() {
    for n in 0..9 {
        for size in 1..5 {
            let mut next = 0;
            for rank in 0..size {
                let (first, count) = share_of(n, rank, size);
                assert_eq!(first, next);
                next += count;
            }
            assert_eq!(next, n);
            assert!(n == 0 || share_of(n, 0, size).1 >= 1);
        }
    }
}

#[test]
fn a_rank_that_leaves_fails_the_others_instead_of_hanging() {
    let splits = Splits::digits(1).unwrap().truncated(256, 60, 60);
    let cfg = TrainConfig {
        batch_size: 128,
        epochs: 2,
        ..TrainConfig::default()
    };
    let (_client, data, keys) = setup(&splits, &cfg, Method::hetal(Optimizer::Nesterov));
    let mut group = ThreadGroup::new(2, Duration::from_secs(60));
    let rank1 = group.pop().unwrap();
    let rank0 = group.pop().unwrap();
    let data = &data;
    let keys = &keys;
    std::thread::scope(|sc| {
        let h = sc.spawn(move || {
            let mut s =
                DistServer::new(MockEvaluator::new(keys.clone()), data, None, rank0).unwrap();
            // Rank 1 leaves after loading: the epoch's first collective fails.
            s.run_epoch(&mut |_| {}).map(|_| ())
        });
        let s1 = DistServer::new(MockEvaluator::new(keys.clone()), data, None, rank1).unwrap();
        drop(s1);
        let err = h.join().unwrap().unwrap_err().to_string();
        assert!(err.contains("left the group"), "{err}");
    });
}

#[test]
fn a_collective_without_all_ranks_times_out() {
    let mut group = ThreadGroup::new(2, Duration::from_millis(200));
    let _rank1 = group.pop().unwrap();
    let rank0 = group.pop().unwrap();
    let err = rank0.all_gather(b"x").unwrap_err().to_string();
    assert!(err.contains("within"), "{err}");
}

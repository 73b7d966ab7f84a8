//! Issue 16: the client trusts nothing the server writes, and the data loaders trust nothing a
//! file claims. One test per numbered case of the issue that the library covers (the CLI's
//! cases are in hetal-bench's `cli_hostile` tests).

mod common;

use hetal_nn::Error;
use hetal_nn::client::ClientState;
use hetal_nn::config::{Optimizer, TrainConfig};
use hetal_nn::data::{MAX_CLASSES, Splits, read_csv, read_features_npy, read_labels_npy};
use hetal_nn::protocol::{
    Checkpoint, Decision, EncryptedModel, EpochResult, LayoutTag, MessageKind, Plan, from_bytes,
    read_message, reseal, to_bytes, write_message, write_private,
};
use hetal_nn::server::{Server, TrainingServer};
use hetal_nn::softmax::{LinalgSoftmax, SoftmaxApprox};
use hetal_traits::KeyGenerator;
use hetal_traits::mock::{MockCiphertext, MockClient, MockEvaluator};
use std::io::Write;

/// A change to a message.
type Mutation<T> = Box<dyn Fn(&mut T)>;

fn small() -> (Splits, TrainConfig) {
    let splits = Splits::digits(0).unwrap().truncated(128, 40, 40);
    let cfg = TrainConfig {
        learning_rate: 1.0,
        batch_size: 64,
        epochs: 2,
        patience: None,
        optimizer: Optimizer::Nesterov,
        seed: 1,
    };
    (splits, cfg)
}

/// Case 1: hostile result, inference and model messages (block shape 2^62, a plausible wrong
/// shape, a wrong layout, missing or repeated batches, an absurd epoch) are errors, and the
/// client's state is untouched by them; the genuine messages still pass afterwards.
#[test]
fn case1_hostile_shapes_in_results_inference_and_model_are_errors() {
    let (splits, cfg) = small();
    let (mut client, _data, mut server) = common::setup(&splits, &cfg, common::fgb_like(1024));
    let r: EpochResult<MockCiphertext> = server.run_epoch(&mut |_| {}).unwrap();
    let (s0, s1) = client.plan.unit;
    let mutations: Vec<(&str, Mutation<EpochResult<MockCiphertext>>)> = vec![
        ("s1 = 2^62", Box::new(|r| r.val_logits.unit.1 = 1 << 62)),
        ("s0 = 2^62", Box::new(|r| r.val_logits.unit.0 = 1 << 62)),
        (
            "plausible unit shape",
            Box::new(move |r| r.val_logits.unit = (s0 * 2, s1 / 2)),
        ),
        ("half the columns", Box::new(|r| r.val_logits.cols /= 2)),
        ("rows 2^62", Box::new(|r| r.val_logits.rows = 1 << 62)),
        (
            "rows usize::MAX",
            Box::new(|r| r.val_logits.rows = usize::MAX),
        ),
        (
            "layout",
            Box::new(|r| r.val_logits.layout = LayoutTag::Replicated),
        ),
        ("epoch", Box::new(|r| r.epoch = 4611686018427387905)),
        ("missing batch", Box::new(|r| drop(r.train_probs.pop()))),
        (
            "repeated batch",
            Box::new(|r| {
                let b = r.train_probs[0].0;
                r.train_probs[1].0 = b;
            }),
        ),
        (
            "unknown batch",
            Box::new(|r| r.train_probs[0].0 = usize::MAX),
        ),
        (
            "probabilities of the wrong shape",
            Box::new(|r| r.train_probs[0].1.unit = (1 << 62, 1 << 62)),
        ),
        ("no blocks", Box::new(|r| r.val_logits.blocks.clear())),
    ];
    for (what, m) in &mutations {
        let mut bad = r.clone();
        m(&mut bad);
        // Through the file format too (a hostile server computes the checksum).
        let bytes = to_bytes(EpochResult::<MockCiphertext>::KIND, &bad).unwrap();
        let bad: EpochResult<MockCiphertext> =
            from_bytes(EpochResult::<MockCiphertext>::KIND, &bytes).unwrap();
        assert!(client.review_epoch(&bad, &splits).is_err(), "{what}");
        assert_eq!(client.state, ClientState::default(), "{what}");
    }
    let (d, rec) = client.review_epoch(&r, &splits).unwrap();
    assert!(rec.val_loss.is_finite() && rec.val_loss < 3.0);
    server.apply_decision(d).unwrap();

    // Encrypted inference logits.
    let x = client.encrypt_features(&splits.test.features).unwrap();
    let z = server.infer(&x).unwrap();
    let n = splits.test.len();
    for (what, f) in [
        (
            "s1 = 2^62",
            (|z: &mut _| set_unit(z, (0, 1 << 62))) as fn(&mut _),
        ),
        ("rows", |z| z.rows += 1),
        ("columns", |z| z.cols = 1),
    ] {
        let mut bad = z.clone();
        f(&mut bad);
        assert!(client.predictions_for(&bad, n).is_err(), "{what}");
    }
    assert_eq!(client.predictions_for(&z, n).unwrap().len(), n);
    assert!(client.predictions_for(&z, n - 1).is_err());

    // The model: its epoch must be the best one the client judged (case 10), its shape the plan's.
    let model: EncryptedModel<MockCiphertext> = server.final_model();
    let mut bad = model.clone();
    bad.epoch = 4611686018427387904;
    let e = client.decrypt_model(&bad).unwrap_err().to_string();
    assert!(e.contains("epoch"), "{e}");
    let mut bad = model.clone();
    bad.weights.unit.1 = 1 << 62;
    assert!(client.decrypt_model(&bad).is_err());
    let mut bad = model.clone();
    bad.weights.rows = 8;
    assert!(client.decrypt_model(&bad).is_err());
    assert!(client.decrypt_model(&model).is_ok());
}

fn set_unit(z: &mut hetal_nn::protocol::EncMatrix<MockCiphertext>, (a, b): (usize, usize)) {
    if a > 0 {
        z.unit.0 = a;
    }
    z.unit.1 = b;
}

/// Case 2: a plan is checked for consistency (classes vs padded classes vs unit shape, slots)
/// when read back, so a tampered plan is an error rather than a panic or a huge allocation.
#[test]
fn case2_inconsistent_plans_are_rejected() {
    let (splits, cfg) = small();
    let plan = Plan::new(&splits, &cfg, 1024, 64.0, "asoftmax").unwrap();
    plan.validate().unwrap();
    let bad: Vec<(&str, Mutation<Plan>)> = vec![
        ("classes 17", Box::new(|p| p.classes = 17)),
        ("padded 2^20", Box::new(|p| p.padded_classes = 1 << 20)),
        ("slots 2^62", Box::new(|p| p.slots = 1 << 62)),
        ("unit", Box::new(|p| p.unit = (1 << 62, 1 << 62))),
        ("batches", Box::new(|p| p.batch_rows = vec![1 << 40])),
        ("no batches", Box::new(|p| p.batch_rows.clear())),
        ("features", Box::new(|p| p.features = usize::MAX)),
        ("bound", Box::new(|p| p.weight_bound = f64::NAN)),
        ("epochs", Box::new(|p| p.config.epochs = usize::MAX)),
    ];
    for (what, f) in &bad {
        let mut p = plan.clone();
        f(&mut p);
        assert!(p.validate().is_err(), "{what}");
    }
}

fn npy(path: &std::path::Path, descr: &str, shape: &str, data: &[u8]) {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(b"\x93NUMPY\x01\x00").unwrap();
    f.write_all(&(header.len() as u16).to_le_bytes()).unwrap();
    f.write_all(header.as_bytes()).unwrap();
    f.write_all(data).unwrap();
}

/// Case 3: a `.npy` header claiming a huge shape is an error before any allocation.
#[test]
fn case3_npy_headers_claiming_huge_shapes_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.npy");
    for shape in [
        "(1000000000000, 4)",
        "(1000000000, 4)",
        "(4611686018427387904, 4)",
    ] {
        npy(&p, "<f8", shape, &[0u8; 64]);
        let e = read_features_npy(&p).unwrap_err();
        assert!(matches!(e, Error::Npy { .. }), "{e}");
        assert!(e.to_string().contains("more than"), "{e}");
    }
    npy(&p, "<i8", "(1000000000000,)", &[0u8; 64]);
    assert!(read_labels_npy(&p).is_err());
    // A genuine file still reads.
    npy(&p, "<f8", "(2, 2)", &1.5f64.to_le_bytes().repeat(4));
    assert_eq!(read_features_npy(&p).unwrap().dim(), (2, 2));
}

/// Case 4: a label of 1e12 or `classes` of 10^9 is an error at once, not a loop over every class.
#[test]
fn case4_huge_labels_and_class_counts_fail_fast() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("d.csv");
    let mut text = String::new();
    for i in 0..40 {
        text.push_str(&format!("{},0.{i},0.5\n", i % 2));
    }
    text.push_str("1000000000000,0.1,0.2\n");
    std::fs::write(&p, &text).unwrap();
    let t = std::time::Instant::now();
    let e = Splits::load_csv_single(&p, None, 0).unwrap_err();
    assert!(matches!(e, Error::Limit { .. }), "{e}");
    assert!(e.to_string().contains("1000000000000"), "{e}");
    let e = Splits::load_csv_single(&p, Some(1_000_000_000), 0).unwrap_err();
    assert!(matches!(e, Error::Limit { .. }), "{e}");
    assert!(t.elapsed().as_secs() < 5);
    // Many classes within the limit are fast too: one pass over the samples, not one per class.
    std::fs::write(
        &p,
        text.replace("1000000000000", &(MAX_CLASSES - 1).to_string()),
    )
    .unwrap();
    let _ = Splits::load_csv_single(&p, None, 0);
    assert!(t.elapsed().as_secs() < 5);
}

/// Case 5 (the library's part): synthetic data of absurd sizes are errors, not allocations.
#[test]
fn case5_synthetic_sizes_have_limits() {
    for (n, d, c) in [
        (100, 2, 1_000_000_000_000usize),
        (100, 1 << 40, 2),
        (1 << 40, 2, 2),
        (100, 1 << 20, 4096),
    ] {
        assert!(Splits::synthetic(n, d, c, 0).is_err(), "{n} {d} {c}");
    }
}

/// Case 10: a UTF-8 BOM does not drop the first row; `--classes` is respected or rejected for
/// the digits; labels 1e300 and u64::MAX give an error naming them.
#[test]
fn case10_bom_classes_and_extreme_labels() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bom.csv");
    std::fs::write(&p, "\u{feff}1,0.5,0.25\n0,0.1,0.2\n").unwrap();
    let (x, l) = read_csv(&p).unwrap();
    assert_eq!((x.nrows(), l), (2, vec![1.0, 0.0]));
    std::fs::write(&p, "\u{feff}label,a,b\n1,0.5,0.25\n").unwrap();
    assert_eq!(read_csv(&p).unwrap().1, vec![1.0]);

    let digits = Splits::digits(0).unwrap();
    assert!(digits.clone().with_classes(Some(5)).is_err());
    assert_eq!(
        digits.clone().with_classes(Some(12)).unwrap().num_classes,
        12
    );
    assert!(digits.with_classes(Some(1 << 40)).is_err());

    let p = dir.path().join("l.csv");
    for label in ["1e300", "18446744073709551615"] {
        let mut text = String::new();
        for i in 0..20 {
            text.push_str(&format!("{},0.{i}\n", i % 2));
        }
        text.push_str(&format!("{label},0.5\n"));
        std::fs::write(&p, text).unwrap();
        let e = Splits::load_csv_single(&p, None, 0).unwrap_err();
        assert!(matches!(e, Error::Limit { .. }), "{e}");
        assert!(e.to_string().contains("row 20"), "{e}");
    }
    // u64::MAX in a `.npy` label file.
    let nd = dir.path().join("npy");
    std::fs::create_dir(&nd).unwrap();
    for split in ["train", "val", "test"] {
        npy(
            &nd.join(format!("features_{split}.npy")),
            "<f8",
            "(2, 1)",
            &0.5f64.to_le_bytes().repeat(2),
        );
        let mut labels = 1u64.to_le_bytes().to_vec();
        labels.extend_from_slice(&u64::MAX.to_le_bytes());
        npy(
            &nd.join(format!("labels_{split}.npy")),
            "<u8",
            "(2,)",
            &labels,
        );
    }
    let e = Splits::load_npy_dir(&nd, None).unwrap_err();
    assert!(matches!(e, Error::Limit { .. }), "{e}");
}

/// Case 10: the server refuses a checkpoint made under other keys, and a checkpoint or
/// ciphertext file with one flipped bit is an error.
#[test]
fn case10_foreign_checkpoints_and_flipped_bits_are_errors() {
    let (splits, cfg) = small();
    let plan = Plan::new(&splits, &cfg, 1024, 64.0, "asoftmax").unwrap();
    let softmax = LinalgSoftmax::asoftmax();
    let req = plan
        .key_request(
            &softmax
                .required_keys(plan.shape().unwrap(), plan.classes)
                .unwrap(),
            true,
        )
        .unwrap();
    let mut backend = MockClient::new(common::fgb_like(1024), 7);
    let keys = backend.generate_evaluation_keys(&req).unwrap();
    let mut client = hetal_nn::client::Client::new(backend, plan).unwrap();
    let data = client.encrypt_data(&splits).unwrap();
    let mut server = Server::new(
        MockEvaluator::new(keys.clone()),
        Some(Box::new(softmax)),
        &data,
    )
    .unwrap();
    server.run_epoch(&mut |_| {}).unwrap();
    let ckpt = server.checkpoint();
    let ev = || MockEvaluator::new(keys.clone());
    let sm = || Some(Box::new(LinalgSoftmax::asoftmax()) as Box<dyn SoftmaxApprox<MockEvaluator>>);
    assert!(Server::resume(ev(), sm(), &data, &ckpt).is_ok());
    let mut foreign = ckpt.clone();
    foreign.plan.keys_digest = Some([7; 32]);
    let e = Server::resume(ev(), sm(), &data, &foreign)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("other evaluation keys"), "{e}");
    let mut bad = ckpt.clone();
    bad.epochs_done = 4611686018427387905;
    assert!(Server::resume(ev(), sm(), &data, &bad).is_err());

    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("server.ckpt");
    write_message(&p, &ckpt).unwrap();
    let good = std::fs::read(&p).unwrap();
    for i in (0..good.len()).step_by(good.len() / 97 + 1) {
        let mut b = good.clone();
        b[i] ^= 0x10;
        std::fs::write(&p, &b).unwrap();
        assert!(
            read_message::<Checkpoint<MockCiphertext>>(&p).is_err(),
            "byte {i}"
        );
    }
    // The digest detects corruption, not forgery: a resealed change decodes (and the plan check
    // above is what refuses it).
    let mut b = good.clone();
    let n = b.len();
    b[n - 40] ^= 0x01;
    reseal(&mut b).unwrap();
    let _ = from_bytes::<Checkpoint<MockCiphertext>>(Checkpoint::<MockCiphertext>::KIND, &b);
    let d = Decision {
        epoch: 0,
        improved: true,
        stop: false,
    };
    let b = to_bytes(Decision::KIND, &d).unwrap();
    for i in 0..b.len() {
        let mut m = b.clone();
        m[i] ^= 0x80;
        assert!(
            from_bytes::<Decision>(Decision::KIND, &m).is_err(),
            "byte {i}"
        );
    }
}

/// Case 8: private files are created with mode 0600 from the start.
#[cfg(unix)]
#[test]
fn case8_private_files_are_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("secret");
    write_private(&p, "x", &42u32).unwrap();
    let mode = std::fs::metadata(&p).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    hetal_nn::session::save_client_state(&dir.path().join("state"), &ClientState::default())
        .unwrap();
    let mode = std::fs::metadata(dir.path().join("state"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
}

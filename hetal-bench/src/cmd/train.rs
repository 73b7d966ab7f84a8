//! `hetal train`: encrypted softmax-regression training with both roles in one process, and the
//! argument groups and backend setup that `hetal client` and `hetal server` share.

use hetal_nn::client::Client;
use hetal_nn::config::{Optimizer, TrainConfig};
use hetal_nn::data::Splits;
use hetal_nn::plain;
use hetal_nn::protocol::Plan;
use hetal_nn::report::loss_plot_svg;
use hetal_nn::server::{Progress, Server};
use hetal_nn::session::{self, Outcome, RunOptions};
use hetal_nn::softmax::{LinalgSoftmax, SoftmaxApprox};
use hetal_traits::KeyGenerator;
use hetal_traits::counting::Counting;
use hetal_traits::mock::{MockClient, MockEvaluator, MockParams};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A boxed error for the CLI.
pub type CliResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// Where the data come from.
#[derive(clap::Args, Debug, Clone, Serialize, Deserialize)]
pub struct DataArgs {
    /// `digits` (the embedded 8x8 digits), a directory in HETAL's layout
    /// (`features_{train,val,test}.npy`, `labels_{train,val,test}.npy`), one CSV file
    /// (`label,features...`, split 70/10/20), or three CSV files `TRAIN,VAL,TEST`.
    #[arg(long, default_value = "digits")]
    pub data: String,
    /// The number of classes (default: the largest label plus one).
    #[arg(long)]
    pub classes: Option<usize>,
    /// Seed of the train/validation/test split (digits and single CSV files).
    #[arg(long, default_value_t = 0)]
    pub split_seed: u64,
    /// Keep at most this many training samples (quick runs).
    #[arg(long)]
    pub limit_train: Option<usize>,
    /// Keep at most this many validation samples.
    #[arg(long)]
    pub limit_val: Option<usize>,
    /// Keep at most this many test samples.
    #[arg(long)]
    pub limit_test: Option<usize>,
}

impl DataArgs {
    /// Loads and validates the splits.
    pub fn load(&self) -> CliResult<Splits> {
        let d = self.data.as_str();
        let splits = if d == "digits" {
            Splits::digits(self.split_seed)?
        } else if d.contains(',') {
            let parts: Vec<&str> = d.split(',').collect();
            let [tr, va, te] = parts.as_slice() else {
                return Err(format!(
                    "--data with commas needs exactly three CSV files, got {}",
                    parts.len()
                )
                .into());
            };
            Splits::load_csv(Path::new(tr), Path::new(va), Path::new(te), self.classes)?
        } else if Path::new(d).is_dir() {
            Splits::load_npy_dir(Path::new(d), self.classes)?
        } else if Path::new(d).is_file() {
            Splits::load_csv_single(Path::new(d), self.classes, self.split_seed)?
        } else {
            return Err(format!("--data {d:?}: not `digits`, a directory or a file").into());
        };
        let big = usize::MAX;
        Ok(splits.truncated(
            self.limit_train.unwrap_or(big),
            self.limit_val.unwrap_or(big),
            self.limit_test.unwrap_or(big),
        ))
    }
}

/// Hyperparameters.
#[derive(clap::Args, Debug, Clone, Serialize, Deserialize)]
pub struct HyperArgs {
    /// Learning rate.
    #[arg(long, default_value_t = 1.0)]
    pub lr: f64,
    /// Mini-batch size.
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// Maximum number of epochs.
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Early-stopping patience in epochs (0: no early stopping).
    #[arg(long, default_value_t = 3)]
    pub patience: usize,
    /// Optimiser: nesterov (HETAL's, the default) or sgd; with `--method cnntraining` also nag
    /// or nag-qg (HE.CNNtraining's NAG, without and with the quadratic gradient; its default is
    /// nag-qg; for HETAL's method `nag` is an alias of nesterov).
    #[arg(long)]
    pub optimizer: Option<String>,
    /// Seed of the per-epoch batch order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Softmax approximation: asoftmax, asoftmax-precise, asoftmax-original, hong, privgd, gumbel.
    #[arg(long, default_value = "asoftmax")]
    pub softmax: String,
    /// Bound on |weight| (weights are scaled by a power of two into the bootstrapping range).
    #[arg(long, default_value_t = 64.0)]
    pub weight_bound: f64,
}

impl HyperArgs {
    /// The training configuration.
    pub fn config(&self) -> CliResult<TrainConfig> {
        let c = TrainConfig {
            learning_rate: self.lr,
            batch_size: self.batch,
            epochs: self.epochs,
            patience: (self.patience > 0).then_some(self.patience),
            optimizer: Optimizer::parse(self.optimizer.as_deref().unwrap_or("nesterov"))?,
            seed: self.seed,
        };
        c.validate()?;
        Ok(c)
    }
}

/// The backend and its parameters.
#[derive(clap::Args, Debug, Clone, Serialize, Deserialize)]
pub struct BackendArgs {
    /// The HE backend. Only `mock` (exact plaintext arithmetic with CKKS's level, scale and key
    /// rules, optional Gaussian noise) is wired for training yet.
    #[arg(long, default_value = "mock")]
    pub backend: String,
    /// Slot count (a power of two).
    #[arg(long, default_value_t = 4096)]
    pub slots: usize,
    /// Levels of a fresh ciphertext (HEaaN FGb: 12).
    #[arg(long, default_value_t = 12)]
    pub levels: u32,
    /// The lowest level bootstrapping accepts (FGb: 3); it refreshes to `--levels`.
    #[arg(long, default_value_t = 3)]
    pub bootstrap_min_level: u32,
    /// Bootstrapping input range [-B, B] of the mock (values beyond it are scaled down by a
    /// power of two before bootstrapping, one level).
    #[arg(long, default_value_t = 1.0)]
    pub bootstrap_bound: f64,
    /// Standard deviation of the mock's simulated CKKS noise (0: exact).
    #[arg(long, default_value_t = 0.0)]
    pub noise: f64,
    /// Seed of the client's key (mock: its key identity and encryption noise).
    #[arg(long, default_value_t = 7)]
    pub key_seed: u64,
    /// Give the mock the modulus chain of a hetal-ckks preset (e.g. `N16_L12`), so that scales
    /// evolve exactly as with those primes; `--levels` is then the preset's level count.
    #[arg(long)]
    pub chain: Option<String>,
}

impl BackendArgs {
    /// The mock's parameters (an ideal 2^40 chain with bootstrapping).
    pub fn mock_params(&self) -> CliResult<MockParams> {
        if self.backend != "mock" {
            return Err(format!(
                "backend {:?} is not available for training yet (only `mock`; the CKKS backend needs a bootstrappable preset first)",
                self.backend
            )
            .into());
        }
        if !self.slots.is_power_of_two() || self.slots < 16 {
            return Err(format!("--slots {} must be a power of two >= 16", self.slots).into());
        }
        let params = match &self.chain {
            None => MockParams::ideal(self.slots, self.levels, 40.0),
            Some(name) => {
                let lit = hetal_ckks::presets::all()
                    .into_iter()
                    .find(|p| p.name.eq_ignore_ascii_case(name))
                    .ok_or_else(|| format!("unknown preset {name:?} for --chain"))?;
                let ckks = hetal_ckks::CkksParams::new(&lit)?;
                MockParams::from_chain(self.slots, &ckks.q_primes(), lit.log_scale.exp2())
            }
        };
        let top = params.max_level().0;
        Ok(params
            .with_bootstrap(self.bootstrap_min_level.min(top), top, self.bootstrap_bound)
            .with_noise(self.noise))
    }
}

/// The softmax by name, with the plan's keys for it.
pub fn softmax_and_keys(plan: &Plan) -> CliResult<(LinalgSoftmax, hetal_traits::KeyRequest)> {
    let softmax = LinalgSoftmax::by_name(&plan.softmax)?;
    let req = plan.key_request(&softmax.required_keys(plan.shape()?, plan.classes)?, true)?;
    Ok((softmax, req))
}

/// A progress bar over all steps of all epochs (the total is the epoch cap).
pub fn progress_bar(plan: &Plan, hidden: bool) -> ProgressBar {
    let total = (plan.batch_rows.len() * plan.config.epochs) as u64;
    let bar = if hidden {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total)
    };
    if let Ok(style) = ProgressStyle::with_template(
        "{msg:>10} [{elapsed_precise}] {wide_bar} {pos}/{len} steps ({per_sec}, eta {eta})",
    ) {
        bar.set_style(style);
    }
    bar
}

/// Advances a progress bar on training events.
pub fn on_progress(bar: &ProgressBar) -> impl FnMut(Progress) + '_ {
    move |p| match p {
        Progress::Step { epoch, .. } => {
            bar.set_message(format!("epoch {}", epoch + 1));
            bar.inc(1);
        }
        Progress::Validated { .. } => {}
    }
}

/// Arguments of `hetal train`.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    /// Data.
    pub data: DataArgs,
    #[command(flatten)]
    /// Hyperparameters.
    pub hyper: HyperArgs,
    #[command(flatten)]
    /// Backend.
    pub backend: BackendArgs,
    #[command(flatten)]
    /// The training method (HETAL's by default).
    pub method: super::method::MethodArgs,
    /// Checkpoint directory: the state is saved after every epoch, and an existing checkpoint
    /// there is resumed.
    #[arg(long)]
    pub checkpoint_dir: Option<PathBuf>,
    /// Stop after this many epochs in this call, leaving the checkpoint (to test resuming).
    #[arg(long, requires = "checkpoint_dir")]
    pub stop_after_epochs: Option<usize>,
    /// Write an SVG plot of the training and validation loss here.
    #[arg(long)]
    pub svg: Option<PathBuf>,
    /// Write the report (and the plaintext references) as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Skip the plaintext reference runs.
    #[arg(long)]
    pub no_reference: bool,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Runs `hetal train`.
pub fn run(args: &TrainArgs) -> CliResult {
    if let Some(method) = args.method.resolve(args.hyper.optimizer.as_deref())? {
        return super::method::train(args, method);
    }
    let splits = args.data.load()?;
    let cfg = args.hyper.config()?;
    let params = args.backend.mock_params()?;
    let plan = Plan::new(
        &splits,
        &cfg,
        params.slots,
        args.hyper.weight_bound,
        &args.hyper.softmax,
    )?;
    let (softmax, req) = softmax_and_keys(&plan)?;
    println!(
        "data {}: {} train / {} val / {} test, {} features, {} classes (padded to {}); unit shape ({}, {}), {} batches; backend mock, {} slots, softmax {}",
        splits.name,
        splits.train.len(),
        splits.val.len(),
        splits.test.len(),
        plan.features,
        plan.classes,
        plan.padded_classes,
        plan.unit.0,
        plan.unit.1,
        plan.batch_rows.len(),
        plan.slots,
        plan.softmax
    );

    let t = Instant::now();
    let mut backend = MockClient::try_new(params, args.backend.key_seed)?;
    let keys = backend.generate_evaluation_keys(&req)?;
    let mut client = Client::new(backend, plan.clone())?;
    let data = client.encrypt_data(&splits)?;
    let setup_time = t.elapsed();
    let ev = Counting::new(MockEvaluator::try_new(keys)?);
    let mut server = match args
        .checkpoint_dir
        .as_deref()
        .map(session::load_checkpoint)
        .transpose()?
        .flatten()
    {
        Some((ckpt, state)) => {
            println!(
                "resuming after epoch {} from {}",
                ckpt.epochs_done,
                args.checkpoint_dir
                    .as_deref()
                    .unwrap_or(Path::new(""))
                    .display()
            );
            client.state = state;
            Server::resume(ev, Box::new(softmax), &data, &ckpt)?
        }
        None => Server::new(ev, Box::new(softmax), &data)?,
    };
    let bar = progress_bar(&plan, args.quiet);
    bar.set_position(server.stats().steps);
    let opts = RunOptions {
        checkpoint_dir: args.checkpoint_dir.clone(),
        interrupt_after: args.stop_after_epochs,
    };
    let outcome = session::run(
        &mut client,
        &mut server,
        &splits,
        &opts,
        &mut on_progress(&bar),
    )?;
    bar.finish_and_clear();
    let model = match outcome {
        Outcome::Finished(model) => model,
        Outcome::Interrupted { epochs_done } => {
            println!(
                "stopped after epoch {epochs_done} as asked; run again with the same --checkpoint-dir to resume"
            );
            return Ok(());
        }
    };
    let (m, report) = session::report(
        &client,
        &model,
        &splits,
        &format!("{} on the mock backend (encrypted)", splits.name),
    )?;
    println!(
        "key generation and encryption: {:.3} s",
        setup_time.as_secs_f64()
    );
    println!("{report}");
    println!("operations:\n{}", server.evaluator().snapshot());

    // Encrypted inference on the test set: the client encrypts the features, the server computes
    // the logits under the encrypted best model, the client decrypts and takes the arg-max.
    let t = Instant::now();
    let x = client.encrypt_features(&splits.test.features)?;
    let logits = server.infer(&x)?;
    let pred = client.predictions(&logits)?;
    let enc_acc = plain::accuracy(&pred, &splits.test.labels);
    let agree = pred
        .iter()
        .zip(&m.predict(&splits.test.features))
        .filter(|(a, b)| a == b)
        .count();
    println!(
        "encrypted inference: test accuracy {:.2} %, {agree}/{} predictions equal to plaintext inference ({:.3} s)",
        100.0 * enc_acc,
        pred.len(),
        t.elapsed().as_secs_f64()
    );

    let mut json =
        serde_json::json!({ "encrypted": report, "encrypted_inference_accuracy": enc_acc });
    let mut runs = vec![("encrypted", report.history.clone())];
    if !args.no_reference {
        let sm = LinalgSoftmax::by_name(&plan.softmax)?;
        let approx = |z: &ndarray::Array2<f64>, c: usize| {
            SoftmaxApprox::<MockEvaluator>::reference(&sm, z, c)
        };
        let t = Instant::now();
        let same = plain::train(&splits, &cfg, &approx)?;
        let exact = plain::train(&splits, &cfg, &plain::softmax_rows)?;
        let plain_time = t.elapsed();
        let (a_same, a_exact) = (
            same.model.accuracy(&splits.test),
            exact.model.accuracy(&splits.test),
        );
        println!(
            "plaintext reference, same approximation ({}): test accuracy {:.2} %, best epoch {}",
            plan.softmax,
            100.0 * a_same,
            same.best_epoch + 1
        );
        println!(
            "plaintext reference, exact softmax: test accuracy {:.2} %, best epoch {}",
            100.0 * a_exact,
            exact.best_epoch + 1
        );
        println!(
            "encrypted - plaintext (exact softmax): {:+.2} percentage points ({:.2} s for both plaintext runs)",
            100.0 * (report.test_accuracy - a_exact),
            plain_time.as_secs_f64()
        );
        json["plain_same_approximation"] = serde_json::json!({ "test_accuracy": a_same, "best_epoch": same.best_epoch, "history": same.history });
        json["plain_exact_softmax"] = serde_json::json!({ "test_accuracy": a_exact, "best_epoch": exact.best_epoch, "history": exact.history });
        runs.push(("plaintext", exact.history));
    }
    if let Some(p) = &args.svg {
        let r: Vec<(&str, &[plain::EpochRecord])> =
            runs.iter().map(|(n, h)| (*n, h.as_slice())).collect();
        std::fs::write(p, loss_plot_svg(&r, Some(report.best_epoch)))?;
        println!("loss plot: {}", p.display());
    }
    if let Some(p) = &args.json {
        std::fs::write(p, serde_json::to_string_pretty(&json)?)?;
    }
    Ok(())
}

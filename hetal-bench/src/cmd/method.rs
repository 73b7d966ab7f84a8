//! `hetal train --method cnntraining`: the training-method flags, a backend abstraction that the
//! method runners (and `hetal compare`) are generic over, and the runner of one method.
//!
//! HETAL's method (`--method hetal`, the default) keeps its own path in [`super::train`]; every
//! other method (HE.CNNtraining's, or a mix chosen with `--activation`, `--optimizer`,
//! `--layout`) runs on [`hetal_nn::method::MethodServer`] here.

use super::train::{
    Backend as BackendKind, BackendArgs, CliResult, TrainArgs, on_progress, progress_bar,
};
use hetal_ckks::bootstrap::{BootstrapPreset, BootstrappingEvaluator, generate_bootstrap_keys};
use hetal_ckks::{CkksClient, CkksEvaluator, CkksParams};
use hetal_nn::client::Client;
use hetal_nn::config::{Activation, Method, Products, TrainConfig, Update};
use hetal_nn::data::Splits;
use hetal_nn::method::{MethodServer, TrainingServer};
use hetal_nn::plain::{self, PlainRun};
use hetal_nn::protocol::{Checkpoint, Plan};
use hetal_nn::report::{TrainReport, loss_plot_svg};
use hetal_nn::server::Server;
use hetal_nn::session::{self, Outcome, RunOptions};
use hetal_nn::softmax::{LinalgSoftmax, SoftmaxApprox};
use hetal_traits::counting::{Counting, OpCounts};
use hetal_traits::mock::{MockCiphertext, MockClient, MockEvaluator, MockParams};
use hetal_traits::{Decryptor, Encryptor, Evaluator, KeyGenerator, KeyRequest};
use ndarray::Array2;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::{Duration, Instant};

/// The training method and its parts.
#[derive(clap::Args, Debug, Clone)]
pub struct MethodArgs {
    /// Training method: `hetal` (softmax, HETAL's Nesterov, DiagABT/DiagATB) or `cnntraining`
    /// (HE.CNNtraining, Chiang: cubic sigmoid with the SLE loss, NAG with the quadratic
    /// gradient, Volley Revolver). `--activation`, `--optimizer` and `--layout` override the
    /// parts of `cnntraining`.
    #[arg(long, default_value = "hetal")]
    pub method: String,
    /// Activation (with `--method cnntraining`): softmax (the `--softmax` approximation, with
    /// cross-entropy), sigmoid-cubic (Chiang's cubic, SLE loss), sigmoid-cheb (Chebyshev of
    /// degree 7 on [-16, 16], SLE loss) or sigmoid-cheb:RANGE:DEGREE.
    #[arg(long)]
    pub activation: Option<String>,
    /// Layout of both matrix products (with `--method cnntraining`): diag (HETAL's DiagABT and
    /// DiagATB) or volley-revolver.
    #[arg(long)]
    pub layout: Option<String>,
}

impl MethodArgs {
    /// The method, or `None` for HETAL's method on HETAL's server. `optimizer` is the
    /// `--optimizer` flag (sgd, nesterov, nag, nag-qg; default nag-qg for `cnntraining`).
    pub fn resolve(&self, optimizer: Option<&str>) -> CliResult<Option<Method>> {
        let mut m = match self.method.trim().to_ascii_lowercase().as_str() {
            "hetal" => {
                if self.activation.is_some() || self.layout.is_some() {
                    return Err(
                        "--activation and --layout choose the parts of another method than HETAL's: add --method cnntraining"
                            .into(),
                    );
                }
                return Ok(None);
            }
            "cnntraining" | "he-cnntraining" | "chiang" => Method::cnntraining(),
            other => {
                return Err(format!("unknown --method {other:?} (hetal, cnntraining)").into());
            }
        };
        if let Some(a) = &self.activation {
            m.activation = Activation::parse(a)?;
        }
        if let Some(o) = optimizer {
            m.update = Update::parse(o)?;
        }
        if let Some(l) = &self.layout {
            m.products = Products::parse(l)?;
        }
        Ok(Some(m))
    }
}

/// A homomorphic backend for the method runners: its slot count, and key generation giving the
/// client (secret key) and the server's evaluator (evaluation keys only).
pub trait Backend {
    /// The ciphertext type.
    type Ct: hetal_traits::Ciphertext + Serialize + DeserializeOwned + 'static;
    /// The client's backend.
    type Client: Encryptor<Ciphertext = Self::Ct> + Decryptor<Ciphertext = Self::Ct>;
    /// The server's evaluator.
    type Ev: Evaluator<Ciphertext = Self::Ct> + 'static;
    /// A short description for reports.
    fn describe(&self) -> String;
    /// Slot count.
    fn slots(&self) -> usize;
    /// Generates a key pair with the evaluation keys of `req`.
    fn setup(&self, req: &KeyRequest) -> CliResult<(Self::Client, Self::Ev)>;
    /// The level the client encrypts at (`None`: the top level); see `Plan::encrypt_level`.
    fn encrypt_level(&self) -> Option<u32> {
        None
    }
    /// Default batch size and epochs on this backend.
    fn defaults(&self) -> (usize, usize) {
        (128, 10)
    }
}

/// The CKKS backend of `--backend ckks`: a bootstrappable preset, keys from the OS's randomness
/// (or a seed, for tests), an evaluator with its own thread pool.
#[derive(Clone, Debug)]
pub struct CkksBackend {
    /// The preset.
    pub preset: BootstrapPreset,
    /// Its parameters.
    pub params: CkksParams,
    /// Worker threads.
    pub threads: usize,
    /// A key seed (tests only).
    pub key_seed: Option<u64>,
}

impl CkksBackend {
    /// The backend of `args`' preset.
    pub fn new(args: &BackendArgs) -> CliResult<Self> {
        let preset = args.ckks_preset()?;
        let params = CkksParams::new(&preset.params)?;
        let threads = if args.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            args.threads
        };
        Ok(CkksBackend {
            preset,
            params,
            threads,
            key_seed: args.key_seed,
        })
    }
}

impl Backend for CkksBackend {
    type Ct = hetal_ckks::Ciphertext;
    type Client = CkksClient;
    type Ev = BootstrappingEvaluator;

    fn describe(&self) -> String {
        format!(
            "CKKS {} (N = 2^{}, {} slots), {} thread(s)",
            self.preset.params.name, self.preset.params.log_n, self.params.slots, self.threads
        )
    }

    fn slots(&self) -> usize {
        self.params.slots
    }

    fn setup(&self, req: &KeyRequest) -> CliResult<(CkksClient, BootstrappingEvaluator)> {
        let mut client = match self.key_seed {
            Some(seed) => CkksClient::from_seed(self.params.clone(), seed),
            None => CkksClient::new(self.params.clone()),
        };
        let (keys, _) = generate_bootstrap_keys(&mut client, &self.preset.config, req)?;
        let inner = CkksEvaluator::new(self.params.clone(), keys)?.with_threads(self.threads)?;
        let ev = BootstrappingEvaluator::from_evaluator(inner, &self.preset.config)?;
        Ok((client, ev))
    }

    fn encrypt_level(&self) -> Option<u32> {
        Some(super::train::ckks_output_level(&self.preset, &self.params))
    }

    fn defaults(&self) -> (usize, usize) {
        (
            super::train::CKKS_DEFAULT_BATCH,
            super::train::CKKS_DEFAULT_EPOCHS,
        )
    }
}

/// The mock backend of `--backend mock`.
#[derive(Clone, Debug)]
pub struct MockBackend {
    /// Its parameters.
    pub params: MockParams,
    /// The key seed.
    pub key_seed: u64,
}

impl Backend for MockBackend {
    type Ct = MockCiphertext;
    type Client = MockClient;
    type Ev = MockEvaluator;

    fn describe(&self) -> String {
        format!("mock, {} slots", self.params.slots)
    }

    fn slots(&self) -> usize {
        self.params.slots
    }

    fn setup(&self, req: &KeyRequest) -> CliResult<(MockClient, MockEvaluator)> {
        let mut c = MockClient::try_new(self.params.clone(), self.key_seed)?;
        let keys = c.generate_evaluation_keys(req)?;
        Ok((c, MockEvaluator::try_new(keys)?))
    }
}

/// Work to run on whichever backend `--backend` selects.
pub trait BackendJob {
    /// The result.
    type Output;
    /// Runs on `backend`.
    fn run<B: Backend>(self, backend: B) -> CliResult<Self::Output>;
}

/// Runs `job` on the backend of `args` (the same `--backend` values as `hetal train`: the mock
/// or CKKS with bootstrapping; a new backend is one more arm here).
pub fn with_backend<J: BackendJob>(
    args: &BackendArgs,
    default: BackendKind,
    job: J,
) -> CliResult<J::Output> {
    match args.kind_or(default)? {
        BackendKind::Mock => job.run(MockBackend {
            params: args.mock_params()?,
            key_seed: args.mock_key_seed(),
        }),
        BackendKind::Ckks => job.run(CkksBackend::new(args)?),
    }
}

type Boxed<B> = Box<dyn TrainingServer<Ev = Counting<<B as Backend>::Ev>>>;

/// The plan of `method` for `splits` on `slots` slots.
pub fn plan_for(
    splits: &Splits,
    cfg: &TrainConfig,
    method: &Method,
    slots: usize,
    weight_bound: f64,
    softmax: &str,
) -> CliResult<Plan> {
    Ok(Plan::new(splits, cfg, slots, weight_bound, softmax)?.with_method(*method)?)
}

/// [`plan_for`] on `backend`, encrypting at its preferred level.
pub fn plan_on<B: Backend>(
    backend: &B,
    splits: &Splits,
    cfg: &TrainConfig,
    method: &Method,
    weight_bound: f64,
    softmax: &str,
) -> CliResult<Plan> {
    let mut plan = plan_for(splits, cfg, method, backend.slots(), weight_bound, softmax)?;
    plan.encrypt_level = backend.encrypt_level();
    Ok(plan)
}

/// The evaluation keys of a plan (with bootstrapping).
pub fn keys_for(plan: &Plan) -> CliResult<KeyRequest> {
    let softmax = LinalgSoftmax::by_name(&plan.softmax)?;
    let sk = softmax.required_keys(plan.shape()?, plan.classes)?;
    Ok(plan.method_key_request(&sk, true)?)
}

/// The server for a plan's method: HETAL's [`Server`] for HETAL's method, else a
/// [`MethodServer`]; resumed from `ckpt` if given.
fn build_server<B: Backend>(
    ev: Counting<B::Ev>,
    data: &hetal_nn::protocol::EncryptedData<B::Ct>,
    ckpt: Option<&Checkpoint<B::Ct>>,
) -> CliResult<Boxed<B>> {
    let plan = &data.plan;
    let softmax = LinalgSoftmax::by_name(&plan.softmax)?;
    if plan.method.is_hetal() {
        let s = match ckpt {
            Some(c) => Server::resume(ev, Box::new(softmax), data, c)?,
            None => Server::new(ev, Box::new(softmax), data)?,
        };
        return Ok(Box::new(s));
    }
    let sm = (plan.method.activation == Activation::Softmax)
        .then(|| Box::new(softmax) as Box<dyn SoftmaxApprox<Counting<B::Ev>>>);
    let s = match ckpt {
        Some(c) => MethodServer::resume(ev, sm, data, c)?,
        None => MethodServer::new(ev, sm, data)?,
    };
    Ok(Box::new(s))
}

/// The f64 reference of a method: the same training in plaintext with the same approximations
/// (the plan's softmax approximation for a softmax activation).
pub fn reference(splits: &Splits, cfg: &TrainConfig, plan: &Plan) -> CliResult<PlainRun> {
    let sm = LinalgSoftmax::by_name(&plan.softmax)?;
    let approx = |z: &Array2<f64>, c: usize| SoftmaxApprox::<MockEvaluator>::reference(&sm, z, c);
    if plan.method.is_hetal() {
        return Ok(plain::train(splits, cfg, &approx)?);
    }
    Ok(plain::train_method(splits, cfg, &plan.method, &approx)?)
}

/// One finished encrypted run.
pub struct Finished<B: Backend> {
    /// The client (decrypts, evaluates).
    pub client: Client<B::Client>,
    /// The server after training.
    pub server: Boxed<B>,
    /// The decrypted best model.
    pub model: plain::Model,
    /// The report.
    pub report: TrainReport,
    /// Key generation and encryption time.
    pub setup_time: Duration,
    /// Operations of the whole run (training, validation passes).
    pub ops: OpCounts,
}

/// Plans, generates keys, encrypts, and trains `method` on `backend` (both roles in one
/// process). `None` when interrupted by `opts.interrupt_after`.
pub fn train_on<B: Backend>(
    backend: &B,
    splits: &Splits,
    plan: &Plan,
    opts: &RunOptions,
    quiet: bool,
    title: &str,
) -> CliResult<Option<Finished<B>>> {
    let t = Instant::now();
    let (kc, ev) = backend.setup(&keys_for(plan)?)?;
    let mut client = Client::new(kc, plan.clone())?;
    let data = client.encrypt_data(splits)?;
    let setup_time = t.elapsed();
    let ckpt = match &opts.checkpoint_dir {
        Some(dir) => session::load_checkpoint::<B::Ct>(dir)?,
        None => None,
    };
    let resumed = ckpt.is_some();
    let mut server = match ckpt {
        Some((ckpt, state)) => {
            client.state = state;
            build_server::<B>(Counting::new(ev), &data, Some(&ckpt))?
        }
        None => build_server::<B>(Counting::new(ev), &data, None)?,
    };
    if resumed && !quiet {
        println!("resuming after epoch {}", server.epochs_done());
    }
    let bar = progress_bar(plan, quiet);
    bar.set_position(server.stats().steps);
    let outcome = session::run(
        &mut client,
        server.as_mut(),
        splits,
        opts,
        &mut on_progress(&bar),
    )?;
    bar.finish_and_clear();
    let Outcome::Finished(model) = outcome else {
        return Ok(None);
    };
    let (m, report) = session::report(&client, &model, splits, title)?;
    let ops = server.evaluator().snapshot();
    Ok(Some(Finished {
        client,
        server,
        model: m,
        report,
        setup_time,
        ops,
    }))
}

/// `hetal train` with a method other than HETAL's.
pub fn train(args: &TrainArgs, method: Method) -> CliResult {
    struct Job<'a>(&'a TrainArgs, Method);
    impl BackendJob for Job<'_> {
        type Output = ();
        fn run<B: Backend>(self, backend: B) -> CliResult {
            train_with(self.0, self.1, &backend)
        }
    }
    with_backend(&args.backend, BackendKind::Ckks, Job(args, method))
}

fn train_with<B: Backend>(args: &TrainArgs, method: Method, backend: &B) -> CliResult {
    let splits = args.data.load()?;
    let h = &args.hyper;
    let (batch, epochs) = backend.defaults();
    let cfg = TrainConfig {
        learning_rate: h.lr,
        batch_size: h.batch.unwrap_or(batch),
        epochs: h.epochs.unwrap_or(epochs),
        patience: (h.patience > 0).then_some(h.patience),
        optimizer: method.update.optimizer(),
        seed: h.seed,
    };
    cfg.validate()?;
    let plan = plan_on(backend, &splits, &cfg, &method, h.weight_bound, &h.softmax)?;
    println!(
        "data {}: {} train / {} val / {} test, {} features, {} classes (padded to {}); unit shape ({}, {}), {} batches; backend {}; method {}{}",
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
        backend.describe(),
        method.describe(),
        if method.activation == Activation::Softmax {
            format!(" (softmax {})", plan.softmax)
        } else {
            String::new()
        }
    );
    let opts = RunOptions {
        checkpoint_dir: args.checkpoint_dir.clone(),
        interrupt_after: args.stop_after_epochs,
    };
    let title = format!(
        "{} on {} (encrypted), method {}",
        splits.name,
        backend.describe(),
        method.describe()
    );
    let Some(mut run) = train_on(backend, &splits, &plan, &opts, args.quiet, &title)? else {
        println!("stopped as asked; run again with the same --checkpoint-dir to resume");
        return Ok(());
    };
    println!(
        "key generation and encryption: {:.3} s",
        run.setup_time.as_secs_f64()
    );
    println!("{}", run.report);
    if method.activation.is_sigmoid() {
        println!(
            "(losses are the squared-likelihood loss, SLE: the negative mean per-sample log-likelihood of the per-class sigmoids)"
        );
    }
    println!("operations:\n{}", run.ops);

    let t = Instant::now();
    let x = run.client.encrypt_features(&splits.test.features)?;
    let logits = run.server.infer(&x)?;
    let pred = run.client.predictions(&logits)?;
    let enc_acc = plain::accuracy(&pred, &splits.test.labels);
    let agree = pred
        .iter()
        .zip(&run.model.predict(&splits.test.features))
        .filter(|(a, b)| a == b)
        .count();
    println!(
        "encrypted inference: test accuracy {:.2} %, {agree}/{} predictions equal to plaintext inference ({:.3} s)",
        100.0 * enc_acc,
        pred.len(),
        t.elapsed().as_secs_f64()
    );

    let mut json = serde_json::json!({
        "method": method,
        "encrypted": run.report,
        "encrypted_inference_accuracy": enc_acc,
    });
    let mut runs = vec![("encrypted", run.report.history.clone())];
    if !args.no_reference {
        let r = reference(&splits, &cfg, &plan)?;
        let acc = r.model.accuracy(&splits.test);
        let diff = r
            .model
            .weights
            .iter()
            .zip(&run.model.weights)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        println!(
            "plaintext f64 reference (same approximations): test accuracy {:.2} %, best epoch {}, max |weight difference| {diff:.3e}",
            100.0 * acc,
            r.best_epoch + 1
        );
        json["plain_same_approximation"] = serde_json::json!({ "test_accuracy": acc, "best_epoch": r.best_epoch, "history": r.history, "max_weight_difference": diff });
        runs.push(("plaintext", r.history));
    }
    if let Some(p) = &args.svg {
        let r: Vec<(&str, &[plain::EpochRecord])> =
            runs.iter().map(|(n, h)| (*n, h.as_slice())).collect();
        std::fs::write(p, loss_plot_svg(&r, Some(run.report.best_epoch)))?;
        println!("loss plot: {}", p.display());
    }
    if let Some(p) = &args.json {
        std::fs::write(p, serde_json::to_string_pretty(&json)?)?;
    }
    Ok(())
}

//! The training-method flags (`--method`, `--activation`, `--layout`), and a backend abstraction
//! that `hetal compare` is generic over. Every method trains through the same library driver,
//! [`session::train_in_process`], on the same [`hetal_nn::server::Server`].

use super::train::{Backend as BackendKind, BackendArgs, CliResult, on_progress, progress_bar};
use hetal_ckks::bootstrap::{BootstrapPreset, BootstrappingEvaluator, generate_bootstrap_keys};
use hetal_ckks::{CkksClient, CkksEvaluator, CkksParams};
use hetal_nn::config::{Method, TrainConfig};
use hetal_nn::data::Splits;
use hetal_nn::plain::{self, PlainRun};
use hetal_nn::protocol::Plan;
use hetal_nn::report::TrainReport;
use hetal_nn::server::TrainingServer;
use hetal_nn::session::{self, RunOptions};
use hetal_nn::softmax::{LinalgSoftmax, SoftmaxApprox};
use hetal_traits::counting::{Counting, OpCounts};
use hetal_traits::mock::{MockCiphertext, MockClient, MockEvaluator, MockParams};
use hetal_traits::{Decryptor, Encryptor, Evaluator, KeyGenerator, KeyRequest};
use ndarray::Array2;
use serde::Serialize;
use serde::de::DeserializeOwned;

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

/// The f64 reference of a method: the same training in plaintext with the same approximations
/// (the plan's softmax approximation for a softmax activation).
pub fn reference(splits: &Splits, cfg: &TrainConfig, plan: &Plan) -> CliResult<PlainRun> {
    let sm = LinalgSoftmax::by_name(&plan.softmax)?;
    let approx = |z: &Array2<f64>, c: usize| SoftmaxApprox::<MockEvaluator>::reference(&sm, z, c);
    Ok(plain::train(splits, cfg, &plan.method, &approx)?)
}

/// One finished encrypted run.
pub struct Finished {
    /// The decrypted best model.
    pub model: plain::Model,
    /// The report.
    pub report: TrainReport,
    /// Operations of the whole run (training, validation passes).
    pub ops: OpCounts,
}

/// Plans, generates keys, encrypts, and trains `plan`'s method on `backend` (both roles in one
/// process, [`session::train_in_process`]). `None` when interrupted by `opts.interrupt_after`.
pub fn train_on<B: Backend>(
    backend: &B,
    splits: &Splits,
    plan: &Plan,
    opts: &RunOptions,
    quiet: bool,
    title: &str,
) -> CliResult<Option<Finished>> {
    let (kc, ev) = backend.setup(&plan.evaluation_keys(true)?)?;
    let bar = progress_bar(plan, quiet);
    let run = session::train_in_process(
        kc,
        Counting::new(ev),
        splits,
        plan,
        opts,
        title,
        &mut on_progress(&bar),
    )?;
    bar.finish_and_clear();
    Ok(match run {
        session::InProcessOutcome::Finished(r) => Some(Finished {
            ops: r.server.evaluator().snapshot(),
            model: r.model,
            report: r.report,
        }),
        session::InProcessOutcome::Interrupted { .. } => None,
    })
}

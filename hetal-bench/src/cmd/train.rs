//! `hetal train`: encrypted softmax-regression training with both roles in one process, and the
//! argument groups and backend setup that `hetal client` and `hetal server` share.

use hetal_ckks::bootstrap::{
    BootstrapConfig, BootstrapPreset, BootstrappingEvaluator, default_memory_budget,
    estimate_memory, generate_bootstrap_keys,
};
use hetal_ckks::{CkksClient, CkksEvaluator, CkksParams};
use hetal_nn::config::{
    Activation, CompactionMode, Method, Optimizer, Products, TrainConfig, Update,
};
use hetal_nn::data::Splits;
use hetal_nn::plain;
use hetal_nn::protocol::Plan;
use hetal_nn::report::TrainReport;
use hetal_nn::report::loss_plot_svg;
use hetal_nn::scaling::FeatureScaling;
use hetal_nn::server::{Progress, TrainingServer};
use hetal_nn::session::{self, InferenceCheck, RunOptions};
use hetal_nn::softmax::{LinalgSoftmax, SoftmaxApprox};
use hetal_traits::counting::{Counting, OpCounts, OpKind};
use hetal_traits::mock::{MockClient, MockEvaluator, MockParams};
use hetal_traits::{Complex64, Decryptor, Encoder, Encryptor, Evaluator, KeyGenerator, RotStep};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A boxed error for the CLI.
pub type CliResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// Where the data come from.
#[derive(clap::Args, Debug, Clone, Serialize, Deserialize)]
pub struct DataArgs {
    /// `digits` (the embedded 8x8 digits), `synthetic:N:D:C` (N samples of D features in C
    /// clusters, e.g. HETAL-shaped `synthetic:1600:768:10`), a directory in HETAL's layout
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
    /// The client's feature scaling before encryption: `standard` (per-feature standardisation
    /// on the training rows, then a common factor giving a mean squared row norm of 64, so one
    /// learning rate serves any feature count and scale) or `none` (the features as loaded).
    #[arg(long, default_value = "standard")]
    #[serde(default = "default_scaling")]
    pub scaling: String,
}

fn default_scaling() -> String {
    // Sessions written before the option existed trained on unscaled features.
    "none".into()
}

impl DataArgs {
    /// Loads and validates the splits.
    pub fn load(&self) -> CliResult<Splits> {
        let d = self.data.as_str();
        let splits = if d == "digits" {
            Splits::digits(self.split_seed)?.with_classes(self.classes)?
        } else if let Some(spec) = d.strip_prefix("synthetic:") {
            let v: Vec<usize> = spec
                .split(':')
                .map(|x| x.parse::<usize>())
                .collect::<Result<_, _>>()
                .map_err(|e| format!("--data synthetic:N:D:C: {e}"))?;
            let [n, f, c] = v.as_slice() else {
                return Err(
                    "--data synthetic:N:D:C needs three numbers (samples, features, classes)"
                        .into(),
                );
            };
            Splits::synthetic(*n, *f, *c, self.split_seed)?.with_classes(self.classes)?
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
        let splits = splits.truncated(
            self.limit_train.unwrap_or(big),
            self.limit_val.unwrap_or(big),
            self.limit_test.unwrap_or(big),
        );
        Ok(FeatureScaling::parse(&self.scaling)?.apply(&splits)?)
    }
}

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

/// Hyperparameters.
#[derive(clap::Args, Debug, Clone, Serialize, Deserialize)]
pub struct HyperArgs {
    /// Learning rate (default: 1 on the mock and for HE.CNNtraining's method; 4 for HETAL's
    /// method on CKKS, whose default steps are full-batch Nesterov steps on standardised
    /// features, see `--scaling`).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Mini-batch size (default: 128 on the mock; on CKKS the whole training set up to 2048 rows,
    /// so that one ciphertext holds all logits of a step and the softmax runs once per step).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Maximum number of epochs (default: 10 on the mock, 6 on CKKS).
    #[arg(long)]
    pub epochs: Option<usize>,
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
    /// Softmax approximation: normalize-square (normalize-and-square, 44 levels, about 6
    /// bootstraps per block at 9 levels per bootstrap; the default), normalize-square-b64/-b32/-b16
    /// (only for logits proven within that bound), asoftmax (tuned ASoftmax, 68 levels),
    /// asoftmax-hetal (HETAL's exact configuration), asoftmax-windowed, asoftmax-precise,
    /// asoftmax-hetal-precise, asoftmax-original, hong, privgd, gumbel.
    #[arg(long, default_value = "normalize-square")]
    pub softmax: String,
    /// Bound on |weight| (weights are scaled by a power of two into the bootstrapping range).
    #[arg(long, default_value_t = 64.0)]
    pub weight_bound: f64,
    /// Compaction of the logits before the softmax: auto (when it pays: fewer ciphertexts for
    /// the softmax, or part-full blocks and a backend with sparse bootstrapping; the default),
    /// on (whenever the blocks use fewer than all their columns), off. See docs/training.md.
    #[arg(long, default_value = "auto")]
    #[serde(default = "default_compaction")]
    pub compaction: String,
}

fn default_compaction() -> String {
    "auto".into()
}

/// Defaults of the CKKS training run: full-batch steps (HETAL's unit shape then puts all logits
/// of a step in one ciphertext), as many epochs as fit in 30 minutes on 2 cores, and a learning
/// rate for full-batch Nesterov steps on standardised features (on the digits: 95.8 % test
/// accuracy after 6 steps on the mock, 96.1 % after 10).
pub const CKKS_DEFAULT_BATCH: usize = 2048;
/// See [`CKKS_DEFAULT_BATCH`].
pub const CKKS_DEFAULT_EPOCHS: usize = 6;
/// See [`CKKS_DEFAULT_BATCH`].
pub const CKKS_DEFAULT_LR: f64 = 4.0;

impl HyperArgs {
    /// The `--compaction` mode.
    pub fn compaction_mode(&self) -> CliResult<CompactionMode> {
        Ok(CompactionMode::parse(&self.compaction)?)
    }

    /// `plan` with the `--compaction` decision for the mock: `auto` decides without sparse
    /// bootstrapping (compaction only where it reduces the ciphertexts of the softmax), so the
    /// mock's default plans are those of [`Plan::new`].
    pub fn with_compaction(&self, plan: Plan) -> CliResult<Plan> {
        Ok(plan.with_compaction(self.compaction_mode()?, false)?)
    }

    /// `plan` with the `--compaction` decision for CKKS, whose sparse bootstrap of a compacted
    /// ciphertext is cheaper than the full one (0.6-0.9x at `boot-n16`, docs/training.md) but
    /// needs its own keys: `auto` compacts where that reduces the softmax's ciphertexts, and
    /// also, with sparse bootstrapping, where the larger key set (`estimate_memory`) fits the
    /// memory budget of `config`. Returns the plan and a sentence on the decision.
    pub fn with_ckks_compaction(
        &self,
        plan: Plan,
        params: &CkksParams,
        config: &BootstrapConfig,
    ) -> CliResult<(Plan, String)> {
        let mode = self.compaction_mode()?;
        if mode != CompactionMode::Auto {
            return Ok((
                plan.with_compaction(mode, true)?,
                format!("--compaction {}", mode.name()),
            ));
        }
        let without = plan.clone().with_compaction(CompactionMode::Auto, false)?;
        if without.compaction {
            return Ok((without, "auto: fewer ciphertexts for the softmax".into()));
        }
        let sparse = plan.with_compaction(CompactionMode::Auto, true)?;
        if !sparse.compaction {
            return Ok((without, "auto: the logits' blocks are already dense".into()));
        }
        let est = estimate_memory(params, config, &sparse.evaluation_keys(true)?)?;
        let budget = config
            .memory_budget_bytes
            .unwrap_or_else(default_memory_budget);
        let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
        if est.total_bytes() <= budget {
            Ok((
                sparse,
                format!(
                    "auto: sparse bootstraps of the compacted logits; the key set with their keys, {:.2} GiB, fits the budget of {:.2} GiB",
                    gib(est.total_bytes()),
                    gib(budget)
                ),
            ))
        } else {
            Ok((
                without,
                format!(
                    "auto: compaction would pay with sparse bootstraps, but their key set, {:.2} GiB, exceeds the budget of {:.2} GiB (--memory-budget-gib)",
                    gib(est.total_bytes()),
                    gib(budget)
                ),
            ))
        }
    }

    /// The training configuration with the defaults of `backend`.
    pub fn config_for(&self, backend: Backend) -> CliResult<TrainConfig> {
        match backend {
            Backend::Mock => self.config_with(128, 10, 1.0),
            Backend::Ckks => {
                self.config_with(CKKS_DEFAULT_BATCH, CKKS_DEFAULT_EPOCHS, CKKS_DEFAULT_LR)
            }
        }
    }

    fn config_with(&self, batch: usize, epochs: usize, lr: f64) -> CliResult<TrainConfig> {
        let c = TrainConfig {
            learning_rate: self.lr.unwrap_or(lr),
            batch_size: self.batch.unwrap_or(batch),
            epochs: self.epochs.unwrap_or(epochs),
            patience: (self.patience > 0).then_some(self.patience),
            optimizer: Optimizer::parse(self.optimizer.as_deref().unwrap_or("nesterov"))?,
            seed: self.seed,
        };
        c.validate()?;
        Ok(c)
    }

    /// The configuration and the training method of `method` on `backend`: HETAL's method with
    /// [`HyperArgs::config_for`], or the method's own update deciding the optimiser.
    pub fn config_and_method(
        &self,
        method: &MethodArgs,
        backend: Backend,
    ) -> CliResult<(TrainConfig, Method)> {
        Ok(match method.resolve(self.optimizer.as_deref())? {
            Some(m) => {
                let cfg = HyperArgs {
                    optimizer: None,
                    ..self.clone()
                }
                .config_for(backend)?;
                let cfg = TrainConfig {
                    optimizer: m.update.optimizer(),
                    learning_rate: self.lr.unwrap_or(1.0),
                    ..cfg
                };
                cfg.validate()?;
                (cfg, m)
            }
            None => {
                let cfg = self.config_for(backend)?;
                let m = Method::hetal(cfg.optimizer);
                (cfg, m)
            }
        })
    }
}

/// The HE backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Backend {
    /// The plaintext mock (exact arithmetic with CKKS's level, scale and key rules).
    Mock,
    /// hetal-ckks with bootstrapping.
    Ckks,
}

/// The backend and its parameters.
#[derive(clap::Args, Debug, Clone, Serialize, Deserialize)]
pub struct BackendArgs {
    /// The HE backend: `ckks` (hetal-ckks with bootstrapping; the default of `hetal train`) or
    /// `mock` (exact plaintext arithmetic with CKKS's level, scale and key rules, optional
    /// Gaussian noise; the default of the two-process commands).
    #[arg(long)]
    pub backend: Option<String>,
    /// CKKS: the bootstrappable preset, `boot-n16` (N = 2^16, 32768 slots, 9 levels after each
    /// bootstrap, scale 2^40), `boot-n16-dense` (the same with a dense secret, about 4 bits less
    /// precise), `boot-n16-deep` (14 levels per bootstrap at scale 2^36: fewer bootstraps, less precise, about 1.5x the key memory) or the insecure test preset `insecure-boot-n12-l9` (N = 2^12).
    #[arg(long)]
    pub preset: Option<String>,
    /// CKKS: worker threads (0: all cores; at most 1024).
    #[arg(long, default_value_t = 0, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=1024))]
    pub threads: usize,
    /// Mock: slot count (a power of two; default 4096).
    #[arg(long)]
    pub slots: Option<usize>,
    /// Mock: levels of a fresh ciphertext (HEaaN FGb: 12).
    #[arg(long, default_value_t = 12)]
    pub levels: u32,
    /// Mock: the lowest level bootstrapping accepts (FGb: 3); it refreshes to `--levels`.
    #[arg(long, default_value_t = 3)]
    pub bootstrap_min_level: u32,
    /// Mock: bootstrapping input range [-B, B] (values beyond it are scaled down by a power of
    /// two before bootstrapping, one level).
    #[arg(long, default_value_t = 1.0)]
    pub bootstrap_bound: f64,
    /// Mock: standard deviation of the simulated CKKS noise (0: exact).
    #[arg(long, default_value_t = 0.0)]
    pub noise: f64,
    /// Seed of the client's key. Mock: its key identity and encryption noise (default 7). CKKS:
    /// a seeded (reproducible, for tests only) secret key and encryption randomness; without it
    /// the operating system's randomness is used.
    #[arg(long)]
    pub key_seed: Option<u64>,
    /// Mock: the modulus chain of a hetal-ckks preset (e.g. `N16_L12`), so that scales evolve
    /// exactly as with those primes; `--levels` is then the preset's level count.
    #[arg(long)]
    pub chain: Option<String>,
    /// CKKS: the memory (GiB) the bootstrapping key set, its encoded DFT matrices and the
    /// working memory may take; key generation refuses with an error above it (default: 80% of
    /// the memory available when the keys are generated).
    #[arg(long, value_parser = parse_budget_gib)]
    pub memory_budget_gib: Option<f64>,
}

/// `--memory-budget-gib`: a positive number of GiB, at most 4096.
fn parse_budget_gib(s: &str) -> Result<f64, String> {
    let g: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of GiB"))?;
    if g.is_finite() && g > 0.0 && g <= 4096.0 {
        Ok(g)
    } else {
        Err(format!(
            "the memory budget must be in (0, 4096] GiB, not {s}"
        ))
    }
}

impl BackendArgs {
    /// The preset's bootstrapping configuration with `--memory-budget-gib` applied.
    pub fn bootstrap_config(&self, preset: &BootstrapPreset) -> BootstrapConfig {
        let mut c = preset.config.clone();
        if let Some(g) = self.memory_budget_gib {
            c.memory_budget_bytes = Some((g * (1u64 << 30) as f64) as u64);
        }
        c
    }
}

/// The level a bootstrappable preset's bootstrap outputs: the top level minus the circuit's depth.
pub fn ckks_output_level(preset: &BootstrapPreset, params: &CkksParams) -> u32 {
    (params.max_level() as u32).saturating_sub(preset.config.circuit.depth())
}

/// A bootstrappable CKKS preset of hetal-ckks's registry by name (`hetal presets` lists them).
pub fn ckks_preset_by_name(name: &str) -> CliResult<BootstrapPreset> {
    Ok(hetal_ckks::presets::bootstrappable(name)?)
}

impl BackendArgs {
    /// The backend, `default` if none was named.
    pub fn kind_or(&self, default: Backend) -> CliResult<Backend> {
        match self
            .backend
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None => Ok(default),
            Some("mock") => Ok(Backend::Mock),
            Some("ckks") => Ok(Backend::Ckks),
            Some(other) => Err(format!("unknown backend {other:?} (ckks, mock)").into()),
        }
    }

    /// The CKKS bootstrappable preset (`--preset`, default `boot-n16`).
    pub fn ckks_preset(&self) -> CliResult<BootstrapPreset> {
        if self.slots.is_some() || self.chain.is_some() {
            return Err("--slots and --chain are for the mock; a CKKS preset fixes its slot count and chain".into());
        }
        ckks_preset_by_name(self.preset.as_deref().unwrap_or("boot-n16"))
    }

    /// The mock's parameters (an ideal 2^40 chain with bootstrapping).
    pub fn mock_params(&self) -> CliResult<MockParams> {
        if self.kind_or(Backend::Mock)? != Backend::Mock {
            return Err(format!(
                "backend {:?} is not available for the two-process commands yet (only `mock`; `hetal train` runs on CKKS)",
                self.backend.as_deref().unwrap_or_default()
            )
            .into());
        }
        if self.preset.is_some() {
            return Err("--preset is for the CKKS backend".into());
        }
        let slots = self.slots.unwrap_or(4096);
        let max = hetal_nn::protocol::MAX_SLOTS;
        if !slots.is_power_of_two() || !(16..=max).contains(&slots) {
            return Err(format!("--slots {slots} must be a power of two in 16..={max}").into());
        }
        if !(self.bootstrap_bound.is_finite() && self.bootstrap_bound > 0.0) {
            return Err(format!(
                "--bootstrap-bound {} must be finite and positive",
                self.bootstrap_bound
            )
            .into());
        }
        let params = match &self.chain {
            None => MockParams::ideal(slots, self.levels, 40.0),
            Some(name) => {
                let lit = hetal_ckks::presets::by_name(name)?.literal()?;
                let ckks = hetal_ckks::CkksParams::new(&lit)?;
                MockParams::from_chain(slots, &ckks.q_primes(), lit.log_scale.exp2())
            }
        };
        let top = params.max_level().0;
        Ok(params
            .with_bootstrap(self.bootstrap_min_level.min(top), top, self.bootstrap_bound)
            .with_noise(self.noise))
    }

    /// The mock's key seed.
    pub fn mock_key_seed(&self) -> u64 {
        self.key_seed.unwrap_or(7)
    }
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
        Progress::Resumed { epochs_done } => {
            bar.suspend(|| println!("resuming after epoch {epochs_done}"));
        }
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
    pub method: MethodArgs,
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
    let backend = args.backend.kind_or(Backend::Ckks)?;
    let splits = args.data.load()?;
    let (cfg, method) = args.hyper.config_and_method(&args.method, backend)?;
    match backend {
        Backend::Mock => run_mock(args, &splits, &cfg, method),
        Backend::Ckks => run_ckks(args, &splits, &cfg, method),
    }
}

fn describe(splits: &Splits, plan: &Plan, backend: &str) {
    let activation = if plan.method.activation == Activation::Softmax {
        format!(", softmax {}", plan.softmax)
    } else {
        String::new()
    };
    println!(
        "data {}: {} train / {} val / {} test, {} features, {} classes (padded to {}); unit shape ({}, {}), {} batches of up to {} rows, {} epochs; backend {backend}, {} slots; method {}{activation}; compaction {}",
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
        plan.config.batch_size,
        plan.config.epochs,
        plan.slots,
        plan.method.describe(),
        plan.describe_compaction()
    );
}

fn run_mock(args: &TrainArgs, splits: &Splits, cfg: &TrainConfig, method: Method) -> CliResult {
    let params = args.backend.mock_params()?;
    let plan = Plan::new(
        splits,
        cfg,
        params.slots,
        args.hyper.weight_bound,
        &args.hyper.softmax,
    )?
    .with_method(method)?;
    let plan = args.hyper.with_compaction(plan)?;
    let req = plan.evaluation_keys(true)?;
    describe(splits, &plan, "mock");
    let t = Instant::now();
    let mut backend = MockClient::try_new(params, args.backend.mock_key_seed())?;
    let keys = backend.generate_evaluation_keys(&req)?;
    let ev = MockEvaluator::try_new(keys)?;
    let setup = t.elapsed();
    let opts = TrainOptions {
        label: "the mock backend",
        checkpoint_dir: args.checkpoint_dir.clone(),
        stop_after_epochs: args.stop_after_epochs,
        quiet: args.quiet,
    };
    let Some(done) = train_roles(splits, &plan, backend, ev, &opts)? else {
        return Ok(());
    };
    done.print(setup);
    finish(args, splits, cfg, &plan, &done, None)
}

fn run_ckks(args: &TrainArgs, splits: &Splits, cfg: &TrainConfig, method: Method) -> CliResult {
    let preset = args.backend.ckks_preset()?;
    let params = CkksParams::new(&preset.params)?;
    let plan = Plan::new(
        splits,
        cfg,
        params.slots,
        args.hyper.weight_bound,
        &args.hyper.softmax,
    )?
    .with_method(method)?;
    let config = args.backend.bootstrap_config(&preset);
    let (plan, compaction) = args.hyper.with_ckks_compaction(plan, &params, &config)?;
    let req = plan.evaluation_keys(true)?;
    let threads = if args.backend.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        args.backend.threads
    };
    describe(
        splits,
        &plan,
        &format!(
            "CKKS {} (N = 2^{}, log QP {:.0}, {:?}), {threads} thread(s)",
            preset.params.name,
            preset.params.log_n,
            params.log_qp(),
            preset.params.security
        ),
    );
    println!("compaction: {compaction}");
    let est = estimate_memory(&params, &config, &req)?;
    println!(
        "bootstrapping key set: {} keys, estimated {:.2} GiB in all (keys, encoded DFT matrices, working memory)",
        est.keys,
        est.total_bytes() as f64 / (1u64 << 30) as f64
    );
    // The global pool serves the client's work (key generation, encryption); the evaluator has
    // its own pool of the same size. Fails only if a global pool exists already, which is fine.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global();
    {
        let t = Instant::now();
        let mut client = match args.backend.key_seed {
            Some(seed) => CkksClient::from_seed(params.clone(), seed),
            None => CkksClient::new(params.clone()),
        };
        let (keys, _) = generate_bootstrap_keys(&mut client, &config, &req)?;
        let inner = CkksEvaluator::new(params.clone(), keys)?.with_threads(threads)?;
        let ev = BootstrappingEvaluator::from_evaluator(inner, &config)?;
        let setup = t.elapsed();
        println!("key generation: {:.1} s", setup.as_secs_f64());
        let info = ev
            .bootstrap_info()
            .ok_or("the CKKS evaluator cannot bootstrap")?;
        if info.output_level.0 != ckks_output_level(&preset, &params) {
            return Err(format!(
                "the bootstrap outputs level {}, {} was expected",
                info.output_level.0,
                ckks_output_level(&preset, &params)
            )
            .into());
        }
        let mut plan = plan;
        plan.encrypt_level = Some(info.output_level.0);

        // The same training on the mock with the same modulus chain and bootstrapping levels:
        // the reference accuracy, and the operation counts the time estimate is built from.
        let mock_params = MockParams::from_chain(
            params.slots,
            &params.q_primes(),
            preset.params.log_scale.exp2(),
        )
        .with_bootstrap(
            info.min_input_level.0,
            info.output_level.0,
            info.input_bound,
        );
        let t = Instant::now();
        let mut mock_client = MockClient::try_new(mock_params, 7)?;
        let mock_keys = mock_client.generate_evaluation_keys(&req)?;
        let mock_ev = MockEvaluator::try_new(mock_keys)?;
        let reference = train_roles(
            splits,
            &plan,
            mock_client,
            mock_ev,
            &TrainOptions {
                label: "the mock backend (same chain)",
                checkpoint_dir: None,
                stop_after_epochs: None,
                quiet: true,
            },
        )?
        .ok_or("the mock reference run was interrupted")?;
        println!(
            "the same training on the mock: test accuracy {:.2} %, {} steps, {} ({:.1} s)",
            100.0 * reference.report.test_accuracy,
            reference.report.steps,
            describe_bootstraps(&reference.ops),
            t.elapsed().as_secs_f64()
        );
        let costs = OpCosts::measure(&ev, &mut client)?;
        println!("{costs}");
        let estimate = costs.estimate(&reference.ops);
        println!(
            "estimated CKKS training time: {:.0} s ({:.1} min) for at most {} steps; starting",
            estimate,
            estimate / 60.0,
            reference.report.steps
        );

        let opts = TrainOptions {
            label: "CKKS",
            checkpoint_dir: args.checkpoint_dir.clone(),
            stop_after_epochs: args.stop_after_epochs,
            quiet: args.quiet,
        };
        let Some(done) = train_roles(splits, &plan, client, ev, &opts)? else {
            return Ok(());
        };
        done.print(setup);
        println!(
            "estimated {:.0} s, measured {:.0} s (training and validation, server side)",
            estimate,
            done.report.train_time.as_secs_f64()
        );
        finish(args, splits, cfg, &plan, &done, Some(&reference))
    }
}

/// What [`train_roles`] needs besides the roles.
struct TrainOptions {
    label: &'static str,
    checkpoint_dir: Option<PathBuf>,
    stop_after_epochs: Option<usize>,
    quiet: bool,
}

/// A finished run: the decrypted model, its report, the operation counts and encrypted inference.
struct Trained {
    model: plain::Model,
    report: TrainReport,
    ops: OpCounts,
    inference: InferenceCheck,
}

impl Trained {
    fn print(&self, setup: std::time::Duration) {
        println!(
            "key generation and encryption: {:.3} s",
            setup.as_secs_f64()
        );
        println!("{}", self.report);
        let steps = self.report.steps.max(1) as f64;
        println!(
            "bootstraps, all (including those inside the softmax): {} ({:.2} per step; outside the softmax {})",
            describe_bootstraps(&self.ops),
            self.ops.bootstraps() as f64 / steps,
            self.report.bootstraps
        );
        println!("operations:\n{}", self.ops);
        println!(
            "encrypted inference: test accuracy {:.2} %, {}/{} predictions equal to plaintext inference ({:.3} s)",
            100.0 * self.inference.accuracy,
            self.inference.agree,
            self.inference.total,
            self.inference.seconds
        );
    }
}

/// Runs both roles in one process: the client encrypts, the server trains (resuming from a
/// checkpoint if there is one), the client judges every epoch and decrypts the model, then an
/// encrypted inference on the test set. `None` if the run was interrupted as asked.
fn train_roles<K, E>(
    splits: &Splits,
    plan: &Plan,
    backend: K,
    ev: E,
    opts: &TrainOptions,
) -> CliResult<Option<Trained>>
where
    E: Evaluator,
    E::Ciphertext: Serialize + serde::de::DeserializeOwned,
    K: Encryptor<Ciphertext = E::Ciphertext> + Decryptor<Ciphertext = E::Ciphertext>,
{
    let bar = progress_bar(plan, opts.quiet);
    let run_opts = RunOptions {
        checkpoint_dir: opts.checkpoint_dir.clone(),
        interrupt_after: opts.stop_after_epochs,
    };
    let title = format!("{} on {} (encrypted)", splits.name, opts.label);
    let done = session::train_in_process(
        backend,
        Counting::new(ev),
        splits,
        plan,
        &run_opts,
        &title,
        &mut on_progress(&bar),
    )?;
    bar.finish_and_clear();
    let mut done = match done {
        session::InProcessOutcome::Finished(run) => *run,
        session::InProcessOutcome::Interrupted { epochs_done } => {
            println!(
                "stopped after epoch {epochs_done} as asked; run again with the same --checkpoint-dir to resume"
            );
            return Ok(None);
        }
    };
    let ops = done.server.evaluator().snapshot();
    let inference = done.infer(&splits.test)?;
    Ok(Some(Trained {
        model: done.model,
        report: done.report,
        ops,
        inference,
    }))
}

/// Per-operation times of a CKKS evaluator at its bootstrapping output level, for the estimate.
struct OpCosts {
    level: u32,
    seconds: Vec<(OpKind, f64)>,
}

impl OpCosts {
    /// Times each operation once at the bootstrapping output level (one bootstrap included).
    fn measure(ev: &BootstrappingEvaluator, client: &mut CkksClient) -> CliResult<Self> {
        let info = ev
            .bootstrap_info()
            .ok_or("the CKKS evaluator cannot bootstrap")?;
        let level = info.output_level;
        let values: Vec<f64> = (0..ev.slots())
            .map(|i| ((i % 17) as f64 - 8.0) / 16.0)
            .collect();
        let a = client.encrypt_real(&values, level)?;
        let pt = ev.encode_real(&values, level, ev.canonical_scale(level))?;
        let time = |f: &mut dyn FnMut() -> hetal_traits::Result<()>| -> CliResult<f64> {
            let t = Instant::now();
            f()?;
            Ok(t.elapsed().as_secs_f64())
        };
        let scale = ev.canonical_scale(level);
        let mut seconds = vec![
            (OpKind::Add, time(&mut || ev.add(&a, &a).map(drop))?),
            (
                OpKind::AddPlain,
                time(&mut || ev.add_plain(&a, &pt).map(drop))?,
            ),
            (OpKind::Mult, time(&mut || ev.mul(&a, &a).map(drop))?),
            (
                OpKind::CMult,
                time(&mut || ev.mul_plain(&a, &pt).map(drop))?,
            ),
            (
                OpKind::ConstMult,
                time(&mut || ev.mul_const(&a, Complex64::new(0.5, 0.0), scale).map(drop))?,
            ),
            (
                OpKind::Rot,
                time(&mut || ev.rotate(&a, RotStep(1)).map(drop))?,
            ),
            (OpKind::Conj, time(&mut || ev.conjugate(&a).map(drop))?),
            (OpKind::Rescale, time(&mut || ev.rescale(&a).map(drop))?),
        ];
        let low = ev.drop_to_level(&a, info.min_input_level)?;
        seconds.push((
            OpKind::Bootstrap,
            time(&mut || ev.bootstrap(&low).map(drop))?,
        ));
        seconds.push((
            OpKind::BootstrapPair,
            time(&mut || ev.bootstrap_pair(&low, &low).map(drop))?,
        ));
        // The sparse circuits, where the key set has one (the smallest period is timed; the
        // circuits of larger periods cost about the same: the same ring, one EvalMod).
        let period = (3..usize::BITS)
            .map(|k| 1usize << k)
            .take_while(|&n| n < ev.slots())
            .find(|&n| ev.has_sparse_bootstrap(n));
        if let Some(n) = period {
            seconds.push((
                OpKind::BootstrapSparse,
                time(&mut || ev.bootstrap_sparse(&low, n).map(drop))?,
            ));
            seconds.push((
                OpKind::BootstrapPairSparse,
                time(&mut || ev.bootstrap_pair_sparse(&low, &low, n).map(drop))?,
            ));
        }
        Ok(OpCosts {
            level: level.0,
            seconds,
        })
    }

    #[allow(clippy::wildcard_enum_match_arm)]
    fn get(&self, kind: OpKind) -> f64 {
        let find = |k: OpKind| self.seconds.iter().find(|(x, _)| *x == k).map(|(_, s)| *s);
        match kind {
            OpKind::HoistedRot => find(OpKind::Rot).unwrap_or(0.0) * 0.8,
            OpKind::KeySwitch | OpKind::Encode => 0.0, // inside the counted operations
            OpKind::Neg | OpKind::DropLevel => find(OpKind::Add).unwrap_or(0.0) * 0.5,
            OpKind::IntMult | OpKind::MulI => find(OpKind::Add).unwrap_or(0.0),
            // Without sparse keys: at most the full bootstrap's time (an upper bound).
            OpKind::BootstrapSparse => find(kind)
                .or_else(|| find(OpKind::Bootstrap))
                .unwrap_or(0.0),
            OpKind::BootstrapPairSparse => find(kind)
                .or_else(|| find(OpKind::BootstrapPair))
                .unwrap_or(0.0),
            // Measured kinds (OpKind is non-exhaustive: a future kind counts as unmeasured).
            _ => find(kind).unwrap_or(0.0),
        }
    }

    /// Seconds for the counted operations: each operation's time at the output level, scaled by
    /// the number of limbs at the level it ran at (bootstraps at their measured time).
    fn estimate(&self, ops: &OpCounts) -> f64 {
        let mut total = 0.0;
        for kind in OpKind::ALL {
            let t = self.get(kind);
            for (level, count) in ops.levels(kind) {
                let factor = if matches!(
                    kind,
                    OpKind::Bootstrap
                        | OpKind::BootstrapPair
                        | OpKind::BootstrapSparse
                        | OpKind::BootstrapPairSparse
                ) {
                    1.0
                } else {
                    f64::from(level.0 + 1) / f64::from(self.level + 1)
                };
                total += t * factor * count as f64;
            }
        }
        total
    }
}

impl std::fmt::Display for OpCosts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CKKS operation times at level {}:", self.level)?;
        for (k, s) in &self.seconds {
            write!(f, " {k:?} {:.1} ms", s * 1e3)?;
        }
        Ok(())
    }
}

/// The plaintext references, the SVG plot and the JSON report.
fn finish(
    args: &TrainArgs,
    splits: &Splits,
    cfg: &TrainConfig,
    plan: &Plan,
    done: &Trained,
    mock: Option<&Trained>,
) -> CliResult {
    let report = &done.report;
    if plan.method.activation.is_sigmoid() {
        println!(
            "(losses are the squared-likelihood loss, SLE: the negative mean per-sample log-likelihood of the per-class sigmoids)"
        );
    }
    let mut json = serde_json::json!({
        "method": plan.method,
        "compaction": plan.compaction,
        "encrypted": report,
        "encrypted_inference_accuracy": done.inference.accuracy,
    });
    if let Some(m) = mock {
        println!(
            "CKKS - mock (same training): {:+.2} percentage points of test accuracy ({:.2} % vs {:.2} %)",
            100.0 * (report.test_accuracy - m.report.test_accuracy),
            100.0 * report.test_accuracy,
            100.0 * m.report.test_accuracy
        );
        json["mock_same_training"] = serde_json::json!({
            "test_accuracy": m.report.test_accuracy,
            "best_epoch": m.report.best_epoch,
            "history": m.report.history,
        });
    }
    let mut runs = vec![("encrypted", report.history.clone())];
    if !args.no_reference {
        let sm = LinalgSoftmax::by_name(&plan.softmax)?;
        let approx = |z: &ndarray::Array2<f64>, c: usize| {
            SoftmaxApprox::<MockEvaluator>::reference(&sm, z, c)
        };
        let t = Instant::now();
        let same = plain::train(splits, cfg, &plan.method, &approx)?;
        let exact = plain::train(splits, cfg, &plan.method, &plain::softmax_rows)?;
        let plain_time = t.elapsed();
        let (a_same, a_exact) = (
            same.model.accuracy(&splits.test),
            exact.model.accuracy(&splits.test),
        );
        let diff = same
            .model
            .weights
            .iter()
            .zip(&done.model.weights)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        println!(
            "plaintext reference, same approximation ({}): test accuracy {:.2} %, best epoch {}, max |weight difference| to the encrypted run {diff:.3e}",
            if plan.method.activation == Activation::Softmax {
                plan.softmax.clone()
            } else {
                plan.method.describe()
            },
            100.0 * a_same,
            same.best_epoch + 1
        );
        println!(
            "plaintext reference, exact softmax (or the method's own activation): test accuracy {:.2} %, best epoch {}",
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

/// `"5 single and 1 pair bootstraps"`, with the sparse ones (part-full ciphertexts) where
/// there are any: `"…, 3 sparse and 2 sparse pair bootstraps"`.
fn describe_bootstraps(ops: &OpCounts) -> String {
    let mut s = format!(
        "{} single and {} pair bootstraps",
        ops.get(OpKind::Bootstrap),
        ops.get(OpKind::BootstrapPair)
    );
    let (sparse, sparse_pair) = (
        ops.get(OpKind::BootstrapSparse),
        ops.get(OpKind::BootstrapPairSparse),
    );
    if sparse + sparse_pair > 0 {
        s.push_str(&format!(
            ", {sparse} sparse and {sparse_pair} sparse pair bootstraps"
        ));
    }
    s
}

//! `hetal client`: the client's side of the two-process protocol, through files in an exchange
//! directory shared with `hetal server train`.
//!
//! | file (in `--dir`) | written by | read by |
//! |---|---|---|
//! | `client/secret.key`, `client/data.json`, `client/state` | client | client only |
//! | `backend.json` (backend and preset), `plan.msg`, `eval.keys` | `client keygen` | server |
//! | `data.msg` | `client encrypt` | server |
//! | `epoch-E.result` | `server train` | `client evaluate` |
//! | `epoch-E.decision` | `client evaluate` | `server train` |
//! | `model.msg` | `server train` | `client decrypt` |
//! | `infer.msg` | `client infer-request` | `server infer` |
//! | `infer-logits.msg` | `server infer` | `client infer-result` |
//! | `server/server.ckpt` | server | server only |

use super::method::MethodArgs;
use super::train::{Backend, BackendArgs, CliResult, DataArgs, HyperArgs, ckks_preset_by_name};
use hetal_ckks::bootstrap::{BootstrapPreset, generate_bootstrap_keys};
use hetal_ckks::{CkksClient, CkksParams, SecretKey};
use hetal_nn::client::{Client, ClientState};
use hetal_nn::config::TrainConfig;
use hetal_nn::plain::ClassReport;
use hetal_nn::protocol::{
    Decision, EncMatrix, EncryptedModel, EpochResult, Plan, read_message, read_tagged,
    write_message, write_tagged,
};
use hetal_nn::report::loss_plot_svg;
use hetal_nn::session;
use hetal_traits::mock::{MockClient, MockParams};
use hetal_traits::{Decryptor, Encryptor, KeyGenerator};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The kind tag of the mock's evaluation-key file.
pub const MOCK_KEYS_KIND: &str = "mock-evaluation-keys";
/// The kind tag of the CKKS evaluation-key file (hetal-ckks's validated key blob inside).
pub const CKKS_KEYS_KIND: &str = "ckks-evaluation-keys";
const CKKS_SECRET_KIND: &str = "ckks-secret-key";
/// The kind tag of encrypted inference features.
pub const INFER_KIND: &str = "inference-features";
/// The kind tag of encrypted inference logits.
pub const INFER_LOGITS_KIND: &str = "inference-logits";
const MOCK_SECRET_KIND: &str = "mock-secret-key";

/// The mock client's secret: its parameters and the seed its key identity derives from.
#[derive(Debug, Serialize, Deserialize)]
struct MockSecret {
    params: MockParams,
    seed: u64,
}

/// The CKKS client's secret: the preset and hetal-ckks's secret-key blob.
#[derive(Serialize, Deserialize)]
struct CkksSecret {
    preset: String,
    key: Vec<u8>,
}

/// Which backend an exchange directory uses: written by `client keygen`, read by every other
/// command of both roles.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BackendSpec {
    /// The backend.
    pub backend: Backend,
    /// The CKKS preset.
    pub preset: Option<String>,
}

impl BackendSpec {
    /// Reads `backend.json` of the exchange directory.
    pub fn load(files: &Files) -> CliResult<Self> {
        let p = files.backend();
        let text = std::fs::read_to_string(&p)
            .map_err(|e| format!("{}: {e} (run `hetal client keygen` first)", p.display()))?;
        Ok(serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?)
    }

    /// The CKKS preset.
    pub fn ckks_preset(&self) -> CliResult<BootstrapPreset> {
        ckks_preset_by_name(self.preset.as_deref().unwrap_or("boot-n16"))
    }
}

/// Paths of the exchange directory.
pub struct Files {
    dir: PathBuf,
}

impl Files {
    /// The files of `dir`.
    pub fn new(dir: &Path) -> Self {
        Files {
            dir: dir.to_path_buf(),
        }
    }
    /// The backend and preset.
    pub fn backend(&self) -> PathBuf {
        self.dir.join("backend.json")
    }
    /// The plan.
    pub fn plan(&self) -> PathBuf {
        self.dir.join("plan.msg")
    }
    /// The evaluation keys.
    pub fn keys(&self) -> PathBuf {
        self.dir.join("eval.keys")
    }
    /// The encrypted data.
    pub fn data(&self) -> PathBuf {
        self.dir.join("data.msg")
    }
    /// The server's result of epoch `e`.
    pub fn result(&self, e: usize) -> PathBuf {
        self.dir.join(format!("epoch-{e}.result"))
    }
    /// The client's decision on epoch `e`.
    pub fn decision(&self, e: usize) -> PathBuf {
        self.dir.join(format!("epoch-{e}.decision"))
    }
    /// The encrypted final model.
    pub fn model(&self) -> PathBuf {
        self.dir.join("model.msg")
    }
    /// Encrypted features for inference.
    pub fn infer_request(&self) -> PathBuf {
        self.dir.join("infer.msg")
    }
    /// Encrypted logits of an inference.
    pub fn infer_result(&self) -> PathBuf {
        self.dir.join("infer-logits.msg")
    }
    /// The server's private directory (checkpoints).
    pub fn server_dir(&self) -> PathBuf {
        self.dir.join("server")
    }
    fn secret(&self) -> PathBuf {
        self.dir.join("client").join("secret.key")
    }
    fn data_args(&self) -> PathBuf {
        self.dir.join("client").join("data.json")
    }
    fn state(&self) -> PathBuf {
        self.dir.join("client").join("state")
    }
}

/// `hetal client` subcommands.
#[derive(clap::Subcommand, Debug)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum ClientCommand {
    /// Plan the run and generate the secret key and the server's evaluation keys.
    Keygen(KeygenArgs),
    /// Encrypt the training batches, the validation features and the initial weights.
    Encrypt(DirArgs),
    /// Decrypt the server's validation logits after each epoch, compute the losses and send the
    /// early-stopping decision (with `--watch`, until the server has finished).
    Evaluate(EvaluateArgs),
    /// Decrypt the trained model and evaluate it on the test set (accuracy, per-class report).
    Decrypt(DecryptArgs),
    /// Encrypt the test features for encrypted inference by the server.
    InferRequest(DirArgs),
    /// Decrypt the server's inference logits and report the test accuracy.
    InferResult(DirArgs),
}

/// Arguments of `hetal client`.
#[derive(clap::Args, Debug)]
pub struct ClientArgs {
    #[command(subcommand)]
    /// The step.
    pub command: ClientCommand,
}

/// The exchange directory.
#[derive(clap::Args, Debug)]
pub struct DirArgs {
    /// The exchange directory shared with the server.
    #[arg(long)]
    pub dir: PathBuf,
}

/// Arguments of `hetal client keygen`.
#[derive(clap::Args, Debug)]
pub struct KeygenArgs {
    #[command(flatten)]
    /// Directory.
    pub dir: DirArgs,
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
    /// Training method.
    pub method: MethodArgs,
}

/// Arguments of `hetal client evaluate`.
#[derive(clap::Args, Debug)]
pub struct EvaluateArgs {
    #[command(flatten)]
    /// Directory.
    pub dir: DirArgs,
    /// Keep answering epochs until the server writes the model.
    #[arg(long)]
    pub watch: bool,
    /// Give up watching after this many seconds.
    #[arg(long, default_value_t = 3600)]
    pub timeout_secs: u64,
}

/// Arguments of `hetal client decrypt`.
#[derive(clap::Args, Debug)]
pub struct DecryptArgs {
    #[command(flatten)]
    /// Directory.
    pub dir: DirArgs,
    /// Write an SVG plot of the training and validation loss here.
    #[arg(long)]
    pub svg: Option<PathBuf>,
}

fn load_state<K>(files: &Files, backend: K) -> CliResult<(Client<K>, DataArgs)>
where
    K: Encryptor + Decryptor<Ciphertext = <K as Encryptor>::Ciphertext>,
{
    let plan: Plan = read_message(&files.plan())?;
    let mut client = Client::new(backend, plan)?;
    if files.state().exists() {
        client.state = session::load_client_state(&files.state())?;
    }
    let data: DataArgs = serde_json::from_str(&std::fs::read_to_string(files.data_args())?)?;
    Ok((client, data))
}

fn mock_backend(files: &Files) -> CliResult<MockClient> {
    let secret: MockSecret = read_tagged(&files.secret(), MOCK_SECRET_KIND)?;
    Ok(MockClient::try_new(secret.params, secret.seed)?)
}

fn ckks_backend(files: &Files) -> CliResult<CkksClient> {
    let secret: CkksSecret = read_tagged(&files.secret(), CKKS_SECRET_KIND)?;
    let preset = ckks_preset_by_name(&secret.preset)?;
    let params = CkksParams::new(&preset.params)?;
    let sk = SecretKey::from_bytes(&params, &secret.key)?;
    Ok(CkksClient::from_secret_key(params, sk)?)
}

/// Runs `hetal client ...`.
pub fn run(args: &ClientArgs) -> CliResult {
    let dir = match &args.command {
        ClientCommand::Keygen(a) => return keygen(a),
        ClientCommand::Encrypt(a)
        | ClientCommand::InferRequest(a)
        | ClientCommand::InferResult(a) => &a.dir,
        ClientCommand::Evaluate(a) => &a.dir.dir,
        ClientCommand::Decrypt(a) => &a.dir.dir,
    };
    let files = Files::new(dir);
    match BackendSpec::load(&files)?.backend {
        Backend::Mock => {
            let (client, data) = load_state(&files, mock_backend(&files)?)?;
            dispatch(&args.command, &files, client, data, "mock backend")
        }
        Backend::Ckks => {
            let (client, data) = load_state(&files, ckks_backend(&files)?)?;
            dispatch(&args.command, &files, client, data, "CKKS backend")
        }
    }
}

fn dispatch<K, C>(
    command: &ClientCommand,
    files: &Files,
    client: Client<K>,
    data: DataArgs,
    backend: &str,
) -> CliResult
where
    K: Encryptor<Ciphertext = C> + Decryptor<Ciphertext = C>,
    C: hetal_traits::Ciphertext + Serialize + DeserializeOwned,
{
    match command {
        ClientCommand::Keygen(_) => Err("keygen is not dispatched".into()),
        ClientCommand::Encrypt(_) => encrypt(files, client, data),
        ClientCommand::Evaluate(a) => evaluate(a, files, client, data),
        ClientCommand::Decrypt(a) => decrypt(a, files, client, data, backend),
        ClientCommand::InferRequest(_) => infer_request(files, client, data),
        ClientCommand::InferResult(_) => infer_result(files, client, data),
    }
}

fn keygen(a: &KeygenArgs) -> CliResult {
    let files = Files::new(&a.dir.dir);
    let splits = a.data.load()?;
    let backend = a.backend.kind_or(Backend::Mock)?;
    let method = a.method.resolve(a.hyper.optimizer.as_deref())?;
    let cfg = match method {
        // The method's own update decides the optimiser (`--optimizer` chose it above).
        Some(m) => TrainConfig {
            optimizer: m.update.optimizer(),
            ..HyperArgs {
                optimizer: None,
                ..a.hyper.clone()
            }
            .config_for(backend)?
        },
        None => a.hyper.config_for(backend)?,
    };
    let with_method = |plan: Plan| -> CliResult<Plan> {
        Ok(match method {
            Some(m) => plan.with_method(m)?,
            None => plan,
        })
    };
    std::fs::create_dir_all(files.secret().parent().unwrap_or(&a.dir.dir))?;
    let spec = BackendSpec {
        backend,
        preset: match backend {
            Backend::Mock => None,
            Backend::Ckks => Some(a.backend.preset.clone().unwrap_or("boot-n16".into())),
        },
    };
    let (plan, req) = match backend {
        Backend::Mock => {
            let params = a.backend.mock_params()?;
            let plan = with_method(Plan::new(
                &splits,
                &cfg,
                params.slots,
                a.hyper.weight_bound,
                &a.hyper.softmax,
            )?)?;
            let req = plan.evaluation_keys(true)?;
            let mut backend = MockClient::try_new(params.clone(), a.backend.mock_key_seed())?;
            let keys = backend.generate_evaluation_keys(&req)?;
            write_secret(
                &files.secret(),
                MOCK_SECRET_KIND,
                &MockSecret {
                    params,
                    seed: a.backend.mock_key_seed(),
                },
            )?;
            write_tagged(&files.keys(), MOCK_KEYS_KIND, &keys)?;
            (plan, req)
        }
        Backend::Ckks => {
            let preset = spec.ckks_preset()?;
            let params = CkksParams::new(&preset.params)?;
            let mut plan = with_method(Plan::new(
                &splits,
                &cfg,
                params.slots,
                a.hyper.weight_bound,
                &a.hyper.softmax,
            )?)?;
            let req = plan.evaluation_keys(true)?;
            let mut client = match a.backend.key_seed {
                Some(seed) => CkksClient::from_seed(params.clone(), seed),
                None => CkksClient::new(params.clone()),
            };
            let (keys, est) = generate_bootstrap_keys(&mut client, &preset.config, &req)?;
            // Encrypt at the bootstrapping output level (see `Plan::encrypt_level`).
            plan.encrypt_level = Some(hetal_ckks::presets::bootstrap_output_level(&preset));
            write_secret(
                &files.secret(),
                CKKS_SECRET_KIND,
                &CkksSecret {
                    preset: spec.preset.clone().unwrap_or_default(),
                    key: client.secret_key().to_bytes(),
                },
            )?;
            write_tagged(&files.keys(), CKKS_KEYS_KIND, &keys.to_bytes(&params))?;
            println!(
                "CKKS {} keys: {} switching keys, estimated memory on the server {:.2} GiB",
                preset.params.name,
                est.keys,
                est.total_bytes() as f64 / (1u64 << 30) as f64
            );
            (plan, req)
        }
    };
    std::fs::write(files.backend(), serde_json::to_string_pretty(&spec)?)?;
    std::fs::write(files.data_args(), serde_json::to_string_pretty(&a.data)?)?;
    session::save_client_state(&files.state(), &ClientState::default())?;
    write_message(&files.plan(), &plan)?;
    println!(
        "keys for {} rotations{} written to {}; plan: {} batches, unit shape ({}, {})",
        req.rotations.len(),
        if req.bootstrapping {
            " and bootstrapping"
        } else {
            ""
        },
        files.keys().display(),
        plan.batch_rows.len(),
        plan.unit.0,
        plan.unit.1
    );
    Ok(())
}

/// Writes a secret file readable by its owner only.
fn write_secret<T: Serialize>(path: &Path, kind: &str, value: &T) -> CliResult {
    write_tagged(path, kind, value)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

fn encrypt<K, C>(files: &Files, mut client: Client<K>, data: DataArgs) -> CliResult
where
    K: Encryptor<Ciphertext = C> + Decryptor<Ciphertext = C>,
    C: hetal_traits::Ciphertext + Serialize,
{
    let splits = data.load()?;
    let t = Instant::now();
    let enc = client.encrypt_data(&splits)?;
    write_message(&files.data(), &enc)?;
    println!(
        "encrypted {} training batches and {} validation rows in {:.3} s: {}",
        enc.train_x.len(),
        client.plan.val_rows,
        t.elapsed().as_secs_f64(),
        files.data().display()
    );
    Ok(())
}

fn evaluate<K, C>(
    a: &EvaluateArgs,
    files: &Files,
    mut client: Client<K>,
    data: DataArgs,
) -> CliResult
where
    K: Encryptor<Ciphertext = C> + Decryptor<Ciphertext = C>,
    C: hetal_traits::Ciphertext + DeserializeOwned,
{
    let splits = data.load()?;
    let start = Instant::now();
    // A decision the client recorded but did not get to write (interrupted in between): write
    // it again from the saved state, or the server would wait for it forever.
    if let Some(last) = client.state.history.len().checked_sub(1)
        && !files.decision(last).exists()
    {
        let s = &client.state.stopping;
        let d = Decision {
            epoch: last,
            improved: s.best_epoch == Some(last),
            stop: s.should_stop(client.plan.config.patience, client.plan.config.epochs),
        };
        write_message(&files.decision(last), &d)?;
        println!(
            "epoch {}: decision written again from the saved state",
            last + 1
        );
    }
    loop {
        let e = client.state.history.len();
        let rp = files.result(e);
        if rp.exists() && !files.decision(e).exists() {
            let r: EpochResult<C> = read_message(&rp)?;
            let (d, rec) = client.review_epoch(&r, &splits)?;
            session::save_client_state(&files.state(), &client.state)?;
            write_message(&files.decision(e), &d)?;
            println!(
                "epoch {}: train loss {:.5}, val loss {:.5}, val accuracy {:.2} %{}{}",
                e + 1,
                rec.train_loss,
                rec.val_loss,
                100.0 * rec.val_accuracy,
                if d.improved { " (best so far)" } else { "" },
                if d.stop { "; stop" } else { "" }
            );
            continue;
        }
        if files.model().exists() || !a.watch {
            if !files.model().exists() {
                println!("no new epoch result in {}", a.dir.dir.display());
            }
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(a.timeout_secs) {
            return Err(format!("no result for epoch {} after {} s", e + 1, a.timeout_secs).into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn decrypt<K, C>(
    a: &DecryptArgs,
    files: &Files,
    client: Client<K>,
    data: DataArgs,
    backend: &str,
) -> CliResult
where
    K: Encryptor<Ciphertext = C> + Decryptor<Ciphertext = C>,
    C: hetal_traits::Ciphertext + DeserializeOwned,
{
    let splits = data.load()?;
    let model: EncryptedModel<C> = read_message(&files.model())?;
    let (m, report) = session::report(
        &client,
        &model,
        &splits,
        &format!("{} (two processes, {backend})", splits.name),
    )?;
    println!("{report}");
    let out = files.dir.join("client").join("model.json");
    std::fs::write(&out, serde_json::to_string_pretty(&m)?)?;
    println!("plaintext model: {}", out.display());
    if let Some(p) = &a.svg {
        std::fs::write(
            p,
            loss_plot_svg(
                &[("encrypted", report.history.as_slice())],
                Some(report.best_epoch),
            ),
        )?;
        println!("loss plot: {}", p.display());
    }
    Ok(())
}

fn infer_request<K, C>(files: &Files, mut client: Client<K>, data: DataArgs) -> CliResult
where
    K: Encryptor<Ciphertext = C> + Decryptor<Ciphertext = C>,
    C: hetal_traits::Ciphertext + Serialize,
{
    let splits = data.load()?;
    let x = client.encrypt_features(&splits.test.features)?;
    write_tagged(&files.infer_request(), INFER_KIND, &x)?;
    println!(
        "encrypted {} test rows: {}",
        splits.test.len(),
        files.infer_request().display()
    );
    Ok(())
}

fn infer_result<K, C>(files: &Files, client: Client<K>, data: DataArgs) -> CliResult
where
    K: Encryptor<Ciphertext = C> + Decryptor<Ciphertext = C>,
    C: hetal_traits::Ciphertext + DeserializeOwned,
{
    let splits = data.load()?;
    let z: EncMatrix<C> = read_tagged(&files.infer_result(), INFER_LOGITS_KIND)?;
    let pred = client.predictions(&z)?;
    if pred.len() != splits.test.len() {
        return Err(format!(
            "{} predictions for {} test rows",
            pred.len(),
            splits.test.len()
        )
        .into());
    }
    let report = ClassReport::new(&pred, &splits.test.labels, splits.num_classes);
    println!(
        "encrypted inference: test accuracy {:.2} %\n{report}",
        100.0 * report.accuracy
    );
    Ok(())
}

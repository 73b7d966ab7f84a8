//! `hetal client`: the client's side of the two-process protocol, through files in an exchange
//! directory shared with `hetal server train`.
//!
//! The client keeps its secret key, its own copy of the plan and backend, its state and the
//! decrypted model in a private directory *outside* the exchange directory (`--client-dir`,
//! default: the exchange directory's path with `.client` appended, e.g. `run` → `run.client`),
//! created with mode `0700`, its files `0600`. It never reads the plan back from the exchange
//! directory, and checks every message the server writes against it.
//!
//! | file | written by | read by |
//! |---|---|---|
//! | `secret.key`, `plan.msg`, `backend.json`, `data.json`, `state`, `model.json` (in `--client-dir`) | client | client only |
//! | `backend.json` (backend and preset), `plan.msg`, `eval.keys` | `client keygen` | server |
//! | `data.msg` | `client encrypt` | server |
//! | `epoch-E.result` | `server train` | `client evaluate` |
//! | `epoch-E.decision` | `client evaluate` | `server train` |
//! | `model.msg` | `server train` | `client decrypt` |
//! | `infer.msg` | `client infer-request` | `server infer` |
//! | `infer-logits.msg` | `server infer` | `client infer-result` |
//! | `server/server.ckpt` | server | server only |

use super::train::{
    Backend, BackendArgs, CliResult, DataArgs, HyperArgs, MethodArgs, ckks_preset_by_name,
};
use hetal_ckks::bootstrap::{BootstrapPreset, generate_bootstrap_keys};
use hetal_ckks::{CkksClient, CkksParams, SecretKey};
use hetal_nn::client::{Client, ClientState};
use hetal_nn::config::TrainConfig;
use hetal_nn::plain::ClassReport;
use hetal_nn::protocol::{
    Decision, EncMatrix, EncryptedModel, EpochResult, MessageKind, Plan, read_message, read_tagged,
    to_bytes, write_bytes, write_message, write_private, write_tagged,
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
/// command of both roles (the client reads its private copy). Unknown keys are rejected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendSpec {
    /// The backend.
    pub backend: Backend,
    /// The CKKS preset.
    pub preset: Option<String>,
}

impl BackendSpec {
    /// Reads `backend.json` of the exchange directory.
    pub fn load(files: &Files) -> CliResult<Self> {
        Self::load_from(&files.backend())
    }

    /// Reads a `backend.json` (at most 64 KiB; unknown keys are an error; a CKKS backend must
    /// name its preset).
    pub fn load_from(p: &Path) -> CliResult<Self> {
        let bytes = hetal_nn::protocol::read_file_bounded(p, 1 << 16)
            .map_err(|e| format!("{e} (run `hetal client keygen` first)"))?;
        let spec: BackendSpec =
            serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", p.display()))?;
        if spec.backend == Backend::Ckks && spec.preset.is_none() {
            return Err(format!("{}: a CKKS backend needs a \"preset\"", p.display()).into());
        }
        Ok(spec)
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
    /// The server's lock file (one server per exchange directory).
    pub fn server_lock(&self) -> PathBuf {
        self.server_dir().join("lock")
    }
    /// The files of the exchange directory that belong to a session (for `keygen`'s check and
    /// `--force`): the fixed names, the epochs' results and decisions, and the server's
    /// checkpoint.
    pub fn session_files(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = [
            self.backend(),
            self.plan(),
            self.keys(),
            self.data(),
            self.model(),
            self.infer_request(),
            self.infer_result(),
            hetal_nn::session::server_checkpoint_path(&self.server_dir()),
        ]
        .into_iter()
        .filter(|p| p.exists())
        .collect();
        if let Ok(rd) = std::fs::read_dir(&self.dir) {
            let mut epochs: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    n.starts_with("epoch-") && (n.ends_with(".result") || n.ends_with(".decision"))
                })
                .collect();
            epochs.sort();
            v.extend(epochs);
        }
        v
    }
}

/// The client's private directory: never inside the exchange directory.
pub struct Private {
    dir: PathBuf,
}

impl Private {
    /// The private directory for `exchange`: `client_dir`, or by default the exchange
    /// directory's path with `.client` appended. Refuses one inside the exchange directory.
    pub fn resolve(exchange: &Path, client_dir: Option<&Path>) -> CliResult<Self> {
        let ex = std::path::absolute(exchange)?;
        let dir = match client_dir {
            Some(d) => std::path::absolute(d)?,
            None => {
                let name = ex
                    .file_name()
                    .filter(|n| *n != "..")
                    .ok_or_else(|| {
                        format!(
                            "--dir {}: cannot derive the client directory from it; pass --client-dir",
                            exchange.display()
                        )
                    })?
                    .to_string_lossy()
                    .into_owned();
                ex.with_file_name(format!("{name}.client"))
            }
        };
        let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        let (ce, cd) = (canon(&ex), canon(&dir));
        if cd.starts_with(&ce) {
            return Err(format!(
                "the client directory {} lies inside the exchange directory {}: the server could read the secret key; choose another --client-dir",
                dir.display(),
                ex.display()
            )
            .into());
        }
        Ok(Private { dir })
    }
    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// Creates the directory, mode `0700` on Unix.
    fn create(&self) -> CliResult {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(&self.dir)
            .map_err(|e| format!("{}: {e}", self.dir.display()))?;
        Ok(())
    }
    fn secret(&self) -> PathBuf {
        self.dir.join("secret.key")
    }
    fn plan(&self) -> PathBuf {
        self.dir.join("plan.msg")
    }
    fn backend(&self) -> PathBuf {
        self.dir.join("backend.json")
    }
    fn data_args(&self) -> PathBuf {
        self.dir.join("data.json")
    }
    fn state(&self) -> PathBuf {
        self.dir.join("state")
    }
    fn model(&self) -> PathBuf {
        self.dir.join("model.json")
    }
    fn lock(&self) -> PathBuf {
        self.dir.join("lock")
    }
    fn session_files(&self) -> Vec<PathBuf> {
        [
            self.secret(),
            self.plan(),
            self.backend(),
            self.data_args(),
            self.state(),
            self.model(),
        ]
        .into_iter()
        .filter(|p| p.exists())
        .collect()
    }
}

/// Takes the advisory lock `path` (created if needed) for the life of the returned file: a
/// second process asking for it gets a clear error instead of racing the first. `who` names the
/// role in the error.
pub fn lock_file(path: &Path, who: &str) -> CliResult<std::fs::File> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "another {who} is already running on this directory (it holds {})",
            path.display()
        )
        .into()),
        Err(std::fs::TryLockError::Error(e)) => Err(format!("{}: {e}", path.display()).into()),
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

/// The exchange directory and the client's private directory.
#[derive(clap::Args, Debug)]
pub struct DirArgs {
    /// The exchange directory shared with the server (it reads and writes there).
    #[arg(long)]
    pub dir: PathBuf,
    /// The client's private directory (secret key, plan, state, decrypted model), outside the
    /// exchange directory; default: the exchange directory's path with `.client` appended
    /// (`--dir run` → `run.client`).
    #[arg(long)]
    pub client_dir: Option<PathBuf>,
}

impl DirArgs {
    /// The exchange and private directories.
    fn resolve(&self) -> CliResult<(Files, Private)> {
        Ok((
            Files::new(&self.dir),
            Private::resolve(&self.dir, self.client_dir.as_deref())?,
        ))
    }
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
    /// Start a new session even where one exists, deleting its secret key, plan, state and
    /// decrypted model and, in the exchange directory, its keys, encrypted data, results,
    /// decisions, model and the server's checkpoint (the old model can then never be decrypted).
    #[arg(long)]
    pub force: bool,
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

/// The client's plan, state and data arguments, all from its private directory (the plan is
/// checked for consistency and against the backend; the exchange directory's copy is never read).
fn load_state<K>(private: &Private, backend: K) -> CliResult<(Client<K>, DataArgs)>
where
    K: Encryptor + Decryptor<Ciphertext = <K as Encryptor>::Ciphertext>,
{
    let plan: Plan = read_message(&private.plan())?;
    plan.validate()?;
    let mut client = Client::new(backend, plan)?;
    if private.state().exists() {
        client.state = session::load_client_state(&private.state())?;
        client.state.validate(client.plan.config.epochs)?;
    }
    let p = private.data_args();
    let bytes = hetal_nn::protocol::read_file_bounded(&p, 1 << 16)?;
    let data: DataArgs =
        serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", p.display()))?;
    Ok((client, data))
}

fn mock_backend(private: &Private) -> CliResult<MockClient> {
    let secret: MockSecret = read_tagged(&private.secret(), MOCK_SECRET_KIND)?;
    Ok(MockClient::try_new(secret.params, secret.seed)?)
}

fn ckks_backend(private: &Private) -> CliResult<CkksClient> {
    let secret: CkksSecret = read_tagged(&private.secret(), CKKS_SECRET_KIND)?;
    let preset = ckks_preset_by_name(&secret.preset)?;
    let params = CkksParams::new(&preset.params)?;
    let sk = SecretKey::from_bytes(&params, &secret.key)?;
    Ok(CkksClient::from_secret_key(params, sk)?)
}

/// Runs `hetal client ...`.
pub fn run(args: &ClientArgs) -> CliResult {
    let dirs = match &args.command {
        ClientCommand::Keygen(a) => return keygen(a),
        ClientCommand::Encrypt(a)
        | ClientCommand::InferRequest(a)
        | ClientCommand::InferResult(a) => a,
        ClientCommand::Evaluate(a) => &a.dir,
        ClientCommand::Decrypt(a) => &a.dir,
    };
    let (files, private) = dirs.resolve()?;
    if !private.secret().exists() {
        return Err(format!(
            "no client session in {} (run `hetal client keygen --dir {}` first, with the same --client-dir)",
            private.dir().display(),
            dirs.dir.display()
        )
        .into());
    }
    let _lock = lock_file(&private.lock(), "client command")?;
    match BackendSpec::load_from(&private.backend())?.backend {
        Backend::Mock => {
            let (client, data) = load_state(&private, mock_backend(&private)?)?;
            dispatch(
                &args.command,
                &files,
                &private,
                client,
                data,
                "mock backend",
            )
        }
        Backend::Ckks => {
            let (client, data) = load_state(&private, ckks_backend(&private)?)?;
            dispatch(
                &args.command,
                &files,
                &private,
                client,
                data,
                "CKKS backend",
            )
        }
    }
}

fn dispatch<K, C>(
    command: &ClientCommand,
    files: &Files,
    private: &Private,
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
        ClientCommand::Evaluate(a) => evaluate(a, files, private, client, data),
        ClientCommand::Decrypt(a) => decrypt(a, files, private, client, data, backend),
        ClientCommand::InferRequest(_) => infer_request(files, client, data),
        ClientCommand::InferResult(_) => infer_result(files, client, data),
    }
}

/// Refuses to overwrite an existing session unless `force`; with `force`, deletes its files.
fn guard_session(files: &Files, private: &Private, force: bool) -> CliResult {
    let mut old = private.session_files();
    old.extend(files.session_files());
    if old.is_empty() {
        return Ok(());
    }
    let list = old
        .iter()
        .map(|p| format!("  {}", p.display()))
        .collect::<Vec<_>>()
        .join("\n");
    if !force {
        return Err(format!(
            "a session exists already; a new keygen would destroy it (a new secret key: its encrypted data, results, checkpoint and model could never be decrypted):\n{list}\npass --force to delete it and start a new session, or use another --dir"
        )
        .into());
    }
    for p in &old {
        std::fs::remove_file(p).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    eprintln!("--force: deleted the previous session:\n{list}");
    Ok(())
}

fn keygen(a: &KeygenArgs) -> CliResult {
    let (files, private) = a.dir.resolve()?;
    if !a.force && (!private.session_files().is_empty() || !files.session_files().is_empty()) {
        // Fail before any expensive work.
        guard_session(&files, &private, false)?;
    }
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
    std::fs::create_dir_all(&a.dir.dir)?;
    private.create()?;
    let _lock = lock_file(&private.lock(), "client command")?;
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
            let plan = a.hyper.with_compaction(plan)?;
            let req = plan.evaluation_keys(true)?;
            let mut backend = MockClient::try_new(params.clone(), a.backend.mock_key_seed())?;
            let keys = backend.generate_evaluation_keys(&req)?;
            let key_bytes = to_bytes(MOCK_KEYS_KIND, &keys)?;
            guard_session(&files, &private, a.force)?;
            write_private(
                &private.secret(),
                MOCK_SECRET_KIND,
                &MockSecret {
                    params,
                    seed: a.backend.mock_key_seed(),
                },
            )?;
            write_bytes(&files.keys(), &key_bytes, false)?;
            let mut plan = plan;
            plan.keys_digest = Some(message_digest(&key_bytes));
            (plan, req)
        }
        Backend::Ckks => {
            let preset = spec.ckks_preset()?;
            let params = CkksParams::new(&preset.params)?;
            let plan = with_method(Plan::new(
                &splits,
                &cfg,
                params.slots,
                a.hyper.weight_bound,
                &a.hyper.softmax,
            )?)?;
            let config = a.backend.bootstrap_config(&preset);
            let (mut plan, compaction) = a.hyper.with_ckks_compaction(plan, &params, &config)?;
            println!("compaction: {compaction}");
            let req = plan.evaluation_keys(true)?;
            let mut client = match a.backend.key_seed {
                Some(seed) => CkksClient::from_seed(params.clone(), seed),
                None => CkksClient::new(params.clone()),
            };
            let (keys, est) = generate_bootstrap_keys(&mut client, &config, &req)?;
            // Encrypt at the bootstrapping output level (see `Plan::encrypt_level`).
            plan.encrypt_level = Some(hetal_ckks::presets::bootstrap_output_level(&preset));
            let key_bytes = to_bytes(CKKS_KEYS_KIND, &keys.to_bytes(&params))?;
            guard_session(&files, &private, a.force)?;
            write_private(
                &private.secret(),
                CKKS_SECRET_KIND,
                &CkksSecret {
                    preset: spec.preset.clone().unwrap_or_default(),
                    key: client.secret_key().to_bytes(),
                },
            )?;
            write_bytes(&files.keys(), &key_bytes, false)?;
            plan.keys_digest = Some(message_digest(&key_bytes));
            println!(
                "CKKS {} keys: {} switching keys, estimated memory on the server {:.2} GiB",
                preset.params.name,
                est.keys,
                est.total_bytes() as f64 / (1u64 << 30) as f64
            );
            (plan, req)
        }
    };
    let spec_json = serde_json::to_string_pretty(&spec)?;
    write_bytes(&private.backend(), spec_json.as_bytes(), true)?;
    write_bytes(
        &private.data_args(),
        serde_json::to_string_pretty(&a.data)?.as_bytes(),
        true,
    )?;
    session::save_client_state(&private.state(), &ClientState::default())?;
    write_private(&private.plan(), Plan::KIND, &plan)?;
    write_bytes(&files.backend(), spec_json.as_bytes(), false)?;
    write_message(&files.plan(), &plan)?;
    println!(
        "client directory (secret key, plan, state): {}",
        private.dir().display()
    );
    println!(
        "keys for {} rotations{} written to {}; plan: {} batches, unit shape ({}, {}), compaction {}",
        req.rotations.len(),
        if req.bootstrapping {
            " and bootstrapping"
        } else {
            ""
        },
        files.keys().display(),
        plan.batch_rows.len(),
        plan.unit.0,
        plan.unit.1,
        plan.describe_compaction()
    );
    Ok(())
}

/// The digest a plan records of its evaluation-key file: the file's SHA-256 trailer.
fn message_digest(file_bytes: &[u8]) -> [u8; 32] {
    let mut d = [0u8; 32];
    d.copy_from_slice(&file_bytes[file_bytes.len().saturating_sub(32)..]);
    d
}

/// The digest [`message_digest`] of the evaluation-key file `path` (its last 32 bytes; the
/// whole file is verified when the keys are read).
pub fn key_file_digest(path: &Path) -> CliResult<[u8; 32]> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let len = f.metadata()?.len();
    if len < 32 {
        return Err(format!("{}: truncated", path.display()).into());
    }
    f.seek(SeekFrom::Start(len - 32))?;
    let mut d = [0u8; 32];
    f.read_exact(&mut d)?;
    Ok(d)
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
    private: &Private,
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
            session::save_client_state(&private.state(), &client.state)?;
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
                println!("no new epoch result in {}", files.dir.display());
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
    private: &Private,
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
    // Everything is written before anything is printed: a closed output pipe loses nothing.
    let out = private.model();
    write_bytes(&out, serde_json::to_string_pretty(&m)?.as_bytes(), true)?;
    if let Some(p) = &a.svg {
        write_bytes(
            p,
            loss_plot_svg(
                &[("encrypted", report.history.as_slice())],
                Some(report.best_epoch),
            )
            .as_bytes(),
            true,
        )?;
    }
    println!("{report}");
    println!("plaintext model: {}", out.display());
    if let Some(p) = &a.svg {
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
    let pred = client.predictions_for(&z, splits.test.len())?;
    let report = ClassReport::new(&pred, &splits.test.labels, splits.num_classes);
    println!(
        "encrypted inference: test accuracy {:.2} %\n{report}",
        100.0 * report.accuracy
    );
    Ok(())
}

//! `hetal server train`: the server's side of the two-process protocol. It holds the evaluation
//! keys and the encrypted data only: [`hetal_nn::server::Server`] is generic over an evaluator,
//! which has no way to decrypt.

use super::client::{
    BackendSpec, CKKS_KEYS_KIND, Files, INFER_KIND, INFER_LOGITS_KIND, MOCK_KEYS_KIND,
    key_file_digest, lock_file,
};
use super::train::{Backend, CliResult, on_progress, progress_bar};
use hetal_ckks::bootstrap::BootstrappingEvaluator;
use hetal_ckks::{CkksEvaluator, CkksParams, EvaluationKeys};
use hetal_nn::protocol::{
    Checkpoint, Decision, EncMatrix, EncryptedData, read_message, read_tagged, write_message,
    write_tagged,
};
use hetal_nn::server::{Server, TrainingServer};
use hetal_nn::session;
use hetal_traits::Evaluator;
use hetal_traits::mock::{MockEvaluationKeys, MockEvaluator};
use serde::{Serialize, de::DeserializeOwned};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// `hetal server` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum ServerCommand {
    /// Train on the encrypted data: one epoch at a time, each answered by the client's decision
    /// (`hetal client evaluate`); resumes from its checkpoint when restarted.
    Train(ServerTrainArgs),
    /// Encrypted inference: the logits of the client's encrypted features under the encrypted
    /// best model (from the training checkpoint).
    Infer(ServerInferArgs),
}

/// Arguments of `hetal server infer`.
#[derive(clap::Args, Debug)]
pub struct ServerInferArgs {
    /// The exchange directory shared with the client.
    #[arg(long)]
    pub dir: PathBuf,
}

/// Arguments of `hetal server`.
#[derive(clap::Args, Debug)]
pub struct ServerArgs {
    #[command(subcommand)]
    /// The step.
    pub command: ServerCommand,
}

/// Arguments of `hetal server train`.
#[derive(clap::Args, Debug)]
pub struct ServerTrainArgs {
    /// The exchange directory shared with the client.
    #[arg(long)]
    pub dir: PathBuf,
    /// Wait for the client's decisions (otherwise exit after each epoch, to be restarted).
    #[arg(long)]
    pub wait: bool,
    /// Give up waiting for a decision after this many seconds.
    #[arg(long, default_value_t = 3600)]
    pub timeout_secs: u64,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// CKKS: worker threads of this process (0: all cores; with several ranks on one machine,
    /// cores / ranks).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Train data-parallel on the ranks of an MPI job (`mpirun -np R hetal server train
    /// --mpi ...`; needs a build with the `mpi` feature): each rank computes its share of the
    /// row blocks of every step, rank 0 talks to the client and writes the checkpoints; the
    /// result is the same as one process (docs/scale-out.md).
    #[arg(long)]
    pub mpi: bool,
}

/// Runs `hetal server ...`.
pub fn run(args: &ServerArgs) -> CliResult {
    match &args.command {
        ServerCommand::Train(a) => train(a),
        ServerCommand::Infer(a) => infer(a),
    }
}

fn train(a: &ServerTrainArgs) -> CliResult {
    if a.mpi {
        return train_mpi(a);
    }
    let files = Files::new(&a.dir);
    let _lock = lock_file(&files.server_lock(), "`hetal server`")?;
    match BackendSpec::load(&files)?.backend {
        Backend::Mock => train_with(a, &files, mock_evaluator(&files)?),
        Backend::Ckks => train_with(a, &files, ckks_evaluator(&files, a.threads)?),
    }
}

#[cfg(not(feature = "mpi"))]
fn train_mpi(_: &ServerTrainArgs) -> CliResult {
    Err(
        "this hetal was built without the `mpi` feature (cargo build --release --features mpi)"
            .into(),
    )
}

/// `--mpi`: every rank loads the keys and the data; rank 0 drives the protocol, the others
/// follow. A failing rank aborts the whole job (`MPI_Abort`) after printing its error.
#[cfg(feature = "mpi")]
fn train_mpi(a: &ServerTrainArgs) -> CliResult {
    let env = super::mpi::MpiEnv::init()?;
    let r = train_ranks(a, &env);
    if let Err(e) = &r {
        eprintln!("error: MPI rank {}: {e}; aborting the job", env.rank());
        env.abort(1);
    }
    r
}

#[cfg(feature = "mpi")]
fn train_ranks(a: &ServerTrainArgs, env: &super::mpi::MpiEnv) -> CliResult {
    let files = Files::new(&a.dir);
    let _lock = match env.rank() {
        0 => Some(lock_file(&files.server_lock(), "`hetal server`")?),
        _ => None,
    };
    match BackendSpec::load(&files)?.backend {
        Backend::Mock => train_dist(a, &files, mock_evaluator(&files)?, env),
        Backend::Ckks => train_dist(a, &files, ckks_evaluator(&files, a.threads)?, env),
    }
}

#[cfg(feature = "mpi")]
fn train_dist<E>(a: &ServerTrainArgs, files: &Files, ev: E, env: &super::mpi::MpiEnv) -> CliResult
where
    E: Evaluator,
    E::Ciphertext: Serialize + DeserializeOwned,
{
    use hetal_nn::distributed::DistServer;
    let (data, ckpt) = load_run::<E::Ciphertext>(files)?;
    let mut server = DistServer::new(ev, &data, ckpt.as_ref(), env.comm())?;
    let report = |s: &DistServer<E, _>| {
        let d = s.dist_stats();
        println!(
            "MPI rank {} of {}: {} collectives, {:.1} MiB sent, {:.1} MiB received, {:.3} s (de)serialising, {:.3} s in collectives (transfers and waiting for the other ranks)",
            s.rank(),
            s.ranks(),
            d.collectives,
            d.bytes_sent as f64 / (1u64 << 20) as f64,
            d.bytes_received as f64 / (1u64 << 20) as f64,
            d.codec_time.as_secs_f64(),
            d.wait_time.as_secs_f64()
        );
    };
    if server.rank() != 0 {
        server.follow(&mut |_| {})?;
        report(&server);
        return Ok(());
    }
    let blocks: Vec<usize> = (0..data.plan.batch_rows.len())
        .filter_map(|b| server.share(b).map(|(_, n)| n))
        .collect();
    if !a.quiet {
        println!(
            "{} MPI ranks; rank 0 holds {} of the {} row blocks of the batches",
            server.ranks(),
            blocks.iter().sum::<usize>(),
            data.plan
                .batch_rows
                .iter()
                .map(|r| r.div_ceil(data.plan.unit.0))
                .sum::<usize>()
        );
    }
    drop(data);
    drive(a, files, &mut server)?;
    server.finish()?;
    report(&server);
    Ok(())
}

/// The mock evaluator from the exchange directory's keys.
fn mock_evaluator(files: &Files) -> CliResult<MockEvaluator> {
    let keys: MockEvaluationKeys = read_tagged(&files.keys(), MOCK_KEYS_KIND)?;
    Ok(MockEvaluator::try_new(keys)?)
}

/// The bootstrapping CKKS evaluator from the exchange directory's keys (validated on read).
/// `threads`: worker threads (0: the evaluator's default, all cores).
fn ckks_evaluator(files: &Files, threads: usize) -> CliResult<BootstrappingEvaluator> {
    let spec = BackendSpec::load(files)?;
    let preset = spec.ckks_preset()?;
    let params = CkksParams::new(&preset.params)?;
    let bytes: Vec<u8> = read_tagged(&files.keys(), CKKS_KEYS_KIND)?;
    let keys = EvaluationKeys::from_bytes(&params, &bytes)?;
    if threads == 0 {
        return Ok(BootstrappingEvaluator::new(params, keys, &preset.config)?);
    }
    let inner = CkksEvaluator::new(params, keys)?.with_threads(threads)?;
    Ok(BootstrappingEvaluator::from_evaluator(
        inner,
        &preset.config,
    )?)
}

/// The encrypted data, checked to belong to the evaluation keys of the directory (the plan
/// records the digest of the key file it was made with).
fn load_data<C: DeserializeOwned>(files: &Files) -> CliResult<EncryptedData<C>> {
    let data: EncryptedData<C> = read_message(&files.data())?;
    data.plan.validate()?;
    if let Some(d) = data.plan.keys_digest
        && d != key_file_digest(&files.keys())?
    {
        return Err(format!(
            "{} was encrypted for other evaluation keys than {} (from another keygen)",
            files.data().display(),
            files.keys().display()
        )
        .into());
    }
    Ok(data)
}

/// The encrypted data and the checkpoint to resume, if any.
type Run<C> = (EncryptedData<C>, Option<Checkpoint<C>>);

fn load_run<C: DeserializeOwned>(files: &Files) -> CliResult<Run<C>> {
    let data: EncryptedData<C> = load_data(files)?;
    let ckpt_path = session::server_checkpoint_path(&files.server_dir());
    let ckpt: Option<Checkpoint<C>> = if ckpt_path.exists() {
        Some(read_message(&ckpt_path)?)
    } else {
        None
    };
    Ok((data, ckpt))
}

fn train_with<E>(a: &ServerTrainArgs, files: &Files, ev: E) -> CliResult
where
    E: Evaluator,
    E::Ciphertext: Serialize + DeserializeOwned,
{
    let (data, ckpt) = load_run::<E::Ciphertext>(files)?;
    let mut server = Server::for_plan(ev, &data, ckpt.as_ref())?;
    drop(data);
    drive(a, files, &mut server)
}

/// The server's protocol loop: epochs, results, the client's decisions, checkpoints.
fn drive<S>(a: &ServerTrainArgs, files: &Files, server: &mut S) -> CliResult
where
    S: TrainingServer,
    <S::Ev as Evaluator>::Ciphertext: Serialize,
{
    let ckpt_path = session::server_checkpoint_path(&files.server_dir());
    let bar = progress_bar(server.plan(), a.quiet);
    bar.set_position(server.stats().steps);
    loop {
        if server.is_done() {
            bar.finish_and_clear();
            let model = server.final_model();
            write_message(&files.model(), &model)?;
            let s = model.stats;
            println!(
                "training finished after {} epochs ({} steps, {:.3} s, {:.4} s/step; DiagABT {:.3} s, DiagATB {:.3} s, softmax {:.3} s); best epoch {}; encrypted model: {}",
                server.epochs_done(),
                s.steps,
                s.train_time.as_secs_f64(),
                s.train_time.as_secs_f64() / s.steps.max(1) as f64,
                s.abt_time.as_secs_f64(),
                s.atb_time.as_secs_f64(),
                s.softmax_time.as_secs_f64(),
                model.epoch + 1,
                files.model().display()
            );
            return Ok(());
        }
        if let Some(pending) = server.awaiting_decision() {
            let e = pending.epoch;
            if !files.result(e).exists() {
                write_message(&files.result(e), pending)?;
            }
            let dp = files.decision(e);
            let start = Instant::now();
            while !dp.exists() {
                if !a.wait {
                    bar.finish_and_clear();
                    println!(
                        "epoch {} done; waiting for the client's decision ({})",
                        e + 1,
                        dp.display()
                    );
                    return Ok(());
                }
                if start.elapsed() > Duration::from_secs(a.timeout_secs) {
                    return Err(format!(
                        "no decision on epoch {} after {} s",
                        e + 1,
                        a.timeout_secs
                    )
                    .into());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let d: Decision = read_message(&dp)?;
            server.apply_decision(d)?;
            write_message(&ckpt_path, &server.checkpoint())?;
            continue;
        }
        let r = server.run_epoch(&mut on_progress(&bar))?;
        write_message(&ckpt_path, &server.checkpoint())?;
        write_message(&files.result(r.epoch), &r)?;
    }
}

fn infer(a: &ServerInferArgs) -> CliResult {
    let files = Files::new(&a.dir);
    let _lock = lock_file(&files.server_lock(), "`hetal server`")?;
    match BackendSpec::load(&files)?.backend {
        Backend::Mock => infer_with(&files, mock_evaluator(&files)?),
        Backend::Ckks => infer_with(&files, ckks_evaluator(&files, 0)?),
    }
}

fn infer_with<E>(files: &Files, ev: E) -> CliResult
where
    E: Evaluator,
    E::Ciphertext: Serialize + DeserializeOwned,
{
    let data: EncryptedData<E::Ciphertext> = load_data(files)?;
    let ckpt_path = session::server_checkpoint_path(&files.server_dir());
    let ckpt: Checkpoint<E::Ciphertext> = read_message(&ckpt_path)?;
    let mut server = Server::for_plan(ev, &data, Some(&ckpt))?;
    let x: EncMatrix<E::Ciphertext> = read_tagged(&files.infer_request(), INFER_KIND)?;
    let t = Instant::now();
    let z = server.infer(&x)?;
    write_tagged(&files.infer_result(), INFER_LOGITS_KIND, &z)?;
    println!(
        "encrypted logits of {} rows in {:.3} s: {}",
        x.rows,
        t.elapsed().as_secs_f64(),
        files.infer_result().display()
    );
    Ok(())
}

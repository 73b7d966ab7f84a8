//! Both roles in one process: the training loop with per-epoch checkpoints, and the report.

use crate::client::{Client, ClientState};
use crate::data::Splits;
use crate::error::{Error, Result};
use crate::plain::{ClassReport, Model};
use crate::protocol::{Checkpoint, EncryptedModel, read_tagged, write_message, write_private};
use crate::report::TrainReport;
use crate::server::{Progress, Server, TrainingServer};
use hetal_traits::{Decryptor, Encryptor, Evaluator};

type Ct<S> = <<S as TrainingServer>::Ev as Evaluator>::Ciphertext;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Options of [`run`].
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// A directory for the per-epoch checkpoints (`server.ckpt`, `client.state`); an existing
    /// checkpoint there is resumed.
    pub checkpoint_dir: Option<PathBuf>,
    /// Stop (as if interrupted) after this many epochs in this call, leaving the checkpoint.
    pub interrupt_after: Option<usize>,
}

/// How a call to [`run`] ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome<C> {
    /// Training finished: the encrypted best model.
    Finished(EncryptedModel<C>),
    /// Interrupted by [`RunOptions::interrupt_after`]; resume from the checkpoint.
    Interrupted {
        /// Epochs finished so far.
        epochs_done: usize,
    },
}

/// The checkpoint file of the server in `dir`.
pub fn server_checkpoint_path(dir: &Path) -> PathBuf {
    dir.join("server.ckpt")
}

/// The state file of the client in `dir`.
pub fn client_state_path(dir: &Path) -> PathBuf {
    dir.join("client.state")
}

/// Saves the client's state (mode `0600`: it holds the validation losses).
pub fn save_client_state(path: &Path, s: &ClientState) -> Result<()> {
    write_private(path, "client-state", s)
}

/// Loads the client's state (checked with [`ClientState::validate`]; the caller checks the
/// epoch count against its plan).
pub fn load_client_state(path: &Path) -> Result<ClientState> {
    let s: ClientState = read_tagged(path, "client-state")?;
    s.validate(usize::MAX)
        .map_err(|e| Error::format(path.display().to_string(), e.to_string()))?;
    Ok(s)
}

/// Runs the protocol loop: epoch on the server, review on the client, decision on the server,
/// until the client stops or the epoch cap is reached. With a checkpoint directory, the server's
/// state and the client's state are written after every epoch and every decision (the server's
/// checkpoint first), and a checkpoint found there is resumed, so an interrupted run continues
/// without losing anything but the epoch in progress.
///
/// `server` is the [`Server`] or any other [`TrainingServer`].
pub fn run<K, S>(
    client: &mut Client<K>,
    server: &mut S,
    splits: &Splits,
    opts: &RunOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Outcome<Ct<S>>>
where
    S: TrainingServer + ?Sized,
    Ct<S>: serde::Serialize,
    K: Encryptor<Ciphertext = Ct<S>> + Decryptor<Ciphertext = Ct<S>>,
{
    let save = |server: &S, client: &Client<K>| -> Result<()> {
        if let Some(dir) = &opts.checkpoint_dir {
            save_client_state(&client_state_path(dir), &client.state)?;
            write_message(&server_checkpoint_path(dir), &server.checkpoint())?;
        }
        Ok(())
    };
    let mut epochs_this_call = 0;
    while !server.is_done() {
        let result = match server.awaiting_decision() {
            Some(r) => r.clone(),
            None => {
                if opts.interrupt_after.is_some_and(|k| epochs_this_call >= k) {
                    return Ok(Outcome::Interrupted {
                        epochs_done: server.epochs_done(),
                    });
                }
                let r = server.run_epoch(progress)?;
                epochs_this_call += 1;
                save(server, client)?;
                r
            }
        };
        // The client may already have judged this epoch before an interruption (its state is
        // saved before the server's checkpoint).
        let decision = if client.state.stopping.losses.len() == result.epoch + 1 {
            let s = &client.state.stopping;
            let improved = s.best_epoch == Some(result.epoch);
            let stop = s.should_stop(client.plan.config.patience, client.plan.config.epochs);
            crate::protocol::Decision {
                epoch: result.epoch,
                improved,
                stop,
            }
        } else {
            client.review_epoch(&result, splits)?.0
        };
        server.apply_decision(decision)?;
        save(server, client)?;
    }
    Ok(Outcome::Finished(server.final_model()))
}

/// Loads a server checkpoint if the directory has one.
pub fn load_checkpoint<C: serde::de::DeserializeOwned>(
    dir: &Path,
) -> Result<Option<(Checkpoint<C>, ClientState)>> {
    let sp = server_checkpoint_path(dir);
    if !sp.exists() {
        return Ok(None);
    }
    let ckpt: Checkpoint<C> = crate::protocol::read_message(&sp)?;
    let cp = client_state_path(dir);
    let state = if cp.exists() {
        load_client_state(&cp)?
    } else {
        ClientState::default()
    };
    if state.stopping.losses.len() + 1 < ckpt.epochs_done {
        return Err(Error::protocol(
            "the client state is older than the server checkpoint",
        ));
    }
    Ok(Some((ckpt, state)))
}

/// The run.py-style report of a finished run: the client decrypts the model and tests it.
pub fn report<K, C>(
    client: &Client<K>,
    model: &EncryptedModel<C>,
    splits: &Splits,
    title: &str,
) -> Result<(Model, TrainReport)>
where
    K: Encryptor<Ciphertext = C> + Decryptor<Ciphertext = C>,
    C: hetal_traits::Ciphertext,
{
    let m = client.decrypt_model(model)?;
    let pred = m.predict(&splits.test.features);
    let class_report = ClassReport::new(&pred, &splits.test.labels, splits.num_classes);
    let s = model.stats;
    let r = TrainReport {
        title: title.into(),
        train_time: s.train_time,
        steps: s.steps,
        abt_time: s.abt_time,
        atb_time: s.atb_time,
        softmax_time: s.softmax_time,
        bootstraps: s.bootstraps,
        bootstrap_time: s.bootstrap_time,
        best_epoch: model.epoch,
        history: client.state.history.clone(),
        test_accuracy: class_report.accuracy,
        class_report,
    };
    Ok((m, r))
}

/// A finished [`train_in_process`] run: both roles, the decrypted best model and its report.
pub struct InProcessRun<K, E: Evaluator> {
    /// The client (holds the secret key; decrypts and evaluates).
    pub client: Client<K>,
    /// The server after training (evaluation keys and ciphertexts only).
    pub server: Server<E>,
    /// The decrypted best model.
    pub model: Model,
    /// Its report (test accuracy, timings, history).
    pub report: TrainReport,
    /// Time to encrypt the data.
    pub encrypt_time: Duration,
    /// The epochs a checkpoint had already finished when the run resumed from it.
    pub resumed_after: Option<usize>,
}

/// The one in-process training driver that `hetal train` and `hetal compare` call, for any
/// [`crate::config::Method`] and any backend: the client encrypts the splits for `plan`, the
/// server ([`Server::for_plan`]) trains, resuming from the checkpoint in
/// [`RunOptions::checkpoint_dir`] if there is one, the client judges every epoch ([`run`]) and
/// decrypts the best model ([`report`], titled `title`), or stops as
/// [`RunOptions::interrupt_after`] asks. A resumed run first reports [`Progress::Resumed`].
pub fn train_in_process<K, E>(
    backend: K,
    ev: E,
    splits: &Splits,
    plan: &crate::protocol::Plan,
    opts: &RunOptions,
    title: &str,
    progress: &mut dyn FnMut(Progress),
) -> Result<InProcessOutcome<K, E>>
where
    E: Evaluator,
    E::Ciphertext: serde::Serialize + serde::de::DeserializeOwned,
    K: Encryptor<Ciphertext = E::Ciphertext> + Decryptor<Ciphertext = E::Ciphertext>,
{
    let t = Instant::now();
    let mut client = Client::new(backend, plan.clone())?;
    let data = client.encrypt_data(splits)?;
    let encrypt_time = t.elapsed();
    let resumed = match &opts.checkpoint_dir {
        Some(dir) => load_checkpoint::<E::Ciphertext>(dir)?,
        None => None,
    };
    let resumed_after = resumed.as_ref().map(|(c, _)| c.epochs_done);
    if let Some(epochs_done) = resumed_after {
        progress(Progress::Resumed { epochs_done });
    }
    let mut server = match resumed {
        Some((ckpt, state)) => {
            client.state = state;
            Server::for_plan(ev, &data, Some(&ckpt))?
        }
        None => Server::for_plan(ev, &data, None)?,
    };
    let model = match run(&mut client, &mut server, splits, opts, progress)? {
        Outcome::Finished(model) => model,
        Outcome::Interrupted { epochs_done } => {
            return Ok(InProcessOutcome::Interrupted { epochs_done });
        }
    };
    let (model, report) = report(&client, &model, splits, title)?;
    Ok(InProcessOutcome::Finished(Box::new(InProcessRun {
        client,
        server,
        model,
        report,
        encrypt_time,
        resumed_after,
    })))
}

/// How a [`train_in_process`] call ended.
pub enum InProcessOutcome<K, E: Evaluator> {
    /// Training finished.
    Finished(Box<InProcessRun<K, E>>),
    /// Interrupted by [`RunOptions::interrupt_after`]; the checkpoint resumes it.
    Interrupted {
        /// Epochs finished so far.
        epochs_done: usize,
    },
}

/// Encrypted inference on a test set, checked against the decrypted model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InferenceCheck {
    /// Test accuracy of the encrypted inference.
    pub accuracy: f64,
    /// Predictions equal to the decrypted model's plaintext predictions.
    pub agree: usize,
    /// Test rows.
    pub total: usize,
    /// Seconds (encryption, server, decryption).
    pub seconds: f64,
}

impl<K, E> InProcessRun<K, E>
where
    E: Evaluator,
    K: Encryptor<Ciphertext = E::Ciphertext> + Decryptor<Ciphertext = E::Ciphertext>,
{
    /// Encrypted inference on `test`: the client encrypts the features, the server computes the
    /// logits under the encrypted best model, the client decrypts and takes the arg-max.
    pub fn infer(&mut self, test: &crate::data::Dataset) -> Result<InferenceCheck> {
        let t = Instant::now();
        let x = self.client.encrypt_features(&test.features)?;
        let logits = self.server.infer(&x)?;
        let pred = self.client.predictions(&logits)?;
        let agree = pred
            .iter()
            .zip(&self.model.predict(&test.features))
            .filter(|(a, b)| a == b)
            .count();
        Ok(InferenceCheck {
            accuracy: crate::plain::accuracy(&pred, &test.labels),
            agree,
            total: pred.len(),
            seconds: t.elapsed().as_secs_f64(),
        })
    }
}

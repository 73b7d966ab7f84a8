//! Both roles in one process: the training loop with per-epoch checkpoints, and the report.

use crate::client::{Client, ClientState};
use crate::data::Splits;
use crate::error::{Error, Result};
use crate::method::TrainingServer;
use crate::plain::{ClassReport, Model};
use crate::protocol::{Checkpoint, EncryptedModel, read_tagged, write_message, write_private};
use crate::report::TrainReport;
use crate::server::Progress;
use hetal_traits::{Decryptor, Encryptor, Evaluator};

type Ct<S> = <<S as TrainingServer>::Ev as Evaluator>::Ciphertext;
use std::path::{Path, PathBuf};

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
/// `server` is HETAL's [`crate::server::Server`] or any other [`TrainingServer`] (e.g.
/// [`crate::method::MethodServer`]).
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

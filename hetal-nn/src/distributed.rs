//! A data-parallel server: several processes share every training step by row blocks.
//!
//! [`DistServer`] runs the one [`Server`] of any [`Method`](crate::config::Method) on `R`
//! processes (ranks) joined by a [`Collective`] (MPI in the `hetal` tool, threads in
//! [`ThreadGroup`]). Every rank loads the evaluation keys and the encrypted data and keeps the
//! rows it needs; per step each rank computes, for its own row blocks of the step's batch, the
//! forward product, the activation and `D = P − Y`, and the products of `A^T B` that the
//! gradient sums over row blocks
//! ([`AtbAlgorithm::multiply_shared`](hetal_linalg::matmul::AtbAlgorithm::multiply_shared));
//! each sum is formed on every rank from every rank's products, serialised and all-gathered, in
//! block order, and every rank applies the same update, so all ranks hold the same weights.
//!
//! # Semantics
//!
//! The batch of a step is the plan's: `R` ranks running a plan of batch `R·b` compute exactly
//! what one process does with that plan (the same rows in the same order, the same operations
//! on every ciphertext, the sums over row blocks in the same order), so the weights are
//! bit-identical on an exact backend (the mock) and on CKKS differ only where the activation
//! bootstraps two row blocks together in one process (a pair bootstrap) but one block alone
//! when the blocks are on different ranks. A batch of `n` row blocks gives the first `n mod R`
//! ranks `⌈n/R⌉` consecutive blocks and the others `⌊n/R⌋`; a rank without blocks (`n < R`)
//! only takes part in the sums. One block's activation is never split.
//!
//! Rank 0 is the server of the protocol: it talks to the client, validates (the validation
//! logits), writes the checkpoints and answers inference; the other ranks follow its commands
//! ([`DistServer::follow`]) and keep the same model state (they also refresh `W` where rank 0
//! refreshes it before validating). Every rank starts from the same checkpoint (checked).

use crate::error::{Error, Result};
use crate::ops::Progress;
use crate::protocol::{
    Checkpoint, Decision, EncMatrix, EncryptedData, EncryptedModel, EpochResult, Plan, ServerStats,
    digest, from_bytes, to_bytes,
};
use crate::server::{Server, TrainingServer};
use crate::state::{self, EpochSteps, TrainState};
use hetal_linalg::matmul::RowBlockSum;
use hetal_linalg::packed::PackedMatrix;
use hetal_traits::Evaluator;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

type Ct<E> = <E as Evaluator>::Ciphertext;
type Packed<E> = PackedMatrix<Ct<E>>;

/// The collective operations a [`DistServer`] needs of the processes it runs on. Every
/// process calls the same operations in the same order; an operation that cannot complete
/// (a process gone) must fail or end the job rather than wait forever.
pub trait Collective {
    /// This process's rank, `0 ≤ rank < size`.
    fn rank(&self) -> usize;
    /// The number of processes.
    fn size(&self) -> usize;
    /// Every process's bytes, in rank order (`local` is this process's).
    fn all_gather(&self, local: &[u8]) -> Result<Vec<Vec<u8>>>;
    /// Rank 0's bytes, on every process (the argument is ignored on the other ranks).
    fn broadcast(&self, bytes: Vec<u8>) -> Result<Vec<u8>>;
}

/// What rank 0 tells the other ranks to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Command {
    /// Train the next epoch.
    Epoch,
    /// Apply the client's decision on the pending epoch.
    Decision(Decision),
    /// Training is over (or rank 0 stops until it is restarted): leave.
    Stop,
}

const COMMAND_KIND: &str = "mpi-command";
const TERMS_KIND: &str = "mpi-row-block-products";
const PROBS_KIND: &str = "mpi-activations";
const STATE_KIND: &str = "mpi-state";

/// The rows of one batch a rank holds: block rows `first..first + count` of the batch.
struct Share<E: Evaluator> {
    first: usize,
    count: usize,
    /// Features, labels, real rows; `None` without blocks.
    local: Option<(Packed<E>, Packed<E>, usize)>,
}

/// Block rows `first..first + count` of `n` for `rank` of `size`: the first `n mod size` ranks
/// get one block more.
pub fn share_of(n: usize, rank: usize, size: usize) -> (usize, usize) {
    let (q, r) = (n / size, n % size);
    (rank * q + rank.min(r), q + usize::from(rank < r))
}

/// Block rows `first..first + count` of a Plain matrix `m` of `rows` real rows, or `None` if
/// `count` is 0.
fn block_rows<C: Clone>(
    m: &PackedMatrix<C>,
    first: usize,
    count: usize,
) -> Result<Option<PackedMatrix<C>>> {
    if count == 0 {
        return Ok(None);
    }
    let (s0, bc) = (m.shape().s0, m.block_cols());
    let rows = m
        .rows()
        .min((first + count) * s0)
        .saturating_sub(first * s0);
    let blocks = m.blocks()[first * bc..(first + count) * bc].to_vec();
    Ok(Some(PackedMatrix::from_blocks(
        rows,
        m.cols(),
        m.shape(),
        m.layout(),
        blocks,
    )?))
}

/// What a rank of a [`DistServer`] spent on its collectives since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DistStats {
    /// Collective operations (all-gathers and broadcasts).
    pub collectives: u64,
    /// Bytes this rank contributed.
    pub bytes_sent: u64,
    /// Bytes this rank received (all ranks' contributions, its own included).
    pub bytes_received: u64,
    /// Time serialising and deserialising ciphertexts and commands (with their checksums).
    pub codec_time: Duration,
    /// Time inside the collectives: the transfers and the wait for the slowest rank (a rank
    /// with less work, or one waiting for rank 0's validation or the client, waits here).
    pub wait_time: Duration,
}

impl DistStats {
    fn gathered(&mut self, sent: usize, all: &[Vec<u8>], t: Duration) {
        self.collectives += 1;
        self.bytes_sent += sent as u64;
        self.bytes_received += all.iter().map(|b| b.len() as u64).sum::<u64>();
        self.wait_time += t;
    }
}

/// The [`RowBlockSum`] of a [`DistServer`]: the local products serialised, all-gathered and
/// read back in rank order (= block order).
struct GatherSum<'a, C> {
    comm: &'a C,
    stats: &'a mut DistStats,
}

impl<Cl: Collective, T: Serialize + DeserializeOwned> RowBlockSum<T> for GatherSum<'_, Cl> {
    fn gather(&mut self, local: Vec<T>) -> hetal_linalg::Result<Vec<T>> {
        let err = |e: Error| hetal_linalg::Error::Collective {
            reason: e.to_string(),
        };
        let t = Instant::now();
        let bytes = to_bytes(TERMS_KIND, &local).map_err(err)?;
        drop(local);
        self.stats.codec_time += t.elapsed();
        let t = Instant::now();
        let all = self.comm.all_gather(&bytes).map_err(err)?;
        self.stats.gathered(bytes.len(), &all, t.elapsed());
        let t = Instant::now();
        let mut out = Vec::new();
        for b in &all {
            let terms: Vec<T> = from_bytes(TERMS_KIND, b).map_err(err)?;
            out.extend(terms);
        }
        self.stats.codec_time += t.elapsed();
        Ok(out)
    }
}

/// The data-parallel server; see the [module docs](self).
pub struct DistServer<E: Evaluator, C: Collective> {
    server: Server<E>,
    comm: C,
    shares: Vec<Share<E>>,
    stopped_sent: bool,
    dist: DistStats,
}

impl<E, C> DistServer<E, C>
where
    E: Evaluator,
    Ct<E>: Serialize + DeserializeOwned,
    C: Collective,
{
    /// The server of this rank for the client's data (every rank passes the same data and
    /// checkpoint; checked: they must agree on the plan and on the state resumed). Keeps
    /// only this rank's row blocks of every batch. Collective: every rank calls it.
    pub fn new(
        ev: E,
        data: &EncryptedData<Ct<E>>,
        ckpt: Option<&Checkpoint<Ct<E>>>,
        comm: C,
    ) -> Result<Self> {
        let (rank, size) = (comm.rank(), comm.size());
        if size == 0 || rank >= size {
            return Err(Error::collective(format!("rank {rank} of {size}")));
        }
        let mut server = Server::for_plan(ev, data, ckpt)?;
        let s0 = server.plan().unit.0;
        let (xs, ys) = server.take_training_data();
        let mut shares = Vec::with_capacity(xs.len());
        for (b, (x, y)) in xs.into_iter().zip(ys).enumerate() {
            let n = x.block_rows();
            let (first, count) = share_of(n, rank, size);
            let local = match (block_rows(&x, first, count)?, block_rows(&y, first, count)?) {
                (Some(x), Some(y)) => {
                    let rows = x.rows();
                    if rows == 0 || rows > count * s0 {
                        return Err(Error::protocol(format!(
                            "batch {b}: {rows} rows in {count} blocks"
                        )));
                    }
                    Some((x, y, rows))
                }
                _ => None,
            };
            shares.push(Share {
                first,
                count,
                local,
            });
        }
        let me = DistServer {
            server,
            comm,
            shares,
            stopped_sent: false,
            dist: DistStats::default(),
        };
        me.check_agreement()?;
        Ok(me)
    }

    /// Checks that every rank has the same plan and model state (after loading or resuming).
    fn check_agreement(&self) -> Result<()> {
        let st = &self.server.st;
        let fp = (
            digest(&to_bytes("plan", self.server.plan())?),
            st.epochs_done,
            st.step,
            st.stopped,
            st.pending.as_ref().map(|p| p.epoch),
        );
        let mine = to_bytes(STATE_KIND, &fp)?;
        let all = self.comm.all_gather(&mine)?;
        for (r, b) in all.iter().enumerate() {
            if *b != mine {
                return Err(Error::collective(format!(
                    "rank {r} holds another plan or state than rank {} (another checkpoint or data?)",
                    self.comm.rank()
                )));
            }
        }
        Ok(())
    }

    /// This rank.
    pub fn rank(&self) -> usize {
        self.comm.rank()
    }

    /// The number of ranks.
    pub fn ranks(&self) -> usize {
        self.comm.size()
    }

    /// What this rank spent on collectives so far.
    pub fn dist_stats(&self) -> DistStats {
        self.dist
    }

    /// The block rows of batch `b` this rank holds (`first`, `count`).
    pub fn share(&self, b: usize) -> Option<(usize, usize)> {
        self.shares.get(b).map(|s| (s.first, s.count))
    }

    /// The encrypted look-ahead and current weights `(V, W)` of this rank (the same on every
    /// rank), for tests and checks.
    pub fn weights(&self) -> (EncMatrix<Ct<E>>, EncMatrix<Ct<E>>) {
        (
            EncMatrix::from_packed(&self.server.st.v),
            EncMatrix::from_packed(&self.server.st.w),
        )
    }

    fn require_root(&self, what: &str) -> Result<()> {
        if self.comm.rank() != 0 {
            return Err(Error::collective(format!(
                "{what} is rank 0's; rank {} follows it",
                self.comm.rank()
            )));
        }
        Ok(())
    }

    fn send(&mut self, c: Command) -> Result<()> {
        let bytes = to_bytes(COMMAND_KIND, &c)?;
        let t = Instant::now();
        let got = self.comm.broadcast(bytes)?;
        self.dist
            .gathered(got.len(), std::slice::from_ref(&got), t.elapsed());
        Ok(())
    }

    fn receive(&mut self) -> Result<Command> {
        let t = Instant::now();
        let got = self.comm.broadcast(Vec::new())?;
        self.dist
            .gathered(0, std::slice::from_ref(&got), t.elapsed());
        from_bytes(COMMAND_KIND, &got)
    }

    /// One step on batch `b`, shared by all ranks; returns the activations of the whole batch
    /// on rank 0 when the plan reports a training loss (gathered from the ranks), else this
    /// rank's (`None` without rows).
    fn shared_step(&mut self, b: usize) -> Result<Option<Packed<E>>> {
        let share = self
            .shares
            .get(b)
            .ok_or_else(|| Error::protocol(format!("no batch {b}")))?;
        let local = share.local.as_ref().map(|(x, y, r)| (x, y, *r));
        let mut sum = GatherSum {
            comm: &self.comm,
            stats: &mut self.dist,
        };
        let p = self.server.step_on(b, local, Some(&mut sum))?;
        if !self.server.plan().report_train_loss {
            return Ok(p);
        }
        let t = Instant::now();
        let mine: Vec<Ct<E>> = p.as_ref().map(|p| p.blocks().to_vec()).unwrap_or_default();
        let mine = to_bytes(PROBS_KIND, &mine)?;
        self.dist.codec_time += t.elapsed();
        let t = Instant::now();
        let all = self.comm.all_gather(&mine)?;
        self.dist.gathered(mine.len(), &all, t.elapsed());
        if self.comm.rank() != 0 {
            return Ok(p);
        }
        let t = Instant::now();
        let mut blocks = Vec::new();
        for bytes in &all {
            let part: Vec<Ct<E>> = from_bytes(PROBS_KIND, bytes)?;
            blocks.extend(part);
        }
        self.dist.codec_time += t.elapsed();
        let p = p.ok_or_else(|| Error::collective("rank 0 holds no rows of a batch"))?;
        Ok(Some(PackedMatrix::from_blocks(
            self.server.plan().batch_rows[b],
            p.cols(),
            p.shape(),
            p.layout(),
            blocks,
        )?))
    }

    /// Ranks other than 0: follows rank 0's commands (epochs, decisions) until training is
    /// over or rank 0 stops; `progress` sees every step. Collective.
    pub fn follow(&mut self, progress: &mut dyn FnMut(Progress)) -> Result<()> {
        if self.comm.rank() == 0 {
            return Err(Error::collective(
                "rank 0 drives the others; it does not follow",
            ));
        }
        loop {
            match self.receive()? {
                Command::Stop => return Ok(()),
                Command::Decision(d) => {
                    let st = &mut self.server.st;
                    if st.pending.is_none() {
                        return Err(Error::collective(format!(
                            "a decision on epoch {} but no epoch awaits one here",
                            d.epoch
                        )));
                    }
                    let max = self.server.plan().config.epochs;
                    self.server.st.apply_decision(d, max)?;
                }
                Command::Epoch => {
                    let st = &self.server.st;
                    if st.stopped || st.pending.is_some() {
                        return Err(Error::collective(
                            "rank 0 started an epoch this rank cannot start",
                        ));
                    }
                    let epoch = st.epochs_done;
                    let plan = self.server.plan();
                    let order = plan.config.batch_order(epoch, plan.batch_rows.len());
                    for (i, &b) in order.iter().enumerate() {
                        self.shared_step(b)?;
                        progress(Progress::Step {
                            epoch,
                            done: i + 1,
                            total: order.len(),
                        });
                    }
                    // Rank 0 refreshes W before its validation logits: the same here.
                    self.server.val_prepare()?;
                    let st = &mut self.server.st;
                    st.epochs_done += 1;
                    // A stand-in for the result rank 0 sends to the client, so that the
                    // decision finds the epoch pending as on rank 0.
                    st.pending = Some(EpochResult {
                        epoch,
                        val_logits: EncMatrix::from_packed(&st.w),
                        train_probs: Vec::new(),
                        epoch_time: Duration::ZERO,
                    });
                }
            }
        }
    }

    /// Rank 0: tells the other ranks to leave ([`DistServer::follow`] returns), once training
    /// is over or when rank 0 stops until it is restarted. Idempotent.
    pub fn finish(&mut self) -> Result<()> {
        self.require_root("finishing")?;
        if !self.stopped_sent {
            self.send(Command::Stop)?;
            self.stopped_sent = true;
        }
        Ok(())
    }
}

impl<E, C> EpochSteps<E> for DistServer<E, C>
where
    E: Evaluator,
    Ct<E>: Serialize + DeserializeOwned,
    C: Collective,
{
    fn plan_of(&self) -> &Plan {
        self.server.plan()
    }
    fn state_mut(&mut self) -> &mut TrainState<E> {
        &mut self.server.st
    }
    fn train_step(&mut self, b: usize) -> Result<Packed<E>> {
        self.shared_step(b)?
            .ok_or_else(|| Error::collective("rank 0 holds no rows of a batch"))
    }
    fn val_logits(&mut self) -> Result<Packed<E>> {
        self.server.val_logits()
    }
}

impl<E, C> TrainingServer for DistServer<E, C>
where
    E: Evaluator,
    Ct<E>: Serialize + DeserializeOwned,
    C: Collective,
{
    type Ev = E;

    fn plan(&self) -> &Plan {
        self.server.plan()
    }

    fn evaluator(&self) -> &E {
        self.server.evaluator()
    }

    fn stats(&self) -> ServerStats {
        self.server.stats()
    }

    fn epochs_done(&self) -> usize {
        self.server.epochs_done()
    }

    fn awaiting_decision(&self) -> Option<&EpochResult<Ct<E>>> {
        self.server.awaiting_decision()
    }

    fn is_done(&self) -> bool {
        self.server.is_done()
    }

    /// Rank 0: the epoch on all ranks, the validation logits on rank 0.
    fn run_epoch(&mut self, progress: &mut dyn FnMut(Progress)) -> Result<EpochResult<Ct<E>>> {
        self.require_root("an epoch")?;
        if self.server.is_done() {
            return Err(Error::protocol("training is over"));
        }
        if let Some(p) = self.server.awaiting_decision() {
            return Err(Error::protocol(format!(
                "epoch {} still awaits the client's decision",
                p.epoch
            )));
        }
        self.send(Command::Epoch)?;
        state::run_epoch(self, progress)
    }

    /// Rank 0: the decision on every rank.
    fn apply_decision(&mut self, d: Decision) -> Result<()> {
        self.require_root("a decision")?;
        // Checked here first, so that the other ranks never see a decision rank 0 refuses.
        match self.server.awaiting_decision() {
            Some(p) if p.epoch == d.epoch => {}
            _ => return self.server.apply_decision(d),
        }
        self.send(Command::Decision(d))?;
        self.server.apply_decision(d)
    }

    fn checkpoint(&self) -> Checkpoint<Ct<E>> {
        self.server.checkpoint()
    }

    fn final_model(&self) -> EncryptedModel<Ct<E>> {
        self.server.final_model()
    }

    /// On this rank alone (rank 0 answers inference).
    fn infer(&mut self, x: &EncMatrix<Ct<E>>) -> Result<EncMatrix<Ct<E>>> {
        self.server.infer(x)
    }
}

impl<E: Evaluator, C: Collective> std::fmt::Debug for DistServer<E, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DistServer")
            .field("rank", &self.comm.rank())
            .field("ranks", &self.comm.size())
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// `size` ranks as threads of one process ([`ThreadGroup::new`] gives one member per thread):
/// a [`Collective`] for tests and for one machine without MPI. A member that is dropped
/// (its thread finished or failed) makes every collective still waiting for it fail, and a
/// collective fails after `timeout` without all members, so no member waits forever.
pub struct ThreadGroup {
    rank: usize,
    shared: Arc<GroupShared>,
}

struct GroupShared {
    size: usize,
    timeout: Duration,
    state: Mutex<GroupState>,
    cv: Condvar,
}

struct GroupState {
    arrived: usize,
    generation: u64,
    slots: Vec<Vec<u8>>,
    broken: Option<String>,
}

impl ThreadGroup {
    /// The `size` members of a new group, rank by rank.
    pub fn new(size: usize, timeout: Duration) -> Vec<ThreadGroup> {
        let shared = Arc::new(GroupShared {
            size,
            timeout,
            state: Mutex::new(GroupState {
                arrived: 0,
                generation: 0,
                slots: vec![Vec::new(); size],
                broken: None,
            }),
            cv: Condvar::new(),
        });
        (0..size)
            .map(|rank| ThreadGroup {
                rank,
                shared: Arc::clone(&shared),
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GroupState> {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until every member has arrived (a barrier), or fails.
    fn sync(&self) -> Result<()> {
        let mut st = self.lock();
        if let Some(b) = &st.broken {
            return Err(Error::collective(b.clone()));
        }
        st.arrived += 1;
        if st.arrived == self.shared.size {
            st.arrived = 0;
            st.generation += 1;
            self.shared.cv.notify_all();
            return Ok(());
        }
        let g = st.generation;
        let start = std::time::Instant::now();
        while st.generation == g {
            if let Some(b) = &st.broken {
                return Err(Error::collective(b.clone()));
            }
            let left = self.shared.timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                let msg = format!(
                    "rank {}: no collective with all {} ranks within {:?}",
                    self.rank, self.shared.size, self.shared.timeout
                );
                st.broken = Some(msg.clone());
                self.shared.cv.notify_all();
                return Err(Error::collective(msg));
            }
            st = self
                .shared
                .cv
                .wait_timeout(st, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        Ok(())
    }
}

impl Collective for ThreadGroup {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.shared.size
    }

    fn all_gather(&self, local: &[u8]) -> Result<Vec<Vec<u8>>> {
        self.lock().slots[self.rank] = local.to_vec();
        self.sync()?;
        let all = self.lock().slots.clone();
        self.sync()?;
        Ok(all)
    }

    fn broadcast(&self, bytes: Vec<u8>) -> Result<Vec<u8>> {
        if self.rank == 0 {
            self.lock().slots[0] = bytes;
        }
        self.sync()?;
        let b = self.lock().slots[0].clone();
        self.sync()?;
        Ok(b)
    }
}

impl Drop for ThreadGroup {
    fn drop(&mut self) {
        let mut st = self.lock();
        if st.broken.is_none() {
            st.broken = Some(format!("rank {} left the group", self.rank));
        }
        self.shared.cv.notify_all();
    }
}

impl std::fmt::Debug for ThreadGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadGroup")
            .field("rank", &self.rank)
            .field("size", &self.shared.size)
            .finish()
    }
}

//! The messages the client and the server exchange, and their file format.
//!
//! Every message is one file: an 8-byte magic, a format version, the message kind (so a file of
//! one kind cannot be read as another), then the message encoded with `bincode` (serde).
//! Files are written to a temporary name and renamed, so a reader never sees half a message and
//! a killed writer never leaves a truncated checkpoint behind.
//!
//! | message | from → to | contents |
//! |---|---|---|
//! | [`Plan`] | client → server | shapes, unit shape, hyperparameters (public) |
//! | evaluation keys | client → server | the backend's key type |
//! | [`EncryptedData`] | client → server | encrypted batches of features and one-hot labels, the validation features, the initial weights |
//! | [`EpochResult`] | server → client | encrypted validation logits (and the softmax outputs of the epoch's batches) |
//! | [`Decision`] | client → server | whether the epoch was the best so far and whether to stop |
//! | [`EncryptedModel`] | server → client | the encrypted weights of the best epoch, with the server's timings |
//! | [`Checkpoint`] | server → itself | everything to resume training after the last finished epoch |

use crate::config::TrainConfig;
use crate::error::{Error, Result};
use hetal_linalg::packed::{Layout, PackedMatrix, UnitShape};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

const MAGIC: &[u8; 8] = b"HETALNN\0";
/// Version 2: `Plan::method` and `EncryptedData::preconditioners` (training methods).
const VERSION: u32 = 2;

/// A serialisable mirror of [`Layout`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LayoutTag {
    /// [`Layout::Plain`].
    Plain,
    /// [`Layout::RowTiled`].
    RowTiled,
    /// [`Layout::ColTiled`].
    ColTiled,
    /// [`Layout::Columns`].
    Columns,
    /// [`Layout::Replicated`].
    Replicated,
}

impl From<Layout> for LayoutTag {
    fn from(l: Layout) -> Self {
        match l {
            Layout::Plain => LayoutTag::Plain,
            Layout::RowTiled => LayoutTag::RowTiled,
            Layout::ColTiled => LayoutTag::ColTiled,
            Layout::Columns => LayoutTag::Columns,
            Layout::Replicated => LayoutTag::Replicated,
        }
    }
}

impl From<LayoutTag> for Layout {
    fn from(l: LayoutTag) -> Self {
        match l {
            LayoutTag::Plain => Layout::Plain,
            LayoutTag::RowTiled => Layout::RowTiled,
            LayoutTag::ColTiled => Layout::ColTiled,
            LayoutTag::Columns => Layout::Columns,
            LayoutTag::Replicated => Layout::Replicated,
        }
    }
}

/// A serialisable [`PackedMatrix`] of ciphertexts (or plaintexts).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EncMatrix<C> {
    /// Logical rows.
    pub rows: usize,
    /// Logical columns.
    pub cols: usize,
    /// Unit shape `(s0, s1)`.
    pub unit: (usize, usize),
    /// Layout.
    pub layout: LayoutTag,
    /// The ciphertexts in storage order.
    pub blocks: Vec<C>,
}

impl<C: Clone> EncMatrix<C> {
    /// Copies a packed matrix.
    pub fn from_packed(m: &PackedMatrix<C>) -> Self {
        EncMatrix {
            rows: m.rows(),
            cols: m.cols(),
            unit: (m.shape().s0, m.shape().s1),
            layout: m.layout().into(),
            blocks: m.blocks().to_vec(),
        }
    }

    /// Back to a packed matrix, validating the shape (the data may come from a file).
    pub fn to_packed(&self) -> Result<PackedMatrix<C>> {
        let shape = UnitShape::new(self.unit.0, self.unit.1)?;
        Ok(PackedMatrix::from_blocks(
            self.rows,
            self.cols,
            shape,
            self.layout.into(),
            self.blocks.clone(),
        )?)
    }
}

/// The public description of a training run: what the client encrypts and the server expects.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Slot count of the backend.
    pub slots: usize,
    /// Unit shape `(s0, s1)`.
    pub unit: (usize, usize),
    /// Number of features (without the bias).
    pub features: usize,
    /// Number of real classes.
    pub classes: usize,
    /// The class count padded to a power of two (rows of the weight matrix).
    pub padded_classes: usize,
    /// Rows of each training batch (in storage order).
    pub batch_rows: Vec<usize>,
    /// Rows of the validation set.
    pub val_rows: usize,
    /// Hyperparameters.
    pub config: TrainConfig,
    /// Whether the server returns the softmax outputs of every batch so that the client can
    /// report a training loss (they are computed anyway; sending them costs bandwidth only).
    pub report_train_loss: bool,
    /// An upper bound on `|weight|`, used to scale weights into the bootstrapping range.
    pub weight_bound: f64,
    /// The name of the softmax approximation the server runs (the keys are generated for it).
    pub softmax: String,
    /// The level the client encrypts at; `None`: the backend's top level. A bootstrappable CKKS
    /// backend's top level lies far above its bootstrapping output level: encrypting the data
    /// there makes every product with them pay for the extra limbs (the features are reused by
    /// every step and never refreshed), so the CKKS training encrypts at the output level.
    #[serde(default)]
    pub encrypt_level: Option<u32>,
    /// The training method (activation and loss, optimiser, product layout): HETAL's by
    /// default.
    pub method: crate::config::Method,
}

impl Plan {
    /// The unit shape.
    pub fn shape(&self) -> Result<UnitShape> {
        Ok(UnitShape::new(self.unit.0, self.unit.1)?)
    }

    /// Columns of the data matrices: features plus the bias column.
    pub fn width(&self) -> usize {
        self.features + 1
    }
}

/// The encrypted training data and initial model, client → server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EncryptedData<C> {
    /// The plan the data follow.
    pub plan: Plan,
    /// Per batch: features with the bias column, `rows × (features + 1)`, Plain.
    pub train_x: Vec<EncMatrix<C>>,
    /// Per batch: one-hot labels, `rows × padded_classes`, Plain.
    pub train_y: Vec<EncMatrix<C>>,
    /// Validation features with the bias column, Plain.
    pub val_x: EncMatrix<C>,
    /// The initial weights, `padded_classes × (features + 1)`, Plain (the client encrypts them:
    /// the server cannot encrypt).
    pub initial_weights: EncMatrix<C>,
    /// Per batch, the quadratic-gradient preconditioner `B̄⁻¹` (same shape as the weights, the
    /// same row for every class), when the method asks for it; empty otherwise.
    pub preconditioners: Vec<EncMatrix<C>>,
}

/// What the server sends after each epoch, server → client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochResult<C> {
    /// The epoch (0-based).
    pub epoch: usize,
    /// Encrypted validation logits `val_rows × padded_classes`, Plain.
    pub val_logits: EncMatrix<C>,
    /// Encrypted softmax outputs of each batch, `(batch index, P)`, if the plan asks for them.
    pub train_probs: Vec<(usize, EncMatrix<C>)>,
    /// Server time spent on the epoch.
    pub epoch_time: Duration,
}

/// The client's answer to an [`EpochResult`], client → server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The epoch this answers (0-based).
    pub epoch: usize,
    /// Whether this epoch has the lowest validation loss so far (the server keeps its weights).
    pub improved: bool,
    /// Whether to stop training.
    pub stop: bool,
}

/// Time the server spent, by part.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerStats {
    /// Total training time (steps and validation passes).
    pub train_time: Duration,
    /// Time in DiagABT (training and validation forward passes).
    pub abt_time: Duration,
    /// Time in DiagATB.
    pub atb_time: Duration,
    /// Time in the softmax approximation.
    pub softmax_time: Duration,
    /// Time in bootstrapping (outside the softmax).
    pub bootstrap_time: Duration,
    /// Optimiser steps taken.
    pub steps: u64,
    /// Bootstraps run (outside the softmax).
    pub bootstraps: u64,
}

/// The trained model, server → client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EncryptedModel<C> {
    /// The epoch whose weights these are (0-based).
    pub epoch: usize,
    /// Encrypted weights `padded_classes × (features + 1)`, Plain.
    pub weights: EncMatrix<C>,
    /// The server's timings.
    pub stats: ServerStats,
}

/// The server's state after an epoch: enough to resume without losing anything.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint<C> {
    /// The plan (checked against the data on resume).
    pub plan: Plan,
    /// Epochs finished (their steps are in the weights).
    pub epochs_done: usize,
    /// Optimiser steps taken.
    pub step: u64,
    /// Current weights `W`.
    pub w: EncMatrix<C>,
    /// Current look-ahead weights `V` (Nesterov; equal to `W` for SGD).
    pub v: EncMatrix<C>,
    /// The best epoch so far and its weights.
    pub best: Option<(usize, EncMatrix<C>)>,
    /// The result of the last epoch while the client's decision on it is outstanding.
    pub pending: Option<EpochResult<C>>,
    /// Whether the client said stop.
    pub stopped: bool,
    /// Accumulated timings.
    pub stats: ServerStats,
}

/// The kind tag of each message type, checked on read.
pub trait MessageKind {
    /// A short unique name.
    const KIND: &'static str;
}

impl MessageKind for Plan {
    const KIND: &'static str = "plan";
}
impl<C> MessageKind for EncryptedData<C> {
    const KIND: &'static str = "encrypted-data";
}
impl<C> MessageKind for EpochResult<C> {
    const KIND: &'static str = "epoch-result";
}
impl MessageKind for Decision {
    const KIND: &'static str = "decision";
}
impl<C> MessageKind for EncryptedModel<C> {
    const KIND: &'static str = "encrypted-model";
}
impl<C> MessageKind for Checkpoint<C> {
    const KIND: &'static str = "checkpoint";
}

/// bincode's standard encoding with a 16 GiB cap, so that a hostile length prefix is refused
/// before anything is allocated for it.
fn bincode_config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<{ 1 << 34 }>()
}

/// Encodes a value with its kind into bytes.
pub fn to_bytes<T: Serialize>(kind: &str, value: &T) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    let k = kind.as_bytes();
    out.extend_from_slice(&(k.len() as u32).to_le_bytes());
    out.extend_from_slice(k);
    bincode::serde::encode_into_std_write(value, &mut out, bincode_config())
        .map_err(|e| Error::format(kind, format!("cannot encode: {e}")))?;
    Ok(out)
}

/// Decodes bytes written by [`to_bytes`] with the same kind.
pub fn from_bytes<T: DeserializeOwned>(kind: &str, bytes: &[u8]) -> Result<T> {
    decode(kind, bytes).map_err(|reason| Error::format(kind, reason))
}

fn decode<T: DeserializeOwned>(kind: &str, bytes: &[u8]) -> std::result::Result<T, String> {
    if bytes.len() < 16 || &bytes[..8] != MAGIC {
        return Err("not a hetal-nn message (bad magic)".into());
    }
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if version != VERSION {
        return Err(format!("format version {version}, expected {VERSION}"));
    }
    let klen = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]) as usize;
    let rest = &bytes[16..];
    if rest.len() < klen {
        return Err("truncated header".into());
    }
    let found = String::from_utf8_lossy(&rest[..klen]);
    if found != kind {
        return Err(format!("this file holds a {found:?} message, not {kind:?}"));
    }
    let (value, used) = bincode::serde::decode_from_slice(&rest[klen..], bincode_config())
        .map_err(|e| format!("cannot decode (truncated or corrupt?): {e}"))?;
    if used != rest.len() - klen {
        return Err(format!("{} trailing bytes", rest.len() - klen - used));
    }
    Ok(value)
}

/// Writes a message atomically (temporary file, then rename).
pub fn write_tagged<T: Serialize>(path: &Path, kind: &str, value: &T) -> Result<()> {
    let bytes = to_bytes(kind, value)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        f.write_all(&bytes).map_err(|e| Error::io(&tmp, e))?;
        f.sync_all().map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// Reads a message written by [`write_tagged`] with the same kind.
pub fn read_tagged<T: DeserializeOwned>(path: &Path, kind: &str) -> Result<T> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| Error::io(path, e))?;
    decode(kind, &bytes).map_err(|reason| Error::format(path.display().to_string(), reason))
}

/// Writes a message of a known kind.
pub fn write_message<T: Serialize + MessageKind>(path: &Path, value: &T) -> Result<()> {
    write_tagged(path, T::KIND, value)
}

/// Reads a message of a known kind.
pub fn read_message<T: DeserializeOwned + MessageKind>(path: &Path) -> Result<T> {
    read_tagged(path, T::KIND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_kind_check() {
        let d = Decision {
            epoch: 3,
            improved: true,
            stop: false,
        };
        let b = to_bytes(Decision::KIND, &d).unwrap();
        assert_eq!(from_bytes::<Decision>(Decision::KIND, &b).unwrap(), d);
        assert!(matches!(
            from_bytes::<Decision>("plan", &b),
            Err(Error::Format { .. })
        ));
        assert!(from_bytes::<Decision>(Decision::KIND, &b[..b.len() - 1]).is_err());
        let mut bad = b.clone();
        bad[0] = b'X';
        assert!(from_bytes::<Decision>(Decision::KIND, &bad).is_err());
        let mut extra = b.clone();
        extra.push(0);
        assert!(from_bytes::<Decision>(Decision::KIND, &extra).is_err());
    }
}

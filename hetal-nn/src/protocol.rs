//! The messages the client and the server exchange, and their file format.
//!
//! Every message is one file: an 8-byte magic, a format version, the message kind (so a file of
//! one kind cannot be read as another), the message encoded with `bincode` (serde), and a
//! SHA-256 digest of everything before it, so that a flipped bit or a truncated copy is an error
//! rather than a wrong model. (The digest detects corruption, not forgery: anyone who writes a
//! file can compute it. The client therefore checks every message it reads against its own
//! [`Plan`], see [`EncMatrix::check`].) Files are written to a temporary name and renamed, so a
//! reader never sees half a message and a killed writer never leaves a truncated checkpoint
//! behind; [`write_private`] creates the file with mode `0600` from the start.
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
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

const MAGIC: &[u8; 8] = b"HETALNN\0";
/// Version 2: `Plan::method` and `EncryptedData::preconditioners` (training methods).
/// Version 3: a SHA-256 trailer on every file, `Plan::keys_digest`.
/// Version 4: `Plan::compaction` (the binary encoding has no optional fields, so files of
/// version 3 are refused with a version error rather than misread).
const VERSION: u32 = 4;
/// Bytes of the SHA-256 trailer.
const DIGEST_BYTES: usize = 32;
/// The largest message file read (16 GiB, bincode's cap below).
pub const MAX_MESSAGE_BYTES: u64 = 1 << 34;
/// The most slots a plan may have (2^17: twice the largest CKKS ring's slot count).
pub const MAX_SLOTS: usize = 1 << 17;

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

    /// Back to a packed matrix, validating the shape (the data may come from a file): the unit
    /// shape must have at most [`MAX_SLOTS`] slots and every size is computed with checked
    /// arithmetic, so hostile dimensions give an error, never an overflow.
    pub fn to_packed(&self) -> Result<PackedMatrix<C>> {
        let (s0, s1) = self.unit;
        let slots = s0
            .checked_mul(s1)
            .filter(|&s| s <= MAX_SLOTS)
            .ok_or_else(|| {
                Error::format(
                    "encrypted matrix",
                    format!("unit shape ({s0}, {s1}) exceeds {MAX_SLOTS} slots"),
                )
            })?;
        let shape = UnitShape::new(s0, s1)?;
        debug_assert_eq!(shape.slots(), slots);
        let layout: Layout = self.layout.into();
        let (gr, gc) = layout.grid(self.rows, self.cols, shape);
        if gr.checked_mul(gc) != Some(self.blocks.len()) {
            return Err(Error::format(
                "encrypted matrix",
                format!(
                    "{} ciphertexts for a {} x {} {layout:?} matrix in ({s0}, {s1}) blocks",
                    self.blocks.len(),
                    self.rows,
                    self.cols
                ),
            ));
        }
        Ok(PackedMatrix::from_blocks(
            self.rows,
            self.cols,
            shape,
            self.layout.into(),
            self.blocks.clone(),
        )?)
    }
}

impl<C: hetal_traits::Ciphertext> EncMatrix<C> {
    /// Checks a matrix read from a file against what the reader expects, before anything is
    /// allocated for it: exactly `rows × cols`, the unit shape `unit`, the [`Layout::Plain`]
    /// layout, the block count of that shape, and every block at a level `<= max_level` with a
    /// finite positive scale. `what` names the matrix in the error. `O(blocks)`, no allocation.
    pub fn check(
        &self,
        what: &str,
        rows: usize,
        cols: usize,
        unit: (usize, usize),
        max_level: hetal_traits::Level,
    ) -> Result<()> {
        let bad = |reason: String| Error::protocol(format!("{what}: {reason}"));
        if self.unit != unit {
            return Err(bad(format!(
                "unit shape {:?}, the plan has {unit:?}",
                self.unit
            )));
        }
        if self.layout != LayoutTag::Plain {
            return Err(bad(format!("layout {:?}, expected Plain", self.layout)));
        }
        if (self.rows, self.cols) != (rows, cols) {
            return Err(bad(format!(
                "a {} x {} matrix, expected {rows} x {cols}",
                self.rows, self.cols
            )));
        }
        let expected = rows
            .div_ceil(unit.0.max(1))
            .checked_mul(cols.div_ceil(unit.1.max(1)));
        if expected != Some(self.blocks.len()) {
            return Err(bad(format!(
                "{} ciphertexts, expected {}",
                self.blocks.len(),
                expected.map_or("too many".to_string(), |e| e.to_string())
            )));
        }
        for (i, b) in self.blocks.iter().enumerate() {
            if b.level() > max_level {
                return Err(bad(format!(
                    "ciphertext {i} at level {}, above the top level {}",
                    b.level().0,
                    max_level.0
                )));
            }
            let s = b.scale().value();
            if !(s.is_finite() && s > 0.0) {
                return Err(bad(format!("ciphertext {i} has the invalid scale {s}")));
            }
        }
        Ok(())
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
    /// The SHA-256 digest of the evaluation-key file the plan was made with (see [`digest`]),
    /// set by the two-process `keygen`; `None` in one process. Data, checkpoints and keys of
    /// different sessions therefore never match.
    pub keys_digest: Option<[u8; 32]>,
    /// Whether the server compacts the logits of each step before the softmax
    /// ([`Plan::with_compaction`], [`hetal_linalg::compact`]); the keys include its rotations.
    /// Absent (`false`) in self-describing encodings (JSON) of plans written before it existed;
    /// message files of the version before it are refused by their version.
    #[serde(default)]
    pub compaction: bool,
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

/// bincode's standard encoding with a 16 GiB cap (for encoding; decoding uses a cap derived
/// from the input's size, see `decode_limited`).
fn bincode_config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<{ 1 << 34 }>()
}

/// Decodes `bytes` with bincode's standard encoding and a limit on the bytes the decoder may
/// claim of 16 × `bytes.len()` (rounded up to a power of two, at least 1 MiB): a decoded value
/// claims at most 16 bytes per byte of input (a one-byte integer claims its full width), so a
/// genuine message always fits, while a hostile length prefix (a string or byte buffer claiming
/// gigabytes) is refused before anything is allocated for it. Allocation is thus bounded by a
/// small multiple of the input's real size.
fn decode_limited<T: DeserializeOwned>(bytes: &[u8]) -> std::result::Result<(T, usize), String> {
    let need = (bytes.len() as u64)
        .saturating_mul(16)
        .max(1 << 20)
        .next_power_of_two();
    macro_rules! limited {
        ($($b:literal),*) => {
            match need.trailing_zeros() {
                $( $b => bincode::serde::decode_from_slice(
                    bytes,
                    bincode::config::standard().with_limit::<{ 1usize << $b }>(),
                ), )*
                _ => return Err(format!("{} bytes: too large a message", bytes.len())),
            }
        };
    }
    limited!(
        20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38
    )
    .map_err(|e| e.to_string())
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
    let d = digest(&out);
    out.extend_from_slice(&d);
    Ok(out)
}

/// The SHA-256 digest of `bytes`.
pub fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Recomputes the SHA-256 trailer of a message (for tests and tools that build modified
/// messages on purpose, as a hostile writer could). Fails on bytes too short to hold one.
pub fn reseal(bytes: &mut [u8]) -> Result<()> {
    let n = bytes
        .len()
        .checked_sub(DIGEST_BYTES)
        .ok_or_else(|| Error::format("message", "too short to hold a digest"))?;
    let d = digest(&bytes[..n]);
    bytes[n..].copy_from_slice(&d);
    Ok(())
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
    if bytes.len() < 16 + DIGEST_BYTES {
        return Err("truncated (no digest)".into());
    }
    let (bytes, trailer) = bytes.split_at(bytes.len() - DIGEST_BYTES);
    if digest(bytes)[..] != trailer[..] {
        return Err("checksum mismatch: the file is corrupt or truncated".into());
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
    let (value, used) = decode_limited(&rest[klen..])
        .map_err(|e| format!("cannot decode (truncated or corrupt?): {e}"))?;
    if used != rest.len() - klen {
        return Err(format!("{} trailing bytes", rest.len() - klen - used));
    }
    Ok(value)
}

/// Writes a message atomically (temporary file, then rename).
pub fn write_tagged<T: Serialize>(path: &Path, kind: &str, value: &T) -> Result<()> {
    write_bytes(path, &to_bytes(kind, value)?, false)
}

/// Writes a message atomically like [`write_tagged`], readable and writable by its owner only:
/// on Unix the temporary file is created with mode `0600` (there is no moment at which it is
/// readable by others). For secret keys, the client's state and decrypted outputs.
pub fn write_private<T: Serialize>(path: &Path, kind: &str, value: &T) -> Result<()> {
    write_bytes(path, &to_bytes(kind, value)?, true)
}

/// Writes `bytes` to `path` atomically (a temporary file in the same directory, synced, then
/// renamed); `private`: created with mode `0600` on Unix.
pub fn write_bytes(path: &Path, bytes: &[u8], private: bool) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    // A leftover of a killed process with the same id: start afresh.
    let _ = std::fs::remove_file(&tmp);
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(if private { 0o600 } else { 0o644 });
        }
        #[cfg(not(unix))]
        let _ = private;
        let mut f = opts.open(&tmp).map_err(|e| Error::io(&tmp, e))?;
        f.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
        f.sync_all().map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// Reads a whole file of at most `max` bytes (checked on its metadata before anything is
/// allocated).
pub fn read_file_bounded(path: &Path, max: u64) -> Result<Vec<u8>> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    if len > max {
        return Err(Error::format(
            path.display().to_string(),
            format!("{len} bytes, more than the limit of {max}"),
        ));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    f.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > max {
        return Err(Error::format(
            path.display().to_string(),
            format!("more than the limit of {max} bytes"),
        ));
    }
    Ok(bytes)
}

/// Reads a message written by [`write_tagged`] with the same kind.
pub fn read_tagged<T: DeserializeOwned>(path: &Path, kind: &str) -> Result<T> {
    let bytes = read_file_bounded(path, MAX_MESSAGE_BYTES)?;
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

//! The error type of hetal-nn.

use std::path::PathBuf;

/// Result alias for hetal-nn.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while loading data, training, or exchanging protocol messages.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An encrypted linear-algebra or approximation routine failed.
    #[error(transparent)]
    Linalg(#[from] hetal_linalg::Error),
    /// A homomorphic operation failed.
    #[error(transparent)]
    He(#[from] hetal_traits::Error),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A `.npy` file could not be read (bad header, unsupported element type, truncated data).
    #[error("{path}: cannot read .npy: {reason}")]
    Npy {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A CSV line could not be parsed.
    #[error("{path}:{line}: {reason}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// An array has the wrong number of dimensions or the wrong shape.
    #[error("{what}: wrong shape: expected {expected}, got {actual:?}")]
    Shape {
        /// Which array.
        what: String,
        /// The expected shape, in words.
        expected: String,
        /// The actual shape.
        actual: Vec<usize>,
    },
    /// A feature value is NaN or infinite.
    #[error("{what}: non-finite feature value {value} at row {row}, column {col}")]
    NonFinite {
        /// Which data set.
        what: String,
        /// Row (sample) index.
        row: usize,
        /// Column (feature) index.
        col: usize,
        /// The value.
        value: f64,
    },
    /// A label is negative, not an integer, or not below the number of classes.
    #[error("{what}: label {label} at row {row} is not a class index in 0..{num_classes}")]
    LabelOutOfRange {
        /// Which data set.
        what: String,
        /// Row (sample) index.
        row: usize,
        /// The label as read.
        label: f64,
        /// The number of classes.
        num_classes: usize,
    },
    /// Features and labels have different lengths.
    #[error("{what}: {features} feature rows but {labels} labels")]
    LengthMismatch {
        /// Which data set.
        what: String,
        /// Number of feature rows.
        features: usize,
        /// Number of labels.
        labels: usize,
    },
    /// Two splits have different feature counts.
    #[error("{what}: {actual} features, but the training set has {expected}")]
    FeatureCountMismatch {
        /// Which data set.
        what: String,
        /// The training set's feature count.
        expected: usize,
        /// This set's feature count.
        actual: usize,
    },
    /// A data set with no rows (or no features).
    #[error("{what}: empty data set")]
    Empty {
        /// Which data set.
        what: String,
    },
    /// A size (class count, feature count, sample count, label, slot count, ...) above the
    /// stated limit of this crate.
    #[error("{what}: {value} is above the limit of {limit}")]
    Limit {
        /// Which size.
        what: String,
        /// The value asked for or read.
        value: String,
        /// The limit.
        limit: String,
    },
    /// An invalid training configuration.
    #[error("invalid configuration: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },
    /// A message or checkpoint could not be (de)serialised, or is not what was expected.
    #[error("{what}: {reason}")]
    Format {
        /// Which message or file.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// A collective operation between the processes of a distributed server failed, or they
    /// disagree about their state.
    #[error("distributed server: {reason}")]
    Collective {
        /// What went wrong.
        reason: String,
    },
    /// The two roles disagree about the state of the protocol (wrong epoch, missing message, ...).
    #[error("protocol error: {reason}")]
    Protocol {
        /// What is wrong.
        reason: String,
    },
}

impl Error {
    /// Shorthand for [`Error::Config`].
    pub fn config(reason: impl Into<String>) -> Self {
        Error::Config {
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::Limit`].
    pub fn limit(what: impl Into<String>, value: impl ToString, limit: impl ToString) -> Self {
        Error::Limit {
            what: what.into(),
            value: value.to_string(),
            limit: limit.to_string(),
        }
    }

    /// Shorthand for [`Error::Protocol`].
    pub fn protocol(reason: impl Into<String>) -> Self {
        Error::Protocol {
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::Collective`].
    pub fn collective(reason: impl Into<String>) -> Self {
        Error::Collective {
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::Format`].
    pub fn format(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Format {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// Wraps an I/O error with the file it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

//! Data sets: HETAL's `.npy` layout, CSV files, and the embedded 8x8 digits.
//!
//! Every loader validates what it reads: shapes, finite features, integral labels in
//! `0..num_classes`, equal lengths of features and labels, and equal feature counts across the
//! train, validation and test splits. Each violation is its own [`Error`] variant.
//!
//! Sizes have stated limits: at most [`MAX_CLASSES`] classes (so a label of `1e12` is an error,
//! not a loop over a trillion classes), at most [`MAX_FEATURES`] features, and a `.npy` file's
//! header must describe no more data than the file holds (checked before anything is allocated).

use crate::error::{Error, Result};
use ndarray::{Array2, ArrayD, Axis};
use ndarray_npy::{ReadNpyError, ReadNpyExt, WriteNpyExt};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter};
use std::path::Path;

/// The most classes a data set may have (HETAL's data sets have up to 100; the padded class
/// count must also fit the unit shape of the plan).
pub const MAX_CLASSES: usize = 4096;
/// The most features a data set may have.
pub const MAX_FEATURES: usize = 1 << 20;
/// The most values (`samples × features`) synthetic data may have.
pub const MAX_SYNTHETIC_VALUES: usize = 1 << 28;

/// Checks a class count against `2..=`[`MAX_CLASSES`].
pub fn check_classes(what: &str, classes: usize) -> Result<()> {
    if classes > MAX_CLASSES {
        return Err(Error::limit(
            format!("{what}: number of classes"),
            classes,
            MAX_CLASSES,
        ));
    }
    if classes < 2 {
        return Err(Error::config(format!(
            "{what}: {classes} classes; at least 2 are needed"
        )));
    }
    Ok(())
}

/// One split of a data set: a feature matrix (rows = samples) and class labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// `n x d` features.
    pub features: Array2<f64>,
    /// `n` labels in `0..num_classes`.
    pub labels: Vec<usize>,
}

impl Dataset {
    /// Validates features (finite) and raw labels (integral, in `0..num_classes`, as many as rows).
    pub fn from_raw(
        what: &str,
        features: Array2<f64>,
        raw_labels: &[f64],
        num_classes: usize,
    ) -> Result<Self> {
        let (n, d) = features.dim();
        if n != raw_labels.len() {
            return Err(Error::LengthMismatch {
                what: what.into(),
                features: n,
                labels: raw_labels.len(),
            });
        }
        if n == 0 || d == 0 {
            return Err(Error::Empty { what: what.into() });
        }
        for ((row, col), &value) in features.indexed_iter() {
            if !value.is_finite() {
                return Err(Error::NonFinite {
                    what: what.into(),
                    row,
                    col,
                    value,
                });
            }
        }
        let mut labels = Vec::with_capacity(n);
        for (row, &label) in raw_labels.iter().enumerate() {
            if !(label.is_finite()
                && label >= 0.0
                && label.fract() == 0.0
                && label < num_classes as f64)
            {
                return Err(Error::LabelOutOfRange {
                    what: what.into(),
                    row,
                    label,
                    num_classes,
                });
            }
            labels.push(label as usize);
        }
        Ok(Dataset { features, labels })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples (never true for a validated data set).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Number of features.
    pub fn num_features(&self) -> usize {
        self.features.ncols()
    }

    /// The rows `range` as a new data set.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Dataset {
        Dataset {
            features: self
                .features
                .slice(ndarray::s![range.clone(), ..])
                .to_owned(),
            labels: self.labels[range].to_vec(),
        }
    }

    /// The rows `idx`, in that order.
    pub fn select(&self, idx: &[usize]) -> Dataset {
        Dataset {
            features: self.features.select(Axis(0), idx),
            labels: idx.iter().map(|&i| self.labels[i]).collect(),
        }
    }

    /// One-hot labels, `n x width` (`width >= num_classes`; extra columns are zero).
    pub fn one_hot(&self, width: usize) -> Array2<f64> {
        let mut y = Array2::zeros((self.len(), width));
        for (i, &l) in self.labels.iter().enumerate() {
            if l < width {
                y[[i, l]] = 1.0;
            }
        }
        y
    }
}

/// Train, validation and test splits with their class count.
#[derive(Clone, Debug, PartialEq)]
pub struct Splits {
    /// A short name of the data (for reports).
    pub name: String,
    /// Training set.
    pub train: Dataset,
    /// Validation set (early stopping).
    pub val: Dataset,
    /// Test set (final accuracy).
    pub test: Dataset,
    /// Number of classes.
    pub num_classes: usize,
}

impl Splits {
    /// Checks that the three splits have the same feature count and labels below `num_classes`.
    pub fn new(
        name: impl Into<String>,
        train: Dataset,
        val: Dataset,
        test: Dataset,
        num_classes: usize,
    ) -> Result<Self> {
        check_classes("data", num_classes)?;
        let d = train.num_features();
        if d > MAX_FEATURES {
            return Err(Error::limit("number of features", d, MAX_FEATURES));
        }
        for (what, s) in [("validation set", &val), ("test set", &test)] {
            if s.num_features() != d {
                return Err(Error::FeatureCountMismatch {
                    what: what.into(),
                    expected: d,
                    actual: s.num_features(),
                });
            }
        }
        for (what, s) in [
            ("training set", &train),
            ("validation set", &val),
            ("test set", &test),
        ] {
            if let Some((row, &l)) = s
                .labels
                .iter()
                .enumerate()
                .find(|&(_, &l)| l >= num_classes)
            {
                return Err(Error::LabelOutOfRange {
                    what: what.into(),
                    row,
                    label: l as f64,
                    num_classes,
                });
            }
        }
        Ok(Splits {
            name: name.into(),
            train,
            val,
            test,
            num_classes,
        })
    }

    /// Number of features.
    pub fn num_features(&self) -> usize {
        self.train.num_features()
    }

    /// Reads HETAL's layout: `features_{train,val,test}.npy` (2-D, float32 or float64) and
    /// `labels_{train,val,test}.npy` (1-D or `n x 1`, any integer type or float with integral
    /// values). Without `num_classes`, the class count is the largest label plus one.
    pub fn load_npy_dir(dir: &Path, num_classes: Option<usize>) -> Result<Self> {
        let mut feats = Vec::new();
        let mut labs = Vec::new();
        for split in ["train", "val", "test"] {
            feats.push(read_features_npy(
                &dir.join(format!("features_{split}.npy")),
            )?);
            labs.push(read_labels_npy(&dir.join(format!("labels_{split}.npy")))?);
        }
        let c = match num_classes {
            Some(c) => c,
            None => infer_classes(&labs)?,
        };
        check_classes("--classes", c)?;
        let name = dir
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "npy".into());
        let mut sets = Vec::new();
        for ((split, f), l) in ["training set", "validation set", "test set"]
            .iter()
            .zip(feats)
            .zip(labs)
        {
            sets.push(Dataset::from_raw(split, f, &l, c)?);
        }
        let [train, val, test] = three(sets)?;
        Splits::new(name, train, val, test, c)
    }

    /// Writes the splits in HETAL's layout (features float64, labels int64).
    pub fn save_npy_dir(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        for (split, s) in [
            ("train", &self.train),
            ("val", &self.val),
            ("test", &self.test),
        ] {
            let fp = dir.join(format!("features_{split}.npy"));
            write_npy(&fp, &s.features)?;
            let lp = dir.join(format!("labels_{split}.npy"));
            let l = ndarray::Array1::from_iter(s.labels.iter().map(|&l| l as i64));
            write_npy(&lp, &l)?;
        }
        Ok(())
    }

    /// Reads three CSV files (`label,feature,...` per line; an optional header line whose first
    /// field is not a number is skipped).
    pub fn load_csv(
        train: &Path,
        val: &Path,
        test: &Path,
        num_classes: Option<usize>,
    ) -> Result<Self> {
        let parts = [read_csv(train)?, read_csv(val)?, read_csv(test)?];
        let labs: Vec<Vec<f64>> = parts.iter().map(|(_, l)| l.clone()).collect();
        let c = match num_classes {
            Some(c) => c,
            None => infer_classes(&labs)?,
        };
        check_classes("--classes", c)?;
        let mut sets = Vec::new();
        for (split, (f, l)) in ["training set", "validation set", "test set"]
            .iter()
            .zip(parts)
        {
            sets.push(Dataset::from_raw(split, f, &l, c)?);
        }
        let [train_set, val_set, test_set] = three(sets)?;
        let name = train
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "csv".into());
        Splits::new(name, train_set, val_set, test_set, c)
    }

    /// Reads one CSV file and splits it with [`Splits::split`].
    pub fn load_csv_single(path: &Path, num_classes: Option<usize>, seed: u64) -> Result<Self> {
        let (f, l) = read_csv(path)?;
        let c = match num_classes {
            Some(c) => c,
            None => infer_classes(std::slice::from_ref(&l))?,
        };
        check_classes("--classes", c)?;
        let all = Dataset::from_raw("CSV data", f, &l, c)?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "csv".into());
        Splits::split(name, &all, c, seed)
    }

    /// A deterministic stratified 70/10/20 split (HETAL's split of Face Mask): the samples of each
    /// class are shuffled with `seed`, then cut in those proportions; each split is then shuffled.
    pub fn split(
        name: impl Into<String>,
        all: &Dataset,
        num_classes: usize,
        seed: u64,
    ) -> Result<Self> {
        check_classes("data", num_classes)?;
        let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); num_classes];
        for (i, &l) in all.labels.iter().enumerate() {
            let bucket = by_class.get_mut(l).ok_or_else(|| Error::LabelOutOfRange {
                what: "data".into(),
                row: i,
                label: l as f64,
                num_classes,
            })?;
            bucket.push(i);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (mut tr, mut va, mut te) = (Vec::new(), Vec::new(), Vec::new());
        for mut idx in by_class {
            idx.shuffle(&mut rng);
            let n = idx.len();
            let n_val = (n as f64 * 0.1).round() as usize;
            let n_test = (n as f64 * 0.2).round() as usize;
            let n_train = n - n_val - n_test;
            tr.extend_from_slice(&idx[..n_train]);
            va.extend_from_slice(&idx[n_train..n_train + n_val]);
            te.extend_from_slice(&idx[n_train + n_val..]);
        }
        for v in [&mut tr, &mut va, &mut te] {
            v.shuffle(&mut rng);
        }
        for (what, v) in [
            ("training set", &tr),
            ("validation set", &va),
            ("test set", &te),
        ] {
            if v.is_empty() {
                return Err(Error::Empty { what: what.into() });
            }
        }
        Splits::new(
            name,
            all.select(&tr),
            all.select(&va),
            all.select(&te),
            num_classes,
        )
    }

    /// Synthetic `samples × features` data with `classes` Gaussian-like clusters (HETAL-shaped
    /// tests: e.g. 768 features, 10 classes), features scaled into `[-1, 1]`, split with
    /// [`Splits::split`]; deterministic in `seed`.
    pub fn synthetic(samples: usize, features: usize, classes: usize, seed: u64) -> Result<Self> {
        use rand::{RngExt, SeedableRng};
        if samples < 10 || features == 0 || classes < 2 {
            return Err(Error::config(format!(
                "synthetic data need at least 10 samples, 1 feature and 2 classes (got {samples}, {features}, {classes})"
            )));
        }
        check_classes("synthetic data", classes)?;
        if features > MAX_FEATURES {
            return Err(Error::limit(
                "synthetic data: features",
                features,
                MAX_FEATURES,
            ));
        }
        for (what, n) in [
            ("samples x features", samples.saturating_mul(features)),
            ("classes x features", classes.saturating_mul(features)),
        ] {
            if n > MAX_SYNTHETIC_VALUES {
                return Err(Error::limit(
                    format!("synthetic data: {what}"),
                    n,
                    MAX_SYNTHETIC_VALUES,
                ));
            }
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        // Class means uniform in [-0.15, 0.15]^D, noise of standard deviation 1/2 per feature,
        // then everything scaled into [-1, 1] like normalised embeddings.
        let means: Vec<Vec<f64>> = (0..classes)
            .map(|_| {
                (0..features)
                    .map(|_| rng.random_range(-0.15..0.15))
                    .collect()
            })
            .collect();
        let mut x = Array2::zeros((samples, features));
        let mut labels = Vec::with_capacity(samples);
        for i in 0..samples {
            let c = rng.random_range(0..classes);
            labels.push(c as f64);
            for j in 0..features {
                let noise: f64 = (0..3).map(|_| rng.random_range(-0.5..0.5)).sum();
                x[[i, j]] = means[c][j] + noise;
            }
        }
        let m = x
            .iter()
            .fold(0.0f64, |m, v: &f64| m.max(v.abs()))
            .max(1e-12);
        x.mapv_inplace(|v| v / m);
        let all = Dataset::from_raw("synthetic data", x, &labels, classes)?;
        Splits::split(
            format!("synthetic {samples}x{features}, {classes} classes"),
            &all,
            classes,
            seed,
        )
    }

    /// The 8x8 handwritten digits embedded in `smartcore` (1797 samples, 64 features scaled to
    /// `[0, 1]`, 10 classes), split with [`Splits::split`].
    pub fn digits(seed: u64) -> Result<Self> {
        let ds = smartcore::dataset::digits::load_dataset();
        let (n, d) = (ds.num_samples, ds.num_features);
        let features = Array2::from_shape_vec(
            (n, d),
            ds.data.iter().map(|&v| f64::from(v) / 16.0).collect(),
        )
        .map_err(|e| Error::format("embedded digits", e.to_string()))?;
        let labels: Vec<f64> = ds.target.iter().map(|&v| f64::from(v)).collect();
        let all = Dataset::from_raw("embedded digits", features, &labels, 10)?;
        Splits::split("digits", &all, 10, seed)
    }

    /// The same splits with `classes` classes (`None`: unchanged); every label must stay below
    /// it, and it must be within [`check_classes`]'s limits. Lets `--classes` widen the class
    /// count of data with a fixed one (the digits), or reject a count their labels exceed.
    pub fn with_classes(self, classes: Option<usize>) -> Result<Splits> {
        match classes {
            None => Ok(self),
            Some(c) => Splits::new(self.name, self.train, self.val, self.test, c),
        }
    }

    /// Keeps at most the first `train`, `val` and `test` samples of each split (for quick runs).
    pub fn truncated(&self, train: usize, val: usize, test: usize) -> Splits {
        let cut = |s: &Dataset, k: usize| s.slice(0..k.min(s.len()).max(1));
        Splits {
            name: self.name.clone(),
            train: cut(&self.train, train),
            val: cut(&self.val, val),
            test: cut(&self.test, test),
            num_classes: self.num_classes,
        }
    }
}

fn three(sets: Vec<Dataset>) -> Result<[Dataset; 3]> {
    sets.try_into().map_err(|v: Vec<Dataset>| {
        Error::format("splits", format!("{} splits instead of 3", v.len()))
    })
}

/// The class count of raw labels: the largest label plus one (at least 2). A finite label at or
/// above [`MAX_CLASSES`] is an error naming it; other invalid labels (negative, fractional,
/// non-finite) are left to [`Dataset::from_raw`], which names their row.
fn infer_classes(labels: &[Vec<f64>]) -> Result<usize> {
    let mut max = 0.0f64;
    for (split, ls) in ["training set", "validation set", "test set"]
        .iter()
        .zip(labels)
    {
        for (row, &l) in ls.iter().enumerate() {
            if l.is_finite() && l >= MAX_CLASSES as f64 {
                return Err(Error::limit(
                    format!(
                        "{split}: label at row {row} (the class count is the largest label plus one)"
                    ),
                    l,
                    format!("{} (use labels 0..{MAX_CLASSES})", MAX_CLASSES - 1),
                ));
            }
            if l.is_finite() {
                max = max.max(l);
            }
        }
    }
    Ok((max as usize + 1).max(2))
}

fn write_npy<T: WriteNpyExt>(path: &Path, a: &T) -> Result<()> {
    let f = File::create(path).map_err(|e| Error::io(path, e))?;
    a.write_npy(BufWriter::new(f)).map_err(|e| Error::Npy {
        path: path.into(),
        reason: e.to_string(),
    })
}

fn open(path: &Path) -> Result<File> {
    File::open(path).map_err(|e| Error::io(path, e))
}

fn npy_err(path: &Path, e: ReadNpyError) -> Error {
    let reason = e.to_string();
    if let ReadNpyError::Io(io) = e {
        Error::io(path, io)
    } else {
        Error::Npy {
            path: path.into(),
            reason,
        }
    }
}

/// Reads a `.npy` header and checks that the data it describes fit in the file, so that a
/// header claiming a huge shape is an error before anything is allocated for it. Returns the
/// shape. `O(header)`.
pub fn check_npy_size(path: &Path) -> Result<Vec<usize>> {
    use std::io::Read;
    let bad = |reason: String| Error::Npy {
        path: path.into(),
        reason,
    };
    let mut f = open(path)?;
    let file_len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut pre = [0u8; 12];
    let mut got = 0;
    while got < pre.len() {
        match f.read(&mut pre[got..]).map_err(|e| Error::io(path, e))? {
            0 => break,
            k => got += k,
        }
    }
    if got < 10 || &pre[..6] != b"\x93NUMPY" {
        return Err(bad("not a .npy file (bad magic)".into()));
    }
    let (header_len, start) = match pre[6] {
        1 => (u64::from(u16::from_le_bytes([pre[8], pre[9]])), 10u64),
        2 | 3 if got == 12 => (
            u64::from(u32::from_le_bytes([pre[8], pre[9], pre[10], pre[11]])),
            12u64,
        ),
        v => return Err(bad(format!("unsupported .npy version {v}"))),
    };
    let data_start = start + header_len;
    if header_len > 1 << 20 || data_start > file_len {
        return Err(bad(format!(
            "header of {header_len} bytes in a file of {file_len} bytes"
        )));
    }
    let mut header = vec![0u8; header_len as usize];
    let mut f = open(path)?;
    std::io::copy(&mut (&mut f).take(start), &mut std::io::sink())
        .map_err(|e| Error::io(path, e))?;
    f.read_exact(&mut header).map_err(|e| Error::io(path, e))?;
    let header = String::from_utf8_lossy(&header);
    let descr = header
        .split("'descr'")
        .nth(1)
        .and_then(|r| r.split('\'').nth(1))
        .ok_or_else(|| bad("no 'descr' in the header".into()))?;
    let digits: String = descr
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect();
    let item: u64 = digits
        .chars()
        .rev()
        .collect::<String>()
        .parse()
        .map_err(|_| bad(format!("unsupported element type {descr:?}")))?;
    let shape_text = header
        .split("'shape'")
        .nth(1)
        .and_then(|r| r.split('(').nth(1))
        .and_then(|r| r.split(')').next())
        .ok_or_else(|| bad("no 'shape' in the header".into()))?;
    let shape = shape_text
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| t.trim_end_matches('L').parse::<usize>())
        .collect::<std::result::Result<Vec<usize>, _>>()
        .map_err(|_| bad(format!("unreadable shape ({shape_text})")))?;
    let needed = shape
        .iter()
        .try_fold(item, |acc, &d| acc.checked_mul(d as u64));
    let available = file_len - data_start;
    match needed {
        Some(n) if n <= available => Ok(shape),
        _ => Err(bad(format!(
            "the header claims a shape {shape:?} of {descr} values, more than the {available} data bytes of the file"
        ))),
    }
}

/// Tries each element type in turn; a wrong type descriptor moves on to the next one.
macro_rules! read_any {
    ($path:expr, $($t:ty),+) => {{
        check_npy_size($path)?;
        let mut result: Option<Result<ArrayD<f64>>> = None;
        $(
            if result.is_none() {
                match ArrayD::<$t>::read_npy(open($path)?) {
                    Ok(a) => result = Some(Ok(a.mapv(|v| v as f64))),
                    Err(ReadNpyError::WrongDescriptor(_)) => {}
                    Err(e) => result = Some(Err(npy_err($path, e))),
                }
            }
        )+
        result.unwrap_or_else(|| Err(Error::Npy {
            path: $path.into(),
            reason: "unsupported element type (expected a float or integer array)".into(),
        }))
    }};
}

/// Reads a 2-D float (or integer) `.npy` array.
pub fn read_features_npy(path: &Path) -> Result<Array2<f64>> {
    let a = read_any!(path, f64, f32, i64, i32, u8)?;
    let shape = a.shape().to_vec();
    a.into_dimensionality::<ndarray::Ix2>()
        .map_err(|_| Error::Shape {
            what: path.display().to_string(),
            expected: "a 2-D array (samples x features)".into(),
            actual: shape,
        })
}

/// Reads a 1-D (or `n x 1`) label `.npy` array of any integer or float type, as raw values.
pub fn read_labels_npy(path: &Path) -> Result<Vec<f64>> {
    let a = read_any!(path, i64, i32, i16, i8, u8, u16, u32, u64, f64, f32)?;
    let shape = a.shape().to_vec();
    match shape.as_slice() {
        [_] => Ok(a.iter().copied().collect()),
        [_, 1] => Ok(a.iter().copied().collect()),
        _ => Err(Error::Shape {
            what: path.display().to_string(),
            expected: "a 1-D label array".into(),
            actual: shape,
        }),
    }
}

/// Reads a CSV file of `label,feature,...` lines into features and raw labels. Every line must
/// have the same number of fields; an optional header line (first field not a number) is skipped.
pub fn read_csv(path: &Path) -> Result<(Array2<f64>, Vec<f64>)> {
    let reader = BufReader::new(open(path)?);
    let mut labels = Vec::new();
    let mut values = Vec::new();
    let mut width: Option<usize> = None;
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| Error::io(path, e))?;
        let line = if i == 0 {
            line.strip_prefix('\u{feff}').unwrap_or(&line)
        } else {
            &line
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if i == 0 && fields[0].parse::<f64>().is_err() {
            continue;
        }
        let csv_err = |reason: String| Error::Csv {
            path: path.into(),
            line: i + 1,
            reason,
        };
        if fields.len() < 2 {
            return Err(csv_err(
                "a line needs a label and at least one feature".into(),
            ));
        }
        match width {
            None => width = Some(fields.len() - 1),
            Some(w) if w != fields.len() - 1 => {
                return Err(csv_err(format!(
                    "{} features, but earlier lines have {w}",
                    fields.len() - 1
                )));
            }
            Some(_) => {}
        }
        let parse = |s: &str| {
            s.parse::<f64>()
                .map_err(|_| csv_err(format!("{s:?} is not a number")))
        };
        labels.push(parse(fields[0])?);
        for f in &fields[1..] {
            values.push(parse(f)?);
        }
    }
    let d = width.unwrap_or(0);
    let n = labels.len();
    let features = Array2::from_shape_vec((n, d), values)
        .map_err(|e| Error::format(path.display().to_string(), e.to_string()))?;
    Ok((features, labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_split_is_deterministic_and_stratified() {
        let a = Splits::digits(0).unwrap();
        let b = Splits::digits(0).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.train.len() + a.val.len() + a.test.len(), 1797);
        assert_eq!(a.num_features(), 64);
        assert!(a.train.features.iter().all(|&v| (0.0..=1.0).contains(&v)));
        for c in 0..10 {
            let n = a.val.labels.iter().filter(|&&l| l == c).count();
            assert!((15..=21).contains(&n), "class {c}: {n} validation samples");
        }
        let c = Splits::digits(1).unwrap();
        assert_ne!(a.train.labels, c.train.labels);
    }
}

#[cfg(test)]
mod synthetic_tests {
    use super::*;

    #[test]
    fn synthetic_data_are_deterministic_and_checked() {
        let a = Splits::synthetic(200, 12, 3, 1).unwrap();
        let b = Splits::synthetic(200, 12, 3, 1).unwrap();
        assert_eq!(a.train.features, b.train.features);
        assert_eq!(a.train.len() + a.val.len() + a.test.len(), 200);
        assert_eq!(a.num_features(), 12);
        assert!(a.train.features.iter().all(|v| v.abs() <= 1.0));
        assert!(Splits::synthetic(5, 12, 3, 1).is_err());
        assert!(Splits::synthetic(100, 12, 1, 1).is_err());
    }
}

//! The client's plaintext feature scaling, applied before encryption.
//!
//! Gradient descent on a softmax regression converges in few steps when the features are
//! centred and of equal spread; on raw features (pixel intensities in `[0, 1]`, CNN embeddings
//! with row norms around 20) the learning rate has to be tuned per data set. The client has the
//! plaintext, so it standardises before it encrypts: the server never sees the statistics.
//!
//! [`FeatureScaling::Standard`] fits on the training split only (no information from the
//! validation or test rows) and maps every split with the same affine map
//! `x ↦ (x − mean) / std · √(T / Σ_j 1)`, `T` = [`STANDARD_SQUARED_NORM`]: each non-constant
//! feature gets zero mean and unit variance on the training rows, then all features are scaled
//! together so that the mean squared row norm of the training rows is `T` whatever the feature
//! count (constant features become 0). One learning rate then serves the digits (64 features)
//! and HETAL-shaped embeddings (768) alike.

use crate::data::Splits;
use crate::error::{Error, Result};
use ndarray::{Array1, Axis};
use serde::{Deserialize, Serialize};

/// The mean squared row norm of the standardised training features.
pub const STANDARD_SQUARED_NORM: f64 = 64.0;

/// How the client scales its features before encrypting them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum FeatureScaling {
    /// The features as loaded.
    None,
    /// Per-feature standardisation on the training split, then a common factor so that the
    /// mean squared row norm is [`STANDARD_SQUARED_NORM`] (see the module docs).
    #[default]
    Standard,
}

impl FeatureScaling {
    /// Every scaling, for `--help` texts.
    pub const ALL: [FeatureScaling; 2] = [FeatureScaling::None, FeatureScaling::Standard];

    /// The stable name (`none`, `standard`).
    pub fn name(self) -> &'static str {
        match self {
            FeatureScaling::None => "none",
            FeatureScaling::Standard => "standard",
        }
    }

    /// The scaling called `name`.
    pub fn parse(name: &str) -> Result<Self> {
        FeatureScaling::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| {
                Error::config(format!(
                    "unknown feature scaling {name:?}; known: none, standard"
                ))
            })
    }

    /// The splits with their features scaled (labels and names unchanged).
    ///
    /// Errors: an empty training split, or non-finite statistics.
    pub fn apply(self, splits: &Splits) -> Result<Splits> {
        match self {
            FeatureScaling::None => Ok(splits.clone()),
            FeatureScaling::Standard => standardize(splits),
        }
    }
}

fn standardize(splits: &Splits) -> Result<Splits> {
    let x = &splits.train.features;
    if x.nrows() == 0 {
        return Err(Error::config("cannot standardise an empty training split"));
    }
    let mean = x
        .mean_axis(Axis(0))
        .ok_or_else(|| Error::config("cannot standardise an empty training split"))?;
    let std = x.std_axis(Axis(0), 0.0);
    // Features that are constant on the training rows carry no information: map them to 0.
    let inv: Array1<f64> = std.mapv(|s| if s > 1e-12 { 1.0 / s } else { 0.0 });
    let used = inv.iter().filter(|&&v| v > 0.0).count();
    let factor = if used == 0 {
        0.0
    } else {
        (STANDARD_SQUARED_NORM / used as f64).sqrt()
    };
    let scale = inv * factor;
    if mean.iter().chain(scale.iter()).any(|v| !v.is_finite()) {
        return Err(Error::config(
            "the training features have non-finite statistics",
        ));
    }
    let mut out = splits.clone();
    for ds in [&mut out.train, &mut out.val, &mut out.test] {
        ds.features = (&ds.features - &mean) * &scale;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_scaling_centres_and_fixes_the_mean_squared_norm() {
        let s = Splits::digits(0).unwrap();
        let t = FeatureScaling::Standard.apply(&s).unwrap();
        let x = &t.train.features;
        let mean = x.mean_axis(Axis(0)).unwrap();
        assert!(mean.iter().all(|m| m.abs() < 1e-9));
        let msq = x.rows().into_iter().map(|r| r.dot(&r)).sum::<f64>() / x.nrows() as f64;
        assert!((msq - STANDARD_SQUARED_NORM).abs() < 1e-9, "{msq}");
        // The same map on every split: labels untouched, shapes kept.
        assert_eq!(t.test.labels, s.test.labels);
        assert_eq!(t.val.features.dim(), s.val.features.dim());
        assert_eq!(
            FeatureScaling::None.apply(&s).unwrap().train.features,
            s.train.features
        );
        assert_eq!(
            FeatureScaling::parse("standard").unwrap(),
            FeatureScaling::Standard
        );
        assert!(FeatureScaling::parse("zscore").is_err());
    }
}

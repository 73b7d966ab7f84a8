//! hetal-ckks

//! hetal-nn

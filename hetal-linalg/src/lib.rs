//! hetal-linalg

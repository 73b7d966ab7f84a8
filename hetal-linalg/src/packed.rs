//! packed (being written).

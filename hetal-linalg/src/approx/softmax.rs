//! ASoftmax (being written).

//! poly (being written).

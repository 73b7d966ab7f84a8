//! Function approximations (being written).

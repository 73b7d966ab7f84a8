//! The `hetal` command-line tool.
fn main() {}

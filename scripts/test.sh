#!/usr/bin/env bash
# The project's test command (README.md): every crate, every feature (the conformance suite is
# behind hetal-traits' `conformance` feature), unit, integration and doc tests.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-features "$@"

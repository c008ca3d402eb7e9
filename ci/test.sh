#!/usr/bin/env bash
# The test command (README quickstart): installs what the tests need, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/install-deps.sh
cargo build --workspace --locked --quiet
cargo test --workspace --locked

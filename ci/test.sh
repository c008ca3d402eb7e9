#!/usr/bin/env bash
# The test command (README quickstart): installs what the tests need, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/install-deps.sh
cargo build --workspace --locked --quiet
# The shop alone (as the demo's `cargo run -p shop` and the tests build it) unifies features
# differently from the workspace: build it up front so that no test waits for it.
cargo build -p shop --locked --quiet
cargo test --workspace --locked

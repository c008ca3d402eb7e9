#!/usr/bin/env bash
# The test command (README quickstart): installs what the tests need, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/install-deps.sh
cargo build --workspace --locked --quiet
# The shop alone (as the demo's `cargo run -p shop` and the tests build it) unifies features
# differently from the workspace: build it up front so that no test waits for it.
cargo build -p shop --locked --quiet
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --locked 2>&1 | tee "$log"
# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed\n", p, f }' "$log"

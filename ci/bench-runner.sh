#!/usr/bin/env bash
# Runner overhead benchmark (not a test: timings on shared machines are noisy).
#  1. 50 `command` items of `sleep 1` with --jobs 50, against the same 50 sleeps started by the
#     shell in parallel (the reference): the difference is what preflight adds.
#  2. `validate` of a 1,000-item checklist, against `preflight --version` (process start).
# Usage: ci/bench-runner.sh [path/to/preflight]   (default: a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/preflight}
[ -x "$bin" ] || cargo build --release --quiet --bin preflight
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

{ echo '[checklist]'; echo 'name = "fifty sleeps"'
  for i in $(seq 1 50); do printf '\n[command.sleep-%s]\nrun = ["sleep", "1"]\n' "$i"; done; } > "$work/sleeps.toml"
{ echo '[checklist]'; echo 'name = "a thousand items"'; echo '[vars]'; echo 'base = "http://127.0.0.1:8080"'
  for i in $(seq 1 1000); do
    case $((i % 3)) in
      0) printf '\n[http.h%s]\nurl = "${base}/health/%s"\nstatus = [200, 204]\nbody_contains = "ok"\ntimeout = "2s"\ntags = ["api"]\n' "$i" "$i" ;;
      1) printf '\n[command.c%s]\nrun = ["true", "%s"]\nstdout_matches = "^$"\nneeds = ["http.h%s"]\n' "$i" "$i" "$(( i + 2 ))" ;;
      2) printf '\n[manual.m%s]\nprompt = "item %s ok?"\nblocking = false\n' "$i" "$i" ;;
    esac
  done; } > "$work/thousand.toml"
sed -i 's/needs = \["http.h1002"\]//' "$work/thousand.toml"

now() { date +%s.%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f\n", (b - a) * 1000 }'; }
best() { sort -n | head -1; }

echo "== 50 x sleep 1, --jobs 50 (5 runs each, best)"
ref=$(for r in 1 2 3 4 5; do t0=$(now); for i in $(seq 1 50); do sleep 1 & done; wait; t1=$(now); ms "$t0" "$t1"; done | best)
pf=$(for r in 1 2 3 4 5; do t0=$(now); "$bin" run "$work/sleeps.toml" --jobs 50 --artifacts "$work/a" >/dev/null 2>&1; t1=$(now); ms "$t0" "$t1"; done | best)
echo "shell reference: ${ref} ms; preflight: ${pf} ms; preflight overhead: $((pf - ref)) ms (target: total well under 1200 ms)"

echo "== validate, 1,000 items (10 runs each, best)"
start=$(for r in $(seq 1 10); do t0=$(now); "$bin" --version >/dev/null; t1=$(now); ms "$t0" "$t1"; done | best)
val=$(for r in $(seq 1 10); do t0=$(now); "$bin" validate "$work/thousand.toml" >/dev/null; t1=$(now); ms "$t0" "$t1"; done | best)
"$bin" validate "$work/thousand.toml"
echo "process start (--version): ${start} ms; validate 1,000 items: ${val} ms (target: well under 100 ms)"

#!/usr/bin/env bash
# Benchmark of the soak load generator against a trivial loopback endpoint:
#  1. open model at 20,000 req/s for 10 s: achieved rate (target: within 1%) and the
#     generator's own CPU (target: well under one core);
#  2. closed-loop maximum of the generator vs `wrk` (Debian package `wrk`) on the same endpoint.
# Load goes to 127.0.0.1 only; every run is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE="${PROFILE:-release}"
RATE="${RATE:-20000}"
SECS="${SECS:-10}"
PORT="${PORT:-18977}"
cargo build --quiet --profile "$PROFILE" --example soak_bench
dir=target/$PROFILE
[ "$PROFILE" = dev ] && dir=target/debug
BIN="$dir/examples/soak_bench"
"$BIN" serve "$PORT" & server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
URL="http://127.0.0.1:$PORT/"
echo "== open model, $RATE req/s for ${SECS}s ($PROFILE build)"
"$BIN" open "$URL" "$RATE" "$SECS"
echo "== closed loop, 50 connections, ${SECS}s: preflight's generator"
"$BIN" closed "$URL" 50 "$SECS"
if command -v wrk >/dev/null; then
  echo "== closed loop, 50 connections, ${SECS}s: wrk -t1 -c50"
  wrk -t1 -c50 -d"${SECS}s" "$URL" | grep -E "Requests/sec|Latency|requests in"
else
  echo "wrk not installed (apt-get install -y wrk): skipped"
fi

#!/usr/bin/env bash
# Runs the clean-shop soak N times (default 10) and reports the false-positive rate: every run
# must pass, since the shop has no fault. Uses the same item settings as the integration test.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-10}"
cargo build --quiet --bin preflight -p preflight
cargo build --quiet -p shop
PREFLIGHT="$PWD/target/debug/preflight"
SHOP="$PWD/target/debug/shop"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
for i in $(seq "$N"); do
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  base="http://127.0.0.1:$port"
  cat > "$work/x.toml" <<TOML
[service.shop]
run = ["$SHOP"]
env = { SHOP_PORT = "$port", SHOP_ADDR = "127.0.0.1" }
ready = { http = "$base/health" }

[soak.api]
service = "shop"
rate = 20
duration = "12s"
request_timeout = "2s"
max_p99 = "1500ms"
max_memory_growth = "2GiB"
requests = [{ url = "$base/api/products" }]
watch = { metrics = "$base/metrics", pid = "service" }
TOML
  if (cd "$work" && CI=true NO_COLOR=1 "$PREFLIGHT" run x.toml --json "out-$i.json" >/dev/null 2>"err-$i.txt"); then
    echo "run $i: passed"
  else
    fails=$((fails + 1))
    echo "run $i: FAILED: $(grep -m1 -E 'FAIL|ERROR' "$work/err-$i.txt" || true)"
    keep="${TMPDIR:-/tmp}/soak-stress-failed-$i"
    rm -rf "$keep" && mkdir -p "$keep" && cp -r "$work"/preflight-artifacts "$work/err-$i.txt" "$keep"/ 2>/dev/null || true
    echo "       kept in $keep"
  fi
done
echo "false positives: $fails of $N ($(( 100 * fails / N ))%)"
[ "$fails" -eq 0 ]

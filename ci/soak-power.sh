#!/usr/bin/env bash
# Detection power: a 60 s soak at 200 req/s (the issue's example) against the fixture shop with
# each given fault (and once clean), printing each verdict. Usage: ci/soak-power.sh [FAULT...]
# e.g. ci/soak-power.sh "" conn-leak=3000 conn-leak=6000 mem-leak=256 mem-leak=1024
set -euo pipefail
cd "$(dirname "$0")/.."
RATE="${RATE:-200}"
DURATION="${DURATION:-60s}"
cargo build --quiet --bin preflight -p preflight
cargo build --quiet -p shop
PREFLIGHT="$PWD/target/debug/preflight"
SHOP="$PWD/target/debug/shop"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[ "$#" -eq 0 ] && set -- ""
for fault in "$@"; do
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  base="http://127.0.0.1:$port"
  cat > "$work/x.toml" <<TOML
[service.shop]
run = ["$SHOP"]
env = { SHOP_PORT = "$port", SHOP_ADDR = "127.0.0.1", SHOP_FAULTS = "$fault" }
ready = { http = "$base/health" }

[soak.api]
service = "shop"
rate = $RATE
duration = "$DURATION"
requests = [{ url = "$base/api/products" }]
watch = { metrics = "$base/metrics", pid = "service" }
TOML
  (cd "$work" && CI=true NO_COLOR=1 "$PREFLIGHT" run x.toml --json out.json >/dev/null 2>err.txt) || true
  echo "== fault '${fault:-none}':"
  grep -E "^ (PASS|FAIL|ERROR)|^        (FAIL|ERR|ok   (memory|pool|load|recovery))" "$work/err.txt" | cut -c1-400 || true
  python3 -c "import json; d=json.load(open('$work/out.json'))['items'][0]['details']; print('\n'.join(l for l in d.splitlines() if l.startswith(('ok   memory','FAIL','ok   pool','ok   load','ok   recovery','ERR'))))" 2>/dev/null || true
done

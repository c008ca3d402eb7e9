#!/usr/bin/env bash
# [flags] source `ofrep` against a real OFREP server: PyPI `fast-feature` (an OFREP server on
# FastAPI; the one OFREP server on PyPI or npm at the time of writing; flagd itself is Go and not
# packaged for Debian, PyPI or npm) on loopback, serving fixtures/flags/rollout-and-override's
# flags: a 20 % rollout and a plan rule must pass, the one-customer pilot must fail.
#
# Needs: python3 with venv. The package is installed once into target/ofrep-server.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PORT=${OFREP_PORT:-48016}
VENV="$ROOT/target/ofrep-server"
WORK=$(mktemp -d /tmp/preflight-ofrep.XXXXXX)
SERVER_PID=

cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import fast_feature, uvicorn" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "fast-feature[standalone]==0.0.2"
fi

cat > "$WORK/serve.py" <<'PY'
# Serves a flagd flag file through fast-feature's OFREP router.
import json, sys

import uvicorn
from fastapi import FastAPI
from fast_feature.core import Flag, FlagState
from fast_feature.ofrep import OfrepRouter
from fast_feature.storage.inmemory import InMemoryFlagRepository

doc = json.load(open(sys.argv[1]))
flags = [
    Flag(key=k, variants=f["variants"], default_variant=f["defaultVariant"],
         state=FlagState(f["state"]), targeting=f.get("targeting"), metadata=f.get("metadata", {}))
    for k, f in doc["flags"].items()
]
app = FastAPI()
app.include_router(OfrepRouter.build(InMemoryFlagRepository(flags)))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
PY
"$VENV/bin/python" "$WORK/serve.py" "$ROOT/fixtures/flags/rollout-and-override.flagd.json" "$PORT" \
  >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
B="http://127.0.0.1:$PORT"
for _ in $(seq 1 60); do
  curl -fsS -m 2 -X POST -H 'Content-Type: application/json' -d '{"context":{}}' \
    "$B/ofrep/v1/evaluate/flags" >/dev/null 2>&1 && break
  sleep 0.5
done

echo "== what the server answers"
for who in cust-4711 cust-1000 anon-1 anon-2 anon-3; do
  printf '%s: ' "$who"
  curl -fsS -X POST -H 'Content-Type: application/json' \
    -d "{\"context\":{\"targetingKey\":\"$who\",\"plan\":\"pro\"}}" "$B/ofrep/v1/evaluate/flags" |
    python3 -c 'import json,sys; print(", ".join("%s=%s (%s)" % (f["key"], f.get("variant"), f.get("reason")) for f in json.load(sys.stdin)["flags"]))'
done

# A customer inside the 20 %: the rollout must not read as targeting them.
inside=
for n in $(seq 1000 1100); do
  v=$(curl -fsS -X POST -H 'Content-Type: application/json' \
    -d "{\"context\":{\"targetingKey\":\"cust-$n\",\"plan\":\"pro\"}}" "$B/ofrep/v1/evaluate/flags/new-search" |
    python3 -c 'import json,sys; print(json.load(sys.stdin).get("variant"))')
  if [ "$v" = on ]; then inside=cust-$n; break; fi
done
[ -n "$inside" ] || { echo "no customer among 100 falls in the 20 % rollout"; exit 1; }
echo "$inside is inside the new-search rollout"

[ -n "${PREFLIGHT:-}" ] || cargo build --quiet --manifest-path "$ROOT/Cargo.toml"
BIN=${PREFLIGHT:-$ROOT/target/debug/preflight}
checklist() {
  cat > "$WORK/x.toml" <<TOML
[flags.ofrep]
source = "ofrep"
url = "$B"
baseline = { targetingKey = "anonymous-visitor" }
contexts = [{ targetingKey = "cust-4711", plan = "pro" }, { targetingKey = "$inside", plan = "pro" }]
$1
TOML
}
run() { (cd "$WORK" && NO_COLOR=1 CI=true "$BIN" run x.toml --json r.json 2>&1); }

echo "== rollout, plan rule and a one-customer pilot: only the pilot fails"
checklist ""
set +e; out=$(run); code=$?; set -e
echo "$out" | sed -n '2,6p'
[ "$code" = 1 ] || { echo "expected exit 1, got $code"; exit 1; }
flagged=$(python3 -c 'import json,sys; print(" ".join(sorted({f["flag"] for f in json.load(open(sys.argv[1]))["items"][0]["data"]["findings"]})))' "$WORK/r.json")
[ "$flagged" = "pilot-pricing" ] || { echo "expected only pilot-pricing, got: $flagged"; exit 1; }

echo "== the pilot marked released: passes"
checklist 'released = ["pilot-pricing"]'
run | sed -n 2p
run >/dev/null || { echo "expected a pass"; exit 1; }
echo "real OFREP server: OK"

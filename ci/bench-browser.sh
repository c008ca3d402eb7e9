#!/usr/bin/env bash
# Benchmarks of `[browser.NAME]` journeys against the fixture shop, in headless Chromium:
#   1. session start to first step (median over runs),
#   2. per-step overhead of preflight over the same raw WebDriver calls (python3, keep-alive HTTP),
#   3. wall time of 8 journeys with parallel = 4 vs one journey alone.
# Needs: chromium, chromium-driver, python3, a built preflight and shop (cargo build; cargo build -p shop).
# Numbers are noisy on a shared 2-core machine: run it a few times and compare medians.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${PREFLIGHT_BIN:-$ROOT/target/debug/preflight}
SHOP=${SHOP_BIN:-$ROOT/target/debug/shop}
STEPS=${BENCH_STEPS:-20}
RUNS=${BENCH_RUNS:-5}
WORK=$(mktemp -d)
SHOP_PID=""
cleanup() {
  [ -n "$SHOP_PID" ] && kill "$SHOP_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
[ -x "$BIN" ] && [ -x "$SHOP" ] || { echo "build first: cargo build && cargo build -p shop" >&2; exit 2; }

SHOP_PORT=0 SHOP_ADDR=127.0.0.1 "$SHOP" >"$WORK/shop.log" 2>&1 &
SHOP_PID=$!
for _ in $(seq 50); do grep -q listening "$WORK/shop.log" 2>/dev/null && break; sleep 0.1; done
BASE=$(head -1 "$WORK/shop.log" | awk '{print $NF}')
echo "shop at $BASE"

# 1 + 2: a journey of one goto and $STEPS expect_text steps on the same page.
{
  echo "[browser.steps]"
  echo "repeat = $RUNS"
  echo "steps = ["
  echo "  { goto = \"$BASE/\" },"
  for _ in $(seq "$STEPS"); do echo "  { expect_text = \"#featured\", contains = \"Spring Sale\" },"; done
  echo "]"
} >"$WORK/steps.toml"
(cd "$WORK" && CI=true TMPDIR="$WORK" "$BIN" run steps.toml --json steps.json >/dev/null 2>&1) || { echo "steps journey failed" >&2; exit 1; }

# The same calls preflight makes for an expect_text step (find elements, is displayed, text),
# issued directly to a chromedriver over one keep-alive connection.
python3 - "$BASE" "$STEPS" "$RUNS" "$WORK" >"$WORK/raw.json" <<'PY'
import http.client, json, os, socket, statistics, subprocess, sys, tempfile, time
base, steps, runs, work = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
drv = subprocess.Popen(["chromedriver", f"--port={port}", "--log-level=WARNING"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
try:
    conn = None
    for _ in range(100):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/status"); r = json.loads(conn.getresponse().read())
            if r["value"]["ready"]: break
        except OSError:
            time.sleep(0.05)
    def call(method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": "application/json; charset=utf-8"})
        return json.loads(conn.getresponse().read())
    per_step, sessions = [], []
    for _ in range(runs):
        profile = tempfile.mkdtemp(dir=work)
        t0 = time.perf_counter()
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": [
            "--headless=new", "--window-size=1280,800", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions", "--password-store=basic", f"--user-data-dir={profile}"]}}}}
        sid = call("POST", "/session", caps)["value"]["sessionId"]
        sessions.append((time.perf_counter() - t0) * 1000)
        call("POST", f"/session/{sid}/url", {"url": base + "/"})
        for _ in range(steps):
            t = time.perf_counter()
            els = call("POST", f"/session/{sid}/elements", {"using": "css selector", "value": "#featured"})["value"]
            eid = list(els[0].values())[0]
            call("GET", f"/session/{sid}/element/{eid}/displayed")
            text = call("GET", f"/session/{sid}/element/{eid}/text")["value"]
            assert "Spring Sale" in text
            per_step.append((time.perf_counter() - t) * 1000)
        call("DELETE", f"/session/{sid}")
    print(json.dumps({"raw_step_ms": statistics.median(per_step), "raw_session_ms": statistics.median(sessions)}))
finally:
    os.killpg(drv.pid, 9)
PY

# 3: the full purchase, 8 runs with parallel = 4, vs one run alone.
journey() {
  cat <<EOF
[browser.checkout]
repeat = $1
parallel = $2
steps = [
  { goto = "$BASE/" },
  { expect_text = "#featured", contains = "Spring Sale" },
  { click = "text=Sign up" },
  { fill = "#email", value = "buyer@example.com" },
  { click = "button[type=submit]" },
  { click = "li.product[data-sku] button" },
  { select = "#shipping", option = "express" },
  { click = "#pay" },
  { expect_text = "#confirmation", contains = "Thank you" },
]
EOF
}
journey 1 1 >"$WORK/one.toml"
journey 8 4 >"$WORK/eight.toml"
(cd "$WORK" && CI=true TMPDIR="$WORK" "$BIN" run one.toml --json one.json >/dev/null 2>&1) || { echo "single journey failed" >&2; exit 1; }
(cd "$WORK" && CI=true TMPDIR="$WORK" "$BIN" run eight.toml --json eight.json >/dev/null 2>&1) || { echo "8 journeys failed" >&2; exit 1; }

python3 - "$WORK" <<'PY'
import json, statistics, sys
w = sys.argv[1]
def data(name): return json.load(open(f"{w}/{name}.json"))["items"][0]["data"]
steps, raw, one, eight = data("steps"), json.load(open(f"{w}/raw.json")), data("one"), data("eight")
runs = steps["runs"]
first_step_start = [r["session_ms"] for r in runs]
pf = statistics.median([s["ms"] for r in runs for s in r["steps"] if s["action"] == "expect_text"])
print(f"session start to first step: median {statistics.median(first_step_start):.0f} ms over {len(runs)} sessions "
      f"(preflight, incl. driver already running); raw WebDriver new session: {raw['raw_session_ms']:.0f} ms")
print(f"per step (expect_text = find + displayed + text): preflight {pf:.2f} ms, raw WebDriver {raw['raw_step_ms']:.2f} ms, "
      f"overhead {100 * (pf - raw['raw_step_ms']) / raw['raw_step_ms']:+.1f}%")
print(f"full purchase (9 steps): one journey {one['wall_ms'] / 1000:.2f} s; 8 journeys with parallel = 4: "
      f"{eight['wall_ms'] / 1000:.2f} s ({eight['wall_ms'] / one['wall_ms']:.1f}x one; serial would be ~8x)")
PY

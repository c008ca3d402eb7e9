#!/usr/bin/env bash
# Benchmarks of `[browser.NAME]` journeys in headless Chromium:
#   1. session start to first step (median over runs),
#   2. per-step overhead of preflight over raw WebDriver for each kind of step (python3 issuing
#      the calls a hand-written client makes for the same effect, on one keep-alive connection
#      to its own chromedriver), on a page of this script's own,
#   3. wall time of 8 purchases in the fixture shop with parallel = 4 vs one alone.
# Needs: chromium, chromium-driver, python3, a built preflight and shop (cargo build; cargo build -p shop).
# Numbers are noisy on a shared 2-core machine: run it a few times and compare medians; `uptime`
# is printed first.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${PREFLIGHT_BIN:-$ROOT/target/debug/preflight}
SHOP=${SHOP_BIN:-$ROOT/target/debug/shop}
STEPS=${BENCH_STEPS:-20}
RUNS=${BENCH_RUNS:-3}
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
[ -x "$BIN" ] && [ -x "$SHOP" ] || { echo "build first: cargo build && cargo build -p shop" >&2; exit 2; }
uptime

SHOP_PORT=0 SHOP_ADDR=127.0.0.1 "$SHOP" >"$WORK/shop.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do grep -q listening "$WORK/shop.log" 2>/dev/null && break; sleep 0.1; done
BASE=$(head -1 "$WORK/shop.log" | awk '{print $NF}')

# The page every step kind runs on (markup of this script's own), served by python3.
mkdir -p "$WORK/www"
cat >"$WORK/www/bench.html" <<'HTML'
<!doctype html>
<title>Bench</title>
<h1 id="featured">Featured: Spring Sale</h1>
<input id="qty" value="2">
<label><input type="checkbox" id="box"> Box</label>
<div class="menu"><button id="menu" aria-expanded="false" onmouseenter="this.setAttribute('aria-expanded','true')">Menu</button></div>
<span id="edit" ondblclick="this.textContent = 'edited'">edit me</span>
<ul><li class="row">a</li><li class="row">b</li><li class="row">c</li><li class="row">d</li><li class="row">e</li></ul>
<select id="cat"><option value="1">Kitchen</option><option value="3">Garden</option><option value="5">Pond</option></select>
<button id="ask" onclick="confirm('Sure?')">Ask</button>
<button id="open" onclick="window.open('bench.html', 'second')">Open</button>
<iframe id="frame" srcdoc="<p id=inner>inside</p>"></iframe>
HTML
PAGE_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$PAGE_PORT" --bind 127.0.0.1 --directory "$WORK/www" >/dev/null 2>&1 &
PIDS+=($!)
PAGE="http://127.0.0.1:$PAGE_PORT/bench.html"
for _ in $(seq 50); do curl -sf "$PAGE" >/dev/null 2>&1 && break; sleep 0.1; done

# Each kind: its steps, repeated $STEPS times after `goto` (pairs alternate so that every step
# changes something: select Garden/Pond, check/uncheck, switch to window 2/1, ...).
kinds="expect_text expect_value expect_attribute expect_count hover double_click check_uncheck select_text press_chord switch_window frame accept_dialog"
steps_for() {
  case $1 in
    expect_text) echo '{ expect_text = "#featured", contains = "Spring Sale" },' ;;
    expect_value) echo '{ expect_value = "#qty", equals = "2" },' ;;
    expect_attribute) echo '{ expect_attribute = "#menu", name = "aria-expanded", equals = "false" },' ;;
    expect_count) echo '{ expect_count = "li.row", equals = 5 },' ;;
    hover) echo '{ hover = "#menu" }, { hover = "#featured" },' ;;
    double_click) echo '{ double_click = "#edit" },' ;;
    check_uncheck) echo '{ check = "#box" }, { uncheck = "#box" },' ;;
    select_text) echo '{ select = "#cat", option = "Garden" }, { select = "#cat", option = "Pond" },' ;;
    press_chord) echo '{ press = "Shift+Tab", into = "#qty" },' ;;
    switch_window) echo '{ switch_to_window = 2 }, { switch_to_window = 1 },' ;;
    frame) echo '{ within_frame = "#frame" }, { leave_frame = true },' ;;
    accept_dialog) echo '{ click = "#ask" }, { accept_dialog = true },' ;;
  esac
}
for k in $kinds; do
  {
    echo "[browser.$k]"
    echo "repeat = $RUNS"
    echo "steps = ["
    echo "  { goto = \"$PAGE\" },"
    [ "$k" = switch_window ] && echo '  { click = "#open" }, { switch_to_window = 2 }, { switch_to_window = 1 },'
    for _ in $(seq "$STEPS"); do echo "  $(steps_for "$k")"; done
    echo "]"
  } >"$WORK/$k.toml"
  (cd "$WORK" && CI=true TMPDIR="$WORK" "$BIN" run "$k.toml" --json "$k.json" >/dev/null 2>&1) || { echo "the $k journey failed:" >&2; (cd "$WORK" && "$BIN" run "$k.toml" >&2) || true; exit 1; }
done

# The raw WebDriver calls for the same effects (what Selenium's own helpers send).
python3 - "$PAGE" "$STEPS" "$RUNS" "$WORK" "$kinds" >"$WORK/raw.json" <<'PY'
import http.client, json, os, socket, statistics, subprocess, sys, tempfile, time
page, steps, runs, work, kinds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5].split()
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
drv = subprocess.Popen(["chromedriver", f"--port={port}", "--log-level=WARNING"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
EL = "element-6066-11e4-a52e-4f735466cecf"
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
        v = json.loads(conn.getresponse().read())["value"]
        if isinstance(v, dict) and "error" in v: raise RuntimeError(v)
        return v
    out = {"session_ms": [], "steps": {}}
    for kind in ["expect_text"] + [k for k in kinds if k != "expect_text"]:
        per = []
        for _ in range(runs):
            profile = tempfile.mkdtemp(dir=work)
            t0 = time.perf_counter()
            caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "unhandledPromptBehavior": "ignore", "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": [
                "--headless=new", "--window-size=1280,800", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions", "--password-store=basic", f"--user-data-dir={profile}"]}}}}
            sid = call("POST", "/session", caps)["sessionId"]
            if kind == "expect_text": out["session_ms"].append((time.perf_counter() - t0) * 1000)
            S = f"/session/{sid}"
            call("POST", f"{S}/url", {"url": page})
            find = lambda css: call("POST", f"{S}/elements", {"using": "css selector", "value": css})
            first = lambda css: find(css)[0][EL]
            def visible(css):
                e = first(css); call("GET", f"{S}/element/{e}/displayed"); return e
            def script(src, e): return call("POST", f"{S}/execute/sync", {"script": src, "args": [{EL: e}]})
            def pointer(e, clicks):
                acts = [{"type": "pointerMove", "origin": {EL: e}, "x": 0, "y": 0}]
                for _ in range(clicks): acts += [{"type": "pointerDown", "button": 0}, {"type": "pointerUp", "button": 0}]
                call("POST", f"{S}/actions", {"actions": [{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"}, "actions": acts}]})
            def select(label):
                e = visible("#cat")
                for o in call("POST", f"{S}/element/{e}/elements", {"using": "css selector", "value": "option"}):
                    if call("GET", f"{S}/element/{o[EL]}/text") == label:
                        call("POST", f"{S}/element/{o[EL]}/click", {}); break
            handles = []
            if kind == "switch_window":
                call("POST", f"{S}/element/{first('#open')}/click", {})
                while len(handles) < 2: handles = call("GET", f"{S}/window/handles")
            one = {
                "expect_text": [lambda: "Spring Sale" in call("GET", f"{S}/element/{visible('#featured')}/text")],
                "expect_value": [lambda: call("GET", f"{S}/element/{visible('#qty')}/property/value")],
                "expect_attribute": [lambda: call("GET", f"{S}/element/{visible('#menu')}/attribute/aria-expanded")],
                "expect_count": [lambda: len(find("li.row"))],
                "hover": [lambda: pointer(visible("#menu"), 0), lambda: pointer(visible("#featured"), 0)],
                "double_click": [lambda: pointer(visible("#edit"), 2)],
                "check_uncheck": [lambda: (e := visible("#box"), call("GET", f"{S}/element/{e}/selected"), call("POST", f"{S}/element/{e}/click", {}))] * 2,
                "select_text": [lambda: select("Garden"), lambda: select("Pond")],
                "press_chord": [lambda: call("POST", f"{S}/element/{visible('#qty')}/value", {"text": "\ue008\ue004\ue000"})],
                "switch_window": [lambda: call("POST", f"{S}/window", {"handle": handles[1]}), lambda: call("POST", f"{S}/window", {"handle": handles[0]})],
                "frame": [lambda: call("POST", f"{S}/frame", {"id": {EL: first("#frame")}}), lambda: call("POST", f"{S}/frame", {"id": None})],
                "accept_dialog": [lambda: call("POST", f"{S}/element/{visible('#ask')}/click", {}), lambda: (call("GET", f"{S}/alert/text"), call("POST", f"{S}/alert/accept", {}))],
            }[kind]
            for _ in range(steps):
                for i, f in enumerate(one):
                    t = time.perf_counter(); f()
                    # For accept_dialog only the dialog step is compared (the click is a click).
                    if kind != "accept_dialog" or i == 1: per.append((time.perf_counter() - t) * 1000)
            call("DELETE", S)
        out["steps"][kind] = statistics.median(per)
    print(json.dumps(out))
finally:
    os.killpg(drv.pid, 9)
PY

# 3: the full purchase, 8 runs with parallel = 4, vs one run alone.
journey() {
  cat <<EOF
[browser]
base_url = "$BASE"

[browser.checkout]
repeat = $1
parallel = $2
steps = [
  { goto = "/" },
  { expect_text = "#featured", contains = "Spring Sale" },
  { click = "text=Sign up" },
  { fill = "#email", value = "buyer-\${unique}@example.com" },
  { click = "button[type=submit]" },
  { expect_count = "li.product", at_least = 3 },
  { click = "li.product[data-sku] button" },
  { select = "#shipping", option = "Express (\$9.99)" },
  { check = "#receipt" },
  { click = "#pay" },
  { expect_text = "#receipt-note", contains = "\${unique}" },
]
EOF
}
journey 1 1 >"$WORK/one.toml"
journey 8 4 >"$WORK/eight.toml"
(cd "$WORK" && CI=true TMPDIR="$WORK" "$BIN" run one.toml --json one.json >/dev/null 2>&1) || { echo "single journey failed" >&2; exit 1; }
(cd "$WORK" && CI=true TMPDIR="$WORK" "$BIN" run eight.toml --json eight.json >/dev/null 2>&1) || { echo "8 journeys failed" >&2; exit 1; }

python3 - "$WORK" "$kinds" <<'PY'
import json, statistics, sys
w, kinds = sys.argv[1], sys.argv[2].split()
def data(name): return json.load(open(f"{w}/{name}.json"))["items"][0]["data"]
raw = json.load(open(f"{w}/raw.json"))
runs = data("expect_text")["runs"]
print(f"session start: preflight median {statistics.median(r['session_ms'] for r in runs):.0f} ms over {len(runs)} sessions "
      f"(driver already running); raw WebDriver new session {statistics.median(raw['session_ms']):.0f} ms")
action_of = {"check_uncheck": ("check", "uncheck"), "select_text": ("select",), "press_chord": ("press",),
             "switch_window": ("switch_to_window",), "frame": ("within_frame", "leave_frame"), "accept_dialog": ("accept_dialog",)}
print(f"{'step':<18}{'preflight ms':>14}{'raw ms':>10}{'overhead':>10}")
total_pf = total_raw = 0.0
for k in kinds:
    acts = action_of.get(k, (k,))
    setup = 4 if k == "switch_window" else 1  # goto, and the window opened once
    pf = statistics.median(s["ms"] for r in data(k)["runs"] for s in r["steps"][setup:] if s["action"] in acts)
    rw = raw["steps"][k]
    total_pf += pf; total_raw += rw
    print(f"{k:<18}{pf:>14.2f}{rw:>10.2f}{100 * (pf - rw) / rw:>+9.0f}%")
print(f"{'all kinds (sum)':<18}{total_pf:>14.2f}{total_raw:>10.2f}{100 * (total_pf - total_raw) / total_raw:>+9.0f}%")
one, eight = data("one"), data("eight")
print(f"purchase (11 steps): one journey {one['wall_ms'] / 1000:.2f} s; 8 journeys with parallel = 4: "
      f"{eight['wall_ms'] / 1000:.2f} s ({eight['wall_ms'] / one['wall_ms']:.1f}x one; serial would be ~8x)")
PY

#!/usr/bin/env bash
# The browser steps on front-ends preflight's authors did not write: the TodoMVC apps of the
# npm package `todomvc` (70 frameworks' implementations of one spec, static files served on
# loopback). Each app gets the same journey (add, count, tick, untick, double-click to edit,
# hover to reveal the delete button, tick all, clear) and the same journey with a fault (an item
# count that is wrong), which must fail at that step.
# Prints one line per app: PASS/FAIL of the clean journey, and whether the fault was caught.
# Not run in CI (a minute or two per ten apps). Usage: ci/browser-real-apps.sh [APP...]
# (default: a spread of frameworks old and new). Needs npm, python3, chromium, chromium-driver.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${PREFLIGHT_BIN:-$ROOT/target/debug/preflight}
[ -x "$BIN" ] || { echo "build first: cargo build" >&2; exit 2; }
CACHE=${TODOMVC_DIR:-${TMPDIR:-/tmp}/preflight-todomvc}
if [ ! -d "$CACHE/package/examples" ]; then
  mkdir -p "$CACHE"
  (cd "$CACHE" && npm pack --silent todomvc@0.1.1 >/dev/null && tar xzf todomvc-0.1.1.tgz)
fi
WORK=$(mktemp -d)
SERVER=""
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$CACHE/package" >/dev/null 2>&1 &
SERVER=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/" >/dev/null && break; sleep 0.1; done

apps=("$@")
[ ${#apps[@]} -gt 0 ] || apps=(vanillajs jquery backbone angularjs react vue emberjs knockoutjs mithril polymer dojo canjs)

# Old and new TodoMVC markup: ids (#new-todo) in older apps, classes (.new-todo) in newer.
NEW='#new-todo, .new-todo'
LIST='#todo-list > li, .todo-list > li'
journey() { # $1 = app, $2 = the count expected after adding three items (3 = clean)
  cat <<EOF
[browser]
base_url = "http://127.0.0.1:$PORT/examples/$1/"

[browser.todo]
step_timeout = "5s"
steps = [
  { goto = "./index.html" },
  { fill = "$NEW", value = "Buy milk" }, { press = "Enter", into = "$NEW" },
  { fill = "$NEW", value = "Walk dog" }, { press = "Enter", into = "$NEW" },
  { fill = "$NEW", value = "Fix bike \${unique}" }, { press = "Enter", into = "$NEW" },
  { expect_count = "$LIST", equals = $2 },
  { expect_text = "#todo-count, .todo-count", contains = "3 ITEMS LEFT", ignore_case = true },
  { check = "#todo-list > li:nth-of-type(1) .toggle, .todo-list > li:nth-of-type(1) .toggle" },
  { expect_count = "#todo-list > li.completed, .todo-list > li.completed", equals = 1 },
  { uncheck = "#todo-list > li:nth-of-type(1) .toggle, .todo-list > li:nth-of-type(1) .toggle" },
  { expect_count = "#todo-list > li.completed, .todo-list > li.completed", equals = 0 },
  { double_click = "#todo-list > li:nth-of-type(2) label, .todo-list > li:nth-of-type(2) label" },
  { fill = "#todo-list > li.editing .edit, .todo-list > li.editing .edit", value = "Walk the dog" },
  { press = "Enter" },
  { expect_text = "#todo-list > li:nth-of-type(2) label, .todo-list > li:nth-of-type(2) label", equals = "Walk the dog" },
  { hover = "#todo-list > li:nth-of-type(3), .todo-list > li:nth-of-type(3)" },
  { click = "#todo-list > li:nth-of-type(3) .destroy, .todo-list > li:nth-of-type(3) .destroy" },
  { expect_count = "$LIST", equals = 2 },
  { check = "#toggle-all, .toggle-all" },
  { expect_count = "#todo-list > li.completed, .todo-list > li.completed", equals = 2 },
  { click = "#clear-completed, .clear-completed" },
  { expect_count = "$LIST", equals = 0 },
]
EOF
}

printf '%-14s %-6s %-8s %s\n' app clean fault "first failure (clean journey)"
for app in "${apps[@]}"; do
  [ -f "$CACHE/package/examples/$app/index.html" ] || { printf '%-14s %s\n' "$app" "no such example"; continue; }
  journey "$app" 3 >"$WORK/clean.toml"
  journey "$app" 4 >"$WORK/fault.toml"
  clean=PASS; fault=missed; why=""
  (cd "$WORK" && TMPDIR="$WORK" "$BIN" run clean.toml --json clean.json >/dev/null 2>&1) || {
    clean=FAIL
    why=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["items"][0]["message"][:400])' "$WORK/clean.json" 2>/dev/null || echo "?")
  }
  if ! (cd "$WORK" && TMPDIR="$WORK" "$BIN" run fault.toml --json fault.json >/dev/null 2>&1); then
    python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["items"][0]["message"]; sys.exit(0 if "expected exactly 4 element(s)" in m else 1)' "$WORK/fault.json" && fault=caught || fault=other
  fi
  printf '%-14s %-6s %-8s %s\n' "$app" "$clean" "$fault" "$why"
done
left=$(find "$WORK" -maxdepth 1 -name 'org.chromium.*' -o -maxdepth 1 -name 'preflight-browser-*' | wc -l)
echo "left in TMPDIR after all runs: $left"

#!/usr/bin/env bash
# Replays the hostile cases of run integrity end to end against the real binary and prints
# `held` or `FAILED` per case: special report paths, SIGKILL then a fresh run, a port taken by a
# stale server, a second Ctrl-C, endless lines under a memory bound, encoded secrets, a deploy
# that needs time to stop, a long `needs` chain. Not run in CI (it moves gigabytes through
# pipes); `cargo test --test cli integrity::` holds the same cases at a smaller scale.
#
#   bash ci/hostile.sh            # builds the debug binary first
#   PREFLIGHT=target/release/preflight bash ci/hostile.sh
#   HOSTILE_BYTES=2000000000 bash ci/hostile.sh   # the size of the endless lines (default 1 GB)
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PREFLIGHT:-}" ]; then
  cargo build --quiet --bin preflight || exit 2
  PREFLIGHT=$PWD/target/debug/preflight
fi
PREFLIGHT=$(realpath "$PREFLIGHT")
BYTES=${HOSTILE_BYTES:-1000000000}
work=$(mktemp -d)
[ -n "${HOSTILE_KEEP:-}" ] && echo "keeping $work" || trap 'rm -rf "$work"' EXIT
export CI=true NO_COLOR=1
held=0; failed=0

result() { # NAME OK DETAIL
  if [ "$2" = 0 ]; then printf 'held    %-28s %s\n' "$1" "$3"; held=$((held + 1))
  else printf 'FAILED  %-28s %s\n' "$1" "$3"; failed=$((failed + 1)); fi
}
calc() { awk "BEGIN { printf \"%.2f\", $1 }"; }
running() { pgrep -f -- "$1" >/dev/null 2>&1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done; }
# Peak RSS (VmHWM, kB) of a pid until it exits.
peak_rss() { local pid=$1 peak=0 kb; while kill -0 "$pid" 2>/dev/null; do
    kb=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    [ -n "$kb" ] && [ "$kb" -gt "$peak" ] && peak=$kb; sleep 0.05; done; echo "$peak"; }

ok_list() { printf '[command.ok]\nrun = "true"\n' > "$1"; }

# --- 1. Special report paths ------------------------------------------------------------------
case_reports() {
  local d=$work/reports; mkdir -p "$d/real"; cd "$d" || return; ok_list c.toml
  local why=""
  ln -s real/target.json link.json
  "$PREFLIGHT" run c.toml --json link.json 2>/dev/null
  { [ -L link.json ] && grep -q format_version real/target.json; } || why+="symlink replaced; "
  mkfifo pipe.xml; (timeout 10 cat pipe.xml > fifo-got.xml) & local reader=$!
  "$PREFLIGHT" run c.toml --junit pipe.xml 2>/dev/null; wait $reader
  { [ -p pipe.xml ] && grep -q '<testsuites' fifo-got.xml; } || why+="FIFO; "
  python3 - <<'PY' &
import socket, os
s = socket.socket(socket.AF_UNIX); s.bind("sock.json"); s.listen(1); s.settimeout(10)
c, _ = s.accept(); data = b""
while chunk := c.recv(65536): data += chunk
open("sock-got.json", "wb").write(data)
PY
  local server=$!
  for _ in $(seq 100); do [ -S sock.json ] && break; sleep 0.05; done
  "$PREFLIGHT" run c.toml --json sock.json 2>/dev/null; wait $server
  { [ -S sock.json ] && grep -q format_version sock-got.json; } || why+="socket; "
  "$PREFLIGHT" run c.toml --json - 2>/dev/null | python3 -c 'import json,sys; json.load(sys.stdin)' || why+="'-'; "
  "$PREFLIGHT" run c.toml --junit /dev/stdout 2>/dev/null | grep -q '<testsuites' || why+="/dev/stdout; "
  local code; "$PREFLIGHT" run c.toml --json /dev/full 2>full.err; code=$?
  { [ $code = 1 ] && [ -c /dev/full ] && grep -q 'No space left' full.err && tail -1 full.err | grep -q '^gate: CLOSED'; } \
    || why+="/dev/full (exit $code); "
  "$PREFLIGHT" run c.toml --junit out --json ./out 2>/dev/null; [ $? = 2 ] || why+="same path twice; "
  cd - >/dev/null || return
  result "special report paths" "$([ -z "$why" ]; echo $?)" "${why:-symlink, FIFO, socket, -, /dev/stdout, /dev/full (exit 1, device intact), same path (exit 2)}"
}

# --- 2. SIGKILL, then a fresh run -------------------------------------------------------------
case_sigkill() {
  local d=$work/sigkill; mkdir -p "$d"; cd "$d" || return; ok_list c.toml
  cat > killed.toml <<'EOF'
[service.web]
run = "setsid sleep 7301 & sleep 7302"

[command.tree]
run = "sleep 7303 & setsid sh -c 'sleep 7304' </dev/null >/dev/null 2>&1 & sleep 7305"
timeout = "10m"
EOF
  "$PREFLIGHT" run killed.toml >/dev/null 2>&1 & local pid=$!
  for _ in $(seq 100); do running 'sleep 7305' && running 'sleep 7301' && break; sleep 0.1; done
  sleep 0.3; kill -9 $pid; wait $pid 2>/dev/null
  local before=0 n; for n in 7301 7302 7303 7304 7305; do running "sleep $n" && before=$((before + 1)); done
  "$PREFLIGHT" run c.toml 2>fresh.err >/dev/null
  sleep 0.5
  local after=0; for n in 7301 7302 7303 7304 7305; do running "sleep $n" && after=$((after + 1)); done
  local reported; reported=$(grep -c '^leftover:' fresh.err)
  cd - >/dev/null || return
  result "SIGKILL then a fresh run" "$([ "$after" = 0 ] && [ "$reported" -ge "$before" ]; echo $?)" \
    "$before processes outlived the killed run; the fresh run reported $reported and left $after"
}

# --- 2b. The same with a browser (chromedriver + Chromium + profile dir) ------------------------
case_sigkill_browser() {
  command -v chromedriver >/dev/null || { printf 'skipped %-28s %s\n' "SIGKILL mid-browser" "no chromedriver"; return; }
  local d=$work/browser; mkdir -p "$d/tmp"; cd "$d" || return; ok_list c.toml
  local port; port=$(free_port)
  python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1 & local web=$!
  wait_port "$port"
  printf '[browser.wait]\nsteps = [{ goto = "http://127.0.0.1:%s/" }, { wait_for = "#never", timeout = "60s" }]\n' "$port" > b.toml
  TMPDIR=$d/tmp "$PREFLIGHT" run b.toml >/dev/null 2>&1 & local pid=$!
  for _ in $(seq 200); do ls "$d"/tmp/preflight-*/session-1 >/dev/null 2>&1 && break; sleep 0.1; done
  sleep 1; kill -9 $pid; wait $pid 2>/dev/null
  count() { grep -l "TMPDIR=$d/tmp" /proc/[0-9]*/environ 2>/dev/null | wc -l; }
  local before; before=$(count)
  TMPDIR=$d/tmp "$PREFLIGHT" run c.toml >/dev/null 2>fresh.err; sleep 1
  local after profiles; after=$(count); profiles=$(find "$d/tmp" -maxdepth 1 -name 'preflight-*' | wc -l)
  kill $web 2>/dev/null
  cd - >/dev/null || return
  result "SIGKILL mid-browser" "$([ "$after" = 0 ] && [ "$profiles" = 0 ]; echo $?)" \
    "$before chromedriver/Chromium processes outlived the killed run; after the next run: $after left, $profiles profile dirs"
}

# --- 3. A port taken by a stale server --------------------------------------------------------
case_port() {
  local d=$work/port; mkdir -p "$d"; cd "$d" || return
  local port; port=$(free_port)
  python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1 & local stale=$!
  wait_port "$port"
  cat > c.toml <<EOF
[service.web]
run = ["python3", "-m", "http.server", "$port", "--bind", "127.0.0.1"]
ready = { http = "http://127.0.0.1:$port/" }

[http.home]
url = "http://127.0.0.1:$port/"
EOF
  local code; "$PREFLIGHT" run c.toml 2>out.err >/dev/null; code=$?
  kill $stale
  local said; said=$(grep -o "port $port is already in use by pid $stale" out.err | head -1)
  cd - >/dev/null || return
  result "port taken" "$([ $code = 1 ] && [ -n "$said" ]; echo $?)" "exit $code: ${said:-no holder named}"
}

# --- 4. A second Ctrl-C -----------------------------------------------------------------------
case_second_ctrl_c() {
  local d=$work/ctrlc; mkdir -p "$d"; cd "$d" || return
  cat > c.toml <<'EOF'
[service.stubborn]
run = "trap '' TERM; sleep 7311"
stop_timeout = "60s"

[command.long]
run = "echo partial-output; sleep 7312"
timeout = "10m"
EOF
  "$PREFLIGHT" run c.toml --json out.json 2>out.err >/dev/null & local pid=$!
  for _ in $(seq 100); do running 'sleep 7312' && break; sleep 0.1; done
  kill -INT $pid
  for _ in $(seq 100); do grep -q 'Ctrl-C again' out.err && break; sleep 0.1; done
  local t0; t0=$(date +%s.%N); kill -INT $pid; wait $pid; local code=$?
  local took; took=$(calc "$(date +%s.%N) - $t0")
  sleep 0.3
  local left=0; running 'sleep 7311' && left=1
  local partial=1; grep -q partial-output out.json 2>/dev/null && partial=0
  cd - >/dev/null || return
  result "second Ctrl-C" "$([ $code = 130 ] && [ $left = 0 ] && [ $partial = 0 ]; echo $?)" \
    "exit $code ${took}s after the second Ctrl-C (stop_timeout 60s); JSON with the partial output: $([ $partial = 0 ] && echo yes || echo no); service left: $left"
}

# --- 5. Endless lines: memory stays bounded ---------------------------------------------------
case_long_lines() {
  local d=$work/lines; mkdir -p "$d"; cd "$d" || return
  cat > c.toml <<EOF
[service.noisy]
run = 'head -c $BYTES /dev/zero | tr "\\000" y; exec sleep 7321'

[command.noisy]
run = 'head -c $BYTES /dev/zero | tr "\\000" x; exit 1'
timeout = "10m"

[command.progress]
run = 'i=0; while [ \$i -lt 20000 ]; do printf "progress %d\\r" \$i; i=\$((i+1)); done; exit 1'
EOF
  local t0; t0=$(date +%s)
  "$PREFLIGHT" run c.toml --json out.json --artifacts arts >/dev/null 2>&1 & local pid=$!
  local peak; peak=$(peak_rss $pid); wait $pid
  local took=$(( $(date +%s) - t0 ))
  local cut=1; grep -q 'bytes cut]' arts/service-noisy.log && grep -q 'bytes cut]' out.json && cut=0
  local json_kb=$(( $(stat -c %s out.json) / 1024 ))
  cd - >/dev/null || return
  result "endless lines" "$([ "$peak" -lt 100000 ] && [ $cut = 0 ]; echo $?)" \
    "2 x $((BYTES / 1000000)) MB without a newline + 20000 \\r updates in ${took}s: peak RSS $((peak / 1024)) MB (bound 100 MB), lines cut: $([ $cut = 0 ] && echo yes || echo no), JSON $json_kb KB"
}

# --- 6. Encoded secrets -----------------------------------------------------------------------
case_secrets() {
  local d=$work/secrets; mkdir -p "$d"; cd "$d" || return
  local secret='s3cr3t/t0ken+v&lue?'
  local port; port=$(free_port)
  python3 - "$port" <<'PY' & local echo_server=$!
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = str(self.headers).encode()
        self.send_response(200); self.send_header("content-length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
  wait_port "$port"
  local forms; forms=$(SECRET=$secret python3 -c '
import base64, os, urllib.parse
s = os.environ["SECRET"].encode()
for f in [base64.b64encode(s), base64.urlsafe_b64encode(s).rstrip(b"="), s.hex().encode(), s.hex().upper().encode(),
          urllib.parse.quote(s, safe="").encode(), base64.b64encode(b"deploy:" + s), base64.b64encode(b"prefix" + s + b"suffix")]:
    print(f.decode())')
  {
    printf '[vars]\ntok = { env = "HOSTILE_TOKEN", secret = true }\n\n[command.echo]\nrun = ["printf", "%%s\\n"'
    while read -r f; do printf ', "%s"' "$f"; done <<< "$forms"
    printf ']\nstdout_contains = "never"\n\n[http.echo]\nurl = "http://deploy:${tok:url}@127.0.0.1:%s/"\nbody_contains = "never"\n' "$port"
  } > c.toml
  HOSTILE_TOKEN=$secret "$PREFLIGHT" run c.toml --json out.json --junit out.xml >out.txt 2>&1
  printf '[vars]\ntok = { env = "HOSTILE_TOKEN", secret = true }\n[http.x]\nurl = "http://deploy:${tok}@bad host/"\n' > bad.toml
  HOSTILE_TOKEN=$secret "$PREFLIGHT" validate bad.toml >>out.txt 2>&1
  kill $echo_server
  local leaks=0 checked=0 f
  while read -r f; do checked=$((checked + 1)); grep -qF -- "$f" out.txt out.json out.xml && leaks=$((leaks + 1)); done <<< "$(printf '%s\n%s\n' "$secret" "$forms")"
  local echoed=1; grep -qi 'authorization' out.json && echoed=0
  cd - >/dev/null || return
  result "encoded secrets" "$([ $leaks = 0 ] && [ $echoed = 0 ]; echo $?)" \
    "$checked forms (plain, base64, base64url, hex, HEX, percent, Basic auth echoed by a server, embedded base64, parse error): $leaks leaked"
}

# --- 7. A deploy that needs time to stop ------------------------------------------------------
case_gate() {
  local d=$work/gate; mkdir -p "$d"; cd "$d" || return; ok_list c.toml
  printf "trap 'sleep 1; echo cleaned > cleaned; exit 3' TERM\nsleep 7331 &\necho started > started\nwait\n" > deploy.sh
  "$PREFLIGHT" gate c.toml -- sh deploy.sh >/dev/null 2>&1 & local pid=$!
  for _ in $(seq 100); do [ -f started ] && break; sleep 0.1; done
  kill -TERM $pid; wait $pid; local code=$?
  sleep 0.3; local left=0; running 'sleep 7331' && left=1
  cd - >/dev/null || return
  result "gate forwards SIGTERM" "$([ $code = 3 ] && [ -f "$d/cleaned" ] && [ $left = 0 ]; echo $?)" \
    "exit $code (the deploy's own), its handler ran: $([ -f "$d/cleaned" ] && echo yes || echo no), its child left: $left"
}

# --- 8. A long `needs` chain ------------------------------------------------------------------
case_chain() {
  local d=$work/chain; mkdir -p "$d"; cd "$d" || return
  python3 -c '
print("[command.i0]\nrun = \"true\"")
for i in range(1, 5000): print(f"[command.i{i}]\nrun = \"true\"\nneeds = [\"command.i{i-1}\"]")' > chain.toml
  local t0 t1 t2; t0=$(date +%s.%N)
  "$PREFLIGHT" validate chain.toml >/dev/null 2>&1; t1=$(date +%s.%N)
  "$PREFLIGHT" list chain.toml >/dev/null 2>&1; t2=$(date +%s.%N)
  local v l; v=$(calc "$t1 - $t0"); l=$(calc "$t2 - $t1")
  local ratio; ratio=$(calc "$l / $v")
  cd - >/dev/null || return
  result "5,000-item needs chain" "$(awk "BEGIN { exit !($ratio < 5) }"; echo $?)" \
    "validate ${v}s, list ${l}s (list/validate = $ratio; before the fix: 52.7 on a debug build)"
}

echo "preflight: $PREFLIGHT; load: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "${HOSTILE_CASES:-}" ]; then for c in $HOSTILE_CASES; do "case_$c"; done; echo "$held held, $failed failed"; [ "$failed" = 0 ]; exit; fi
case_reports
case_sigkill
case_sigkill_browser
case_port
case_second_ctrl_c
case_long_lines
case_secrets
case_gate
case_chain
echo "$held held, $failed failed"
[ "$failed" = 0 ]

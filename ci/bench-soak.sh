#!/usr/bin/env bash
# Benchmark of the soak load generator against a real nginx (Debian package) on loopback:
#  1. open model at 20,000 req/s for 10 s: achieved rate (goal: within 1%) and the generator's
#     own CPU (goal: at most 0.3 core);
#  2. closed loop, 50 connections: the generator's maximum vs `wrk -t1 -c50` (Debian `wrk`) on
#     the same nginx in the same run (goal: at least 0.8×).
# ROUNDS rounds (default 3) alternate the runs; the goals are judged on the medians.
# Load goes to 127.0.0.1 only; every run is bounded in time. Run it when `uptime` shows a quiet
# machine: both sides share its 2 cores with nginx.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE="${PROFILE:-release}"
RATE="${RATE:-20000}"
SECS="${SECS:-10}"
cargo build --quiet --profile "$PROFILE" --example soak_bench
dir=target/$PROFILE
[ "$PROFILE" = dev ] && dir=target/debug
BIN="$dir/examples/soak_bench"
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $work/cb; proxy_temp_path $work/p; fastcgi_temp_path $work/f;
    uwsgi_temp_path $work/u; scgi_temp_path $work/s;
    server { listen 127.0.0.1:$port; location / { return 200 "ok\n"; } }
}
CONF
nginx -p "$work" -c "$work/nginx.conf" -e "$work/error.log" & server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
URL="http://127.0.0.1:$port/"
echo "== load average: $(cut -d' ' -f1-3 /proc/loadavg); nginx $(nginx -v 2>&1 | cut -d/ -f2)"
ROUNDS="${ROUNDS:-3}"
# Rounds alternate the three runs so that a noisy moment hits all of them; the verdicts use the
# medians. CPU per request shows what is the kernel's (loopback TCP costs the same for wrk).
results=$work/results
for round in $(seq "$ROUNDS"); do
    echo "== round $round: open model, $RATE req/s for ${SECS}s ($PROFILE build)"
    "$BIN" open "$URL" "$RATE" "$SECS" | tee -a "$results"
    echo "== round $round: closed loop, 50 connections, ${SECS}s: preflight's generator"
    "$BIN" closed "$URL" 50 "$SECS" | tee -a "$results"
    echo "== round $round: closed loop, 50 connections, ${SECS}s: wrk -t1 -c50"
    /usr/bin/time -f "wrk_cpu_s=%U+%S" -o "$work/wrk-time" wrk -t1 -c50 -d"${SECS}s" "$URL" > "$work/wrk-out"
    rps=$(awk '/Requests\/sec/ { print $2 }' "$work/wrk-out")
    cores=$(awk -F'[=+]' -v s="$SECS" '/wrk_cpu_s/ { printf "%.3f", ($2 + $3) / s }' "$work/wrk-time")
    echo "mode=wrk rate=$rps cpu_cores=$cores" | tee -a "$results"
done
python3 - "$results" "$RATE" <<'PY'
import statistics, sys
rows = [dict(kv.split("=", 1) for kv in line.split() if "=" in kv) for line in open(sys.argv[1])]
rate = float(sys.argv[2])
med = lambda mode, key: statistics.median(float(r[key]) for r in rows if r.get("mode") == mode)
pct, open_cpu = med("open", "achieved_pct"), med("open", "cpu_cores")
ours, wrk = med("closed", "rate"), med("wrk", "rate")
us = lambda mode, rps: 1e6 * med(mode, "cpu_cores") / rps
print(f"== medians of {sum(r.get('mode') == 'open' for r in rows)} rounds")
print(f"open model: {pct:.2f}% of {rate:.0f} req/s at {open_cpu:.3f} core "
      f"({us('open', rate * pct / 100):.1f} µs of CPU per request)  "
      f"goal: within 1% at <= 0.3 core -> {'met' if abs(pct - 100) <= 1 and open_cpu <= 0.3 else 'NOT met'}")
print(f"closed loop: {ours:.0f} req/s ({us('closed', ours):.1f} µs/request) vs wrk {wrk:.0f} req/s "
      f"({us('wrk', wrk):.1f} µs/request) = {ours / wrk:.2f}x  "
      f"goal: >= 0.8x -> {'met' if ours / wrk >= 0.8 else 'NOT met'}")
PY

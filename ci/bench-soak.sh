#!/usr/bin/env bash
# Benchmark of the soak load generator against a real nginx (Debian package) on loopback:
#  1. open model at 20,000 req/s for 10 s: achieved rate (goal: within 1%) and the generator's
#     own CPU (goal: at most 0.3 core);
#  2. closed loop, 50 connections: the generator's maximum vs `wrk -t1 -c50` (Debian `wrk`) on
#     the same nginx in the same run (goal: at least 0.8×).
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
echo "== open model, $RATE req/s for ${SECS}s ($PROFILE build)"
"$BIN" open "$URL" "$RATE" "$SECS"
echo "== closed loop, 50 connections, ${SECS}s: preflight's generator"
"$BIN" closed "$URL" 50 "$SECS"
echo "== closed loop, 50 connections, ${SECS}s: wrk -t1 -c50"
wrk -t1 -c50 -d"${SECS}s" "$URL" | grep -E "Requests/sec|Latency|requests in"

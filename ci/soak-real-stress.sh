#!/usr/bin/env bash
# False alarms and misses of `[soak]` on real apps started cold (fixtures/soak-apps): each clean
# app N times (default 10), then each leak once. Prints one line per run and the counts.
#   PREFLIGHT=path/to/preflight  the binary to measure (default: a fresh debug build)
#   N=10 DURATION=60s            runs per clean app, soak length
#   APPS="gunicorn-pg nginx-proxy express"  clean apps to run
#   LEAKS="session closewait node-big node-heap node-clean py-bytes py-clean node-heap-long node-clean-long"
#                                one run each ("" for none): a leak that must fail on its signal,
#                                or (*-clean*) its clean twin with the same settings, which must pass
#   LONG=180s                    length of the *-long cases (a Node heap is judged after 5 full
#                                collections; at 100 req/s V8 runs one every 10-30 s)
#   NODE_RATE=300                rate of node-heap and its twin node-clean (60 s: about 7 full
#                                collections at 300 req/s)
#   EXTRA='max_p99 = "2s"'       extra keys for every soak item
# Needs ci/install-deps.sh (nginx, PostgreSQL, the apps' packages). Load goes to loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
N="${N:-10}"
DURATION="${DURATION:-60s}"
APPS="${APPS:-gunicorn-pg nginx-proxy express}"
LEAKS="${LEAKS-session closewait node-big node-heap node-clean py-bytes py-clean node-heap-long node-clean-long}"
LONG="${LONG:-180s}"
NODE_RATE="${NODE_RATE:-300}"
EXTRA="${EXTRA:-}"
if [ -z "${PREFLIGHT:-}" ]; then
  cargo build --quiet --bin preflight -p preflight
  PREFLIGHT="$repo/target/debug/preflight"
fi
apps="$repo/fixtures/soak-apps"
work=$(mktemp -d)
chmod 755 "$work"  # PostgreSQL runs as `postgres` inside it
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
cleanup() {
  [ -f "$work/pg/data/postmaster.pid" ] && runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# A throwaway PostgreSQL cluster (CI runs as root; PostgreSQL refuses to: run it as `postgres`).
pgport=$(port)
mkdir -p "$work/pg" && chown postgres "$work/pg"
runuser -u postgres -- "$pgbin/initdb" -D "$work/pg/data" -A trust -U postgres --no-sync >/dev/null
runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
  -o "-p $pgport -k $work/pg -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null

# checklist NAME RATE KEY=VALUE...: writes $work/run/x.toml from fixtures/soak-apps/checklists.
checklist() {
  local name=$1 rate=$2; shift 2
  rm -rf "$work/run" && mkdir -p "$work/run/upstream" "$work/run/proxy"
  local p up; p=$(port); up=$(port)
  sed -e "s|@PORT@|$up|g" -e "s|@DIR@|$work/run/upstream|g" "$apps/nginx/static.conf.tmpl" > "$work/run/upstream/nginx.conf"
  sed -e "s|@PORT@|$p|g" -e "s|@UPSTREAM@|127.0.0.1:$up|g" -e "s|@DIR@|$work/run/proxy|g" "$apps/nginx/nginx.conf.tmpl" > "$work/run/proxy/nginx.conf"
  local text; text=$(cat "$apps/checklists/$name.toml")
  text=${text//@APPS@/$apps}; text=${text//@PORT@/$p}; text=${text//@UPPORT@/$up}
  text=${text//@PGPORT@/$pgport}; text=${text//@DIR@/$work/run}
  text=${text//@RATE@/$rate}; text=${text//@DURATION@/${DUR:-$DURATION}}
  local extra=$EXTRA kv
  for kv in "$@"; do
    case $kv in
      extra=*) extra="$extra"$'\n'"${kv#extra=}" ;;
      *) text=${text//@${kv%%=*}@/${kv#*=}} ;;
    esac
  done
  text=${text//@EXTRA@/$extra}
  # Leak switches not set are off.
  text=$(printf '%s\n' "$text" | sed -E 's/@LEAK_[A-Z_]+@/0/g')
  printf '%s\n' "$text" > "$work/run/x.toml"
}

# soak LABEL: runs $work/run/x.toml; prints the outcome and the failing/erroring lines.
# Returns 0 passed, 1 failed (a false alarm on a clean app), 2 checklist error, 3 inconclusive
# (the machine starved the app or the generator: "rerun on a quieter machine", and no resource
# or memory verdict failed), 4 the app did not start (its packages are missing: not a verdict).
soak() {
  local label=$1 load
  load=$(cut -d' ' -f1 /proc/loadavg)
  local code=0
  (cd "$work/run" && CI=true NO_COLOR=1 "$PREFLIGHT" run x.toml --json out.json >/dev/null 2>err.txt) || code=$?
  # Every run's output and JSON report are kept for reading afterwards.
  local runs="${TMPDIR:-/tmp}/soak-real-runs"
  mkdir -p "$runs" && cp "$work/run/err.txt" "$runs/${label// /_}.txt"
  cp "$work/run/out.json" "$runs/${label// /_}.json" 2>/dev/null || true
  if [ "$code" -eq 2 ]; then
    echo "$label: CHECKLIST ERROR: $(head -3 "$work/run/err.txt" | tr '\n' ' ' | cut -c1-240)"
    return 2
  fi
  if [ "$code" -eq 0 ]; then
    echo "$label: passed (load $load) $(grep -m1 -oE 'ok   memory: .{0,110}' "$work/run/err.txt" || true)"
    return 0
  fi
  if grep -q "did not start" "$work/run/err.txt"; then
    echo "$label: SETUP ERROR (not a verdict; run ci/install-deps.sh): $(grep -m1 -oE "service \`[a-z]+\` did not start: .{0,120}" "$work/run/err.txt" || true)"
    return 4
  fi
  local keep="${TMPDIR:-/tmp}/soak-real-failed/${label// /_}"
  rm -rf "$keep" && mkdir -p "$keep" && cp -r "$work/run/." "$keep/" 2>/dev/null || true
  local leak_fail
  leak_fail=$(grep -E '^ {4,}FAIL ' "$work/run/err.txt" | grep -vE 'FAIL (latency|recovery|timeouts|errors|load):' || true)
  if grep -q 'rerun on a quieter machine' "$work/run/err.txt" && [ -z "$leak_fail" ]; then
    echo "$label: inconclusive, machine saturated (load $load): $(grep -m1 -oE 'the machine starved the [a-z]+: .{0,60}|the generator fell behind[^(]*' "$work/run/err.txt" || true)"
    return 3
  fi
  echo "$label: NOT PASSED (load $load), kept in $keep"
  grep -E '^ {4,}(FAIL|ERR) ' "$work/run/err.txt" | cut -c1-260 | sed 's/^ */    /' \
    || grep -E '^ (FAIL|ERROR)' "$work/run/err.txt" | head -1 | cut -c1-260 | sed 's/^ */    /' || true
  return 1
}

rate_of() { case $1 in express) echo 100 ;; *) echo 40 ;; esac; }

echo "== clean apps, started cold, $N× each, $DURATION ($(basename "$PREFLIGHT"), $(nproc) cores)"
for app in $APPS; do
  fails=0 inconclusive=0 setup=0
  for i in $(seq "$N"); do
    checklist "$app" "$(rate_of "$app")"
    rc=0; soak "$app #$i" || rc=$?
    case $rc in 1|2) fails=$((fails + 1)) ;; 3) inconclusive=$((inconclusive + 1)) ;; 4) setup=$((setup + 1)) ;; esac
  done
  echo "-- $app: false alarms $fails of $N, inconclusive (machine saturated) $inconclusive, app did not start $setup"
done

# At 40 req/s a 300 B/request leak is 43 MB/h, under the default 64 MiB/h: judged at a
# production rate instead, 1 GiB of headroom for a day at 1,000 req/s (12 B/request), the same
# for the leak and its clean twin (LEGACY=1: without the keys older builds do not know).
py_prod=('extra=production_rate = 1000' 'extra=memory_headroom = "1GiB"' 'extra=min_uptime = "1d"')
[ -n "${LEGACY:-}" ] && py_prod=()
echo "== leaks and their clean twins, $DURATION (-long: $LONG); a leak must fail on its signal, a twin pass"
for leak in $LEAKS; do
  DUR=
  case $leak in
    # gunicorn-pg sends every other request to the database, the others to the upstream: the
    # leak periods are odd so that they hit whichever half they are meant for, and the bytes
    # kept per database request are doubled (300 B per request served).
    session) checklist gunicorn-pg 40 LEAK_SESSION_EVERY=501 ;;
    closewait) checklist gunicorn-pg 40 LEAK_UPSTREAM_EVERY=25 ;;
    node-heap) checklist express "$NODE_RATE" LEAK_CLOSURE_BYTES=300 ;;
    node-clean) checklist express "$NODE_RATE" ;;
    py-bytes) checklist gunicorn-pg 40 LEAK_BYTES=600 "${py_prod[@]}" ;;
    py-clean) checklist gunicorn-pg 40 "${py_prod[@]}" ;;
    node-big) DUR=20s checklist express 50 LEAK_CLOSURE_BYTES=200000 ;;
    node-heap-long) DUR=$LONG checklist express 100 LEAK_CLOSURE_BYTES=300 ;;
    node-clean-long) DUR=$LONG checklist express 100 ;;
    *) echo "unknown case $leak"; continue ;;
  esac
  rc=0; soak "case $leak" || rc=$?
  case $leak:$rc in
    *clean*:0) echo "    (clean twin passed)" ;;
    *clean*:3) echo "    (clean twin inconclusive: the machine was saturated)" ;;
    *clean*:*) echo "    FALSE ALARM on the clean twin" ;;
    *:0) echo "    MISSED" ;;
    *:3) echo "    (no leak verdict failed: MISSED or hidden by the saturated machine)" ;;
  esac
done

#!/usr/bin/env bash
# [flags] against a real Unleash server: Debian PostgreSQL + npm `unleash-server` on loopback.
# Flags on for one customer (an `IN` list, an anchored `REGEX`, an inverted `NOT_IN`) must fail
# the audit, an experiment whose parent flag is off must not; the official Node SDK
# (`unleash-client`) confirms who each flag is on for. Switched off, the audit must pass.
#
# PREFLIGHT=path runs another binary (to compare versions).
# Needs: apt-get install -y postgresql nodejs npm   (Node >= 20; unleash-server 7.5.1 is pinned
# because 7.6 needs Node 22). The npm package is installed once into target/unleash-server.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
PGPORT=${PGPORT:-55432}
UPORT=${UPORT:-42424}
UNLEASH_DIR="$ROOT/target/unleash-server"
WORK=$(mktemp -d /tmp/preflight-unleash.XXXXXX)
ADMIN='*:*.preflight-admin-token'
CLIENT='*:production.preflight-client-token'
U="http://127.0.0.1:$UPORT"
UNLEASH_PID=

# PostgreSQL refuses to run as root.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

cleanup() {
  [ -n "$UNLEASH_PID" ] && kill "$UNLEASH_PID" 2>/dev/null || true
  as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" stop -m fast >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== PostgreSQL on 127.0.0.1:$PGPORT"
[ "$(id -u)" = 0 ] && chown postgres "$WORK"
as_pg "$PGBIN/initdb" -D "$WORK/pg" -A trust -U postgres >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $WORK" -l "$WORK/pg.log" -w start >/dev/null
psql -q -h 127.0.0.1 -p "$PGPORT" -U postgres -c "create database unleash"

echo "== unleash-server on $U"
if [ ! -d "$UNLEASH_DIR/node_modules/unleash-server" ]; then
  mkdir -p "$UNLEASH_DIR"
  (cd "$UNLEASH_DIR" && npm init -y >/dev/null && npm install --no-audit --no-fund unleash-server@7.5.1 >/dev/null)
fi
if [ ! -d "$UNLEASH_DIR/node_modules/unleash-client" ]; then
  (cd "$UNLEASH_DIR" && npm install --no-audit --no-fund unleash-client@6 >/dev/null)
fi
cat > "$UNLEASH_DIR/start.js" <<JS
require('unleash-server').start({
  db: { host: '127.0.0.1', port: $PGPORT, user: 'postgres', password: '', database: 'unleash', ssl: false },
  server: { port: $UPORT, host: '127.0.0.1' },
  versionCheck: { enable: false },
  sendTelemetry: false,
  authentication: { initApiTokens: [
    { environment: '*', project: '*', secret: '$ADMIN', type: 'admin', tokenName: 'admin' },
    { environment: 'production', project: '*', secret: '$CLIENT', type: 'client', tokenName: 'client' },
  ] },
});
JS
(cd "$UNLEASH_DIR" && CHECK_VERSION=false SEND_TELEMETRY=false exec node start.js >"$WORK/unleash.log" 2>&1) &
UNLEASH_PID=$!
for _ in $(seq 1 120); do
  curl -fsS -m 2 "$U/health" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fsS -m 2 "$U/health" >/dev/null || { echo "unleash did not start"; tail -20 "$WORK/unleash.log"; exit 1; }

admin() { curl -fsS -m 10 -H "Authorization: $ADMIN" -H 'Content-Type: application/json' -X "$1" "$U/api/admin/projects/default/features$2" ${3:+-d "$3"} >/dev/null; }
# Unleash 7 has no `userWithId` strategy: one customer is a userId constraint on a rollout.
admin POST "" '{"name":"pilot-pricing","type":"experiment","description":"in development"}'
admin POST /pilot-pricing/environments/production/strategies \
  '{"name":"flexibleRollout","parameters":{"rollout":"100","stickiness":"default","groupId":"pilot-pricing"},"constraints":[{"contextName":"userId","operator":"IN","values":["cust-4711"]}]}'
admin POST /pilot-pricing/environments/production/on
admin POST "" '{"name":"featured-product","type":"release"}'
admin POST /featured-product/environments/production/on
# One customer by an anchored regex, and "only these" by an inverted NOT_IN.
admin POST "" '{"name":"regex-pilot","type":"release"}'
admin POST /regex-pilot/environments/production/strategies \
  '{"name":"flexibleRollout","parameters":{"rollout":"100","stickiness":"default","groupId":"regex-pilot"},"constraints":[{"contextName":"userId","operator":"REGEX","value":"^cust-4711$"}]}'
admin POST /regex-pilot/environments/production/on
admin POST "" '{"name":"only-these","type":"release"}'
admin POST /only-these/environments/production/strategies \
  '{"name":"flexibleRollout","parameters":{"rollout":"100","stickiness":"default","groupId":"only-these"},"constraints":[{"contextName":"userId","operator":"NOT_IN","values":["cust-4711"],"inverted":true}]}'
admin POST /only-these/environments/production/on
# An experiment that depends on a parent flag that is off: off for everyone.
admin POST "" '{"name":"search-v2","type":"release"}'
admin POST "" '{"name":"search-ranking","type":"experiment"}'
admin POST /search-ranking/dependencies '{"feature":"search-v2","enabled":true}'
admin POST /search-ranking/environments/production/strategies \
  '{"name":"flexibleRollout","parameters":{"rollout":"100","stickiness":"default","groupId":"search-ranking"}}'
admin POST /search-ranking/environments/production/on

echo "== what the official SDK serves"
cat > "$UNLEASH_DIR/who.js" <<JS
const { initialize } = require('unleash-client');
const c = initialize({ url: '$U/api', appName: 'preflight-check', customHeaders: { Authorization: '$CLIENT' }, refreshInterval: 1000, disableMetrics: true });
c.on('error', () => {});
c.on('synchronized', () => {
  const users = ['cust-4711', 'cust-1000', 'anon-' + Math.random().toString(16).slice(2)];
  const out = {};
  for (const f of ['pilot-pricing', 'regex-pilot', 'only-these', 'search-ranking']) {
    out[f] = users.filter((u) => c.isEnabled(f, { userId: u }));
  }
  console.log(JSON.stringify(out));
  c.destroy();
});
JS
sdk=$(cd "$UNLEASH_DIR" && timeout 30 node who.js)
echo "$sdk"
[ "$sdk" = '{"pilot-pricing":["cust-4711"],"regex-pilot":["cust-4711"],"only-these":["cust-4711"],"search-ranking":[]}' ] \
  || { echo "the SDK serves something else than this script assumes"; exit 1; }

[ -n "${PREFLIGHT:-}" ] || cargo build --quiet --manifest-path "$ROOT/Cargo.toml"
BIN=${PREFLIGHT:-$ROOT/target/debug/preflight}
cat > "$WORK/x.toml" <<TOML
[vars]
token = { env = "UNLEASH_CLIENT_TOKEN", secret = true }

[flags.unleash]
source = "unleash"
url = "$U/api"
token = "\${token}"
TOML
export UNLEASH_CLIENT_TOKEN="$CLIENT" CI=true NO_COLOR=1
run() { (cd "$WORK" && "$BIN" run x.toml 2>&1); }

echo "== flags on for one customer: must fail, naming each"
set +e; out=$(run); code=$?; set -e
echo "$out" | sed -n '2,8p'
[ "$code" = 1 ] || { echo "expected exit 1, got $code"; exit 1; }
echo "$out" | grep -q 'pilot-pricing: not marked released, yet targeted at individuals: userId IN \[`cust-4711`\]'
echo "$out" | grep -q 'regex-pilot: not marked released, yet targeted at individuals: userId REGEX `^cust-4711\$`'
echo "$out" | grep -q 'only-these: not marked released, yet targeted at individuals: userId NOT_IN (inverted: only these) \[`cust-4711`\]'
if echo "$out" | grep -q 'search-ranking'; then echo "an experiment under an off parent is off"; exit 1; fi
if echo "$out" | grep -q 'preflight-client-token'; then echo "token printed"; exit 1; fi

echo "== targeted flags off: must pass"
for f in pilot-pricing regex-pilot only-these; do admin POST "/$f/environments/production/off"; done
# The client API serves a cached revision for a moment after a change: poll, bounded.
for _ in $(seq 1 20); do
  set +e; out=$(run); code=$?; set -e
  [ "$code" = 0 ] && break
  sleep 0.5
done
echo "$out" | sed -n 2p
[ "$code" = 0 ] || { echo "expected exit 0, got $code"; exit 1; }
echo "real Unleash: OK"

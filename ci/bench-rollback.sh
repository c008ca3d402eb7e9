#!/bin/sh
# Times `[rollback.NAME]` on a synthetic repository: many release tags, many sqlx migrations,
# a few added since the previous release. Usage: ci/bench-rollback.sh [TAGS] [MIGRATIONS]
# Speed is measured here, never asserted in tests.
set -eu
TAGS=${1:-200}
MIGRATIONS=${2:-500}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cargo build --quiet --manifest-path "$ROOT/Cargo.toml" --bin preflight
BIN="$ROOT/target/debug/preflight"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
git init -q .
git config user.email bench@example.test
git config user.name bench
printf 'preflight.toml\npreflight-artifacts/\n' > .gitignore
mkdir migrations
i=0
per_tag=$(( MIGRATIONS / TAGS + 1 ))
t=0
while [ "$i" -lt "$MIGRATIONS" ]; do
  v=$(printf '%014d' "$i")
  printf 'CREATE TABLE t%s (id INTEGER PRIMARY KEY, note TEXT);\n-- comment\nCREATE INDEX i%s ON t%s (note);\n' "$i" "$i" "$i" > "migrations/${v}_t$i.up.sql"
  printf 'DROP INDEX i%s;\nDROP TABLE t%s;\n' "$i" "$i" > "migrations/${v}_t$i.down.sql"
  i=$((i + 1))
  if [ $((i % per_tag)) -eq 0 ] && [ "$t" -lt "$TAGS" ]; then
    git add -A && git commit -qm "release $t" && git tag "v1.$t.0"
    t=$((t + 1))
  fi
done
git add -A && git commit -qm "head" --allow-empty
cat > preflight.toml <<'TOML'
[rollback.release]
migrations = { dir = "migrations", tool = "sqlx" }
dry_run = ["true"]
TOML
echo "repo: $(git tag | wc -l) tags, $MIGRATIONS migrations"
for run in 1 2 3 4 5; do
  start=$(date +%s%N)
  "$BIN" run preflight.toml --json report.json > /dev/null 2>&1 || true
  end=$(date +%s%N)
  echo "run $run: $(( (end - start) / 1000000 )) ms (whole process)"
done
grep -o '"message": "[^"]*"' report.json | head -1

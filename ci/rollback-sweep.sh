#!/bin/sh
# Runs `[rollback.NAME]` on every release tag of a local clone and prints one row per release:
# the previous release chosen (and by which rule), the verdict, and the findings per rule.
# Measures false alarms and misses on real release histories; not run in CI.
#
# Usage: ci/rollback-sweep.sh REPO_DIR TAG_PATTERN DIR TOOL [EXTRA_TOML]
#   REPO_DIR     a local clone (its HEAD is moved to each tag, then restored; the work tree is
#                left alone: the check reads committed trees, and mirrors may lack large blobs)
#   TAG_PATTERN  the release tag glob, e.g. 'v*' or '[0-9]*'
#   DIR          the migrations directory, relative to REPO_DIR
#   TOOL         sqlx | diesel | flyway | rails | django | alembic | auto
#   EXTRA_TOML   more lines for the item, e.g. 'strategy = "compatible"'
# Environment: PREFLIGHT (binary; default: build this checkout), EVERY=N (every Nth release),
#   LAST=N (only the last N releases), PRE=1 (pre-releases too), SHOW=1 (print each message).
set -eu
[ $# -ge 4 ] || { sed -n '2,16p' "$0"; exit 2; }
REPO=$(cd "$1" && pwd)
PATTERN=$2
DIR=$3
TOOL=$4
EXTRA=${5:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${PREFLIGHT:-}" ]; then
  cargo build --quiet --manifest-path "$ROOT/Cargo.toml" --bin preflight
  PREFLIGHT="$ROOT/target/debug/preflight"
fi
WORK=$(mktemp -d)
START=$(git -C "$REPO" symbolic-ref -q HEAD || git -C "$REPO" rev-parse HEAD)
restore() {
  case $START in
    refs/*) git -C "$REPO" symbolic-ref HEAD "$START" ;;
    *) git -C "$REPO" update-ref --no-deref HEAD "$START" ;;
  esac
}
trap 'restore; rm -rf "$WORK"' EXIT

# Release tags in version order. A letter after the first digit marks a pre-release
# (`v2.0.0-rc.1`, `1.0.0-alpha-test.3`); those are left out unless PRE=1 (sort -V would also
# put them after their release).
git -C "$REPO" tag -l "$PATTERN" | {
  if [ "${PRE:-0}" = 1 ]; then cat; else awk '{ v = $0; sub(/^[^0-9]*/, "", v); if (v != "" && v !~ /[A-Za-z]/) print }'; fi
} | sort -V > "$WORK/tags"
if [ -n "${EVERY:-}" ]; then awk -v n="$EVERY" 'NR % n == 0' "$WORK/tags" > "$WORK/t" && mv "$WORK/t" "$WORK/tags"; fi
if [ -n "${LAST:-}" ]; then tail -n "$LAST" "$WORK/tags" > "$WORK/t" && mv "$WORK/t" "$WORK/tags"; fi

cat > "$WORK/summarize.py" <<'PY'
import json, sys, collections
tag = sys.argv[2]
try:
    item = json.load(open(sys.argv[1]))["items"][0]
except Exception as e:
    print(f"{tag:<16} {'-':<16} {'no-report':<9} {e}")
    sys.exit()
data = item.get("data") or {}
prev = data.get("previous") or {}
rule = prev.get("rule", "")
previous = (prev.get("tag") or "-") + (" (hotfix)" if rule == "hotfix-line" else "")
counts = collections.Counter()
migs = (data.get("migrations") or {}).get("migrations") or []
for m in migs:
    change, verdict = m.get("change"), m.get("verdict")
    if change in ("edited", "deleted", "squashed", "hotfix-only"):
        # Those that do not fail the item are marked.
        quiet = m.get("problems") or change == "squashed"
        counts[change + ("" if quiet else "(warn)")] += 1
    elif verdict == "irreversible":
        counts["irreversible"] += 1
    counts["noted"] += len(m.get("notes") or [])
    for d in m.get("lock_risks") or []:
        counts["lock:" + (d.get("rule") or "?")] += 1
    for d in m.get("dangerous") or []:
        key = d.get("rule") or "?"
        if d.get("acknowledged"):
            key += "(ack)"
        counts[key] += 1
    for w in m.get("warnings") or []:
        counts["warn:" + (w.get("rule") or "other")] += 1
outcome = item.get("outcome", "?")
findings = " ".join(f"{k}={v}" for k, v in sorted(counts.items()) if v) or "-"
print(f"{tag:<16} {previous:<24} {outcome:<8} {len(migs):>4}  {findings}")
if sys.argv[3] == "1" and outcome != "passed":
    print("    " + (item.get("message") or "")[:300])
PY

printf '%-16s %-24s %-8s %4s  %s\n' release previous verdict migr "findings (rule=count)"
while read -r tag; do
  if ! git -C "$REPO" cat-file -e "$tag:$DIR" 2>/dev/null; then
    printf '%-16s %-24s %-8s\n' "$tag" - no-dir
    continue
  fi
  git -C "$REPO" update-ref --no-deref HEAD "$(git -C "$REPO" rev-parse "$tag^{commit}")"
  cat > "$WORK/preflight.toml" <<TOML
[rollback.release]
repo = "$REPO"
tag_pattern = "$PATTERN"
migrations = { dir = "$REPO/$DIR", tool = "$TOOL" }
$EXTRA
TOML
  rm -f "$WORK/report.json"
  "$PREFLIGHT" run "$WORK/preflight.toml" --json "$WORK/report.json" > /dev/null 2>&1 || true
  python3 "$WORK/summarize.py" "$WORK/report.json" "$tag" "${SHOW:-0}"
done < "$WORK/tags" | tee "$WORK/rows"
awk '!/^    / { n[$0 ~ / failed / ? "failed" : ($0 ~ / passed / ? "passed" : ($0 ~ / errored / ? "errored" : ($0 ~ / no-dir/ ? "nodir" : "other")))]++ }
     END { printf "releases: %d passed, %d failed, %d errored, %d without DIR, %d other\n", n["passed"], n["failed"], n["errored"], n["nodir"], n["other"] }' "$WORK/rows"

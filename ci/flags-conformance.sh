#!/usr/bin/env bash
# On/off judgement of `[flags]` against the Unleash client specification's expected results.
#
#   ci/flags-conformance.sh DIR [-v]
#
# DIR is a local clone of https://github.com/Unleash/client-specification (never committed here).
# Each `specifications/NN-*.json` has a `state` (a client features response, or a delta API
# document) and `tests`/`variantTests` with the expected result per toggle and context. A toggle
# is "on" for the suite when any expected result is enabled, "off" when every one is disabled.
# preflight's judgement comes from the `experiments` rule with a catch-all pattern: every flag
# that is on for some path gets a finding. The script prints how many toggles preflight judges
# differently, and which with -v. Not run in CI (needs the clone); PREFLIGHT=path picks a binary.
set -euo pipefail

DIR=${1:?usage: ci/flags-conformance.sh DIR [-v]}
VERBOSE=${2:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${PREFLIGHT:-$ROOT/target/debug/preflight}
[ -n "${PREFLIGHT:-}" ] || cargo build --quiet --manifest-path "$ROOT/Cargo.toml"
WORK=$(mktemp -d /tmp/preflight-conformance.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

python3 - "$DIR/specifications" "$BIN" "$WORK" "$VERBOSE" <<'PY'
import json, os, subprocess, sys

spec_dir, binary, work, verbose = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "-v"
checklist = """
[flags.spec]
source = "unleash"
file = "state.json"
experiments = { patterns = [".*"] }
narrow_targeting = { severity = "off" }
"""
total = differ = unreadable = 0
lines = []
for name in sorted(os.listdir(spec_dir)):
    if not name[:2].isdigit() or not name.endswith(".json"):
        continue
    spec = json.load(open(os.path.join(spec_dir, name)))
    expected = {}
    for t in spec.get("tests", []):
        expected.setdefault(t["toggleName"], []).append(bool(t["expectedResult"]))
    for t in spec.get("variantTests", []):
        # `enabled` is the variant's; `feature_enabled` (where given) the toggle's.
        r = t["expectedResult"]
        expected.setdefault(t["toggleName"], []).append(bool(r.get("feature_enabled", r.get("enabled"))))
    case = os.path.join(work, name[:-5])
    os.makedirs(case)
    json.dump(spec["state"], open(os.path.join(case, "state.json"), "w"))
    open(os.path.join(case, "x.toml"), "w").write(checklist)
    env = dict(os.environ, NO_COLOR="1", CI="true")
    subprocess.run([binary, "run", "x.toml", "--json", "r.json"], cwd=case, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    item = json.load(open(os.path.join(case, "r.json")))["items"][0]
    total += len(expected)
    if item["outcome"] == "errored":
        unreadable += 1
        differ += len(expected)
        lines.append(f"{name}: unreadable ({len(expected)} toggles): {item['message'][:160]}")
        continue
    on = {f["flag"] for f in item["data"]["findings"] if f["rule"] == "experiments"}
    for toggle, results in sorted(expected.items()):
        suite_on = any(results)
        if (toggle in on) != suite_on:
            differ += 1
            lines.append(f"{name}: `{toggle}` preflight {'on' if toggle in on else 'off'}, "
                         f"suite {'on' if suite_on else 'off'} ({len(results)} results)")
if verbose:
    print("\n".join(lines))
print(f"{differ} of {total} toggles judged differently from the suite "
      f"({unreadable} unreadable files)")
PY

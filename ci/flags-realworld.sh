#!/usr/bin/env bash
# `[flags]` over flag files other people wrote: what it can read and what it reports.
#
#   ci/flags-realworld.sh DIR... [> out.txt]
#
# Each DIR is a local clone (never committed here) searched for:
# - flagd definitions (`*.json`/`*.yaml` with a `flags` table whose entries have `state`), e.g. the
#   flagd repository's samples and open-feature/flagd-testbed's flag sets;
# - LaunchDarkly SDK test data (launchdarkly/sdk-test-harness `data/data-files/server-side-eval/`):
#   the `sdkData` `{flags, segments}` of each file, its `<PARAM>`s filled from the first parameter
#   set (the client-side files hold evaluated values, not flag data);
# - Unleash client-specification states (`specifications/NN-*.json`).
# For every file it prints `readable`/`unreadable` and each finding (rule, flag, evidence), to be
# checked by hand, and a summary per source. Not run in CI. PREFLIGHT=path picks a binary.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: ci/flags-realworld.sh DIR..." >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${PREFLIGHT:-$ROOT/target/debug/preflight}
[ -n "${PREFLIGHT:-}" ] || cargo build --quiet --manifest-path "$ROOT/Cargo.toml"
WORK=$(mktemp -d /tmp/preflight-realworld.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

python3 - "$BIN" "$WORK" "$@" <<'PY'
import json, os, re, subprocess, sys
try:
    import yaml
except ImportError:
    yaml = None

binary, work, dirs = sys.argv[1], sys.argv[2], sys.argv[3:]

if yaml:
    # YAML 1.2, as the SDKs read it: `on`, `off`, `yes`, `no` are strings, not booleans.
    class Yaml12Loader(yaml.SafeLoader):
        pass
    Yaml12Loader.yaml_implicit_resolvers = {
        k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
        for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    Yaml12Loader.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))

def load(path):
    text = open(path, encoding="utf-8", errors="replace").read()
    if path.endswith((".yaml", ".yml")):
        return yaml.load(text, Loader=Yaml12Loader) if yaml else None
    return json.loads(text)

def fill(node, params):
    if isinstance(node, str):
        m = re.fullmatch(r"<([A-Z_0-9]+)>", node)
        return params.get(m.group(1), node) if m else node
    if isinstance(node, list):
        return [fill(v, params) for v in node]
    if isinstance(node, dict):
        return {k: fill(v, params) for k, v in node.items()}
    return node

cases = []  # (source, label, file extension, document)
for d in dirs:
    for base, subdirs, files in os.walk(d):
        subdirs[:] = [s for s in subdirs if s not in (".git", "node_modules")]
        for f in sorted(files):
            path = os.path.join(base, f)
            label = os.path.relpath(path, os.path.dirname(os.path.abspath(d)))
            try:
                if f.endswith(".json") and "/specifications/" in path and f[:2].isdigit():
                    cases.append(("unleash", label, ".json", load(path)["state"]))
                elif f.endswith((".yml", ".yaml")) and "/data-files/server-side-eval/" in path:
                    doc = load(path)
                    if isinstance(doc, dict) and "sdkData" in doc:
                        params = (doc.get("parameters") or [{}])[0]
                        params = {**(doc.get("constants") or {}), **params}
                        data = fill(doc["sdkData"], params)
                        cases.append(("launchdarkly", label, ".json", data))
                elif f.endswith((".json", ".yaml", ".yml")) and "schema" not in path:
                    text = open(path, encoding="utf-8", errors="replace").read()
                    if re.search(r'"?state"?\s*:\s*"?(ENABLED|DISABLED)', text):
                        cases.append(("flagd", label, os.path.splitext(f)[1], text))
            except Exception as e:  # noqa: BLE001 - a file we cannot even prepare is skipped
                print(f"skipped {label}: {e}", file=sys.stderr)

summary = {}
for n, (source, label, ext, doc) in enumerate(cases):
    case = os.path.join(work, str(n))
    os.makedirs(case)
    name = "flags" + ext
    with open(os.path.join(case, name), "w") as out:
        out.write(doc if isinstance(doc, str) else json.dumps(doc))
    with open(os.path.join(case, "x.toml"), "w") as out:
        out.write(f'[flags.x]\nsource = "{source}"\nfile = "{name}"\n')
    env = dict(os.environ, NO_COLOR="1", CI="true")
    subprocess.run([binary, "run", "x.toml", "--json", "r.json"], cwd=case, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    item = json.load(open(os.path.join(case, "r.json")))["items"][0]
    s = summary.setdefault(source, {"files": 0, "unreadable": 0, "findings": 0})
    s["files"] += 1
    if item["outcome"] == "errored":
        s["unreadable"] += 1
        print(f"unreadable {source} {label}: {item['message'][:200]}")
        continue
    findings = (item.get("data") or {}).get("findings", [])
    s["findings"] += len(findings)
    print(f"readable   {source} {label}: {(item.get('data') or {}).get('flags', '?')} flags, {len(findings)} findings")
    for f in findings:
        print(f"    {f['severity']} {f['rule']} {f['flag']}: {f['evidence'][:300]}")
for source, s in sorted(summary.items()):
    print(f"{source}: {s['files']} files, {s['unreadable']} unreadable, {s['findings']} findings")
PY

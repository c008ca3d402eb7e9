#!/usr/bin/env bash
# `preflight init` on real projects (local clones, e.g. `git clone /work/.mirror/OWNER+NAME/repo
# DIR`): for each DIR, what it found (the active items) and whether the result validates. Not run
# in CI. Usage: ci/init-real.sh DIR...
set -u
bin="${PREFLIGHT_BIN:-$(dirname "$0")/../target/debug/preflight}"
status=0
for dir in "$@"; do
  file="$dir/preflight.init-check.toml"
  if [ -e "$file" ]; then echo "$dir: $file exists, skipped"; continue; fi
  "$bin" init "$file" >/dev/null 2>&1 || { echo "$dir: init failed"; status=1; continue; }
  if "$bin" validate "$file" >/dev/null 2>&1; then verdict=valid; else verdict=INVALID; status=1; fi
  echo "== $dir: $verdict"
  grep -E '^(\[|run =|url =|file =|base =|migrations =)' "$file" | grep -v '^\[checklist\]\|^\[vars\]' | sed 's/^/   /'
  rm -f "$file"
done
exit $status

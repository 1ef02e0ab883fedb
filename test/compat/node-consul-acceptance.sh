#!/usr/bin/env bash
# Runs node-consul's own acceptance suite (test/acceptance/*.js, mocha) against Praetor agents:
# its harness starts `$CONSUL_BIN agent ...` for node1..node3, and here that binary is Praetor's.
#
#   NODE_CONSUL_DIR=/path/to/node-consul bash test/compat/node-consul-acceptance.sh
#
# NODE_CONSUL_DIR: a clone of github.com/silas/node-consul checked out at the tag under test
# (2.0.1), with its devDependencies installed (`npm install` there: mocha, should, async, temp).
# The suite is not vendored; it runs from a scratch copy, so the clone stays untouched.
# ADDR_PREFIX (default 127.0.0.): the suite binds node1..3 to 127.0.0.1-3 and asserts those
# addresses; another prefix (e.g. 127.0.4.) rewrites every "127.0.0." in the copy, nothing else.
# Needs `npm run build` first (bin/praetor.mjs runs dist/).
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
src="${NODE_CONSUL_DIR:?set NODE_CONSUL_DIR to a node-consul clone with its devDependencies installed}"
prefix="${ADDR_PREFIX:-127.0.0.}"
[ -f "$here/dist/src/cli/main.js" ] || { echo "dist/ missing: run npm run build in $here" >&2; exit 2; }
[ -d "$src/node_modules/mocha" ] || { echo "$src/node_modules/mocha missing: run npm install in $src" >&2; exit 2; }
work="$(mktemp -d "${TMPDIR:-/tmp}/praetor-node-consul-XXXXXX")"
trap 'rm -rf "$work"' EXIT
cp -r "$src/lib" "$src/test" "$src/package.json" "$work/"
ln -s "$src/node_modules" "$work/node_modules"
if [ "$prefix" != "127.0.0." ]; then
  grep -rl '127\.0\.0\.' "$work/test/acceptance" | xargs sed -i "s/127\\.0\\.0\\./${prefix//./\\.}/g"
fi
cd "$work"
# --exit: a test that fails with a watch still running would otherwise keep mocha alive forever.
ACCEPTANCE=true CONSUL_BIN="$here/bin/praetor.mjs" ./node_modules/.bin/mocha test/acceptance \
  --recursive --check-leaks --timeout 30000 --exit "$@"

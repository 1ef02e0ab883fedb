#!/bin/sh
# python-consul 0.7.1's own test suite (tests/test_std.py at tag v0.7.1, unmodified) against a
# `praetor agent -dev` that conftest.py starts (the only adapted file). Needs Debian's
# python3-consul and python3-pytest, and `npm run build` in the package first.
#   test/compat/python-consul/run.sh [pytest args]     e.g. -k test_kv -v
set -e
here=$(cd "$(dirname "$0")" && pwd)
[ -f "$here/../../../dist/src/cli/main.js" ] || { echo "run \`npm run build\` first" >&2; exit 2; }
cd "$here"
exec /usr/bin/python3 -m pytest -p no:cacheprovider -q -rf -W ignore::DeprecationWarning test_std.py "$@"

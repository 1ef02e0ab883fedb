#!/bin/sh
# Runs the Go client hashicorp/consul/api's own tests (api/*_test.go) against Praetor: their harness,
# sdk/testutil, starts `consul agent -config-file F` for every test, and a `consul` on PATH here runs
# `praetor agent` with that file instead. Only Debian's and npm's registries are reachable, so the
# sources come from a git dir of Consul and build offline in GOPATH mode with Consul's own vendor/
# tree (Go 1.19 from Debian: apt-get install golang-go). See README.md for the results.
#
#   npm run build    # the wrapper runs dist/ (startup must fit testutil's 2 s wait for the API)
#   test/compat/go-api/run.sh CONSUL_GIT_DIR OUT_DIR [TEST_REGEXP]
#   JOBS=2 (tests at once; each starts one agent)
#
# Each top-level test runs in its own process: a failing catalog test dereferences nil and would
# otherwise take the whole binary down. OUT_DIR/results.txt gets one "PASS|FAIL|SKIP name" line
# per test, OUT_DIR/logs/NAME.log the test's output (the agent's log is in it on failure).
set -eu
repo=$1
out=$(mkdir -p "$2" && cd "$2" && pwd)
filter=${3:-.}
here=$(cd "$(dirname "$0")" && pwd)
praetor=$(cd "$here/../../.." && pwd)
# hashicorp/consul's snapshot is past the fetch size limit; a GitHub fork of it holding master at
# 2020-11-14 (Consul 1.9.0-dev, api module v1.7.x) has the same tree.
commit=${CONSUL_COMMIT:-513a1bd9181f2803e140f9d901558f0a37fa0e56}
gopath=$out/gopath
src=$gopath/src/github.com/hashicorp/consul
if [ ! -f "$src/api/api.go" ]; then
  rm -rf "$src" && mkdir -p "$src"
  # git cat-file rather than git archive: a partial clone lacks blobs the build never reads.
  git -C "$repo" ls-tree -r "$commit" -- api sdk vendor | python3 -c '
import os, subprocess, sys
src = sys.argv[1]
entries = [l.rstrip("\n").split("\t", 1) for l in sys.stdin]
cat = subprocess.Popen(["git", "-C", sys.argv[2], "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
for meta, path in entries:
    mode, kind, sha = meta.split()
    if kind != "blob": continue
    cat.stdin.write((sha + "\n").encode()); cat.stdin.flush()
    head = cat.stdout.readline().split()
    if len(head) < 3: continue
    data = cat.stdout.read(int(head[2])); cat.stdout.read(1)
    full = os.path.join(src, path); os.makedirs(os.path.dirname(full), exist_ok=True)
    if mode == "120000": os.symlink(data.decode(), full); continue
    open(full, "wb").write(data)
' "$src" "$repo"
fi
# One harness patch (sdk/testutil/server.go): waitForAPI polls for a fixed 2 s and looks only at the
# last poll; Praetor, a Node process, takes about 1 s to answer on an idle machine and more on a
# loaded one, so the wait is 10 s and ends at the first answer.
python3 - "$src/sdk/testutil/server.go" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
if "praetor-patch" not in s:
    old = "\ttimer := retry.TwoSeconds()\n\tdeadline := time.Now().Add(timer.Timeout)"
    assert old in s, "waitForAPI changed"
    s = s.replace(old, "\ttimer := &retry.Timer{Timeout: 10 * time.Second, Wait: 25 * time.Millisecond} // praetor-patch\n\tdeadline := time.Now().Add(timer.Timeout)")
    old = "\t\tresp.Body.Close()\n\n\t\tfailed = false\n\t}"
    assert old in s, "waitForAPI changed"
    s = s.replace(old, "\t\tresp.Body.Close()\n\n\t\tfailed = false\n\t\tbreak\n\t}")
    open(p, "w").write(s)
    print("patched sdk/testutil/server.go waitForAPI")
PY
export GO111MODULE=off GOPATH="$gopath" GOCACHE="$out/gocache" GOFLAGS= GOPROXY=off
go test -c -o "$out/api.test" github.com/hashicorp/consul/api
mkdir -p "$out/bin" "$out/logs"
cat > "$out/bin/consul" <<WRAP
#!/bin/sh
exec node "$praetor/bin/praetor.mjs" "\$@"
WRAP
chmod +x "$out/bin/consul"
export PATH="$out/bin:$PATH"
cd "$src/api"
"$out/api.test" -test.list "$filter" | grep '^Test' > "$out/tests.txt"
: > "$out/results.txt"
# shellcheck disable=SC2016
xargs -P "${JOBS:-2}" -I{} sh -c '
  log="$1/logs/$2.log"
  "$1/api.test" -test.run "^$2\$" -test.v -test.timeout 180s > "$log" 2>&1 || true
  if grep -q "^--- PASS: $2 " "$log"; then r=PASS
  elif grep -q "^--- SKIP: $2 " "$log"; then r=SKIP
  else r=FAIL; fi
  echo "$r $2" >> "$1/results.txt"
' sh "$out" {} < "$out/tests.txt"
sort -k2 -o "$out/results.txt" "$out/results.txt"
echo "$(grep -c '^PASS' "$out/results.txt") passed, $(grep -c '^FAIL' "$out/results.txt") failed, $(grep -c '^SKIP' "$out/results.txt") skipped of $(wc -l < "$out/tests.txt")"

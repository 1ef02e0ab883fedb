#!/bin/sh
# Builds a Prometheus with Consul service discovery for check.ts: Debian's prometheus package has
# Consul SD disabled, and only Debian's and npm's registries are reachable here. Prometheus v2.24.0
# is the last release that vendors its Go dependencies, so it builds offline with Debian's Go
# 1.19; its consul_sd (discovery/consul) asks the same endpoints and sets the same labels as
# 2.42's, less the Enterprise namespace/partition labels. Two changes, both outside discovery:
#   - discovery/install keeps only the consul, dns and file mechanisms (the other SDs' vendored
#     SDKs are large, and two of their files are absent from partial clones), as Debian trims too;
#   - vendored modern-go/reflect2 1.0.1 and json-iterator 1.1.10 are replaced by Debian's 1.0.2 and
#     1.1.12: 1.0.1 crashes the API's JSON encoding under Go >= 1.18 (SIGSEGV in mapiterinit).
#
#   apt-get install golang-go golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev
#   test/compat/prometheus/build-prometheus.sh PROMETHEUS_GIT_DIR OUT_DIR   -> OUT_DIR/prometheus
set -eu
repo=$1
out=$(mkdir -p "$2" && cd "$2" && pwd)
src=$out/src
rm -rf "$src" && mkdir -p "$src"
# git cat-file rather than git archive: a partial clone may lack blobs the build never reads.
git -C "$repo" ls-tree -r v2.24.0 | python3 -c '
import os, subprocess, sys
src = sys.argv[1]
entries = [l.rstrip("\n").split("\t", 1) for l in sys.stdin]
cat = subprocess.Popen(["git", "-C", sys.argv[2], "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
for meta, path in entries:
    mode, kind, sha = meta.split()
    if kind != "blob": continue
    cat.stdin.write((sha + "\n").encode()); cat.stdin.flush()
    head = cat.stdout.readline().split()
    if len(head) < 3: print("absent:", path); continue
    data = cat.stdout.read(int(head[2])); cat.stdout.read(1)
    full = os.path.join(src, path); os.makedirs(os.path.dirname(full), exist_ok=True)
    if mode == "120000": os.symlink(data.decode(), full); continue
    open(full, "wb").write(data)
    if mode == "100755": os.chmod(full, 0o755)
' "$src" "$repo"
cd "$src"
python3 - <<'PY'
p = "discovery/install/install.go"
lines = open(p).read().split("\n")
keep = [l for l in lines if '_ "github.com/prometheus/prometheus/discovery/' not in l or any(k in l for k in ('/consul"', '/dns"', '/file"'))]
open(p, "w").write("\n".join(keep))
PY
for pkg in github.com/modern-go/reflect2 github.com/json-iterator/go; do
  rm -rf "vendor/$pkg" && cp -r "/usr/share/gocode/src/$pkg" "vendor/$pkg"
  rm -f "vendor/$pkg/go.mod" && find "vendor/$pkg" -name '*_test.go' -delete
done
sed -i 's|^# github.com/modern-go/reflect2 v1.0.1|# github.com/modern-go/reflect2 v1.0.2|; s|^# github.com/json-iterator/go v1.1.10|# github.com/json-iterator/go v1.1.12|' vendor/modules.txt
sed -i 's|github.com/json-iterator/go v1.1.10|github.com/json-iterator/go v1.1.12|' go.mod
GOFLAGS=-mod=vendor GOPROXY=off GOCACHE="$out/gocache" go build -o "$out/prometheus" ./cmd/prometheus
echo "built $out/prometheus (Prometheus v2.24.0 with consul_sd)"

#!/usr/bin/env bash
# Debian packages the tests need: serf (gossip interoperability), dig (DNS tests), python3-consul
# (python-consul against the HTTP API; Debian's Python is /usr/bin/python3).
set -euo pipefail
need=()
command -v serf >/dev/null 2>&1 || need+=(serf)
command -v dig >/dev/null 2>&1 || need+=(dnsutils)
/usr/bin/python3 -c "import consul" >/dev/null 2>&1 || need+=(python3-consul)
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"

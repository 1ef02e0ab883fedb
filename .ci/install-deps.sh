#!/usr/bin/env bash
# Debian packages the tests need: serf for the gossip interoperability test.
set -euo pipefail
need=()
command -v serf >/dev/null 2>&1 || need+=(serf)
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"

#!/usr/bin/env bash
# npm run quickstart: install, build, then build samples/hello into the default store and run it (conmon + runc).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ensure-tools.sh
ensure_debian_packages runc conmon containernetworking-plugins iptables golang-github-containers-common gcc g++ make python3 libc6-dev ca-certificates
ensure_node_modules
build_workspace

tsbuild() { node packages/builder/bin/tsbuild.js "$@"; }
echo '$ tsbuild -t hello samples/hello'
tsbuild -t hello samples/hello
echo '$ tsbuild images'
tsbuild images
echo '$ tsbuild run --rm hello'
tsbuild run --rm hello

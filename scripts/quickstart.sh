#!/usr/bin/env bash
# npm run quickstart: install, build, then build samples/hello into the default store and run it with runc.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ensure-tools.sh
ensure_debian_packages runc gcc g++ make python3 libc6-dev ca-certificates
ensure_node_modules
build_workspace

tsbuild() { node packages/builder/bin/tsbuild.js "$@"; }
echo '$ tsbuild -t hello samples/hello'
tsbuild -t hello samples/hello
echo '$ tsbuild images'
tsbuild images
bundle=$(mktemp -d /tmp/tsbuild-quickstart.XXXXXX)
id="tsbuild-quickstart-$$"
trap 'runc delete -f "$id" >/dev/null 2>&1 || true; rm -rf "$bundle"' EXIT
echo "\$ tsbuild bundle hello $bundle/hello"
tsbuild bundle hello "$bundle/hello"
echo "\$ runc run -b $bundle/hello $id"
runc run -b "$bundle/hello" "$id"

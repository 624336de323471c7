#!/usr/bin/env bash
# npm test: install what the tests need (Debian packages, node modules), build, run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ensure-tools.sh
ensure_debian_packages runc skopeo umoci buildah docker-registry tmux debootstrap gcc g++ make python3 libc6-dev ca-certificates \
  busybox-static apache2-utils openssl curl zstd iproute2 libcap2-bin bzip2 \
  containernetworking-plugins iptables util-linux conmon catatonit crun golang-github-containers-common
ensure_node_modules
build_workspace
typecheck_tests
npx vitest run "$@"

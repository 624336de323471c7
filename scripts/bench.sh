#!/usr/bin/env bash
# npm run bench: tsbuild vs buildah (builds), umoci (unpack) and skopeo (push/pull), tsdive vs
# plain decompression, tsbuild run vs runc and podman, printed as markdown tables and written into docs/BENCHMARKS.md.
# Knobs and groups: see bench/run.mjs (quick: BENCH_FILES=2000 BENCH_MB=30 BENCH_RUNS=1
# BENCH_NGINX=0 BENCH_DIVE_FILES=20000).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ensure-tools.sh
ensure_debian_packages buildah umoci skopeo docker-registry runc conmon podman debootstrap tmux curl zstd time gcc g++ make python3 libc6-dev ca-certificates
ensure_node_modules
build_workspace
node bench/run.mjs

#!/usr/bin/env bash
# npm run bench: tsbuild vs buildah (build) and vs umoci (unpack) on one generated context,
# printed as a markdown table and written into docs/BENCHMARKS.md. Knobs: see bench/run.mjs
# (BENCH_FILES=2000 BENCH_MB=30 BENCH_RUNS=1 for a quick run).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ensure-tools.sh
ensure_debian_packages buildah umoci time gcc make libc6-dev
ensure_node_modules
build_workspace
node bench/run.mjs

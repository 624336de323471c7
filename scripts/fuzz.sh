#!/usr/bin/env bash
# npm run fuzz: the long fuzz run over the built packages (test/fuzz/run.mjs has the flags: --target, --count,
# --seconds, --seed, --timeout-ms, --out, --skip-known, --replay FILE). The short fixed-seed run is test/fuzz/fuzz.test.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/ensure-tools.sh
ensure_node_modules
build_workspace
node test/fuzz/run.mjs "$@"

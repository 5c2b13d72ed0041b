#!/usr/bin/env bash
# Builds npm/ from the sources first, so every later step (Deno tests that
# run the npm build under Node, the Node suite, conformance, the CLI) sees
# the package of this very tree, never a stale one.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/tools.sh
deno run -A scripts/build_npm.ts

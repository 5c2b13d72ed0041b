#!/usr/bin/env bash
# The conformance suite (tests/conformance/): every case against the fixture
# served by real processes on 127.0.0.1 — Deno.serve, `deno serve`, Bun,
# Node (serve() from the npm build, built here first) and workerd (through
# miniflare). Prints the case × runtime table; fails on any unexpected
# result.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/tools.sh
if [ -f scripts/build_npm.ts ]; then
  echo "building npm/ for the Node column"
  deno run -A scripts/build_npm.ts >/dev/null
fi
deno run -A tests/conformance/run.ts

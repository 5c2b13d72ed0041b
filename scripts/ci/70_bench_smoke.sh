#!/usr/bin/env bash
# Smoke run of the benchmark: a few Deno, Bun and Node servers start, answers hello
# world, survives wrk, and streams 16 MiB each way with the byte counts
# checked. Prints the table; asserts no timing (the box is shared).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/tools.sh
command -v wrk >/dev/null && command -v curl >/dev/null || {
  echo "bench smoke: wrk or curl missing; run deno task bench to install" >&2
  exit 1
}
deno run --allow-all scripts/bench/run.ts --quick --no-python \
  --stream-bytes 16777216 \
  --only "raw deno,tsgi deno,tsgi-environ deno,hono deno,tsgi-json deno,raw bun,tsgi bun,hono bun,raw node,tsgi node,tsgi-json node,hono-json node"
# WebSocket: every echo server starts and echoes; one short round, no memory.
deno run --allow-all scripts/bench/websocket_bench.ts --rounds 1 --duration 1 \
  --no-memory

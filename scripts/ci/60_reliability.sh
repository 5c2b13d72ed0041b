#!/usr/bin/env bash
# Reliability, short versions: fuzzed hostile apps (10,000), hostile raw-TCP
# requests, an abort storm (500), slow clients (50) and a 5 s soak, against
# serve() on Deno, Bun and Node. `deno task stress` runs the long ones.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec bash scripts/reliability/stress.sh --short

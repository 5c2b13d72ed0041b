#!/usr/bin/env bash
# The middleware stack served by Bun.serve, with a Bun upstream and a
# client abort (the Deno side is in tests/).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/tools.sh
timeout 120 bun run scripts/middleware_bun_smoke.ts

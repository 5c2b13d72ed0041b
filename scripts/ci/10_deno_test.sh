#!/usr/bin/env bash
# Every Deno test in tests/, once, with Deno's sanitizers: unit tests, the
# gateway on a real Deno.serve, the CLI on Deno, Bun and Node (npm build),
# runWithCgi under a real lighttpd, headless Chromium end to end, every
# example as a real process. TSGI_REQUIRE_ALL=1 makes a missing peer
# (lighttpd, chromium, a runtime, npm/) a failure instead of a skip.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/tools.sh
export PATH="$PATH:/usr/sbin"
TSGI_REQUIRE_ALL=1 deno test --allow-all tests/

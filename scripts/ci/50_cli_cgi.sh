#!/usr/bin/env bash
# The tsgi CLI as a subprocess on Deno, Bun and Node (the npm build), and
# runWithCgi under a real CGI host (lighttpd + mod_cgi, which .ci/run
# installs). Builds npm/ first; with TSGI_REQUIRE_ALL=1 a missing runtime,
# npm build or lighttpd fails the step instead of skipping its tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/tools.sh
export PATH="$PATH:/usr/sbin"
if ! command -v lighttpd >/dev/null; then
  echo "lighttpd is missing: apt-get install lighttpd (.ci/run does it)" >&2
  exit 1
fi
deno run -A scripts/build_npm.ts
TSGI_REQUIRE_ALL=1 deno test --allow-all \
  tests/cli_test.ts tests/cgi_test.ts tests/cgi_gateway_test.ts

#!/usr/bin/env bash
# What a new user does, each in an empty directory that cannot see tools/:
# the packed npm tarball under Node (ESM, CommonJS, strict tsc, npx tsgi),
# under Bun (bun add, bunx tsgi), the Workers example under wrangler dev,
# and Deno code through an import map. Builds npm/ first. --no-config: the
# test is excluded from the plain `deno test tests/` run (10_deno_test.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/tools.sh
deno run -A scripts/build_npm.ts
TSGI_REQUIRE_ALL=1 deno test --allow-all --no-config tests/integration/

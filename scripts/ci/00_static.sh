#!/usr/bin/env bash
# Format, lint, type and doc checks, every JSDoc @example run as a test, and
# the layout rule (only src/serve, src/cgi, src/cli, src/runtime name a
# runtime).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/tools.sh
deno fmt --check
deno run --allow-read --allow-env scripts/check_layout.ts
deno lint
deno check mod.ts src/ tests/ examples/ scripts/
deno doc --lint mod.ts
deno test --doc --allow-all mod.ts src/
deno publish --dry-run --allow-dirty

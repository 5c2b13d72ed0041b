#!/usr/bin/env bash
# Format, lint, type and doc checks, and every JSDoc @example run as a test.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/tools.sh
deno fmt --check
deno lint
deno check mod.ts src/ tests/ examples/ scripts/
deno doc --lint mod.ts
deno test --doc --allow-all mod.ts src/
deno publish --dry-run --allow-dirty

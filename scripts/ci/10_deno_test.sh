#!/usr/bin/env bash
# Unit and in-process tests under Deno, with Deno's sanitizers.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/tools.sh
deno test --allow-all tests/

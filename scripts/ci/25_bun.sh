#!/usr/bin/env bash
# serve() and the gateway on Bun (Bun.serve), from the sources.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/tools.sh
echo "bun $(bun --version): bun test tests/bun/"
bun test tests/bun/

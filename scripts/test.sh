#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs the dev tools from
# npm (and Debian packages the real-peer tests need, when run as root), then
# runs every step in scripts/ci/ in name order. Each step prints its own
# summary; the script ends with one "N passed, N failed" line over steps.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/tools.sh
passed=0
failed=0
failures=()
for step in scripts/ci/*.sh; do
  echo "=== ${step}"
  if bash "$step"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failures+=("$step")
  fi
done
[ "$failed" -eq 0 ] || printf 'failed step: %s\n' "${failures[@]}"
echo "steps: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs the Debian peers the
# real-world tests use (lighttpd, chromium, wrk, curl; as root, when missing)
# and the dev tools from npm, then runs every step in scripts/ci/ in name
# order. The last line totals the tests the steps' runners reported (Deno,
# node --test, bun test, and our own "name: N passed, N failed" lines) as
# "tests: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  need=()
  for pkg in curl wrk lighttpd chromium; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
  done
  if [ "${#need[@]}" -gt 0 ]; then
    echo "installing ${need[*]} (apt-get)"
    apt-get update -qq >/dev/null &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
fi
. scripts/tools.sh
log_dir="$(mktemp -d)"
trap 'rm -rf "$log_dir"' EXIT
steps_failed=()
for step in scripts/ci/*.sh; do
  echo "=== ${step}"
  log="$log_dir/$(basename "$step").log"
  if ! bash "$step" 2>&1 | tee "$log"; then
    steps_failed+=("$step")
  fi
done
# Strip colours, then add up what each runner said.
totals=$(cat "$log_dir"/*.log | sed -E 's/\x1b\[[0-9;]*m//g' | awk '
  /^(ok|FAILED) \| [0-9]+ passed/ { split($0, a, "|"); p += a[2] + 0; f += a[3] + 0; next }
  /^(#|ℹ) pass [0-9]+$/ { p += $3; next }
  /^(#|ℹ) fail [0-9]+$/ { f += $3; next }
  /^ *[0-9]+ pass$/ { p += $1; next }
  /^ *[0-9]+ fail$/ { f += $1; next }
  /^[A-Za-z-]+: [0-9]+ passed, [0-9]+ failed/ { p += $2; f += $4; next }
  END { printf "%d %d", p, f }')
read -r passed failed <<<"$totals"
for step in "${steps_failed[@]}"; do echo "failed step: $step"; done
echo "tests: ${passed} passed, $((failed + ${#steps_failed[@]})) failed"
[ "${#steps_failed[@]}" -eq 0 ] && [ "$failed" -eq 0 ]

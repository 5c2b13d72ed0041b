#!/usr/bin/env bash
# Every reliability check against serve() on Deno, Bun and Node, loopback
# only. `--short` is the CI version (a few seconds each); without it, the
# figures in RELIABILITY.md: 100,000 fuzzed apps (twice), 10,000 aborts,
# 200 slow clients, a 60 s soak. Prints one summary line per check and runtime.
set -uo pipefail
cd "$(dirname "$0")/../.."
. scripts/tools.sh
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get install -y -q wrk || (apt-get update -q && apt-get install -y -q wrk)) >/dev/null
  fi
  command -v wrk >/dev/null || { echo "wrk is needed for the soak: apt-get install wrk" >&2; exit 1; }
fi
# The short run leaves the fuzzing to scripts/ci/10_deno_test.sh, which runs
# tests/e2e/hostile_apps_test.ts at its default of 10,000 apps (twice: bare and
# through validator).
if [ "${1:-}" = "--short" ]; then
  fuzz=0 aborts=500 soak="--seconds=5 --warmup=5 --rss-slack=0.25" slow="--clients=50 --seconds=2"
else
  fuzz=100000 aborts=10000 soak="--seconds=60 --warmup=10" slow="--clients=200 --seconds=4"
fi
run=(deno run --allow-all)
failed=0
step() {
  echo "--- $*"
  "$@" || failed=$((failed + 1))
}
checks=7
if [ "$fuzz" -gt 0 ]; then
  checks=8
  step env TSGI_FUZZ_RUNS="$fuzz" deno test --allow-all tests/e2e/hostile_apps_test.ts
fi
step "${run[@]}" scripts/reliability/hostile_requests.ts
# The same cases against the CLI with two workers on each runtime.
step "${run[@]}" scripts/reliability/hostile_requests.ts --cli
# What Deno.serve and Bun.serve themselves do that no gateway can change,
# as recorded: an upgrade that changes one fails here.
step "${run[@]}" scripts/repro/runtime_gaps.ts --check
step bun scripts/repro/runtime_gaps.ts --check
step "${run[@]}" scripts/reliability/abort_storm.ts --requests="$aborts"
# shellcheck disable=SC2086
step "${run[@]}" scripts/reliability/slow_clients.ts $slow
# shellcheck disable=SC2086
step "${run[@]}" scripts/reliability/soak.ts $soak
echo "reliability: $((checks - failed)) of ${checks} checks passed"
[ "$failed" -eq 0 ]

#!/usr/bin/env bash
# serve() against each runtime's own server, hello world, wrk on loopback:
#   bash scripts/bench/serve_bench.sh [seconds per run, default 5] [runtime…]
# The machine is shared, so requests/s swing with other load; the figure
# compared is the server's CPU time per request (user + system, from
# /proc/PID/stat), which other load disturbs far less. Printed for the raw
# server, serve() and serve() with the access log on (stderr → /dev/null),
# with serve's cost as a multiple of the raw server's in the same run.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/tools.sh
secs="${1:-5}"
shift || true
if [ "$#" -gt 0 ]; then runtimes=("$@"); else runtimes=(deno bun node); fi
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 1; }
deno run --allow-read --allow-write --allow-env scripts/build_npm.ts >/dev/null
target=scripts/bench/_serve_target.mjs
tick=$(getconf CLK_TCK)

cpu_ticks() { # pid → utime + stime, in clock ticks, of the process and its threads
  awk '{ print $14 + $15 }' "/proc/$1/stat"
}

measure() { # runtime mode → "µs-of-CPU-per-request requests-per-second"
  local out pid port before after requests rps
  out=$(mktemp)
  case "$1" in
    deno) deno run --allow-net --allow-read "$target" "$2" >"$out" 2>/dev/null & ;;
    bun) bun "$target" "$2" >"$out" 2>/dev/null & ;;
    node) node "$target" "$2" >"$out" 2>/dev/null & ;;
  esac
  pid=$!
  until [ -s "$out" ]; do
    kill -0 "$pid" 2>/dev/null || { echo "$1 $2 did not start" >&2; exit 1; }
    sleep 0.1
  done
  port=$(head -1 "$out")
  wrk -t1 -c16 -d1s "http://127.0.0.1:$port/" >/dev/null # warm-up
  before=$(cpu_ticks "$pid")
  read -r requests rps < <(wrk -t1 -c16 -d"${secs}s" "http://127.0.0.1:$port/" |
    awk '/requests in/ { n = $1 } /Requests\/sec/ { r = $2 } END { print n, r }')
  after=$(cpu_ticks "$pid")
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  rm -f "$out"
  awk -v b="$before" -v a="$after" -v n="$requests" -v t="$tick" -v r="$rps" \
    'BEGIN { printf "%.1f %.0f\n", (a - b) / t * 1e6 / n, r }'
}

printf '%-6s %-10s %14s %10s %12s\n' runtime server "CPU µs/req" "× raw" "requests/s"
for runtime in "${runtimes[@]}"; do
  base=""
  for mode in raw serve serve-log; do
    read -r cost rps < <(measure "$runtime" "$mode")
    [ -n "$base" ] || base=$cost
    awk -v r="$runtime" -v m="$mode" -v c="$cost" -v b="$base" -v q="$rps" \
      'BEGIN { printf "%-6s %-10s %14.1f %10.2f %12.0f\n", r, m, c, c / b, q }'
  done
done

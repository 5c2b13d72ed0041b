#!/usr/bin/env bash
# Installs the pinned dev tools (deno, bun, workerd, typescript, …) from npm
# into tools/node_modules, once, and puts them on PATH. Source it:
#   . scripts/tools.sh
# The tool manifest lives in tools/, not beside deno.json: a package.json
# there that installs deno/bun makes `deno task` run the binaries as JS.
_tsgi_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ ! -x "$_tsgi_root/tools/node_modules/.bin/deno" ] ||
  [ "$_tsgi_root/tools/package-lock.json" -nt "$_tsgi_root/tools/node_modules/.package-lock.json" ]; then
  (cd "$_tsgi_root/tools" && npm ci --no-audit --no-fund --loglevel=error) >&2
fi
export PATH="$_tsgi_root/tools/node_modules/.bin:$PATH"
export RUST_BACKTRACE=0 DENO_NO_PACKAGE_JSON=1 DENO_NO_UPDATE_CHECK=1

#!/usr/bin/env bash
# Installs the pinned dev tools (deno, bun, workerd, typescript, …) from npm
# into tools/node_modules, once per lockfile, and puts them on PATH. Source it:
#   . scripts/tools.sh
# The tool manifest lives in tools/, not beside deno.json: a package.json
# there that installs deno/bun makes `deno task` run the binaries as JS.
_tsgi_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Keyed on the lockfile's content, not its mtime: a checkout touches mtimes.
_tsgi_lock_sum="$(cksum <"$_tsgi_root/tools/package-lock.json")"
if [ ! -x "$_tsgi_root/tools/node_modules/.bin/deno" ] ||
  [ "$(cat "$_tsgi_root/tools/node_modules/.tsgi-lock" 2>/dev/null)" != "$_tsgi_lock_sum" ]; then
  # Not `npm ci`: the registry here serves only this platform's builds of
  # deno's optional per-platform packages, which the lockfile then lacks,
  # and `npm ci` refuses a lockfile with gaps. `npm install --no-save` still
  # takes every version from the lockfile and leaves it untouched.
  (cd "$_tsgi_root/tools" && npm install --no-save --no-audit --no-fund --loglevel=error) >&2 &&
    echo "$_tsgi_lock_sum" >"$_tsgi_root/tools/node_modules/.tsgi-lock"
fi
export PATH="$_tsgi_root/tools/node_modules/.bin:$PATH"
export RUST_BACKTRACE=0 DENO_NO_PACKAGE_JSON=1 DENO_NO_UPDATE_CHECK=1

#!/usr/bin/env bash
# `deno task bench [--quick] [...]`: installs what the benchmark drives (wrk,
# curl, the Debian Python WSGI servers) when missing, then runs run.ts.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# The pinned deno and bun; tools.sh installs them on first use.
. "$root/scripts/tools.sh" || true

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v curl >/dev/null || missing+=(curl)
command -v taskset >/dev/null || missing+=(util-linux)
[ -x /usr/bin/python3 ] || missing+=(python3)
command -v gunicorn >/dev/null || missing+=(gunicorn)
command -v uwsgi >/dev/null || missing+=(uwsgi)
[ -e /usr/lib/uwsgi/plugins/python3_plugin.so ] || missing+=(uwsgi-plugin-python3)
/usr/bin/python3 -c 'import waitress' 2>/dev/null || missing+=(python3-waitress)
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
fi

exec deno run --allow-all "$root/scripts/bench/run.ts" "$@"

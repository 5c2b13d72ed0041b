#!/usr/bin/env bash
# The browser end to end: headless Chromium (Debian's chromium, which
# .ci/run installs) submits a 5 MiB upload to examples/upload.ts through
# serve(), driven by playwright-core; then every example run as a real
# process, as the README shows it.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/tools.sh
if ! [ -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "70_browser: chromium not found at ${CHROMIUM:-/usr/bin/chromium} (apt-get install chromium)" >&2
  exit 1
fi
TSGI_REQUIRE_ALL=1 deno test --allow-all tests/browser_test.ts tests/examples_test.ts

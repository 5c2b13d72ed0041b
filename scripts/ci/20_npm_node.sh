#!/usr/bin/env bash
# The npm package under Node: build npm/ from the sources, check that it
# packs with no dependencies (ws, for WebSocket, is the one optional peer),
# and run tests/node/ against the built files.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/tools.sh
deno run --allow-read --allow-write --allow-env scripts/build_npm.ts
(cd npm && npm pack --dry-run --json 2>/dev/null) | node -e '
  const [pack] = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const pkg = require("./npm/package.json");
  for (const key of ["dependencies", "optionalDependencies", "bundleDependencies"]) {
    if (pkg[key] && Object.keys(pkg[key]).length) {
      console.error(`npm/package.json must have no ${key}`);
      process.exit(1);
    }
  }
  for (const name of Object.keys(pkg.peerDependencies ?? {})) {
    if (name !== "ws" || pkg.peerDependenciesMeta?.[name]?.optional !== true) {
      console.error(`npm/package.json may only have ws as an optional peer, not ${name}`);
      process.exit(1);
    }
  }
  console.log(`npm pack --dry-run: ${pack.filename}, ${pack.entryCount} files, ${pack.size} bytes, no dependencies, ws an optional peer`);'
echo "node $(node --version): node --test tests/node/"
node --test --test-reporter=spec tests/node/

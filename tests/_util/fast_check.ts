// fast-check (a dev tool in tools/node_modules) for Deno tests. Its ESM build
// imports pure-rand by bare subpaths, which Deno resolves only for npm:
// specifiers; the CommonJS build resolves through node_modules like Node,
// so it works offline from the pinned copy.
import { createRequire } from "node:module";

type FastCheck =
  typeof import("../../tools/node_modules/fast-check/lib/fast-check.d.ts");

const require = createRequire(import.meta.url);

/** The fast-check namespace. */
export const fc: FastCheck = require(
  "../../tools/node_modules/fast-check/lib/cjs/fast-check.js",
);

/** fast-check's generator type. */
export type Arbitrary<T> =
  import("../../tools/node_modules/fast-check/lib/fast-check.d.ts").Arbitrary<
    T
  >;

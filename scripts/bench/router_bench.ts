// Router matching cost: 10 vs 1,000 routes (matching must not slow down
// with the route count), and 100 routes against Hono's RegExpRouter (what
// Hono's default SmartRouter picks for these routes) and TrieRouter on the
// same routes, the same paths and the same runtime. Prints ns/match and
// ratios.
//
//   deno run scripts/bench/router_bench.ts [--rounds 15] [--iterations 200000]
//   bun scripts/bench/router_bench.ts [--rounds 15] [--iterations 200000]
//
// `--baseline DIR` (Deno needs `--allow-read` for it) also measures the
// Router of another checkout, e.g. `git worktree add /tmp/base main`, on
// the 100 routes, for a before/after in the same run.
//
// Each side does what it does per request to route it: Hono's
// `router.match(method, path)` (the handler and the raw captures; Hono names
// and decodes them later, when the app asks) and tsgi's `router.match()`
// (the app, and the captures named and decoded). The paths are already
// decoded for both, as PATH_INFO and Hono's getPath() give them.
//
// Measurements are interleaved round by round and the median is kept, so a
// busy machine slows every contender alike. Timing is only printed, never
// asserted.

import { Router } from "../../src/toolkit/router.ts";
import type { App, Environ, StartResponse } from "../../src/types.ts";
// Hono is a dev tool here (tools/node_modules), never a runtime dependency.
import { RegExpRouter } from "../../tools/node_modules/hono/dist/router/reg-exp-router/index.js";
import { TrieRouter } from "../../tools/node_modules/hono/dist/router/trie-router/index.js";

const runtime = globalThis as {
  Deno?: typeof Deno;
  Bun?: { argv: string[]; version: string };
  process?: { exitCode?: number; cwd?: () => string };
};
const ARGS = runtime.Deno ? runtime.Deno.args : runtime.Bun!.argv.slice(2);
const RUNTIME = runtime.Deno
  ? `Deno ${runtime.Deno.version.deno}`
  : `Bun ${runtime.Bun!.version}`;

function option(name: string): string | undefined {
  const i = ARGS.indexOf(name);
  return i === -1 ? undefined : ARGS[i + 1];
}
function arg(name: string, fallback: number): number {
  const value = option(name);
  return value === undefined ? fallback : Number(value);
}
const ROUNDS = arg("--rounds", 15);
const ITERATIONS = arg("--iterations", 200_000);

const app: App = (_environ, startResponse) => {
  startResponse("204 No Content", []);
  return [];
};

/** Route i of a realistic REST-ish API: statics, parameters and wildcards. */
function route(i: number): { method: string; pattern: string; path: string } {
  switch (i % 5) {
    case 0:
      return { method: "GET", pattern: `/api/res${i}`, path: `/api/res${i}` };
    case 1:
      return {
        method: "GET",
        pattern: `/api/res${i}/:id`,
        path: `/api/res${i}/42`,
      };
    case 2:
      return {
        method: "POST",
        pattern: `/api/res${i}/:id/items/:item`,
        path: `/api/res${i}/7/items/9`,
      };
    case 3:
      return {
        method: "GET",
        pattern: `/static${i}/*`,
        path: `/static${i}/css/site.css`,
      };
    default:
      return {
        method: "PUT",
        pattern: `/users/:user/res${i}/settings`,
        path: `/users/ann/res${i}/settings`,
      };
  }
}

function routes(n: number) {
  return Array.from({ length: n }, (_, i) => route(i));
}

type Lookup = { method: string; path: string };

/**
 * A lookup with its path cut out of a whole URL, as the gateway's PATH_INFO
 * and Hono's getPath() are, rather than the rope a template literal builds:
 * a router walking chars pays for a rope where a regular expression
 * flattens it once.
 */
function lookup(i: number): Lookup {
  const { method, path } = route(i);
  const url = `http://localhost${path}?q=1`;
  return { method, path: url.slice(16, url.indexOf("?")) };
}

/** For 10 vs 1,000 routes: routes 0..9, present in every table. */
const FIRST = Array.from({ length: 10 }, (_, i) => lookup(i));
/**
 * For 100 routes: ten spread over the whole table, two of each kind
 * (0, 11, 22, ..., 99), so no router profits from finding early routes
 * first.
 */
const SPREAD = Array.from({ length: 10 }, (_, i) => lookup(i * 11));

type Matcher = (method: string, path: string) => unknown;

function tsgi(n: number, Kind: typeof Router = Router): Matcher {
  const router = new Kind();
  for (const r of routes(n)) router.add(r.method, r.pattern, app);
  return (method, path) => router.match(method, path);
}

/**
 * The router's whole share of a request, the app call aside: match(), then
 * `wsgiorg.routing_args` and the SCRIPT_NAME/PATH_INFO shift on the environ
 * (a plain object here; the gateway's Proxy is the gateway's cost).
 */
function tsgiApp(n: number): Matcher {
  const router = new Router();
  for (const r of routes(n)) router.add(r.method, r.pattern, app);
  const environ = {
    REQUEST_METHOD: "",
    SCRIPT_NAME: "",
    PATH_INFO: "",
    "wsgiorg.routing_args": undefined,
  } as unknown as Environ;
  const startResponse = (() => {}) as unknown as StartResponse;
  return (method, path) => {
    environ.REQUEST_METHOD = method;
    environ.SCRIPT_NAME = "";
    environ.PATH_INFO = path;
    environ["wsgiorg.routing_args"] = undefined;
    const result = router.app(environ, startResponse);
    // Only a routed request reaches `app`, which leaves SCRIPT_NAME set
    // for every route but the root.
    return environ.SCRIPT_NAME === "" ? undefined : result;
  };
}

function hono(
  Kind: typeof RegExpRouter | typeof TrieRouter,
  n: number,
): Matcher {
  const router = new Kind();
  for (const r of routes(n)) router.add(r.method, r.pattern, app);
  return (method, path) => router.match(method, path);
}

const cases: [string, Matcher, Lookup[]][] = [
  ["tsgi Router, 10 routes", tsgi(10), FIRST],
  ["tsgi Router, 1,000 routes", tsgi(1000), FIRST],
  ["tsgi Router, 100 routes", tsgi(100), SPREAD],
  ["Hono RegExpRouter, 100 routes", hono(RegExpRouter, 100), SPREAD],
  ["Hono TrieRouter, 100 routes", hono(TrieRouter, 100), SPREAD],
  ["tsgi Router.app, 100 routes", tsgiApp(100), SPREAD],
];
const BASELINE = option("--baseline");
if (BASELINE !== undefined) {
  const cwd = runtime.Deno ? runtime.Deno.cwd() : runtime.process!.cwd!();
  const url = new URL(
    BASELINE.replace(/\/?$/, "/mod.ts"),
    `file://${cwd}/`,
  );
  const { Router: Before } = await import(url.href);
  cases.push([`baseline Router, 100 routes`, tsgi(100, Before), SPREAD]);
}

// Every matcher must find every lookup, or the comparison means nothing.
for (const [name, match, lookups] of cases) {
  for (const { method, path } of lookups) {
    const found = match(method, path) as unknown;
    const empty = found === undefined ||
      (Array.isArray(found) && Array.isArray(found[0]) &&
        found[0].length === 0);
    if (empty) throw new Error(`${name} found no route for ${method} ${path}`);
  }
}

let sink = 0;
function measure(match: Matcher, lookups: Lookup[]): number {
  const start = performance.now();
  for (let i = 0; i < ITERATIONS; i++) {
    const { method, path } = lookups[i % lookups.length];
    if (match(method, path) !== undefined) sink++;
  }
  return (performance.now() - start) * 1e6 / ITERATIONS; // ns per match
}

// Warm up every matcher.
for (const [, match, lookups] of cases) measure(match, lookups);
const samples = cases.map(() => [] as number[]);
for (let round = 0; round < ROUNDS; round++) {
  cases.forEach(([, match, lookups], i) =>
    samples[i].push(measure(match, lookups))
  );
}
const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[values.length >> 1];
const ns = samples.map(median);

console.log(
  `router_bench: ${ROUNDS} rounds x ${ITERATIONS} matches, median ns/match (${RUNTIME})`,
);
cases.forEach(([name], i) =>
  console.log(`  ${name.padEnd(32)} ${ns[i].toFixed(1).padStart(8)} ns`)
);
const scale = ns[1] / ns[0];
console.log(
  `  1,000 vs 10 routes (tsgi)         ${scale.toFixed(2)}x  (target <= 1.50x)`,
);
console.log(
  `  tsgi / Hono RegExpRouter (100)    ${(ns[2] / ns[3]).toFixed(2)}x`,
);
console.log(
  `  tsgi / Hono TrieRouter (100)      ${(ns[2] / ns[4]).toFixed(2)}x`,
);
console.log(
  `  tsgi Router.app / Hono RegExpRouter (100) ${(ns[5] / ns[3]).toFixed(2)}x`,
);
if (BASELINE !== undefined) {
  console.log(
    `  baseline / Hono RegExpRouter (100) ${(ns[6] / ns[3]).toFixed(2)}x`,
  );
  console.log(
    `  tsgi / baseline (100)             ${(ns[2] / ns[6]).toFixed(2)}x`,
  );
}
if (sink === 0) console.log("(no matches?)");
if (scale > 1.5) {
  console.log("FAIL: the 1,000-route case is more than 1.5x the 10-route case");
  if (runtime.Deno) runtime.Deno.exit(1);
  runtime.process!.exitCode = 1;
}

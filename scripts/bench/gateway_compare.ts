// What the gateway adds per request, in process, against another checkout's
// gateway in the same process, on Deno or Bun:
//   git archive REV | tar -x -C /tmp/base
//   deno run -A scripts/bench/gateway_compare.ts --baseline /tmp/base
//   bun scripts/bench/gateway_compare.ts --baseline /tmp/base
// Each case runs in batches interleaved with the others (a new Request per
// call, as a server makes one); the minimum batch is kept, which a shared
// box disturbs least, and the raw handler's time is subtracted.
import type { App } from "../../mod.ts";
import { NINE, ONE } from "./_requests.ts";
import { hello, helloCharset, helloEnviron, raw } from "./_apps.ts";

const runtime = globalThis as {
  Deno?: { args: string[] };
  Bun?: { argv: string[] };
};
const ARGS = runtime.Deno ? runtime.Deno.args : runtime.Bun!.argv.slice(2);
const at = ARGS.indexOf("--baseline");
const baseline = at === -1 ? undefined : ARGS[at + 1];
// What the second handler argument is on each runtime.
const ARG = runtime.Deno
  ? {
    remoteAddr: { hostname: "127.0.0.1", port: 40000 },
    completed: Promise.resolve(),
  }
  : { requestIP: () => ({ address: "127.0.0.1", port: 40000 }) };

const APPS: [string, App, number][] = [
  ["PEP 3333 hello", hello, 20_000],
  ["with a charset", helloCharset, 20_000],
  ["enumerating environ", helloEnviron, 5_000],
];

type Handler = (request: Request, arg: unknown) => unknown;
const gateways: [string, string][] = [["now", "../../mod.ts"]];
if (baseline !== undefined) {
  gateways.unshift([
    "baseline",
    new URL(`${baseline}/mod.ts`, "file:///").href,
  ]);
}

function minimumNs(
  cases: [string, () => unknown][],
  iterations: number,
  rounds = 12,
): Map<string, number> {
  const best = new Map<string, number>();
  for (let round = 0; round < rounds; round++) {
    for (const [name, fn] of cases) {
      const start = performance.now();
      for (let i = 0; i < iterations; i++) fn();
      const ns = (performance.now() - start) * 1e6 / iterations;
      best.set(name, Math.min(best.get(name) ?? Infinity, ns));
    }
  }
  return best;
}

console.log(
  `| app, headers | raw handler | ${
    gateways.map(([name]) => `${name}: gateway adds`).join(" | ")
  } |`,
);
console.log(`| --- | --- | ${gateways.map(() => "---").join(" | ")} |`);
for (const [label, app, iterations] of APPS) {
  for (const [count, headers] of [["1", ONE], ["9", NINE]] as const) {
    const request = () =>
      new Request("http://127.0.0.1:8000/", { headers: [...headers] });
    const cases: [string, () => unknown][] = [[
      "raw",
      () => {
        request();
        return raw();
      },
    ]];
    for (const [name, path] of gateways) {
      const { toFetchHandler } = await import(path);
      const handler = toFetchHandler(app) as Handler;
      cases.push([name, () => handler(request(), ARG)]);
    }
    const best = minimumNs(cases, iterations);
    const rawNs = best.get("raw")!;
    const added = gateways.map(([name]) =>
      `${((best.get(name)! - rawNs) / 1000).toFixed(2)} µs`
    );
    console.log(
      `| ${label}, ${count} | ${(rawNs / 1000).toFixed(2)} µs | ${
        added.join(" | ")
      } |`,
    );
  }
}

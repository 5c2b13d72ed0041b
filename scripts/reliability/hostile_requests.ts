// The hostile raw-TCP requests (hostile_cases.ts) against serve() on Deno,
// Bun and Node, or with --cli against the tsgi CLI with two workers on each.
// Prints each verdict; fails on any unsafe answer, on an environ violation
// the fixture counted, or if the server stops answering. Runtime bugs the
// gateway cannot see or fix are printed as "gap:" and listed in KNOWN_GAPS,
// so that a new one (or a fixed one) fails the run.
//
//   deno run -A scripts/reliability/hostile_requests.ts [--runtimes=deno,bun,node] [--cli]

import {
  type Runtime,
  runtimesFlag,
  startCli,
  startServer,
} from "./_server.ts";
import { CASES, KNOWN_GAPS, runCase, verdictOn } from "./hostile_cases.ts";

const runtimes = runtimesFlag();
const cli = Deno.args.includes("--cli");

interface Target {
  port: number;
  url: string;
  violations(): Promise<string[]>;
  stop(): Promise<void>;
}

async function start(runtime: Runtime): Promise<Target> {
  if (cli) {
    const server = await startCli(runtime);
    return {
      ...server,
      violations: () => Promise.resolve(server.violations()),
    };
  }
  const server = await startServer(runtime);
  return {
    port: server.port,
    url: server.url,
    async violations() {
      const stats = await server.stats();
      return stats.violations === 0
        ? []
        : [`${stats.violations}: ${JSON.stringify(stats.samples)}`];
    },
    stop: () => server.stop(),
  };
}

let ok = true;
for (const runtime of runtimes) {
  const label = cli ? `${runtime} cli -w 2` : runtime;
  const server = await start(runtime);
  const gaps: string[] = [];
  let unsafe = 0;
  try {
    for (const c of CASES) {
      const verdict = verdictOn(runtime, c, await runCase(server.port, c));
      if (verdict.startsWith("gap: ")) gaps.push(c.name);
      else if (!verdict.startsWith("ok: ")) unsafe++;
      console.log(`  ${label} | ${c.group ?? "misc"} | ${c.name} | ${verdict}`);
    }
    const violations = await server.violations();
    const after = await fetch(`${server.url}/small`);
    const answers = after.status === 200 && await after.text() === "ok\n";
    const gapsAsKnown = gaps.join() === Object.keys(KNOWN_GAPS[runtime]).join();
    const pass = unsafe === 0 && violations.length === 0 && answers &&
      gapsAsKnown;
    ok &&= pass;
    console.log(
      `hostile requests ${label}: ${CASES.length} cases, unsafe ${unsafe}, ` +
        `known runtime gaps ${gaps.length}${
          gapsAsKnown ? "" : " (CHANGED)"
        }, environ violations ${violations.length}${
          violations.length ? ` ${violations.join(" | ")}` : ""
        }, still answers: ${answers ? "yes" : "NO"} — ${
          pass ? "PASS" : "FAIL"
        }`,
    );
  } finally {
    await server.stop();
  }
}
Deno.exit(ok ? 0 : 1);

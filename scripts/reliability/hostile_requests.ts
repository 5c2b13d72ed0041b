// The hostile raw-TCP requests (hostile_cases.ts) against serve() on Deno,
// Bun and Node. Prints each verdict; fails on any unsafe answer, on an
// environ violation the fixture counted, or if the server stops answering.
// Runtime gaps the gateway cannot see are printed as "gap:" and listed in
// KNOWN_GAPS, so that a new one (or a fixed one) fails the run.
//
//   deno run -A scripts/reliability/hostile_requests.ts [--runtimes=deno,bun,node]

import { runtimesFlag, startServer } from "./_server.ts";
import { CASES, KNOWN_GAPS, sendRaw } from "./hostile_cases.ts";

const runtimes = runtimesFlag();

let ok = true;
for (const runtime of runtimes) {
  const server = await startServer(runtime);
  const gaps: string[] = [];
  let unsafe = 0;
  try {
    for (const c of CASES) {
      const verdict = c.judge(await sendRaw(server.port, c.request));
      if (verdict.startsWith("gap: ")) gaps.push(c.name);
      else if (!verdict.startsWith("ok: ")) unsafe++;
      console.log(`  ${runtime} | ${c.name} | ${verdict}`);
    }
    const stats = await server.stats();
    const after = await fetch(`${server.url}/small`);
    const answers = after.status === 200 && await after.text() === "ok\n";
    const gapsAsKnown = gaps.join() === KNOWN_GAPS[runtime].join();
    const pass = unsafe === 0 && stats.violations === 0 && answers &&
      gapsAsKnown;
    ok &&= pass;
    console.log(
      `hostile requests ${runtime}: ${CASES.length} cases, unsafe ${unsafe}, ` +
        `known runtime gaps ${gaps.length}${
          gapsAsKnown ? "" : " (CHANGED)"
        }, ` +
        `environ violations ${stats.violations}${
          stats.samples.length ? ` ${JSON.stringify(stats.samples)}` : ""
        }, still answers: ${answers ? "yes" : "NO"} — ${
          pass ? "PASS" : "FAIL"
        }`,
    );
  } finally {
    await server.stop();
  }
}
Deno.exit(ok ? 0 : 1);

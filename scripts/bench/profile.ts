// Profiles the gateway in process and prints where the time goes:
//   deno run -A --cpu-prof --cpu-prof-dir=.cache/prof scripts/bench/profile.ts [hello|environ] [1|9]
//   deno run -A scripts/bench/profile.ts --summary .cache/prof/FILE.cpuprofile
import { toFetchHandler } from "../../mod.ts";
import { INFO, NINE, ONE } from "./_requests.ts";
import { hello, helloEnviron } from "./_apps.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time per function, most first. */
function summarize(profile: Profile, top = 30): void {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i])!;
    const f = node.callFrame;
    const file = f.url.split("/").pop() || "(native)";
    const key = `${f.functionName || "(anonymous)"} ${file}:${
      f.lineNumber + 1
    }`;
    const dt = profile.timeDeltas[i] ?? 0;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  }
  const rows = [...self].sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [key, us] of rows) {
    console.log(`${(100 * us / total).toFixed(1).padStart(5)}%  ${key}`);
  }
}

if (Deno.args[0] === "--summary") {
  summarize(JSON.parse(await Deno.readTextFile(Deno.args[1])));
} else {
  const handler = toFetchHandler(
    Deno.args[0] === "environ" ? helloEnviron : hello,
  );
  const headers = Deno.args[1] === "9" ? NINE : ONE;
  const info = INFO;
  const n = Number(Deno.args[2] ?? 300_000);
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    handler(new Request("http://127.0.0.1:8000/", { headers }), info);
  }
  console.log(
    `${((performance.now() - start) * 1000 / n).toFixed(2)} µs/request`,
  );
}

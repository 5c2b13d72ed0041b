// The conformance runner: starts the fixture as a real server process per
// runtime on 127.0.0.1 (port 0, the bound port read from the child's
// output), runs every case against each, prints a case × runtime table and
// exits non-zero on any failure.
//
//   deno run -A tests/conformance/run.ts [--only=deno,bun] [--case=TEXT] [--npm=DIR]
//
// Needs deno, bun, node and esbuild on PATH (`. scripts/tools.sh`).

import {
  type Case,
  type CaseContext,
  cases,
  type RuntimeId,
  verify,
} from "./cases.ts";
import { raw } from "./_client.ts";
import { type Server, startServer } from "./_server.ts";

const root = new URL("../../", import.meta.url).pathname;
const here = new URL("./", import.meta.url).pathname;
const tmp = `${root}tests/.tmp/conformance/`;

interface Runtime {
  id: RuntimeId;
  /** What is started, as the table's footnote says it. */
  label: string;
  /** Builds what the runtime needs; returns a reason when it cannot run yet. */
  prepare?: () => Promise<string | void>;
  command: () => string[];
  /** The line announcing the port, on stdout or stderr. */
  listening: RegExp;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function sh(cmd: string[], cwd = root): Promise<void> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `${cmd.join(" ")} failed:\n${new TextDecoder().decode(out.stderr)}${
        new TextDecoder().decode(out.stdout)
      }`,
    );
  }
}

const esbuild = (args: string[]) =>
  sh(["esbuild", ...args, "--log-level=warning"]);

/** The npm build to serve Node from: `--npm=DIR`, else the repository's npm/. */
const npmDir = (Deno.args.find((a) => a.startsWith("--npm="))?.slice(6) ??
  `${root}npm`).replace(/\/?$/, "/");

/** The fixture as one ES module, the way a Worker is deployed. */
async function bundleWorker(): Promise<void> {
  await esbuild([
    `${here}servers/default_export.ts`,
    "--bundle",
    "--format=esm",
    "--platform=neutral",
    `--outfile=${tmp}worker.js`,
  ]);
}

const runtimes: Runtime[] = [
  {
    id: "deno",
    label: "Deno.serve(toFetchHandler(app))",
    command: () => [
      "deno",
      "run",
      "--allow-net",
      "--allow-env",
      `${here}servers/deno.ts`,
    ],
    listening: /^listening (\d+)$/,
  },
  {
    id: "deno-serve",
    label: "deno serve, export default { fetch }",
    command: () => [
      "deno",
      "serve",
      "--allow-env",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      `${here}servers/default_export.ts`,
    ],
    listening: /Listening on http:\/\/127\.0\.0\.1:(\d+)\//,
  },
  {
    id: "bun",
    label: "Bun.serve({ fetch: toFetchHandler(app) })",
    command: () => ["bun", `${here}servers/bun.ts`],
    listening: /^listening (\d+)$/,
  },
  {
    id: "node",
    label: "Node: serve(app) from the npm build (npm/)",
    async prepare() {
      if (!(await exists(`${npmDir}package.json`))) {
        if (!(await exists(`${root}scripts/build_npm.ts`))) {
          return "pending: no npm build yet (scripts/build_npm.ts has not landed)";
        }
        throw new Error(
          "npm/ is missing: run `deno run -A scripts/build_npm.ts` first",
        );
      }
      // The fixture imports only types from tsgi, so this is the app alone:
      // every line of tsgi that runs comes from the npm build.
      await esbuild([
        `${here}fixture.ts`,
        "--format=esm",
        `--outfile=${tmp}fixture.mjs`,
      ]);
    },
    command: () => [
      "node",
      `${here}servers/node.mjs`,
      npmDir,
      `${tmp}fixture.mjs`,
    ],
    listening: /^listening (\d+)$/,
  },
  {
    id: "workerd",
    label: "workerd via miniflare, esbuild bundle of export default { fetch }",
    prepare: bundleWorker,
    command: () => ["node", `${here}servers/workerd.mjs`, `${tmp}worker.js`],
    listening: /^listening (\d+)$/,
  },
];

/**
 * pass, FAIL; known: failed where the case documents an exception; XPASS:
 * passed despite one (the exception is stale); pending: the runtime cannot
 * be started yet.
 */
type Outcome = {
  status: "pass" | "FAIL" | "known" | "XPASS" | "pending";
  note?: string;
  error?: string;
};

async function runCase(test: Case, ctx: CaseContext): Promise<Outcome> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("no result after 90 s")), 90_000);
  });
  try {
    const work = (async () => {
      if (test.run) return await test.run(ctx);
      const response = await raw(ctx.port, test.request!);
      verify(response, test.expectOn?.[ctx.runtime] ?? test.expect!);
    })();
    const note = await Promise.race([work, guard]);
    return { status: "pass", note: note ?? undefined };
  } catch (error) {
    return {
      status: "FAIL",
      error: error instanceof Error ? error.message : String(error),
    };
  } finally {
    clearTimeout(timer);
  }
}

function parseArgs(): { only?: Set<string>; filter?: string } {
  const only = Deno.args.find((a) => a.startsWith("--only="))?.slice(7);
  const filter = Deno.args.find((a) => a.startsWith("--case="))?.slice(7);
  return { only: only ? new Set(only.split(",")) : undefined, filter };
}

async function main(): Promise<number> {
  const { only, filter } = parseArgs();
  await Deno.mkdir(tmp, { recursive: true });
  const selected = runtimes.filter((r) => !only || only.has(r.id));
  const chosen = cases.filter((c) => !filter || c.name.includes(filter));
  const results = new Map<RuntimeId, Outcome[]>();
  const problems: string[] = [];
  for (const runtime of selected) {
    const started = Date.now();
    let server: Server;
    try {
      const reason = await runtime.prepare?.();
      if (reason) {
        results.set(
          runtime.id,
          chosen.map(() => ({ status: "pending", note: reason })),
        );
        console.error(`${runtime.id}: ${reason}`);
        continue;
      }
      server = await startServer(runtime.command(), runtime.listening);
    } catch (error) {
      // A runtime that cannot start fails every case; the others still run.
      const message = error instanceof Error ? error.message : String(error);
      results.set(
        runtime.id,
        chosen.map(() => ({ status: "FAIL", error: "server did not start" })),
      );
      problems.push(`${runtime.id} did not start: ${message}`);
      continue;
    }
    const outcomes: Outcome[] = [];
    try {
      for (const test of chosen) {
        const caseStart = Date.now();
        const outcome = await runCase(test, {
          runtime: runtime.id,
          port: server.port,
          pid: server.pid,
          origin: `http://127.0.0.1:${server.port}`,
        });
        const seconds = (Date.now() - caseStart) / 1000;
        if (seconds > 5) {
          console.error(
            `${runtime.id} / ${test.name}: ${seconds.toFixed(1)} s`,
          );
        }
        if (test.exceptions?.[runtime.id]) {
          outcome.status = outcome.status === "pass" ? "XPASS" : "known";
        }
        outcomes.push(outcome);
        if (outcome.status === "FAIL") {
          problems.push(`${runtime.id} / ${test.name}: ${outcome.error}`);
        }
      }
    } finally {
      await server.stop();
    }
    if (outcomes.some((o) => o.status === "FAIL")) {
      problems.push(
        `${runtime.id} server output (last lines):\n  ${
          server.output.slice(-30).join("\n  ")
        }`,
      );
    }
    results.set(runtime.id, outcomes);
    console.error(
      `${runtime.id}: ${chosen.length} cases in ${
        ((Date.now() - started) / 1000).toFixed(1)
      } s`,
    );
  }
  printTable(chosen, selected, results);
  if (problems.length) console.log("\nFailures:\n" + problems.join("\n"));
  const failed =
    [...results.values()].flat().filter((o) => o.status === "FAIL").length;
  const passed =
    [...results.values()].flat().filter((o) => o.status === "pass").length;
  for (const [id, outcomes] of results) {
    outcomes.forEach((o, i) => {
      if (o.status === "XPASS") {
        console.log(
          `${id} / ${chosen[i].name}: passed; drop its documented exception`,
        );
      }
    });
  }
  const count = (status: Outcome["status"]) =>
    [...results.values()].flat().filter((o) => o.status === status).length;
  console.log(
    `\nconformance: ${passed} passed, ${failed} failed, ${
      count("known")
    } documented exceptions, ${count("XPASS")} unexpected passes, ${
      count("pending")
    } pending`,
  );
  return failed === 0 ? 0 : 1;
}

function printTable(
  chosen: Case[],
  selected: Runtime[],
  results: Map<RuntimeId, Outcome[]>,
): void {
  const width = Math.max(...chosen.map((c) => c.name.length));
  const cols = selected.map((r) => r.id);
  const colWidth = Math.max(...cols.map((c) => c.length), 6);
  const line = (cells: string[]) =>
    cells[0].padEnd(width) + "  " +
    cells.slice(1).map((c) => c.padEnd(colWidth)).join(" ");
  console.log("\n" + line(["case", ...cols]));
  console.log("-".repeat(width + 2 + (colWidth + 1) * cols.length));
  const notes: string[] = [];
  chosen.forEach((test, i) => {
    const cells = selected.map((runtime) => {
      const outcome = results.get(runtime.id)?.[i];
      if (!outcome) return "-";
      const mark =
        test.differences?.[runtime.id] || test.exceptions?.[runtime.id]
          ? "*"
          : "";
      return outcome.status === "pass" || outcome.status === "known"
        ? outcome.status + mark
        : outcome.status;
    });
    console.log(line([test.name, ...cells]));
    for (
      const [kind, map] of [["differs", test.differences], [
        "cannot",
        test.exceptions,
      ]] as const
    ) {
      for (const [id, why] of Object.entries(map ?? {})) {
        if (selected.some((r) => r.id === id)) {
          notes.push(`* ${test.name}, ${id} ${kind}: ${why}`);
        }
      }
    }
  });
  const measured = chosen.flatMap((test, i) => {
    const parts = selected
      .map((r) => [r.id, results.get(r.id)?.[i]?.note] as const)
      .filter(([id, note]) => note && results.get(id)?.[i]?.status === "pass")
      .map(([id, note]) => `${id} ${note}`);
    return parts.length ? [`${test.name}: ${parts.join("; ")}`] : [];
  });
  if (notes.length) console.log("\n" + notes.join("\n"));
  if (measured.length) console.log("\nmeasured:\n  " + measured.join("\n  "));
  console.log(
    "\nservers:\n  " + selected.map((r) => `${r.id}: ${r.label}`).join("\n  "),
  );
}

if (import.meta.main) Deno.exit(await main());

// Soak: wrk holds 256 connections on a mix of small, streamed (16 × 4 KiB)
// and upload (16 KiB) requests against serve() on Deno, Bun and Node.
// Passes with 0 errors (socket errors, timeouts, non-2xx), close() run for
// every stream, no environ violations, and RSS after the run within 10% of
// RSS after warm-up (both measured after full collections, both printed).
//
//   deno run -A scripts/reliability/soak.ts [--seconds=60] [--warmup=10]
//     [--connections=256] [--rss-slack=0.1] [--runtimes=deno,bun,node]

import { flag, mib, runtimesFlag, startServer } from "./_server.ts";

const SECONDS = Number(flag("seconds", "60"));
const WARMUP = Number(flag("warmup", "10"));
const CONNECTIONS = Number(flag("connections", "256"));
const runtimes = runtimesFlag();
// The allowed RSS growth. A 5 s CI run is still dominated by warm-up (heap
// and buffer pools settling), so CI passes --rss-slack=0.25; the 60 s run
// holds to 10%.
const RSS_SLACK = Number(flag("rss-slack", "0.1"));
const script = new URL("soak.lua", import.meta.url).pathname;

interface WrkResult {
  requests: number;
  errors: number;
  rps: number;
  summary: string;
}

async function wrk(url: string, seconds: number): Promise<WrkResult> {
  const out = await new Deno.Command("wrk", {
    args: [
      "-t2",
      `-c${CONNECTIONS}`,
      `-d${seconds}s`,
      // A request still unanswered after 30 s is a stall and counts as an
      // error; latency itself is the benchmarks' business (printed only).
      "--timeout=30s",
      "--latency",
      "-s",
      script,
      url,
    ],
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`wrk failed: ${text}`);
  const requests = Number(/(\d+) requests in/.exec(text)?.[1] ?? NaN);
  const socket =
    /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/
      .exec(text);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
  const errors = non2xx +
    (socket ? socket.slice(1).reduce((n, x) => n + Number(x), 0) : 0);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? NaN);
  const summary = socket ? socket[0] : "Socket errors: none";
  const p99 = /99%\s+(\S+)/.exec(text)?.[1] ?? "?";
  const max = /Latency\s+\S+\s+\S+\s+(\S+)/.exec(text)?.[1] ?? "?";
  return {
    requests,
    errors,
    rps,
    summary: `${summary}; non-2xx ${non2xx}; latency p99 ${p99}, max ${max}`,
  };
}

let ok = true;
for (const runtime of runtimes) {
  const server = await startServer(runtime, ["--max-body=1048576"]);
  try {
    await wrk(server.url, WARMUP);
    const warm = await server.stats();
    await server.waitForCloses(warm.streams);
    const rssWarm = await server.settledRss();
    const heapWarm = (await server.stats()).heap;

    const run = await wrk(server.url, SECONDS);
    const stats = await server.stats();
    await server.waitForCloses(stats.streams);
    const rssAfter = await server.settledRss();
    const after = await server.stats();
    const heapAfter = after.heap;

    const growth = (rssAfter - rssWarm) / rssWarm;
    const pass = run.errors === 0 && Number.isFinite(run.requests) &&
      run.requests > 0 && after.violations === 0 &&
      after.closes === after.streams && growth <= RSS_SLACK;
    ok &&= pass;
    console.log(
      `soak ${runtime}: ${SECONDS} s at ${CONNECTIONS} connections, ${run.requests} requests (${
        Math.round(run.rps)
      }/s), errors ${run.errors} (${run.summary}); streams ${after.streams}, close() ${after.closes}; ` +
        `RSS after warm-up ${mib(rssWarm)}, after the run ${mib(rssAfter)} (${
          growth >= 0 ? "+" : ""
        }${(growth * 100).toFixed(1)}%); JS heap ${mib(heapWarm)} -> ${
          mib(heapAfter)
        }; environ violations ${after.violations} — ${pass ? "PASS" : "FAIL"}`,
    );
  } finally {
    await server.stop();
  }
}
Deno.exit(ok ? 0 : 1);

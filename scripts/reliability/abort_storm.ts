// Abort storm: N clients each start an endless streamed response and hang
// up mid-body, against serve() on Deno, Bun and Node. Passes when the app
// counted exactly N close() calls (one per stream), open fds and RSS came
// back to where they were after warm-up, and the server still answers.
//
//   deno run -A scripts/reliability/abort_storm.ts [--requests=10000]
//     [--concurrency=64] [--runtimes=deno,bun,node]

import { flag, mib, runtimesFlag, startServer } from "./_server.ts";

const REQUESTS = Number(flag("requests", "10000"));
const CONCURRENCY = Number(flag("concurrency", "64"));
const runtimes = runtimesFlag();
// Warm-up at full concurrency: allocators reach their working size (RSS
// then stays flat from round to round; the JS heap stays at a few MiB).
const WARMUP = Math.min(4000, REQUESTS);
// A few sockets (the driver's own keep-alive connection) may come and go.
const FD_SLACK = 4;
// After full collections, the JS heap may grow this much (ratio + bytes)
// and RSS this much before it counts as a leak: 10,000 leaked streams, each
// holding a 4 KiB chunk and its generator, would cost tens of MiB.
const HEAP_SLACK = [0.1, 1 << 20];
const RSS_SLACK = 0.25;

const REQUEST = new TextEncoder().encode(
  "GET /stream?n=0&size=4096 HTTP/1.1\r\nHost: localhost\r\n\r\n",
);

/** One client: reads the headers and some body, then hangs up. */
async function abortOne(port: number): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(REQUEST);
    const buffer = new Uint8Array(16384);
    let seen = "";
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) throw new Error("The server closed the stream itself");
      seen += new TextDecoder("latin1").decode(buffer.subarray(0, n));
      const end = seen.indexOf("\r\n\r\n");
      if (end !== -1 && seen.length > end + 4) break; // mid-body
    }
    if (!seen.startsWith("HTTP/1.1 200")) {
      throw new Error(`Unexpected answer: ${seen.slice(0, 40)}`);
    }
  } finally {
    // Unread data in the receive buffer makes this a reset: a hard abort.
    conn.close();
  }
}

async function storm(port: number, count: number): Promise<number> {
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      try {
        await abortOne(port);
      } catch (error) {
        failed++;
        if (failed <= 3) console.error(`  client error: ${error}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return failed;
}

let ok = true;
for (const runtime of runtimes) {
  const server = await startServer(runtime);
  try {
    // Warm-up: JIT, buffers and connection pools reach their working size.
    await storm(server.port, WARMUP);
    await server.waitForCloses(WARMUP);
    for (let i = 0; i < 100; i++) {
      await (await fetch(`${server.url}/small`)).text();
    }
    const fdsBefore = server.fds();
    const rssBefore = await server.settledRss();
    const heapBefore = (await server.stats()).heap;

    const started = performance.now();
    const failed = await storm(server.port, REQUESTS);
    await server.waitForCloses(WARMUP + REQUESTS);
    const seconds = (performance.now() - started) / 1000;

    const stats = await server.stats();
    const after = await fetch(`${server.url}/small`);
    const answers = after.status === 200 && await after.text() === "ok\n";
    const fdsAfter = server.fds();
    const rssAfter = await server.settledRss();
    const heapAfter = (await server.stats()).heap;

    const closes = stats.closes - WARMUP;
    const streams = stats.streams - WARMUP;
    const leakedStreams = stats.streams - stats.closes;
    const fdLeak = fdsAfter - fdsBefore > FD_SLACK;
    const rssLeak = rssAfter > rssBefore * (1 + RSS_SLACK) ||
      heapAfter > heapBefore * (1 + HEAP_SLACK[0]) + HEAP_SLACK[1];
    const pass = failed === 0 && closes === REQUESTS && streams === REQUESTS &&
      leakedStreams === 0 && !fdLeak && !rssLeak && answers &&
      stats.violations === 0;
    ok &&= pass;
    console.log(
      `abort storm ${runtime}: ${REQUESTS} aborted streams in ${
        seconds.toFixed(1)
      } s; close() calls ${closes}/${REQUESTS}; streams left open ${leakedStreams}; ` +
        `chunks produced per stream ${
          (stats.produced / stats.streams).toFixed(1)
        }; fds ${fdsBefore} -> ${fdsAfter}; RSS ${mib(rssBefore)} -> ${
          mib(rssAfter)
        }; JS heap ${mib(heapBefore)} -> ${
          mib(heapAfter)
        }; client errors ${failed}; still answers: ${
          answers ? "yes" : "NO"
        } — ${pass ? "PASS" : "FAIL"}`,
    );
  } finally {
    await server.stop();
  }
}
Deno.exit(ok ? 0 : 1);

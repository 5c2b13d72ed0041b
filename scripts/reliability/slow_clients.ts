// Slow clients: clients that read an endless stream at 1 byte/ms (16 bytes
// every 16 ms) against serve() on Deno, Bun and Node.
//
// 1. Backpressure: the app's generator runs only as far ahead of the reader
//    as the kernel's socket buffers (tcp_wmem max for the server's send
//    buffer, tcp_rmem default for the client's receive buffer, ×4 for
//    autotuning) plus RUNTIME_SLACK of the runtime's own queues. Without
//    backpressure an endless generator would produce hundreds of MiB per
//    client in a few seconds.
// 2. Fairness: while the slow clients hang on, fast clients are still
//    served (every request succeeds; their latency is printed, not
//    asserted).
//
//   deno run -A scripts/reliability/slow_clients.ts [--clients=200]
//     [--seconds=4] [--runtimes=deno,bun,node]

import { flag, mib, runtimesFlag, startServer } from "./_server.ts";

const CLIENTS = Number(flag("clients", "200"));
const SECONDS = Number(flag("seconds", "4"));
const runtimes = runtimesFlag();
const CHUNK = 1024;
const STEP_MS = 16; // 16 bytes every 16 ms: 1 byte/ms
const RUNTIME_SLACK = 1 << 20;

function sysctl(name: string, field: number): number {
  const text = Deno.readTextFileSync(`/proc/sys/net/ipv4/${name}`);
  return Number(text.trim().split(/\s+/)[field]);
}
const BOUND = sysctl("tcp_wmem", 2) + 4 * sysctl("tcp_rmem", 1) +
  RUNTIME_SLACK;
const FAST_REQUESTS = 200;

/** A client that reads `STEP_MS` bytes every `STEP_MS` ms until stopped. */
function slowClient(port: number, stop: AbortSignal) {
  let consumed = 0;
  const done = (async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await conn.write(new TextEncoder().encode(
        `GET /stream?n=0&size=${CHUNK} HTTP/1.1\r\nHost: localhost\r\n\r\n`,
      ));
      const buffer = new Uint8Array(STEP_MS);
      while (!stop.aborted) {
        // The pacing of the client under test, not synchronisation.
        await new Promise((resolve) => setTimeout(resolve, STEP_MS));
        const n = await conn.read(buffer);
        if (n === null) throw new Error("The server ended an endless stream");
        consumed += n;
      }
    } finally {
      conn.close();
    }
  })();
  return { done, consumed: () => consumed };
}

async function fastRequests(
  url: string,
): Promise<{ failed: number; ms: number[] }> {
  let failed = 0;
  const ms: number[] = [];
  await Promise.all(Array.from({ length: 8 }, async (_, worker) => {
    for (let i = worker; i < FAST_REQUESTS; i += 8) {
      const started = performance.now();
      const path = i % 2 === 0 ? "/small" : "/stream?n=16&size=1024";
      try {
        const response = await fetch(`${url}${path}`);
        const body = await response.arrayBuffer();
        const want = i % 2 === 0 ? 3 : 16 * 1024;
        if (response.status !== 200 || body.byteLength !== want) failed++;
      } catch {
        failed++;
      }
      ms.push(performance.now() - started);
    }
  }));
  ms.sort((a, b) => a - b);
  return { failed, ms };
}

const half = (SECONDS * 1000) / 2;
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let ok = true;
for (const runtime of runtimes) {
  const server = await startServer(runtime);
  try {
    const rssIdle = server.rss();
    const stop = new AbortController();
    const clients = Array.from(
      { length: CLIENTS },
      () => slowClient(server.port, stop.signal),
    );
    const consumedAll = () => clients.reduce((n, c) => n + c.consumed(), 0);

    // The durations are the experiment's length, not synchronisation.
    await wait(half);
    const mid = await server.stats();
    const consumedMid = consumedAll();
    const fast = await fastRequests(server.url);
    await wait(half);
    const end = await server.stats();
    const consumedEnd = consumedAll();
    const rssLoaded = server.rss();
    stop.abort();
    const ended = await Promise.allSettled(clients.map((c) => c.done));
    const clientErrors = ended.filter((r) => r.status === "rejected").length;
    await server.waitForCloses(end.streams);

    // Fast clients' /stream requests are counted in `produced` too.
    const fastChunks = (FAST_REQUESTS / 2) * 16;
    const produced = end.produced - mid.produced - fastChunks;
    const consumedChunks = (consumedEnd - consumedMid) / CHUNK;
    // Produced but not yet read: socket buffers plus the runtime's queues.
    const inFlight = (end.produced - fastChunks - consumedEnd / CHUNK) *
      CHUNK / CLIENTS;
    const pass = inFlight <= BOUND && fast.failed === 0 &&
      clientErrors === 0 && end.violations === 0;
    ok &&= pass;
    const p = (q: number) => fast.ms[Math.floor(q * (fast.ms.length - 1))];
    console.log(
      `slow clients ${runtime}: ${CLIENTS} clients at 1 byte/ms for ${SECONDS} s; ` +
        `produced but unread per client ${
          (inFlight / 1024).toFixed(0)
        } KiB (bound ${
          (BOUND / 1024).toFixed(0)
        } KiB); second half: produced ${produced} chunks, read ${
          consumedChunks.toFixed(0)
        }; ` +
        `RSS idle ${mib(rssIdle)}, loaded ${mib(rssLoaded)}; ` +
        `fast requests ${
          FAST_REQUESTS - fast.failed
        }/${FAST_REQUESTS} ok (p50 ${p(0.5).toFixed(0)} ms, p99 ${
          p(0.99).toFixed(0)
        } ms) — ${pass ? "PASS" : "FAIL"}`,
    );
  } finally {
    await server.stop();
  }
}
Deno.exit(ok ? 0 : 1);

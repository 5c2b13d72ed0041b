// Bun drops pipelined HTTP/1.1 requests when the first one on the
// connection is still pending in an async handler: plain Bun.serve, no
// tsgi. Bun 1.4.5 calls the handler for the first request only, then
// closes the connection without sending either answer. With a synchronous
// handler both are answered. Run:
//
//   bun scripts/repro/bun_pipelining.ts
//
// Prints what came back; exits 1 while the bug is present, 0 once both
// requests are answered in order.
import net from "node:net";

/** What one connection with two pipelined GETs got back. */
export interface PipelinedResult {
  /** The paths the handler was called for, in order. */
  handled: string[];
  /** The bytes that came back, as latin-1 text without Date headers. */
  text: string;
  /** "close" when the server closed the connection, "timeout" if it hung. */
  ended: "close" | "timeout";
}

interface BunLike {
  serve(options: {
    hostname: string;
    port: number;
    fetch(request: Request): Promise<Response> | Response;
  }): { port: number; stop(force?: boolean): void };
  sleep(ms: number): Promise<void>;
  version: string;
}

const bun = (globalThis as unknown as { Bun: BunLike }).Bun;

/**
 * Serves `/first` and `/second` (each after `await Bun.sleep(5)` when
 * `async`), sends both requests in one write on one connection, and reads
 * until the server closes (the second asks it to).
 */
export async function pipelined(async = true): Promise<PipelinedResult> {
  const handled: string[] = [];
  const server = bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      const path = new URL(request.url).pathname;
      handled.push(path);
      if (!async) return new Response(`${path}\n`);
      return bun.sleep(5).then(() => new Response(`${path}\n`));
    },
  });
  try {
    const socket = net.connect(server.port, "127.0.0.1");
    let text = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => text += chunk);
    const ended = new Promise<"close" | "timeout">((resolve) => {
      socket.on("close", () => resolve("close"));
      socket.on("error", () => resolve("close"));
      // A failure detector only: every answer here arrives within ms.
      setTimeout(() => resolve("timeout"), 5000);
    });
    socket.write(
      "GET /first HTTP/1.1\r\nHost: localhost\r\n\r\n" +
        "GET /second HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    const how = await ended;
    socket.destroy();
    return { handled, text: text.replace(/Date: [^\r]*\r\n/g, ""), ended: how };
  } finally {
    server.stop(true);
  }
}

if (import.meta.main) {
  let broken = false;
  for (const async of [false, true]) {
    const result = await pipelined(async);
    const both = /\/first\n[\s\S]*\/second\n$/.test(result.text);
    broken ||= !both;
    console.log(
      `bun ${bun.version}, ${async ? "async" : "sync"} handler: handled ${
        JSON.stringify(result.handled)
      }, got ${JSON.stringify(result.text)}, ${result.ended} — ${
        both ? "both answered" : "PIPELINED REQUESTS DROPPED"
      }`,
    );
  }
  (globalThis as unknown as { process: { exit(code: number): never } })
    .process.exit(broken ? 1 : 0);
}

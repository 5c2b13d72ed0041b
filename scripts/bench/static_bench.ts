// Big bodies in one run: a 1 GiB file downloaded through staticFiles() vs
// the runtime's own file serving, and a 1 GiB multipart upload parsed by
// parseMultipart vs a raw read of the body vs Hono's parseBody. Each target
// is a fresh server process (this script, started with --serve); curl is
// the client. Prints times, ratios and each server's RSS growth (peak over
// the idle figure, sampled every 20 ms).
//
//   deno run -A scripts/bench/static_bench.ts [--rounds N] [--size BYTES]
//   bun scripts/bench/static_bench.ts [--rounds N] [--size BYTES]
import { spawn } from "node:child_process";
import {
  appendFileSync,
  mkdtempSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import process from "node:process";
import { createInterface } from "node:readline";
import { parseMultipart, staticFiles, toFetchHandler } from "../../mod.ts";
import type { App } from "../../mod.ts";

const SELF = new URL(import.meta.url).pathname;
const BOUNDARY = "----tsgiBenchBoundary7MA4YWxkTrZu0gW";
const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
const runtime = isBun ? "bun" : "deno";

declare const Deno: {
  serve(
    options: {
      hostname: string;
      port: number;
      onListen(a: { port: number }): void;
    },
    handler: (request: Request) => Response | Promise<Response>,
  ): unknown;
  open(path: string): Promise<{ readable: ReadableStream<Uint8Array> }>;
};
declare const Bun: {
  serve(options: {
    hostname: string;
    port: number;
    maxRequestBodySize: number;
    fetch(request: Request, server: unknown): Response | Promise<Response>;
  }): { port: number };
  file(path: string): Blob;
};

type Handler = (
  request: Request,
  ...args: unknown[]
) => Response | Promise<Response>;

async function handlerFor(target: string, dir: string): Promise<Handler> {
  const file = `${dir}/big.bin`;
  const drain = async (body: ReadableStream<Uint8Array> | null) => {
    let n = 0;
    const reader = body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return n;
      n += value.length;
    }
  };
  switch (target) {
    case "static":
      return toFetchHandler(staticFiles(dir));
    case "raw-file":
      return isBun
        ? () => new Response(Bun.file(file))
        : async () => new Response((await Deno.open(file)).readable);
    case "raw-read":
      return async (request) => new Response(String(await drain(request.body)));
    case "tsgi-parse": {
      const app: App = async (environ, startResponse) => {
        let n = 0;
        for await (const part of parseMultipart(environ)) {
          if (part.filename === undefined) continue;
          for await (const chunk of part.body) n += chunk.length;
        }
        startResponse("200 OK", [["Content-Type", "text/plain"]]);
        return [new TextEncoder().encode(String(n))];
      };
      return toFetchHandler(app);
    }
    case "hono-parse": {
      const { Hono } = await import(
        "../../tools/node_modules/hono/dist/index.js"
      ) as {
        Hono: new () => {
          post(
            path: string,
            h: (c: {
              req: { parseBody(): Promise<Record<string, unknown>> };
              text(s: string): Response;
            }) => Promise<Response>,
          ): void;
          fetch: Handler;
        };
      };
      const hono = new Hono();
      hono.post("*", async (c) => {
        const body = await c.req.parseBody();
        return c.text(String((body.file as Blob).size));
      });
      return hono.fetch;
    }
  }
  throw new Error(`unknown target ${target}`);
}

async function serveTarget(target: string, dir: string): Promise<void> {
  const handler = await handlerFor(target, dir);
  const base = process.memoryUsage().rss;
  let peak = base;
  setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  const wrapped: Handler = (request, ...args) => {
    if (new URL(request.url).pathname === "/rss") {
      peak = Math.max(peak, process.memoryUsage().rss);
      return Response.json({ base, peak });
    }
    return handler(request, ...args);
  };
  if (isBun) {
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      maxRequestBodySize: 4 * 2 ** 30,
      fetch: wrapped,
    });
    console.log(`PORT ${server.port}`);
  } else {
    Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: ({ port }) => console.log(`PORT ${port}`),
    }, wrapped);
  }
}

function curl(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("curl", ["-s", "--fail", ...args]);
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on(
      "exit",
      (code) =>
        code === 0
          ? resolve(out)
          : reject(new Error(`curl ${args.join(" ")}: exit ${code}`)),
    );
  });
}

async function measure(
  target: string,
  dir: string,
  curlArgs: (base: string) => string[],
): Promise<{ seconds: number; rssMiB: number; out: string }> {
  const execArgs = isBun ? [SELF] : ["run", "-A", SELF];
  const child = spawn(process.execPath, [...execArgs, "--serve", target, dir], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<string>((resolve) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      if (line.startsWith("PORT ")) resolve(line.slice(5));
    });
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    const start = performance.now();
    const out = await curl(curlArgs(base));
    const seconds = (performance.now() - start) / 1000;
    const { base: idle, peak } = JSON.parse(await curl([`${base}/rss`]));
    return { seconds, rssMiB: (peak - idle) / 2 ** 20, out };
  } finally {
    child.kill();
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const at = args.indexOf("--serve");
  if (at !== -1) return serveTarget(args[at + 1], args[at + 2]);
  const rounds = Number(args[args.indexOf("--rounds") + 1] ?? 0) || 2;
  const size = Number(args[args.indexOf("--size") + 1] ?? 0) || 2 ** 30;
  const dir = mkdtempSync(`${tmpdir()}/tsgi_static_bench_`);
  try {
    // The download: a sparse file (reads of holes cost no disk).
    writeFileSync(`${dir}/big.bin`, "");
    truncateSync(`${dir}/big.bin`, size);
    // The upload: a form with one file of `size` bytes, 1 MiB of random
    // bytes repeated (CRs and dashes included, as real files have).
    const form = `${dir}/upload.form`;
    writeFileSync(
      form,
      `--${BOUNDARY}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n` +
        `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n` +
        `Content-Type: application/octet-stream\r\n\r\n`,
    );
    const block = new Uint8Array(2 ** 20);
    for (let i = 0; i < block.length; i += 65536) {
      crypto.getRandomValues(block.subarray(i, i + 65536));
    }
    for (let written = 0; written < size; written += block.length) {
      appendFileSync(
        form,
        block.subarray(0, Math.min(block.length, size - written)),
      );
    }
    appendFileSync(form, `\r\n--${BOUNDARY}--\r\n`);

    const download = (base: string) => ["-o", "/dev/null", `${base}/big.bin`];
    const upload = (base: string) => [
      "-X",
      "POST",
      "-T",
      form,
      "-H",
      "Expect:",
      "-H",
      `Content-Type: multipart/form-data; boundary=${BOUNDARY}`,
      `${base}/upload`,
    ];
    const targets: [string, (base: string) => string[]][] = [
      ["raw-file", download],
      ["static", download],
      ["raw-read", upload],
      ["tsgi-parse", upload],
      ["hono-parse", upload],
    ];
    const best = new Map<string, { seconds: number; rssMiB: number }>();
    for (let round = 0; round < rounds; round++) {
      for (const [target, args] of targets) {
        const result = await measure(target, dir, args);
        if (target.endsWith("parse") && result.out !== String(size)) {
          throw new Error(
            `${target} read ${result.out} bytes, expected ${size}`,
          );
        }
        const previous = best.get(target);
        best.set(target, {
          seconds: Math.min(previous?.seconds ?? Infinity, result.seconds),
          rssMiB: Math.max(previous?.rssMiB ?? 0, result.rssMiB),
        });
        console.error(
          `${runtime} ${target} round ${round + 1}: ${
            result.seconds.toFixed(2)
          } s, RSS +${result.rssMiB.toFixed(0)} MiB`,
        );
      }
    }
    const gib = size / 2 ** 30;
    console.log(
      `\n${runtime}, ${gib} GiB, best of ${rounds} (time), worst (RSS growth):`,
    );
    for (const [target, { seconds, rssMiB }] of best) {
      console.log(
        `  ${target.padEnd(11)} ${seconds.toFixed(2).padStart(6)} s  ${
          (gib / seconds).toFixed(2).padStart(5)
        } GiB/s  RSS +${rssMiB.toFixed(0)} MiB`,
      );
    }
    const t = (name: string) => best.get(name)!.seconds;
    console.log(
      `  static / raw file serving: ${
        (t("raw-file") / t("static")).toFixed(2)
      }x the speed`,
    );
    console.log(
      `  tsgi parse / raw body read: ${
        (t("raw-read") / t("tsgi-parse")).toFixed(2)
      }x the speed`,
    );
    console.log(
      `  tsgi parse / Hono parseBody: ${
        (t("hono-parse") / t("tsgi-parse")).toFixed(2)
      }x the speed`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();

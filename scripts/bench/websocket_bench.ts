// The WebSocket benchmark, two parts in one run:
// 1. Throughput: messages per second echoed by tsgi's serve() against the
//    runtime's own WebSocket server (Deno.upgradeWebSocket, Bun.serve's
//    websocket), on Deno and Bun, in interleaved rounds, server pinned to one
//    core and the client (Deno's WebSocket) to the other. It prints the
//    medians and tsgi/raw (the target is >= 0.90).
// 2. Memory: 1,000 sockets held open on tsgi's server under Deno, Bun and
//    Node (the npm build), and the server's resident memory before and with
//    them.
//
//   deno run -A scripts/bench/websocket_bench.ts [--rounds N] [--duration S]
//        [--connections N] [--size BYTES] [--sockets N] [--no-memory]

const HERE = new URL(".", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;
const SERVER = `${HERE}_websocket_server.mjs`;

function flag(name: string, fallback: number): number {
  const i = Deno.args.indexOf(name);
  return i === -1 ? fallback : Number(Deno.args[i + 1]);
}
const ROUNDS = flag("--rounds", 3);
const DURATION = flag("--duration", 5);
const CONNECTIONS = flag("--connections", 50);
const WINDOW = 8;
const SIZE = flag("--size", 64);
const SOCKETS = flag("--sockets", 1000);
const MEMORY = !Deno.args.includes("--no-memory");

const haveTaskset = await new Deno.Command("taskset", { args: ["-V"] })
  .output().then((out) => out.success, () => false);

interface Started {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

async function start(command: string[], core?: string): Promise<Started> {
  const full = haveTaskset && core !== undefined
    ? ["taskset", "-c", core, ...command]
    : command;
  const child = new Deno.Command(full[0], {
    args: full.slice(1),
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${command.join(" ")} exited before listening`);
    text += value;
    const match = /listening (\d+)/.exec(text);
    if (match) {
      // Keep draining so the child never blocks on a full pipe.
      (async () => {
        while (!(await reader.read()).done);
      })().catch(() => {});
      return {
        port: Number(match[1]),
        pid: child.pid,
        async stop() {
          try {
            child.kill("SIGKILL");
          } catch {
            // Gone already.
          }
          await child.status;
        },
      };
    }
  }
}

/** Messages per second echoed over CONNECTIONS sockets, WINDOW in flight each. */
async function throughput(port: number): Promise<number> {
  const payload = "x".repeat(SIZE);
  const sockets = await Promise.all(
    Array.from(
      { length: CONNECTIONS },
      () =>
        new Promise<WebSocket>((resolve, reject) => {
          const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
          socket.onopen = () => resolve(socket);
          socket.onerror = () => reject(new Error("Cannot connect"));
        }),
    ),
  );
  let counting = false;
  let count = 0;
  for (const socket of sockets) {
    socket.onmessage = () => {
      if (counting) count++;
      socket.send(payload);
    };
    for (let i = 0; i < WINDOW; i++) socket.send(payload);
  }
  await new Promise((resolve) => setTimeout(resolve, 1000)); // warm-up
  counting = true;
  const begun = performance.now();
  await new Promise((resolve) => setTimeout(resolve, DURATION * 1000));
  const rate = count / ((performance.now() - begun) / 1000);
  counting = false;
  for (const socket of sockets) {
    socket.onmessage = null;
    socket.close();
  }
  return rate;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function rss(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? "0") * 1024;
}

const mib = (bytes: number) => (bytes / 1048576).toFixed(1);

async function npmServe(): Promise<string> {
  const file = `${ROOT}npm/src/serve/serve.js`;
  try {
    await Deno.stat(file);
  } catch {
    const out = await new Deno.Command("deno", {
      args: ["run", "-A", "scripts/build_npm.ts"],
      cwd: ROOT,
    }).output();
    if (!out.success) throw new Error("Cannot build npm/");
  }
  const ws = `${ROOT}npm/node_modules/ws`;
  try {
    await Deno.lstat(ws);
  } catch {
    await Deno.mkdir(`${ROOT}npm/node_modules`, { recursive: true });
    await Deno.symlink(`${ROOT}tools/node_modules/ws`, ws);
  }
  return file;
}

const runtimes: Record<string, string[]> = {
  deno: ["deno", "run", "-A", SERVER],
  bun: ["bun", SERVER],
};

console.log(
  `WebSocket echo: ${CONNECTIONS} connections x ${WINDOW} in flight, ${SIZE}-byte text, ${ROUNDS} rounds of ${DURATION} s${
    haveTaskset ? ", server on core 0, client on core 1" : ""
  }`,
);
const rows: string[] = [];
for (const [runtime, command] of Object.entries(runtimes)) {
  const rates: Record<string, number[]> = { raw: [], tsgi: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of ["raw", "tsgi"]) {
      const server = await start([...command, kind], "0");
      try {
        const rate = await throughput(server.port);
        rates[kind].push(rate);
        console.log(
          `  ${runtime} ${kind} round ${round + 1}: ${Math.round(rate)} msg/s`,
        );
      } finally {
        await server.stop();
      }
    }
  }
  const raw = median(rates.raw);
  const tsgi = median(rates.tsgi);
  rows.push(
    `| ${runtime} | ${Math.round(raw)} | ${Math.round(tsgi)} | ${
      (tsgi / raw).toFixed(2)
    }x |`,
  );
}
console.log("\n| runtime | raw msg/s | tsgi msg/s | tsgi/raw |");
console.log("| ------- | --------- | ---------- | -------- |");
for (const row of rows) console.log(row);

if (MEMORY) {
  console.log(`\nMemory: ${SOCKETS} sockets held open on tsgi's serve()`);
  console.log("| runtime | idle RSS MiB | with sockets MiB | per socket KiB |");
  console.log("| ------- | ------------ | ---------------- | -------------- |");
  const memory: Record<string, string[]> = {
    deno: [...runtimes.deno, "tsgi"],
    bun: [...runtimes.bun, "tsgi"],
    node: ["node", SERVER, "tsgi", await npmServe()],
  };
  for (const [runtime, command] of Object.entries(memory)) {
    const server = await start(command, "0");
    try {
      const idle = rss(server.pid);
      const sockets: WebSocket[] = [];
      // Opened in batches, each socket proven open by an echo.
      for (let i = 0; i < SOCKETS; i += 100) {
        const batch = await Promise.all(
          Array.from(
            { length: Math.min(100, SOCKETS - i) },
            () =>
              new Promise<WebSocket>((resolve, reject) => {
                const socket = new WebSocket(`ws://127.0.0.1:${server.port}/`);
                socket.onopen = () => socket.send("up");
                socket.onmessage = () => resolve(socket);
                socket.onerror = () => reject(new Error("Cannot connect"));
              }),
          ),
        );
        sockets.push(...batch);
      }
      const held = rss(server.pid);
      console.log(
        `| ${runtime} | ${mib(idle)} | ${mib(held)} | ${
          ((held - idle) / SOCKETS / 1024).toFixed(1)
        } |`,
      );
      for (const socket of sockets) socket.close();
    } finally {
      await server.stop();
    }
  }
}

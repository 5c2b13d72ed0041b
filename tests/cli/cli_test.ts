// The tsgi CLI as a user runs it: a subprocess on Deno (src/cli/cli.ts), Bun
// (src/cli/cli.ts) and Node (the npm build's bin), served to over real TCP.
import assert from "node:assert/strict";
import { freePort, LineReader, waitForPort } from "../_util/process.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const APP = `${ROOT}tests/fixtures/cli_app.mjs`;
const NPM_BIN = `${ROOT}npm/src/cli/_bin.js`;

function onPath(name: string): boolean {
  return (Deno.env.get("PATH") ?? "").split(":").some((dir) => {
    try {
      return Deno.statSync(`${dir}/${name}`).isFile;
    } catch {
      return false;
    }
  });
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

// CI sets it: a runtime that is missing fails its tests instead of skipping.
const REQUIRE_ALL = Deno.env.get("TSGI_REQUIRE_ALL") === "1";

interface Runtime {
  name: string;
  command: string[];
  available: boolean;
}

const RUNTIMES: Runtime[] = [
  {
    name: "deno",
    command: [Deno.execPath(), "run", "-A", `${ROOT}src/cli/cli.ts`],
    available: true,
  },
  {
    name: "bun",
    command: ["bun", `${ROOT}src/cli/cli.ts`],
    available: onPath("bun"),
  },
  {
    name: "node",
    command: ["node", NPM_BIN],
    available: onPath("node") && exists(NPM_BIN),
  },
];

/** A running `tsgi` process with its stderr read line by line. */
class Cli {
  readonly child: Deno.ChildProcess;
  readonly stderr: LineReader;
  readonly stdout: Promise<string>;

  constructor(runtime: Runtime, args: string[], cwd = ROOT) {
    const [program, ...rest] = runtime.command;
    this.child = new Deno.Command(program, {
      args: [...rest, ...args],
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.stderr = new LineReader(this.child.stderr);
    this.stdout = new Response(this.child.stdout).text();
  }

  /** Waits for `pattern` on stderr; fails with everything seen if it exits first. */
  async expect(
    pattern: RegExp | string | ((line: string) => boolean),
  ): Promise<string> {
    // The bound only turns a hang into a failure; nothing waits for it.
    const line = await this.stderr.waitWithin(pattern, 60_000);
    if (line === "" || line === undefined) {
      throw new Error(
        `The CLI ${
          line === "" ? "ended" : "went on for a minute"
        } without printing ${pattern}; stderr:\n${this.stderr.text}`,
      );
    }
    return line;
  }

  /** The exit code, once the process and its output are done. */
  async exit(): Promise<number> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    // The bound only turns a hang into a failure; nothing waits for it.
    const hung = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.child.kill("SIGKILL");
        reject(
          new Error(
            `The CLI (or a process holding its stderr) did not end within a minute; stderr:\n${this.stderr.text}`,
          ),
        );
      }, 60_000);
    });
    try {
      const [status] = await Promise.race([
        Promise.all([this.child.status, this.stderr.done, this.stdout]),
        hung,
      ]);
      return status.code;
    } finally {
      clearTimeout(timer);
    }
  }

  kill(signal: Deno.Signal = "SIGTERM"): void {
    this.child.kill(signal);
  }
}

/** A test of the CLI on one runtime: skipped where it is missing, unless CI. */
function runtimeTest(
  runtime: Runtime,
  name: string,
  fn: (t: Deno.TestContext) => Promise<void>,
): void {
  Deno.test({
    name: `CLI on ${runtime.name}: ${name}`,
    ignore: !runtime.available && !REQUIRE_ALL,
    async fn(t) {
      assert.ok(
        runtime.available,
        `${runtime.command[0]} or its build is missing`,
      );
      await fn(t);
    },
  });
}

/** One request on a fresh TCP connection; the response head and body. */
async function rawGet(port: number, path = "/"): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(
    new TextEncoder().encode(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
    ),
  );
  return await new Response(conn.readable).text();
}

for (const runtime of RUNTIMES) {
  runtimeTest(
    runtime,
    `serves, and SIGTERM lets a request in flight finish`,
    async () => {
      const port = freePort();
      const cli = new Cli(runtime, ["--port", String(port), APP]);
      const listening = await cli.expect("Listening at:");
      assert.match(
        listening,
        new RegExp(
          `^\\[\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d [+-]\\d{4}\\] \\[${cli.child.pid}\\] \\[INFO\\] Listening at: http://127\\.0\\.0\\.1:${port} \\(${cli.child.pid}\\)$`,
        ),
      );
      await cli.expect(`Booting worker with pid: ${cli.child.pid}`);

      const hello = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal(hello.status, 200);
      assert.equal(await hello.text(), "hello\n");
      assert.equal(hello.headers.get("x-pid"), String(cli.child.pid));
      assert.equal(hello.headers.get("x-multiprocess"), "false");
      await cli.expect(/"GET \/ HTTP\/1\.1" 200 6$/);

      // A request the app holds until the process gets SIGUSR2.
      const waiting = fetch(`http://127.0.0.1:${port}/wait`);
      await cli.expect("waiting");
      cli.kill("SIGTERM");
      await cli.expect("Handling signal: term");
      cli.kill("SIGUSR2");
      const response = await waiting;
      assert.equal(response.status, 200, cli.stderr.text);
      assert.equal(await response.text(), "released");
      assert.equal(await cli.exit(), 0);
      assert.ok(
        cli.stderr.lines.some((line) =>
          line.endsWith(`Worker exiting (pid: ${cli.child.pid})`)
        ),
      );
    },
  );

  runtimeTest(runtime, `a second signal exits without waiting`, async () => {
    const port = freePort();
    const cli = new Cli(runtime, ["--port", String(port), APP]);
    await cli.expect("Listening at:");
    const waiting = fetch(`http://127.0.0.1:${port}/wait`).then(
      (response) => response.text(),
      (error) => error,
    );
    await cli.expect("waiting");
    cli.kill("SIGINT");
    await cli.expect("Handling signal: int");
    cli.kill("SIGINT");
    assert.equal(await cli.exit(), 1, cli.stderr.text);
    assert.match(cli.stderr.text, /Second signal: exiting without waiting/);
    // The held request never got its answer.
    assert.ok(await waiting instanceof Error);
  });

  runtimeTest(runtime, `one-line errors and a non-zero exit`, async (t) => {
    const cases: [string, string[], number, RegExp][] = [
      [
        "bad option",
        ["--bogus", APP],
        2,
        /^tsgi: error: unknown option --bogus \(see tsgi --help\)$/,
      ],
      [
        "bad port",
        ["--port", "http", APP],
        2,
        /^tsgi: error: --port needs a port from 0 to 65535, got "http"/,
      ],
      [
        "module not found",
        ["tests/fixtures/nope.mjs"],
        1,
        /^tsgi: error: Cannot find module "tests\/fixtures\/nope\.mjs"/,
      ],
      [
        "export missing",
        [`${APP}:nope`],
        1,
        /^tsgi: error: Cannot find export "nope" in module ".*cli_app\.mjs" \(it exports app, notAnApp\)$/,
      ],
      [
        "export not a function",
        [`${APP}:notAnApp`],
        1,
        /^tsgi: error: Cannot serve export "notAnApp" of ".*cli_app\.mjs": expected an app function, got number$/,
      ],
      [
        "a default export with fetch() is not an app",
        ["tests/fixtures/fetch_default.mjs"],
        1,
        /^tsgi: error: Cannot serve the default export of ".*fetch_default\.mjs": an object with fetch\(\) is a Fetch handler, not a tsgi app/,
      ],
    ];
    for (const [name, args, code, message] of cases) {
      await t.step(name, async () => {
        const cli = new Cli(runtime, args);
        assert.equal(await cli.exit(), code, cli.stderr.text);
        assert.equal(cli.stderr.lines.length, 1, cli.stderr.text);
        assert.match(cli.stderr.lines[0], message);
      });
    }
    for (const workers of ["1", "2"]) {
      await t.step(`port in use (--workers ${workers})`, async () => {
        const holder = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        const { port } = holder.addr as Deno.NetAddr;
        try {
          const cli = new Cli(runtime, [
            "--port",
            String(port),
            "--workers",
            workers,
            APP,
          ]);
          assert.equal(await cli.exit(), 1, cli.stderr.text);
          assert.deepEqual(cli.stderr.lines, [
            `tsgi: error: Cannot listen on 127.0.0.1:${port}: the address is already in use`,
          ]);
        } finally {
          holder.close();
        }
      });
    }
    await t.step("--help and --version", async () => {
      const help = new Cli(runtime, ["--help"]);
      assert.equal(await help.exit(), 0);
      assert.match(
        await help.stdout,
        /^Usage: tsgi \[options\] MODULE\[:NAME\]/,
      );
      const version = new Cli(runtime, ["--version"]);
      assert.equal(await version.exit(), 0);
      assert.match(
        await version.stdout,
        new RegExp(`^tsgi \\d+\\.\\d+\\.\\d+ \\(${runtime.name} `),
      );
    });
  });

  runtimeTest(
    runtime,
    `--workers 2 serves from two processes and replaces one that dies`,
    async () => {
      const port = freePort();
      const cli = new Cli(runtime, [
        "--workers",
        "2",
        "--port",
        String(port),
        APP,
      ]);
      const boots: string[] = [];
      await cli.expect((line: string) => {
        if (line.includes("Booting worker with pid:")) boots.push(line);
        return boots.length === 2;
      });
      assert.equal(boots.length, 2, cli.stderr.text);
      const workerPids = new Set(
        boots.map((line) => Number(/pid: (\d+)$/.exec(line)![1])),
      );
      assert.equal(workerPids.size, 2);
      assert.ok(
        !workerPids.has(cli.child.pid),
        "workers are separate processes",
      );
      // Fresh connections until both workers have answered; bounded.
      const seen = new Set<number>();
      for (let i = 0; i < 100 && seen.size < 2; i++) {
        const text = await rawGet(port);
        assert.match(text, /^HTTP\/1\.1 200 /);
        assert.match(text, /x-multiprocess: true/i);
        seen.add(Number(/x-pid: (\d+)/i.exec(text)![1]));
      }
      assert.deepEqual(seen, workerPids);

      // A worker that dies is replaced, as gunicorn does.
      const [victim] = workerPids;
      Deno.kill(victim, "SIGKILL");
      const reboot = await cli.expect((line: string) =>
        line.includes("Booting worker with pid:") && !boots.includes(line)
      );
      const replacement = Number(/pid: (\d+)$/.exec(reboot)![1]);
      assert.ok(!workerPids.has(replacement));
      assert.match(
        cli.stderr.text,
        new RegExp(
          `\\[WARNING\\] Worker \\(pid: ${victim}\\) exited with code`,
        ),
      );
      assert.match(await rawGet(port), /^HTTP\/1\.1 200 /);
      workerPids.delete(victim);
      workerPids.add(replacement);

      cli.kill("SIGTERM");
      assert.equal(await cli.exit(), 0, cli.stderr.text);
      for (const pid of workerPids) {
        assert.ok(
          cli.stderr.lines.some((line) =>
            line.endsWith(`Worker exiting (pid: ${pid})`)
          ),
          cli.stderr.text,
        );
      }
      assert.match(cli.stderr.lines.at(-1)!, /\[INFO\] Shutting down: Master$/);
    },
  );
}

Deno.test("CLI on deno: access log formats, --no-access-log, --max-body-size", async (t) => {
  const deno = RUNTIMES[0];
  const run = async (
    args: string[],
    fn: (port: number, cli: Cli) => Promise<void>,
  ) => {
    const port = freePort();
    const cli = new Cli(deno, ["--port", String(port), ...args, APP]);
    await cli.expect("Listening at:");
    try {
      await fn(port, cli);
    } finally {
      cli.kill("SIGTERM");
      assert.equal(await cli.exit(), 0);
    }
  };
  await t.step(
    "combined",
    () =>
      run(["--access-log-format", "combined"], async (port, cli) => {
        const response = await fetch(`http://127.0.0.1:${port}/`, {
          headers: { "User-Agent": "tester/1.0", Referer: "http://x/" },
        });
        await response.body?.cancel();
        const line = await cli.expect("tester/1.0");
        assert.match(
          line,
          /^127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET \/ HTTP\/1\.1" 200 6 "http:\/\/x\/" "tester\/1\.0"$/,
        );
      }),
  );
  await t.step(
    "common",
    () =>
      run(["--access-log-format=common"], async (port, cli) => {
        await (await fetch(`http://127.0.0.1:${port}/`)).body?.cancel();
        const line = await cli.expect('"GET / HTTP/1.1"');
        assert.match(
          line,
          /^127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET \/ HTTP\/1\.1" 200 6$/,
        );
      }),
  );
  await t.step("--no-access-log", async () => {
    let port = 0;
    await run(["--no-access-log"], async (p) => {
      port = p;
      assert.equal(
        await (await fetch(`http://127.0.0.1:${p}/`)).text(),
        "hello\n",
      );
    });
    assert.ok(port > 0);
  });
  await t.step(
    "--max-body-size",
    () =>
      run(["--max-body-size", "1K"], async (port) => {
        const small = await fetch(`http://127.0.0.1:${port}/upload`, {
          method: "POST",
          body: new Uint8Array(1024),
        });
        assert.equal(await small.text(), "got 1024 bytes");
        const large = await fetch(`http://127.0.0.1:${port}/upload`, {
          method: "POST",
          body: new Uint8Array(1025),
        });
        assert.equal(large.status, 413);
        await large.body?.cancel();
      }),
  );
});

for (const runtime of RUNTIMES) {
  runtimeTest(
    runtime,
    `--reload serves the new code after a change`,
    async () => {
      const dir = await Deno.makeTempDir({ prefix: "tsgi_reload_" });
      const file = `${dir}/app.mjs`;
      const version = (v: string) =>
        `export const app = (_e, start) => {\n  start("200 OK", [["Content-Type", "text/plain"]]);\n  return [new TextEncoder().encode("${v}")];\n};\n`;
      await Deno.writeTextFile(file, version("v1"));
      const port = freePort();
      const cli = new Cli(runtime, ["--reload", "--port", String(port), file]);
      const listening = () =>
        cli.stderr.lines.filter((l) => l.includes("Listening at:")).length;
      try {
        await cli.expect("Listening at:");
        const v1 = await fetch(`http://127.0.0.1:${port}/`);
        assert.equal(await v1.text(), "v1");
        // The watcher restarts the CLI, which says so again. Node's watcher
        // learns of the module's files from its child some time after they
        // load, so a change can come too early to be seen: write again,
        // a bounded number of times, until it restarts.
        for (let i = 0; i < 20 && listening() < 2; i++) {
          await Deno.writeTextFile(file, version("v2"));
          await cli.stderr.waitWithin(() => listening() >= 2, 1000);
        }
        assert.equal(listening(), 2, cli.stderr.text);
        await waitForPort(port);
        const v2 = await fetch(`http://127.0.0.1:${port}/`);
        assert.equal(await v2.text(), "v2");
      } finally {
        cli.kill("SIGTERM");
        assert.equal(await cli.exit(), 0, cli.stderr.text);
        await Deno.remove(dir, { recursive: true });
      }
    },
  );
}

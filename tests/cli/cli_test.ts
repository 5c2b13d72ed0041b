// The tsgi CLI as a user runs it: a subprocess on Deno (src/cli/cli.ts), Bun
// (src/cli/cli.ts) and Node (the npm build's bin), served to over real TCP.
import assert from "node:assert/strict";
import { freePort, waitForPort } from "../_util/process.ts";
import { APP, Cli, rawGet, RUNTIMES, runtimeTest } from "../_util/cli.ts";

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

  runtimeTest(
    runtime,
    `TERM twice at once counts once; INT stops without waiting`,
    async () => {
      const port = freePort();
      const cli = new Cli(runtime, ["--port", String(port), APP]);
      await cli.expect("Listening at:");
      const waiting = fetch(`http://127.0.0.1:${port}/wait`).then(
        (response) => response.text(),
        (error) => error,
      );
      await cli.expect("waiting");
      // A process group delivers a signal twice (the runner forwards it
      // too): the echo is not a "second signal".
      cli.kill("SIGTERM");
      cli.kill("SIGTERM");
      await cli.expect("Handling signal: term");
      cli.kill("SIGINT");
      await cli.expect("Handling signal: int");
      assert.equal(await cli.exit(), 0, cli.stderr.text);
      assert.doesNotMatch(cli.stderr.text, /Second signal/);
      assert.equal(
        cli.stderr.lines.filter((line) =>
          line.includes("Handling signal: term")
        )
          .length,
        1,
      );
      // The held request never got its answer.
      assert.ok(await waiting instanceof Error);
    },
  );

  runtimeTest(
    runtime,
    `--workers 2: Ctrl-C delivered twice stops once, with status 0`,
    async () => {
      const port = freePort();
      const cli = new Cli(runtime, ["-w", "2", "--port", String(port), APP]);
      let boots = 0;
      await cli.expect((line) =>
        line.includes("Booting worker") && ++boots === 2
      );
      cli.kill("SIGINT");
      cli.kill("SIGINT");
      assert.equal(await cli.exit(), 0, cli.stderr.text);
      assert.doesNotMatch(cli.stderr.text, /Second signal/);
      assert.match(cli.stderr.lines.at(-1)!, /Shutting down: Master$/);
    },
  );

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

// The tsgi command as a production container, on Deno, Bun and Node, with
// real clients (curl, wrk, openssl): binding, TLS, timeouts, recycling,
// signals, config, JSON logs and metrics.
import assert from "node:assert/strict";
import { Cli, ROOT, RUNTIMES, runtimeTest } from "../_util/cli.ts";
import { freePort } from "../_util/process.ts";

const APP = `${ROOT}tests/fixtures/container_app.mjs`;

interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end. */
async function run(program: string, args: string[]): Promise<Output> {
  const out = await new Deno.Command(program, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

/** curl, silent but for errors; bounded so that a hang fails. */
function curl(...args: string[]): Promise<Output> {
  return run("curl", ["-sS", "--max-time", "60", ...args]);
}

/** A self-signed certificate for localhost and 127.0.0.1, made by openssl. */
async function certificate(dir: string, name: string) {
  const cert = `${dir}/${name}.pem`;
  const key = `${dir}/${name}.key`;
  const out = await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    "1",
    "-subj",
    `/CN=${name}`,
    "-addext",
    "subjectAltName=DNS:localhost,IP:127.0.0.1",
    "-keyout",
    key,
    "-out",
    cert,
  ]);
  assert.equal(out.code, 0, out.stderr);
  return { cert, key };
}

/** The pids of the workers booted so far, in order. */
function boots(cli: Cli): number[] {
  return cli.stderr.lines.flatMap((line) => {
    const match = /Booting worker with pid: (\d+)$/.exec(line);
    return match === null ? [] : [Number(match[1])];
  });
}

/** Waits until `n` workers have booted in all; their pids. */
async function booted(cli: Cli, n: number): Promise<number[]> {
  await cli.expect(() => boots(cli).length >= n);
  return boots(cli);
}

async function stop(cli: Cli): Promise<void> {
  cli.kill("SIGTERM");
  assert.equal(await cli.exit(), 0, cli.stderr.text);
}

async function tempDir(t: string): Promise<string> {
  return await Deno.makeTempDir({ prefix: `tsgi_${t}_` });
}

for (const runtime of RUNTIMES) {
  runtimeTest(runtime, "-b twice listens on both addresses", async () => {
    const [a, b] = [freePort(), freePort()];
    const cli = new Cli(runtime, [
      "-b",
      `127.0.0.1:${a}`,
      "--bind",
      `127.0.0.1:${b}`,
      APP,
    ]);
    await cli.expect(`Listening at: http://127.0.0.1:${b}`);
    assert.match(
      cli.stderr.text,
      new RegExp(`Listening at: http://127\\.0\\.0\\.1:${a} `),
    );
    for (const port of [a, b]) {
      const out = await curl(`http://127.0.0.1:${port}/`);
      assert.equal(out.stdout, "hello\n", out.stderr);
    }
    await stop(cli);
  });

  runtimeTest(runtime, "$PORT without a bind is 0.0.0.0:$PORT", async () => {
    const port = freePort();
    const cli = new Cli(runtime, [APP], ROOT, { PORT: String(port) });
    await cli.expect(`Listening at: http://0.0.0.0:${port}`);
    const out = await curl(`http://127.0.0.1:${port}/`);
    assert.equal(out.stdout, "hello\n", out.stderr);
    await stop(cli);
  });

  runtimeTest(
    runtime,
    "-b unix:PATH serves curl --unix-socket and removes the socket",
    async () => {
      const dir = await tempDir("unix");
      const socket = `${dir}/app.sock`;
      const cli = new Cli(runtime, ["-b", `unix:${socket}`, APP]);
      await cli.expect(`Listening at: unix:${socket}`);
      const out = await curl("--unix-socket", socket, "http://localhost/");
      assert.equal(out.stdout, "hello\n", out.stderr);
      await stop(cli);
      assert.throws(() => Deno.statSync(socket), Deno.errors.NotFound);
      await Deno.remove(dir, { recursive: true });
    },
  );

  runtimeTest(
    runtime,
    "--certfile/--keyfile: HTTPS for curl --cacert",
    async () => {
      const dir = await tempDir("tls");
      const { cert, key } = await certificate(dir, "one");
      const port = freePort();
      const cli = new Cli(runtime, [
        "-b",
        `127.0.0.1:${port}`,
        "--certfile",
        cert,
        "--keyfile",
        key,
        APP,
      ]);
      await cli.expect(`Listening at: https://127.0.0.1:${port}`);
      await booted(cli, 1);
      const https = await curl(
        "--cacert",
        cert,
        `https://localhost:${port}/env`,
      );
      assert.equal(https.code, 0, https.stderr);
      assert.equal(JSON.parse(https.stdout).scheme, "https");
      if (runtime.name === "deno") {
        // Deno offers HTTP/2 by ALPN.
        const h2 = await curl(
          "--http2",
          "--cacert",
          cert,
          "-w",
          "\n%{http_version}",
          `https://localhost:${port}/env`,
        );
        const [body, version] = h2.stdout.split("\n");
        assert.equal(version, "2", h2.stderr);
        // Deno does not tell a handler the request's HTTP version, so
        // SERVER_PROTOCOL stays HTTP/1.1 (see docs/runtimes.md).
        assert.equal(JSON.parse(body).scheme, "https");
      }
      // Plain HTTP to the TLS port is no answer.
      assert.notEqual(
        (await curl(`http://127.0.0.1:${port}/`)).stdout,
        "hello\n",
      );
      await stop(cli);
      await Deno.remove(dir, { recursive: true });
    },
  );

  runtimeTest(
    runtime,
    "SIGHUP: the next connection gets the new certificate while an open one completes",
    async () => {
      const dir = await tempDir("hup");
      const first = await certificate(dir, "first");
      const second = await certificate(dir, "second");
      const cert = `${dir}/cert.pem`;
      const key = `${dir}/key.pem`;
      await Deno.copyFile(first.cert, cert);
      await Deno.copyFile(first.key, key);
      const port = freePort();
      const cli = new Cli(runtime, [
        "-b",
        `127.0.0.1:${port}`,
        "--certfile",
        cert,
        "--keyfile",
        key,
        APP,
      ]);
      const [old] = await booted(cli, 1);
      // A request in flight on a connection made with the first certificate.
      const held = curl(
        "--cacert",
        first.cert,
        `https://localhost:${port}/wait`,
      );
      await cli.expect("waiting");
      await Deno.copyFile(second.cert, cert);
      await Deno.copyFile(second.key, key);
      cli.kill("SIGHUP");
      const [, fresh] = await booted(cli, 2);
      assert.notEqual(fresh, old);
      // The old worker stops listening once the new one is up.
      await cli.expect(`[${old}] [INFO] Handling signal: term`);
      const next = await curl(
        "--cacert",
        second.cert,
        `https://localhost:${port}/`,
      );
      assert.equal(next.stdout, "hello\n", next.stderr + cli.stderr.text);
      Deno.kill(old, "SIGUSR2");
      const done = await held;
      assert.equal(done.stdout, "released", done.stderr);
      await cli.expect(`Worker exiting (pid: ${old})`);
      await stop(cli);
      await Deno.remove(dir, { recursive: true });
    },
  );
}

for (const runtime of RUNTIMES) {
  runtimeTest(
    runtime,
    "--timeout 2: a blocked worker is killed and replaced",
    async () => {
      const port = freePort();
      const cli = new Cli(runtime, [
        "-w",
        "2",
        "--timeout",
        "2",
        "-b",
        `127.0.0.1:${port}`,
        APP,
      ]);
      const first = await booted(cli, 2);
      // The request never gets an answer: its worker dies.
      const blocked = curl(`http://127.0.0.1:${port}/block`);
      await cli.expect("blocking");
      const line = await cli.expect("WORKER TIMEOUT");
      const victim = Number(/\(pid:(\d+)\)$/.exec(line)![1]);
      assert.match(line, /\[CRITICAL\] WORKER TIMEOUT \(pid:\d+\)$/);
      assert.ok(first.includes(victim));
      const all = await booted(cli, 3);
      assert.ok(!first.includes(all[2]));
      assert.notEqual((await blocked).code, 0);
      for (let i = 0; i < 4; i++) {
        const out = await curl(`http://127.0.0.1:${port}/`);
        assert.equal(out.stdout, "hello\n", out.stderr);
      }
      await stop(cli);
    },
  );

  runtimeTest(
    runtime,
    "--request-timeout: the app's signal fires, 504 or a cut stream, others unaffected",
    async () => {
      const port = freePort();
      const cli = new Cli(runtime, [
        "--request-timeout",
        "1",
        "-b",
        `127.0.0.1:${port}`,
        APP,
      ]);
      await booted(cli, 1);
      const hung = curl("-w", "%{http_code}", `http://127.0.0.1:${port}/hang`);
      const streaming = curl(`http://127.0.0.1:${port}/stream`);
      // A request on the same process while the others wait.
      const ok = await curl(`http://127.0.0.1:${port}/`);
      assert.equal(ok.stdout, "hello\n", ok.stderr);
      const answer = await hung;
      assert.match(answer.stdout, /^504 Gateway Timeout\n504$/, answer.stderr);
      const cut = await streaming;
      assert.equal(cut.stdout, "first");
      // curl: 18 (partial file) or 56 (receive failure), never success.
      assert.notEqual(cut.code, 0, "a cut stream is no complete response");
      await cli.expect(
        () =>
          cli.stderr.lines.filter((l) => l === "aborted: TimeoutError")
            .length ===
            2,
      );
      assert.match(
        cli.stderr.text,
        /\[WARNING\] Request timeout: GET \/hang \(504\)/,
      );
      assert.match(
        cli.stderr.text,
        /\[WARNING\] Request timeout: GET \/stream \(response cut\)/,
      );
      const after = await curl(`http://127.0.0.1:${port}/`);
      assert.equal(after.stdout, "hello\n", after.stderr);
      await stop(cli);
    },
  );

  runtimeTest(
    runtime,
    "--graceful-timeout 2: a hung request does not hold the exit",
    async () => {
      const port = freePort();
      const cli = new Cli(runtime, [
        "--graceful-timeout",
        "2",
        "-b",
        `127.0.0.1:${port}`,
        APP,
      ]);
      await booted(cli, 1);
      const held = curl(`http://127.0.0.1:${port}/wait`);
      await cli.expect("waiting");
      cli.kill("SIGTERM");
      await cli.expect("Graceful timeout (2 s)");
      assert.equal(await cli.exit(), 0, cli.stderr.text);
      assert.notEqual((await held).stdout, "released");
    },
  );
}

for (const runtime of RUNTIMES) {
  runtimeTest(
    runtime,
    "--max-requests 50 --max-requests-jitter 10 under wrk: workers recycled, no error",
    async () => {
      const port = freePort();
      const cli = new Cli(runtime, [
        "-w",
        "2",
        "--max-requests",
        "50",
        "--max-requests-jitter",
        "10",
        "--no-access-log",
        "-b",
        `127.0.0.1:${port}`,
        APP,
      ]);
      const first = await booted(cli, 2);
      const out = await run("wrk", [
        "-t2",
        "-c8",
        "-d10s",
        `http://127.0.0.1:${port}/`,
      ]);
      assert.equal(out.code, 0, out.stderr);
      assert.doesNotMatch(out.stdout, /Non-2xx/, out.stdout);
      const requests = Number(/(\d+) requests in/.exec(out.stdout)![1]);
      assert.ok(requests > 120, out.stdout);
      const errors = (/Socket errors: (.*)/.exec(out.stdout)?.[1] ?? "")
        .split(",").reduce(
          (sum, part) => sum + Number(part.split(" ").at(-1) || 0),
          0,
        );
      if (runtime.name === "node") {
        // node:cluster's primary owns the socket and hands connections to
        // the workers: a retiring worker drops none.
        assert.equal(errors, 0, out.stdout);
      } else {
        // Deno and Bun workers each listen (SO_REUSEPORT): a connection
        // accepted by a retiring worker just before its listener closes,
        // its request not yet read, is closed: about one request in a
        // thousand at this (absurd) rate of recycling, not none; see
        // docs/runtimes.md.
        assert.ok(errors <= requests / 100, out.stdout);
      }
      // The workers changed: recycled ones were replaced by new pids.
      const all = boots(cli);
      assert.ok(all.length > 2, cli.stderr.text);
      assert.equal(new Set(all).size, all.length);
      assert.ok(all.slice(2).every((pid) => !first.includes(pid)));
      assert.match(
        cli.stderr.text,
        /Autorestarting worker after current request/,
      );
      assert.doesNotMatch(cli.stderr.text, /exited with code/);
      await stop(cli);
    },
  );

  runtimeTest(runtime, "TTIN adds a worker, TTOU removes one", async () => {
    const port = freePort();
    const cli = new Cli(runtime, ["-w", "2", "-b", `127.0.0.1:${port}`, APP]);
    const [oldest] = await booted(cli, 2);
    cli.kill("SIGTTIN");
    await cli.expect("Handling signal: ttin (now 3 workers)");
    await booted(cli, 3);
    cli.kill("SIGTTOU");
    await cli.expect("Handling signal: ttou (now 2 workers)");
    await cli.expect(`Worker exiting (pid: ${oldest})`);
    const out = await curl(`http://127.0.0.1:${port}/`);
    assert.equal(out.stdout, "hello\n", out.stderr);
    await stop(cli);
    assert.equal(
      cli.stderr.lines.filter((l) => l.includes("Worker exiting")).length,
      3,
    );
  });
}

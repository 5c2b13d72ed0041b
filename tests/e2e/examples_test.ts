// Every example under examples/ run as the README shows it: a real deno,
// bun or node process on 127.0.0.1 with a port the system chose, awaited
// by its listening line, then asked over HTTP. examples/worker.ts runs
// under workerd in tests/e2e/worker_test.ts; examples/stack.ts is also tested
// in-process, part by part, in tests/e2e/stack_test.ts.
import assert from "node:assert/strict";
import { startServer } from "../conformance/_server.ts";

const root = new URL("../../", import.meta.url).pathname;
const LISTENING = /Listening on http:\/\/127\.0\.0\.1:(\d+)\//;

/** Runs `command`, hands `fn` the server's origin, and stops it. */
async function withExample(
  command: string[],
  fn: (origin: string, output: string[]) => Promise<void>,
  listening: RegExp = LISTENING,
): Promise<void> {
  const server = await startServer(command, listening);
  try {
    await fn(`http://127.0.0.1:${server.port}`, server.output);
  } finally {
    await server.stop();
  }
}

async function text(url: string, init?: RequestInit): Promise<string> {
  const response = await fetch(url, init);
  const body = await response.text();
  assert.equal(response.status, 200, `${url}: ${body}`);
  return body;
}

Deno.test("examples/hello.ts on Deno.serve", async () => {
  await withExample(
    ["deno", "run", "--allow-net", "examples/hello.ts", "0"],
    async (origin) => {
      assert.equal(await text(origin + "/"), "Hello world!\n");
    },
  );
});

// examples/deno_serve.ts under `deno serve --parallel`: tests/serve/serve_test.ts.

Deno.test("examples/bun.ts on Bun.serve", async () => {
  await withExample(["bun", "examples/bun.ts", "0"], async (origin) => {
    assert.equal(await text(origin + "/"), "Hello world!\n");
  });
});

const CLI_LISTENING = /Listening at: http:\/\/127\.0\.0\.1:(\d+) /;

Deno.test("the CLI recipe: examples/hello.ts under the tsgi CLI on Deno", async () => {
  await withExample(
    ["deno", "run", "-A", "src/cli/cli.ts", "--port", "0", "examples/hello.ts"],
    async (origin) => {
      assert.equal(await text(origin + "/"), "Hello world!\n");
    },
    CLI_LISTENING,
  );
});

Deno.test("the CLI recipe: examples/hello.ts under the tsgi CLI on Bun, two workers", async () => {
  await withExample(
    [
      "bun",
      "src/cli/cli.ts",
      "--workers",
      "2",
      "--port",
      "0",
      "examples/hello.ts",
    ],
    async (origin, output) => {
      const answers = await Promise.all(
        Array.from({ length: 8 }, () => text(origin + "/")),
      );
      assert.deepEqual(new Set(answers), new Set(["Hello world!\n"]));
      assert.ok(
        output.some((line) => line.includes("Booting worker with pid")),
        output.join("\n"),
      );
    },
    CLI_LISTENING,
  );
});

Deno.test("examples/node.mjs on Node, with the npm package packed and installed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsgi-node-example-" });
  try {
    const run = async (cmd: string, args: string[], cwd = root) => {
      const out = await new Deno.Command(cmd, {
        args,
        cwd,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
      assert.ok(
        out.success,
        `${cmd} ${args.join(" ")}:\n${decode(out.stdout)}${decode(out.stderr)}`,
      );
      return decode(out.stdout);
    };
    await run("deno", ["run", "-A", "scripts/build_npm.ts"]);
    const tarball = (await run("npm", [
      "pack",
      "--silent",
      "--pack-destination",
      dir,
    ], `${root}npm`)).trim().split("\n").pop()!;
    // What a newcomer does: npm install tsgi (here from the packed tarball,
    // offline), then runs the example as written.
    await Deno.writeTextFile(`${dir}/package.json`, '{ "private": true }\n');
    await run("npm", [
      "install",
      "--offline",
      "--no-audit",
      "--no-fund",
      "--silent",
      `./${tarball}`,
    ], dir);
    await Deno.copyFile(`${root}examples/node.mjs`, `${dir}/node.mjs`);
    await withExample(["node", `${dir}/node.mjs`, "0"], async (origin) => {
      assert.equal(
        await text(origin + "/"),
        "Hello from Node, 127.0.0.1!\n",
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("examples/upload.ts: the form, an upload hashed as it streams, a bad body", async () => {
  await withExample(
    ["deno", "run", "--allow-net", "examples/upload.ts", "0"],
    async (origin, output) => {
      assert.match(await text(origin + "/"), /enctype="multipart\/form-data"/);

      const bytes = new Uint8Array(1024 * 1024 + 3).map((_, i) => i * 31);
      const digest = new Uint8Array(
        await crypto.subtle.digest("SHA-256", bytes),
      );
      const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0"))
        .join("");
      const form = new FormData();
      form.append("note", "hi <there>");
      form.append("file", new File([bytes], "data.bin"));
      const page = await text(origin + "/upload", {
        method: "POST",
        body: form,
      });
      assert.match(page, /<h1>Received 2 parts<\/h1>/);
      assert.match(page, /<td class="value">hi &#60;there&#62;<\/td>/);
      assert.ok(
        page.includes(
          `<td class="size">${bytes.length}</td><td class="sha256"><code>${hex}</code>`,
        ),
        page,
      );

      const bad = await fetch(origin + "/upload", {
        method: "POST",
        headers: { "Content-Type": "text/plain" },
        body: "not a form",
      });
      assert.equal(bad.status, 415);
      assert.match(await bad.text(), /expected multipart\/form-data/);
      assert.ok(
        output.some((line) => line.includes('"POST /upload HTTP/1.1" 200 ')),
        output.join("\n"),
      );
    },
  );
});

Deno.test("examples/hono_in_tsgi.ts: a Hono app mounted beside a tsgi router", async () => {
  await withExample(
    ["deno", "run", "--allow-net", "examples/hono_in_tsgi.ts", "0"],
    async (origin) => {
      assert.equal(
        await text(origin + "/hello/ana"),
        "Hello, ana, from tsgi!\n",
      );
      assert.equal(await text(origin + "/hono"), "Hello from Hono!\n");
      assert.deepEqual(JSON.parse(await text(origin + "/hono/users/7")), {
        id: "7",
      });
    },
  );
});

Deno.test("examples/tsgi_in_hono.ts: a tsgi app mounted in Hono", async () => {
  await withExample(
    ["deno", "run", "--allow-net", "examples/tsgi_in_hono.ts", "0"],
    async (origin) => {
      assert.equal(await text(origin + "/"), "Hello from Hono!\n");
      assert.deepEqual(JSON.parse(await text(origin + "/wsgi/a/b?x=1")), {
        SCRIPT_NAME: "/wsgi",
        PATH_INFO: "/a/b",
        QUERY_STRING: "x=1",
      });
    },
  );
});

Deno.test("examples/stack.ts as its header says to run it", async () => {
  await withExample(
    ["deno", "run", "-A", "examples/stack.ts", "0"],
    async (origin, output) => {
      assert.equal(await text(origin + "/"), "tsgi router: home\n");
      assert.equal(await text(origin + "/hono"), "hono: home\n");
      assert.equal(
        await text(origin + "/proxy/x"),
        // The proxy forwards the path under its mount point.
        "demo upstream: /x\n",
      );
      assert.ok(
        output.some((line) => line.includes('"GET /proxy/x HTTP/1.1" 200')),
        output.join("\n"),
      );
    },
  );
});

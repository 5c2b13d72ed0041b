// runWithCgi under a real CGI host: lighttpd with mod_cgi, started by the
// test, serving examples/cgi_app.ts through small wrapper scripts on Deno
// and on Node (the npm build).
import assert from "node:assert/strict";
import { freePort, sha256, waitForPort } from "../_util/process.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const EXAMPLE = `${ROOT}examples/cgi_app.ts`;
const NPM = `${ROOT}npm/`;

function which(name: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      const path = `${dir}/${name}`;
      if (Deno.statSync(path).isFile) return Deno.realPathSync(path);
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

const LIGHTTPD = which("lighttpd") ?? "/usr/sbin/lighttpd";
const NODE = which("node");
const hasNpmBuild = (() => {
  try {
    return Deno.statSync(`${NPM}mod.js`).isFile;
  } catch {
    return false;
  }
})();

/** A lighttpd process serving the *.cgi files of a temp directory. */
class Lighttpd {
  readonly dir: string;
  readonly port: number;
  readonly #child: Deno.ChildProcess;

  private constructor(dir: string, port: number, child: Deno.ChildProcess) {
    this.dir = dir;
    this.port = port;
    this.#child = child;
  }

  /** Scripts by name: their text, or a file to link to. */
  static async start(
    scripts: Record<string, string | { link: string }>,
  ): Promise<Lighttpd> {
    const dir = await Deno.makeTempDir({ prefix: "tsgi_cgi_" });
    await Deno.mkdir(`${dir}/www`);
    for (const [name, script] of Object.entries(scripts)) {
      if (typeof script === "string") {
        await Deno.writeTextFile(`${dir}/www/${name}`, script, { mode: 0o755 });
      } else {
        await Deno.symlink(script.link, `${dir}/www/${name}`);
      }
    }
    const port = freePort();
    const path = [Deno.execPath(), NODE].filter((p) => p !== undefined)
      .map((p) => p!.slice(0, p!.lastIndexOf("/"))).concat("/usr/bin", "/bin")
      .join(":");
    await Deno.writeTextFile(
      `${dir}/lighttpd.conf`,
      [
        `server.modules = ("mod_cgi", "mod_setenv")`,
        `server.document-root = "${dir}/www"`,
        `server.bind = "127.0.0.1"`,
        `server.port = ${port}`,
        `server.errorlog = "${dir}/error.log"`,
        // CGI scripts' standard error lands here.
        `server.breakagelog = "${dir}/cgi.log"`,
        `server.upload-dirs = ("${dir}")`,
        // Let non-UTF-8 octets through to PATH_INFO, as many hosts do.
        `server.http-parseopts = ("url-ctrls-reject" => "disable", "url-normalize" => "disable")`,
        `cgi.assign = (".cgi" => "")`,
        `setenv.add-environment = ("PATH" => "${path}", "HOME" => "${
          Deno.env.get("HOME") ?? dir
        }")`,
      ].join("\n") + "\n",
    );
    const child = new Deno.Command(LIGHTTPD, {
      args: ["-D", "-f", `${dir}/lighttpd.conf`],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    await waitForPort(port, child.status);
    return new Lighttpd(dir, port, child);
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** What the CGI scripts wrote on standard error. */
  cgiLog(): string {
    try {
      return Deno.readTextFileSync(`${this.dir}/cgi.log`);
    } catch {
      return "";
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#child.kill("SIGTERM");
    await this.#child.status;
    await Deno.remove(this.dir, { recursive: true });
  }
}

/** Compiles the example for Node: its only import is a type. */
async function nodeScript(dir: string): Promise<string> {
  const { code } = await new Deno.Command("esbuild", {
    args: [
      EXAMPLE,
      "--format=esm",
      "--log-level=warning",
      `--outfile=${dir}/cgi_app.mjs`,
    ],
    stdout: "null",
    stderr: "inherit",
  }).output();
  assert.equal(code, 0, "esbuild failed to compile the example");
  await Deno.writeTextFile(
    `${dir}/cgi_main.mjs`,
    `import { runWithCgi } from ${JSON.stringify(`${NPM}mod.js`)};\n` +
      `import { app } from "./cgi_app.mjs";\nawait runWithCgi(app);\n`,
  );
  return `#!/bin/sh\nexec node ${dir}/cgi_main.mjs\n`;
}

interface Case {
  name: string;
  script: string | { link: string };
  /** Reads raw environment bytes (non-UTF-8 PATH_INFO works). */
  raw: boolean;
}

async function cgiCases(t: Deno.TestContext, cases: Case[]): Promise<void> {
  const scripts: Record<string, string | { link: string }> = {};
  for (const c of cases) scripts[`${c.name}.cgi`] = c.script;
  await using server = await Lighttpd.start(scripts);
  for (const { name, raw } of cases) {
    const base = `/${name}.cgi`;
    await t.step(`${name}: GET with a query and PATH_INFO`, async () => {
      const response = await fetch(
        server.url(`${base}/caf%C3%A9/x?a=1&b=%20c`),
        { headers: { "X-Test": "hello" } },
      );
      assert.equal(response.status, 200);
      assert.deepEqual(response.headers.getSetCookie(), ["a=1", "b=2"]);
      const seen = await response.json();
      assert.deepEqual(seen, {
        REQUEST_METHOD: "GET",
        SCRIPT_NAME: base,
        // The UTF-8 octets of "café", one char each (PEP 3333).
        PATH_INFO: "/caf\u00c3\u00a9/x",
        QUERY_STRING: "a=1&b=%20c",
        SERVER_PROTOCOL: "HTTP/1.1",
        HTTP_X_TEST: "hello",
        "wsgi.run_once": true,
        "wsgi.multithread": false,
        "wsgi.multiprocess": true,
        "wsgi.url_scheme": "http",
      });
    });
    await t.step(`${name}: POST with a body`, async () => {
      const body = new Uint8Array(300_000);
      for (let i = 0; i < body.length; i++) body[i] = (i * 7) % 256;
      const response = await fetch(server.url(`${base}/echo`), {
        method: "POST",
        headers: { "Content-Type": "application/x-test" },
        body,
      });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "application/x-test");
      assert.equal(response.headers.get("x-body-length"), String(body.length));
      assert.deepEqual(new Uint8Array(await response.arrayBuffer()), body);
    });
    await t.step(
      `${name}: a failing app gives 500 and a log line`,
      async () => {
        const response = await fetch(server.url(`${base}/fail`));
        assert.equal(response.status, 500);
        assert.equal(await response.text(), "500 Internal Server Error\n");
        const log = server.cgiLog();
        assert.match(
          log,
          new RegExp(
            `tsgi: the application raised \\(GET ${base}/fail\\): Error: the example app failed on purpose`,
          ),
        );
      },
    );
    await t.step(`${name}: a 20 MiB streamed response`, async () => {
      const size = 20 * 1024 * 1024;
      const expected = new Uint8Array(size);
      for (let i = 0; i < size; i++) expected[i] = (i % 65536) % 251;
      const response = await fetch(server.url(`${base}/big?mib=20`));
      assert.equal(response.status, 200);
      const body = new Uint8Array(await response.arrayBuffer());
      assert.equal(body.length, size);
      assert.equal(await sha256(body), await sha256(expected));
    });
    await t.step(`${name}: PATH_INFO bytes that are not UTF-8`, async () => {
      const response = await fetch(server.url(`${base}/%FF%E9`));
      if (raw) {
        assert.equal(response.status, 200);
        assert.equal((await response.json()).PATH_INFO, "/\u00ff\u00e9");
      } else {
        assert.equal(response.status, 400);
        await response.body?.cancel();
        assert.match(
          server.cgiLog(),
          new RegExp(`tsgi: cannot read PATH_INFO: .*\\(GET ${base}/%FF%E9\\)`),
        );
      }
    });
  }
}

Deno.test("CGI under lighttpd: Deno", async (t) => {
  await cgiCases(t, [
    // The example's own wrapper, linked as a user would: --allow-env only.
    {
      name: "deno",
      script: { link: `${ROOT}examples/cgi_app.cgi` },
      raw: false,
    },
    {
      name: "deno_all",
      script: `#!/bin/sh\nexec deno run --quiet -A ${EXAMPLE}\n`,
      raw: true,
    },
  ]);
});

Deno.test({
  name: "CGI under lighttpd: Node (npm build)",
  // CI sets TSGI_REQUIRE_ALL=1: no npm build there is a failure, not a skip.
  ignore: (!hasNpmBuild || NODE === undefined) &&
    Deno.env.get("TSGI_REQUIRE_ALL") !== "1",
  async fn(t) {
    assert.ok(hasNpmBuild && NODE !== undefined, "node or npm/ is missing");
    const dir = await Deno.makeTempDir({ prefix: "tsgi_cgi_node_" });
    try {
      await cgiCases(t, [{
        name: "node",
        script: await nodeScript(dir),
        raw: true,
      }]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

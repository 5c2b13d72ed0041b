// What a new user does on each runtime, each in an empty temporary
// directory that cannot see this repository's tools/: the packed npm
// tarball installed offline and used from an ES module, from CommonJS,
// under strict tsc and through `npx tsgi`; a Bun app and `bunx tsgi`; the
// Workers example under `wrangler dev` from its own wrangler.toml; Deno
// code importing `@tsgi/tsgi` through an import map.
//
// Needs npm/ built (deno task build:npm). The runtimes are the pinned
// ones, named by absolute path; PATH holds only the system's directories
// (node and npm). @types/node and wrangler come from the npm registry (or
// npm's cache); without either, those cases are skipped unless
// TSGI_REQUIRE_ALL=1. The fresh-clone build (a full install of the pinned
// tools) runs with TSGI_REQUIRE_ALL=1 or TSGI_FRESH_CLONE=1.
//
//   deno test --allow-all --no-config tests/integration/
import assert from "node:assert/strict";
import { LineReader } from "../_util/process.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const TOOLS = `${ROOT}tools/node_modules`;
const REQUIRE_ALL = Deno.env.get("TSGI_REQUIRE_ALL") === "1";
const TSC = `${TOOLS}/typescript/bin/tsc`;
const BUN = Deno.realPathSync(`${TOOLS}/.bin/bun`);
const DENO = Deno.execPath();
// The wrangler whose workerd is the one tools/ pins (miniflare 4.20260426).
const WRANGLER = "wrangler@4.86.0";

/** The first executable NAME on PATH outside tools/. */
function systemBinary(name: string): string {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir === "" || dir.startsWith(`${ROOT}tools`)) continue;
    try {
      Deno.statSync(`${dir}/${name}`);
      return `${dir}/${name}`;
    } catch {
      // not here
    }
  }
  throw new Error(`Cannot find ${name} on PATH outside tools/`);
}

const NODE = systemBinary("node");
/** A new user's PATH: node's and npm's directory and the system's. */
const USER_PATH = [NODE.slice(0, NODE.lastIndexOf("/")), "/usr/bin", "/bin"]
  .join(":");
const USER_ENV = {
  PATH: USER_PATH,
  NO_COLOR: "1",
  WRANGLER_SEND_METRICS: "false",
  npm_config_update_notifier: "false",
  npm_config_fund: "false",
  npm_config_audit: "false",
};

interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end in `cwd`, as the new user. */
async function run(
  cwd: string,
  command: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<Output> {
  const output = await new Deno.Command(command, {
    args,
    cwd,
    env: { ...USER_ENV, ...env },
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** As `run`, and fails the test, with the output, unless it exits 0. */
async function ok(
  cwd: string,
  command: string,
  args: string[],
  env?: Record<string, string>,
): Promise<string> {
  const output = await run(cwd, command, args, env);
  assert.equal(
    output.code,
    0,
    `${command} ${
      args.join(" ")
    } exited ${output.code}\n${output.stdout}\n${output.stderr}`,
  );
  return output.stdout;
}

/**
 * Starts a server process, waits for the line naming its URL (matched by
 * `ready`, the URL in its first group), asks it for `path`, stops it with
 * SIGTERM and waits for it to exit. Returns the response's status and body.
 */
async function serveAndAsk(
  cwd: string,
  command: string,
  args: string[],
  ready: RegExp,
  path: string,
  env: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  // In a session of its own, so that SIGTERM reaches the whole group:
  // npx and `bun x` do not pass it on to the server they start.
  const child = new Deno.Command("setsid", {
    args: [command, ...args],
    cwd,
    env: { ...USER_ENV, ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = new LineReader(child.stdout);
  const err = new LineReader(child.stderr);
  try {
    const line = await Promise.race([
      out.waitFor(ready),
      err.waitFor(ready),
      child.status.then(() => ""),
    ]);
    const url = ready.exec(line)?.[1];
    assert.ok(
      url !== undefined,
      `${command} ${
        args.join(" ")
      } never printed its URL\n${out.text}\n${err.text}`,
    );
    const response = await fetch(new URL(path, url));
    return { status: response.status, body: await response.text() };
  } finally {
    try {
      Deno.kill(-child.pid, "SIGTERM");
    } catch {
      // the group has exited
    }
    await child.status;
    await Promise.all([out.done, err.done]);
  }
}

/** An empty directory for one case; removed afterwards. */
async function inEmptyDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tsgi-user-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const built = (() => {
  try {
    Deno.statSync(`${ROOT}npm/package.json`);
    return true;
  } catch {
    return false;
  }
})();
const ignore = !built && !REQUIRE_ALL;

let packDir: string | undefined;
globalThis.addEventListener("unload", () => {
  if (packDir !== undefined) Deno.removeSync(packDir, { recursive: true });
});

/** `npm pack` of npm/, once: the path of tsgi-<version>.tgz. */
let tarball: Promise<string> | undefined;
function packed(): Promise<string> {
  return tarball ??= (async () => {
    assert.ok(built, "npm/ is missing: run `deno task build:npm` first");
    const dir = packDir = await Deno.makeTempDir({ prefix: "tsgi-pack-" });
    const stdout = await ok(`${ROOT}npm`, "npm", [
      "pack",
      "--silent",
      "--pack-destination",
      dir,
    ]);
    return `${dir}/${stdout.trim().split("\n").at(-1)}`;
  })();
}

/** The first command a Node user runs: the tarball, offline. */
async function npmInstallTsgi(dir: string): Promise<void> {
  const tgz = await packed();
  await Deno.copyFile(tgz, `${dir}/${tgz.slice(tgz.lastIndexOf("/") + 1)}`);
  await ok(dir, "npm", [
    "install",
    "--offline",
    `./${tgz.slice(tgz.lastIndexOf("/") + 1)}`,
  ]);
}

const HELLO_APP = `
const app = (environ, startResponse) => {
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode("Hello " + environ.PATH_INFO + "\\n")];
};
`;

Deno.test({
  name: "node: npm install --offline ./tsgi.tgz, then an ES module serves",
  ignore,
  async fn() {
    await inEmptyDir(async (dir) => {
      await npmInstallTsgi(dir);
      const pkg = JSON.parse(await Deno.readTextFile(`${dir}/package.json`));
      assert.match(pkg.dependencies.tsgi, /^file:tsgi-.*\.tgz$/);
      await Deno.writeTextFile(
        `${dir}/app.mjs`,
        `import { serve } from "tsgi";
import { Router } from "tsgi/router";
${HELLO_APP}
const server = await serve(app, {
  hostname: "127.0.0.1",
  port: 0,
  accessLog: false,
  onListen() {},
});
const response = await fetch(new URL("/node", server.url));
console.log(response.status, (await response.text()).trim(), typeof Router);
await server.shutdown();
`,
      );
      const stdout = await ok(dir, NODE, ["app.mjs"]);
      assert.equal(stdout, "200 Hello /node function\n");
    });
  },
});

Deno.test({
  name: "node: require() of the package and a subpath from CommonJS",
  ignore,
  async fn() {
    await inEmptyDir(async (dir) => {
      await npmInstallTsgi(dir);
      await Deno.writeTextFile(
        `${dir}/app.cjs`,
        `const { toFetchHandler } = require("tsgi");
const { HeaderList } = require("tsgi/headers");
${HELLO_APP}
const headers = new HeaderList([["X-A", "1"]]);
Promise.resolve(toFetchHandler(app)(new Request("http://localhost/cjs")))
  .then((response) => response.text())
  .then((text) => console.log(text.trim(), headers.get("x-a")));
`,
      );
      const { code, stdout, stderr } = await run(dir, NODE, ["app.cjs"]);
      assert.equal(code, 0, stderr);
      assert.equal(stdout, "Hello /cjs 1\n");
      // require(esm) without a warning on the Node versions `engines` allows.
      assert.doesNotMatch(stderr, /ExperimentalWarning/);
    });
  },
});

/** A strict project importing every entry point the package exports. */
function consumer(exportsMap: Record<string, unknown>): string {
  const imports = Object.keys(exportsMap)
    .filter((key) => !key.endsWith(".json"))
    .map((key, i) =>
      `import * as m${i} from "${
        key === "." ? "tsgi" : `tsgi/${key.slice(2)}`
      }";`
    );
  return `${imports.join("\n")}
import { type App, serve, toFetchHandler } from "tsgi";
import type { Server } from "tsgi/serve";

const app: App = (environ, startResponse) => {
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode(environ.PATH_INFO)];
};
export async function main(): Promise<string> {
  const server: Server = await serve(app, { port: 0 });
  await server.shutdown();
  const response: Response = await toFetchHandler(app)(new Request("http://x/"));
  return await response.text();
}
export const modules = [${imports.map((_, i) => `m${i}`).join(", ")}];
`;
}

const TS_SETTINGS: { name: string; options: Record<string, unknown> }[] = [];
for (
  const [moduleResolution, module] of [
    ["node16", "node16"],
    ["nodenext", "nodenext"],
    ["bundler", "esnext"],
    ["node", "commonjs"],
  ]
) {
  for (const target of ["es2022", "esnext"]) {
    TS_SETTINGS.push({
      name: `${moduleResolution} ${target}, no @types/node`,
      options: { moduleResolution, module, target, types: [] },
    });
  }
  // @tsconfig/node20's choice: no DOM lib, Node's globals from @types/node.
  TS_SETTINGS.push({
    name: `${moduleResolution} es2022, lib es2023 and @types/node`,
    options: {
      moduleResolution,
      module,
      target: "es2022",
      lib: ["es2023"],
      types: ["node"],
    },
  });
}

Deno.test({
  name:
    "tsc --strict: the declarations under node16, nodenext, bundler and node resolution",
  ignore,
  async fn(t) {
    await inEmptyDir(async (dir) => {
      await Deno.writeTextFile(
        `${dir}/package.json`,
        JSON.stringify({ private: true, type: "module" }),
      );
      await npmInstallTsgi(dir);
      const typesNode = await run(dir, "npm", [
        "install",
        "--prefer-offline",
        "--save-dev",
        "@types/node@20",
      ]);
      const haveTypesNode = typesNode.code === 0;
      if (!haveTypesNode && REQUIRE_ALL) {
        assert.fail(`npm install @types/node failed\n${typesNode.stderr}`);
      }
      const pkg = JSON.parse(
        await Deno.readTextFile(`${dir}/node_modules/tsgi/package.json`),
      );
      await Deno.writeTextFile(`${dir}/app.ts`, consumer(pkg.exports));
      for (const { name, options } of TS_SETTINGS) {
        const needsTypes = (options.types as string[]).length > 0;
        await t.step({
          name,
          ignore: needsTypes && !haveTypesNode,
          async fn() {
            await Deno.writeTextFile(
              `${dir}/tsconfig.json`,
              JSON.stringify({
                compilerOptions: {
                  ...options,
                  strict: true,
                  noEmit: true,
                  skipLibCheck: false,
                },
                files: ["app.ts"],
              }),
            );
            const { code, stdout } = await run(dir, NODE, [TSC, "-p", "."]);
            assert.equal(code, 0, stdout);
          },
        });
      }
    });
  },
});

Deno.test({
  name: "npx tsgi: --help, then serving a JavaScript module",
  ignore,
  async fn() {
    await inEmptyDir(async (dir) => {
      await npmInstallTsgi(dir);
      const help = await ok(dir, "npx", ["tsgi", "--help"]);
      assert.match(help, /^Usage: tsgi \[options\] MODULE\[:NAME\]/);
      await Deno.writeTextFile(
        `${dir}/app.mjs`,
        `${HELLO_APP}export { app };\n`,
      );
      const { status, body } = await serveAndAsk(
        dir,
        "npx",
        ["tsgi", "--port", "0", "./app.mjs"],
        /Listening at: (http:\/\/127\.0\.0\.1:\d+)/,
        "/npx",
      );
      assert.equal(status, 200);
      assert.equal(body, "Hello /npx\n");
    });
  },
});

const BUN_APP = `import { type App, serve } from "tsgi";

export const app: App = (environ, startResponse) => {
  const runtime = typeof (globalThis as { Bun?: unknown }).Bun === "object" ? "Bun" : "not Bun";
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode(\`Hello from \${runtime} \${environ.PATH_INFO}\\n\`)];
};

if (import.meta.main) {
  const server = await serve(app, { hostname: "127.0.0.1", port: 0, accessLog: false, onListen() {} });
  const response = await fetch(new URL("/bun", server.url));
  console.log(response.status, (await response.text()).trim());
  await server.shutdown();
}
`;

Deno.test({
  name: "bun: bun add ./tsgi.tgz, then `bun app.ts` and `bunx tsgi app.ts`",
  ignore,
  async fn() {
    await inEmptyDir(async (dir) => {
      // Bun on PATH, as a Bun user has it: bunx runs `bun` by name.
      await Deno.mkdir(`${dir}/.bin`);
      await Deno.symlink(BUN, `${dir}/.bin/bun`);
      const env = { PATH: `${dir}/.bin:${USER_PATH}` };
      const tgz = await packed();
      const name = tgz.slice(tgz.lastIndexOf("/") + 1);
      await Deno.copyFile(tgz, `${dir}/${name}`);
      await ok(dir, "bun", ["add", `./${name}`], env);
      await Deno.writeTextFile(`${dir}/app.ts`, BUN_APP);
      assert.equal(
        await ok(dir, "bun", ["app.ts"], env),
        "200 Hello from Bun /bun\n",
      );
      const { status, body } = await serveAndAsk(
        dir,
        "bun",
        ["x", "tsgi", "--port", "0", "app.ts"],
        /Listening at: (http:\/\/127\.0\.0\.1:\d+)/,
        "/bunx",
        env,
      );
      assert.equal(status, 200);
      assert.equal(body, "Hello from Bun /bunx\n");
    });
  },
});

Deno.test({
  name:
    "workers: examples/worker under `npx wrangler dev` from its wrangler.toml",
  ignore,
  async fn(t) {
    await inEmptyDir(async (dir) => {
      await Deno.copyFile(
        `${ROOT}examples/worker/wrangler.toml`,
        `${dir}/wrangler.toml`,
      );
      await Deno.mkdir(`${dir}/src`);
      await Deno.copyFile(
        `${ROOT}examples/worker/src/index.ts`,
        `${dir}/src/index.ts`,
      );
      await npmInstallTsgi(dir);
      const wrangler = await run(dir, "npm", [
        "install",
        "--prefer-offline",
        "--save-dev",
        WRANGLER,
      ]);
      if (wrangler.code !== 0) {
        if (REQUIRE_ALL) {
          assert.fail(`npm install ${WRANGLER} failed\n${wrangler.stderr}`);
        }
        await t.step({
          name: `${WRANGLER} could not be installed`,
          ignore: true,
          fn() {},
        });
        return;
      }
      const { status, body } = await serveAndAsk(
        dir,
        "npx",
        ["wrangler", "dev", "--ip", "127.0.0.1", "--port", "0"],
        /Ready on (http:\/\/127\.0\.0\.1:\d+)/,
        "/hi",
      );
      assert.equal(status, 200);
      assert.equal(body, "Hello from a Worker: GET /hi\n");
    });
  },
});

Deno.test({
  name:
    "a fresh clone: `deno task build:npm` installs the pinned tools it needs, then builds",
  ignore: !REQUIRE_ALL && Deno.env.get("TSGI_FRESH_CLONE") !== "1",
  async fn() {
    await inEmptyDir(async (dir) => {
      // The committed tree, as `git clone` gives it: no tools/node_modules.
      await ok(dir, "git", ["clone", "--quiet", ROOT, "tsgi"]);
      const clone = `${dir}/tsgi`;
      const build = await run(clone, DENO, ["task", "build:npm"], {
        DENO_NO_UPDATE_CHECK: "1",
      });
      assert.equal(build.code, 0, `${build.stdout}\n${build.stderr}`);
      assert.match(build.stderr, /installing the pinned dev tools/);
      assert.match(build.stdout, /^npm\/: tsgi@[\d.]+, \d+ modules/m);
      const pkg = JSON.parse(
        await Deno.readTextFile(`${clone}/npm/package.json`),
      );
      assert.equal(pkg.name, "tsgi");
    });
  },
});

/** deno.json's exports: `.`, `./serve`, … → the clone's files. */
const denoExports: Record<string, string> = JSON.parse(
  Deno.readTextFileSync(`${ROOT}deno.json`),
).exports;

Deno.test("deno: @tsgi/tsgi through an import map, as the docs' snippets import it", async () => {
  await inEmptyDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/deno.json`,
      JSON.stringify({
        imports: Object.fromEntries(
          Object.entries(denoExports).map(([key, path]) => [
            `@tsgi/tsgi${key.slice(1)}`,
            `${ROOT}${path.slice(2)}`,
          ]),
        ),
      }),
    );
    await Deno.writeTextFile(
      `${dir}/main.ts`,
      `import { type App, toFetchHandler } from "@tsgi/tsgi";
import { serve } from "@tsgi/tsgi/serve";

const app: App = (environ, startResponse) => {
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode(\`Hello \${environ.PATH_INFO}\\n\`)];
};

const direct = await toFetchHandler(app)(new Request("http://localhost/direct"));
console.log(await direct.text());
const server = await serve(app, { hostname: "127.0.0.1", port: 0, accessLog: false, onListen() {} });
const response = await fetch(new URL("/served", server.url));
console.log(await response.text());
await server.shutdown();
`,
    );
    const stdout = await ok(dir, DENO, ["run", "--allow-net", "main.ts"], {
      DENO_NO_UPDATE_CHECK: "1",
    });
    assert.equal(stdout, "Hello /direct\n\nHello /served\n\n");
  });
});

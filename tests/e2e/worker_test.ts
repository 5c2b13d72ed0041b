// examples/worker.ts bundled by esbuild and run under workerd (through
// miniflare, as a real process on a loopback port): the app reads a var
// binding through tsgi.env, its waitUntil work completes after the
// response, and REMOTE_ADDR comes from CF-Connecting-IP.
import assert from "node:assert/strict";
import { startServer } from "../conformance/_server.ts";

const root = new URL("../../", import.meta.url).pathname;
const bundle = `${root}tests/.tmp/worker_example.js`;

async function build(): Promise<void> {
  const out = await new Deno.Command("esbuild", {
    args: [
      `${root}examples/worker.ts`,
      "--bundle",
      "--format=esm",
      "--platform=neutral",
      `--outfile=${bundle}`,
      "--log-level=warning",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
}

async function getJson(
  url: string,
  headers: Record<string, string> = {},
): Promise<Record<string, unknown>> {
  const response = await fetch(url, {
    headers: { "accept-encoding": "identity", ...headers },
  });
  assert.equal(response.status, 200);
  return await response.json();
}

Deno.test("examples/worker.ts under workerd", async (t) => {
  await build();
  const server = await startServer([
    "node",
    `${root}tests/conformance/servers/workerd.mjs`,
    bundle,
    JSON.stringify({ GREETING: "Hello from a binding" }),
  ], /^listening (\d+)$/);
  const origin = `http://127.0.0.1:${server.port}`;
  try {
    await t.step("the app reads the var binding via tsgi.env", async () => {
      const body = await getJson(`${origin}/?id=binding`);
      assert.equal(body.greeting, "Hello from a binding");
    });

    await t.step("REMOTE_ADDR comes from CF-Connecting-IP", async () => {
      // miniflare's entry worker sets the header to the client's address
      // when the client sent none, as Cloudflare's edge does.
      assert.equal(
        (await getJson(`${origin}/?id=ip1`)).remoteAddr,
        "127.0.0.1",
      );
      const body = await getJson(`${origin}/?id=ip2`, {
        "CF-Connecting-IP": "203.0.113.7",
      });
      assert.equal(body.remoteAddr, "203.0.113.7");
    });

    await t.step("waitUntil work completes after the response", async () => {
      const first = await getJson(`${origin}/?id=job`);
      assert.equal(first.done, false, "the response waited for the job");
      // workerd offers no event for a finished waitUntil job: poll until the
      // job reports done and its log line has come through workerd's
      // output pipe (which lags on a busy machine). The bound on polls only
      // guards against a hang; nothing is timed.
      const logged = () => server.output.includes("waitUntil finished job");
      let state = await getJson(`${origin}/done?id=job`);
      for (
        let poll = 0;
        poll < 500 && (state.done !== true || !logged());
        poll++
      ) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        state = await getJson(`${origin}/done?id=job`);
      }
      assert.equal(state.done, true, "the waitUntil job never finished");
      assert.ok(
        server.output.includes("waitUntil finished job"),
        `workerd's output lacks the job's log line:\n${
          server.output.join("\n")
        }`,
      );
    });
  } finally {
    await server.stop();
  }
});

// A tsgi app as a Cloudflare Worker. Bundle it to one ES module and deploy
// it, or run it locally under workerd:
//   esbuild examples/worker.ts --bundle --format=esm --outfile=worker.js
//   node tests/conformance/servers/workerd.mjs worker.js '{"GREETING":"Hello"}'
//
// Workers call fetch(request, env, ctx); the gateway hands `env` (the
// Worker's bindings) to the app as environ["tsgi.env"] and `ctx` as
// environ["tsgi.ctx"], and takes REMOTE_ADDR from CF-Connecting-IP.
import { type App, type Environ, toFetchHandler } from "../mod.ts";

/** The bindings this Worker is configured with (wrangler.toml `[vars]`). */
export interface Env {
  /** A plain-text var binding. */
  GREETING: string;
}

/** The part of the Workers ExecutionContext the app uses. */
interface Ctx {
  waitUntil(promise: Promise<unknown>): void;
}

const encoder = new TextEncoder();

// Background jobs that have finished, by id. Module state lives as long as
// the isolate: enough for /done to show that waitUntil's work ran.
const done = new Set<string>();

function param(environ: Environ, name: string): string {
  const match = new RegExp(`(?:^|&)${name}=([^&]*)`).exec(environ.QUERY_STRING);
  return match?.[1] ?? "";
}

/** Work the response must not wait for, such as sending analytics. */
async function record(id: string): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 50));
  done.add(id);
  console.log(`waitUntil finished ${id}`);
}

/** Greets with the binding's text and keeps working after the response. */
export const app: App = (environ, startResponse) => {
  const reply = (value: unknown) => {
    startResponse("200 OK", [["Content-Type", "application/json"]]);
    return [encoder.encode(JSON.stringify(value))];
  };
  const id = param(environ, "id");
  if (environ.PATH_INFO === "/done") return reply({ id, done: done.has(id) });
  const env = environ["tsgi.env"] as Env;
  const ctx = environ["tsgi.ctx"] as Ctx;
  ctx.waitUntil(record(id));
  return reply({
    greeting: env.GREETING,
    remoteAddr: environ.REMOTE_ADDR ?? null,
    done: done.has(id),
  });
};

export default { fetch: toFetchHandler(app) };

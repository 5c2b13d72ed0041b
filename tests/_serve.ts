// A real Deno.serve on 127.0.0.1:0 for tests that need a client to hang up.
import { toFetchHandler } from "../mod.ts";
import type { App, AppIterable } from "../mod.ts";
import { b } from "./_helpers.ts";

/** Serves `app` on loopback, runs `fn` with its base URL, then shuts down. */
export async function withServer(
  app: App,
  fn: (base: string) => Promise<void>,
): Promise<void> {
  const controller = new AbortController();
  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      signal: controller.signal,
      onListen() {},
    },
    toFetchHandler(app, { errors: () => {} }),
  );
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    controller.abort();
    await server.finished;
  }
}

/**
 * An endless streaming body whose close() settles `closed`: the server must
 * call it when the client goes away.
 */
export function endless(): { app: App; closed: Promise<void> } {
  let resolve!: () => void;
  const closed = new Promise<void>((r) => resolve = r);
  const app: App = (_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    let n = 0;
    const result: AppIterable = {
      *[Symbol.iterator]() {
        for (;;) yield b(`chunk ${n++}\n`);
      },
      close: () => resolve(),
    };
    return result;
  };
  return { app, closed };
}

/** Fetches `url`, reads one chunk and hangs up. */
export async function readOneAndAbort(url: string): Promise<string> {
  const response = await fetch(url);
  const reader = response.body!.getReader();
  const { value } = await reader.read();
  await reader.cancel();
  return new TextDecoder().decode(value);
}

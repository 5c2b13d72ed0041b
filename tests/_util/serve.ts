// Serving helpers: a real Deno.serve on 127.0.0.1:0 for tests that need a
// client to hang up, and validator()-wrapped apps behind the gateway.
import assert from "node:assert/strict";
import { toFetchHandler, validator } from "../../mod.ts";
import type { App, AppIterable, GatewayOptions } from "../../mod.ts";
import { b, harness } from "./helpers.ts";

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

/**
 * `app` under validator() behind the in-process gateway; `get` answers with
 * the whole body and checks every result was closed.
 */
export function validated(app: App, options: GatewayOptions = {}) {
  const checked = validator(app);
  const { handler, logs } = harness(checked, options);
  return {
    checked,
    logs,
    async get(url: string, method = "GET") {
      const response = await handler(
        new Request(new URL(url, "http://localhost/"), { method }),
      );
      const text = await response.text();
      await checked.allClosed();
      checked.assertClosed();
      return {
        response,
        status: response.status,
        text,
        json: <T = unknown>() => JSON.parse(text) as T,
      };
    },
  };
}

/**
 * A body of two chunks where the second is produced only after the client
 * has read the first, so a dispatcher that buffered the body would hang.
 * `expectStreamed` reads a response of it; `closes` counts close() calls.
 */
export function gatedStream(): {
  app: App;
  closes: () => number;
  expectStreamed: (response: Response) => Promise<void>;
} {
  let closes = 0;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  const app: App = (_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    const body = (async function* () {
      yield b("first ");
      await gate;
      yield b("second");
    })();
    return Object.assign(body, { close: () => void closes++ });
  };
  const expectStreamed = async (response: Response) => {
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    assert.equal(decoder.decode((await reader.read()).value), "first ");
    release();
    assert.equal(decoder.decode((await reader.read()).value), "second");
    assert.equal((await reader.read()).done, true);
  };
  return { app, closes: () => closes, expectStreamed };
}

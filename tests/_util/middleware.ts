// Shared by the middleware tests: the validator wrap, a real server on
// loopback, and an endless body whose close() is observable.
import { type App, type AppIterable, validator } from "../../mod.ts";
import type { ValidatedApp } from "../../mod.ts";

const validated: ValidatedApp[] = [];

/**
 * Wraps an app in the validator. Every middleware test builds its apps
 * through this, on both sides of the middleware: outside, it checks the
 * middleware as an app; inside, it checks it as a server (environ,
 * start_response, close()).
 */
export function checked(app: App): App {
  const wrapped = validator(app);
  validated.push(wrapped);
  return wrapped;
}

/** Settles once every result a checked app returned has been closed. */
export async function allClosed(): Promise<void> {
  await Promise.all(validated.splice(0).map((app) => app.allClosed()));
}

/** Resolves when `close()` of the endless body has been called; counts calls. */
export interface Endless {
  app: App;
  closed: Promise<void>;
  closeCalls: () => number;
  chunksMade: () => number;
}

/**
 * An app whose body never ends: `chunk`-byte chunks of varied text, made
 * only as they are pulled. close() resolves `closed`.
 */
export function endless(
  headers: [string, string][] = [["Content-Type", "text/plain"]],
  chunk = 16 * 1024,
): Endless {
  let calls = 0;
  let made = 0;
  let resolve!: () => void;
  const closed = new Promise<void>((r) => (resolve = r));
  const app: App = (_environ, startResponse) => {
    startResponse("200 OK", headers);
    const body: AppIterable = {
      async *[Symbol.asyncIterator]() {
        for (;;) {
          const bytes = new Uint8Array(chunk);
          // Text the compressor cannot squeeze to nothing.
          crypto.getRandomValues(bytes);
          for (let i = 0; i < bytes.length; i++) bytes[i] = 97 + bytes[i] % 26;
          made++;
          yield bytes;
          await Promise.resolve();
        }
      },
      close() {
        calls++;
        resolve();
      },
    };
    return body;
  };
  return { app, closed, closeCalls: () => calls, chunksMade: () => made };
}

/** Serves a handler on 127.0.0.1, port 0, for the length of `fn`. */
export async function serving<T>(
  handler: Deno.ServeHandler,
  fn: (base: string) => Promise<T>,
): Promise<T> {
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
  }, handler);
  try {
    return await fn(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    await server.shutdown();
  }
}

/**
 * Requests `url`, reads until the first non-empty chunk, then aborts as a
 * client that goes away would. Answers the response and that chunk.
 */
export async function readFirstThenAbort(
  url: string,
  init: RequestInit = {},
): Promise<{ response: Response; first: Uint8Array }> {
  const abort = new AbortController();
  const response = await fetch(url, { ...init, signal: abort.signal });
  const reader = response.body!.getReader();
  let first = new Uint8Array(0);
  while (first.length === 0) {
    const step = await reader.read();
    if (step.done) break;
    first = step.value;
  }
  abort.abort();
  await reader.cancel().catch(() => {});
  return { response, first };
}

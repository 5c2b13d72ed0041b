// Small judgements about values that the gateway, the middleware and the
// servers all make, in one place so they agree.

import { show } from "./_response_rules.ts";

/** Whether a value has a `then` method (a Promise or any thenable). */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown>)?.then === "function";
}

/**
 * An error as a log or debug page shows it: an Error's stack, or what was
 * thrown when it is not an Error.
 */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.stack ?? String(error);
  return `thrown: ${show(error)}`;
}

/**
 * The lines of an input stream, as PEP 3333's `__iter__` gives them: each
 * `readline()` until one comes back empty.
 */
export async function* readLines(
  input: { readline(): Promise<Uint8Array> },
): AsyncGenerator<Uint8Array> {
  for (;;) {
    const line = await input.readline();
    if (line.length === 0) return;
    yield line;
  }
}

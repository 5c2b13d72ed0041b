// Shared test helpers: call a handler in-process and capture wsgi.errors.
import { toFetchHandler } from "../../mod.ts";
import type { App, GatewayOptions } from "../../mod.ts";

export const enc: TextEncoder = new TextEncoder();
export const dec: TextDecoder = new TextDecoder();

/** Encodes text as a body chunk. */
export function b(text: string): Uint8Array {
  return enc.encode(text);
}

/** A handler whose wsgi.errors output is collected in `logs`. */
export function harness(
  app: App,
  options: GatewayOptions = {},
): {
  handler: (request: Request | string) => Promise<Response>;
  logs: string[];
} {
  const logs: string[] = [];
  const handler = toFetchHandler(app, {
    errors: (text) => logs.push(text),
    ...options,
  });
  return {
    logs,
    handler: async (request) =>
      await handler(
        typeof request === "string"
          ? new Request(new URL(request, "http://localhost/"))
          : request,
      ),
  };
}

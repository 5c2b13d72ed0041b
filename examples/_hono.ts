// Hono, from the dev tools (tools/node_modules), typed by hand: its .d.ts
// files import ".js" paths that Deno does not map to declarations. Only
// what the examples and tests use is declared.
import { Hono as HonoJs } from "../tools/node_modules/hono/dist/index.js";

/** The slice of Hono's Context used here. */
export interface HonoContext {
  text(text: string, status?: number): Response;
  json(value: unknown, status?: number): Response;
  header(name: string, value: string, options?: { append?: boolean }): void;
  req: {
    url: string;
    param(name: string): string;
    query(name: string): string | undefined;
    json(): Promise<unknown>;
  };
}

/** A Hono route handler. */
export type HonoHandler = (c: HonoContext) => Response | Promise<Response>;

/** The slice of a Hono app used here. */
export interface HonoApp {
  fetch(request: Request, ...rest: unknown[]): Response | Promise<Response>;
  get(path: string, handler: HonoHandler): HonoApp;
  post(path: string, handler: HonoHandler): HonoApp;
  basePath(path: string): HonoApp;
  mount(
    path: string,
    handler: (request: Request) => Response | Promise<Response>,
    options?: { replaceRequest?: false },
  ): HonoApp;
}

/** `new Hono()`. */
export const Hono: new () => HonoApp = HonoJs as unknown as new () => HonoApp;

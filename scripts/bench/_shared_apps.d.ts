// Types of _shared_apps.mjs, the apps every runtime serves.
import type { App } from "../../mod.ts";

/** The body of every hello world. */
export declare const TEXT: string;
/** TEXT as the bytes an app returns. */
export declare const GREETING: Uint8Array<ArrayBuffer>;
/** The body of a 404. */
export declare const NOT_FOUND: Uint8Array<ArrayBuffer>;
/** PEP 3333's hello world with another Content-Type. */
export declare function helloApp(contentType: string): App;
/** PEP 3333's `simple_app`. */
export declare const hello: App;
/** The same with `text/plain; charset=utf-8`. */
export declare const helloCharset: App;
/** Enumerates the environ and reads a header. */
export declare const helloEnviron: App;
/** The request the JSON API rows send. */
export declare const API_PATH: string;
/** The 99 routes beside `GET /users/:id`, as [method, pattern]. */
export declare const OTHER_ROUTES: [method: string, pattern: string][];
/** What `GET /users/42?x=1` answers. */
export declare function userJson(
  id: string,
  x: string | null,
  agent: string | null,
): Record<string, unknown>;
/** The JSON API as a tsgi app, on the Router given. */
export declare function tsgiApi(
  Router: new () => {
    add(method: string, pattern: string, app: App): unknown;
    get(pattern: string, app: App): unknown;
    app: App;
  },
): App;
type FetchHandler = (request: Request) => Response | Promise<Response>;
/** The JSON API in Hono: its Fetch handler. */
export declare function honoApi(Hono: new () => unknown): FetchHandler;
/** Hono's hello world: its Fetch handler. */
export declare function honoHello(Hono: new () => unknown): FetchHandler;
/** The JSON API with no framework, as a Fetch handler. */
export declare function rawApi(request: Request): Response;

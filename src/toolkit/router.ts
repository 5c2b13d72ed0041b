/**
 * A router: method and path patterns with named parameters, dispatching to
 * tsgi apps and mounting sub-apps, with `wsgiorg.routing_args`.
 *
 * @module
 */

import { show } from "../gateway/_response_rules.ts";
import { patternToNative } from "../gateway/_latin1.ts";
import { methodNotAllowed, notFound, options } from "./_responses.ts";
import type { App, AppIterable, Environ, StartResponse } from "../types.ts";

/**
 * `environ["wsgiorg.routing_args"]`: the positional and the named values a
 * dispatcher took from the path (the wsgiorg routing_args specification).
 *
 * @example Read a named parameter
 * ```ts
 * import type { App, RoutingArgs } from "@tsgi/tsgi";
 * const user: App = (environ, startResponse) => {
 *   const [, named] = environ["wsgiorg.routing_args"] as RoutingArgs;
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode(`user ${named.id}`)];
 * };
 * ```
 */
export type RoutingArgs = [positional: string[], named: Record<string, string>];

/**
 * The names of the parameters in a route pattern: `:name` segments and a
 * named wildcard `*name`.
 *
 * @typeParam P The pattern, as a string literal type.
 *
 * @example
 * ```ts
 * import type { RouteParamNames } from "@tsgi/tsgi";
 * const name: RouteParamNames<"/users/:id/files/*path"> = "path"; // "id" | "path"
 * ```
 */
export type RouteParamNames<P extends string> = P extends
  `${string}:${infer Name}/${infer Rest}` ? Name | RouteParamNames<`/${Rest}`>
  : P extends `${string}:${infer Name}` ? Name
  : P extends `${string}*${infer Name}` ? (Name extends "" ? never : Name)
  : never;

/**
 * The environ a route's app gets: `wsgiorg.routing_args` is there, with
 * the pattern's parameters by name.
 *
 * @typeParam P The route's pattern.
 *
 * @example
 * ```ts
 * import type { RouteEnviron } from "@tsgi/tsgi";
 * function userId(environ: RouteEnviron<"/users/:id">): string {
 *   return environ["wsgiorg.routing_args"][1].id;
 * }
 * ```
 */
export type RouteEnviron<P extends string> = Environ & {
  "wsgiorg.routing_args": [
    positional: string[],
    named: Record<RouteParamNames<P>, string>,
  ];
};

/**
 * An app added to a {@linkcode Router} under the pattern `P`: its route
 * parameters are typed, so `environ["wsgiorg.routing_args"][1].id` needs no
 * cast. Any {@linkcode App} is one too.
 *
 * @typeParam P The route's pattern.
 *
 * @example
 * ```ts
 * import { Router, type RouteApp } from "@tsgi/tsgi";
 * const user: RouteApp<"/users/:id"> = (environ, startResponse) => {
 *   const { id } = environ["wsgiorg.routing_args"][1];
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode(`user ${id}`)];
 * };
 * new Router().get("/users/:id", user);
 * ```
 */
export type RouteApp<P extends string> = {
  // A method, for bivariant parameters: a plain App is a RouteApp too.
  app(
    environ: RouteEnviron<P>,
    startResponse: StartResponse,
  ): AppIterable | Promise<AppIterable>;
}["app"];

/** What {@linkcode Router.match} found for a method and a path. */
export interface RouteMatch {
  /** The app the request goes to. */
  app: App;
  /** Values of unnamed wildcards (`*`), in order. */
  positional: string[];
  /** Values of named parameters (`:id`, `*path`). */
  named: Record<string, string>;
  /**
   * How many chars at the start of PATH_INFO the route consumed: the whole
   * path for an exact route (but a trailing `/`), the part before the tail
   * for a wildcard or a mount.
   */
  consumed: number;
  /** Whether the route is a mount, whose prefix always moves to SCRIPT_NAME. */
  mount: boolean;
}

/** Options of {@linkcode Router}. */
export interface RouterOptions {
  /** Answers requests no route matches; a plain 404 by default. */
  notFound?: App;
  /**
   * Move the consumed part of the path from `PATH_INFO` to `SCRIPT_NAME` for
   * every route, as the routing_args specification asks. Mounts always do.
   *
   * @default {true}
   */
  consumePath?: boolean;
}

interface Route {
  app: App;
  /** Per capture, in path order: a parameter name, or null for `*`. */
  names: (string | null)[];
  pattern: string;
  mount: boolean;
}

class Node {
  statics: Map<string, Node> | undefined;
  /**
   * The same children as a radix tree walked with the path's own chars, so
   * matching compares each char once instead of cutting every segment out
   * as a new string and hashing it for `statics`. Built at the first match
   * after a child is added.
   */
  chars: Chars | undefined;
  param: Node | undefined;
  /** Routes ending at this node, by method ("*" for any). */
  routes: Map<string, Route> | undefined;
  /** Routes whose pattern ends in a wildcard after this node. */
  wildcard: Map<string, Route> | undefined;
  mount: Route | undefined;
}

/** A radix tree node over static segments (latin-1, so bytes). */
class Chars {
  /** What the segment must go on with. */
  label: Uint8Array;
  /** The child whose segment ends after `label`. */
  node: Node | undefined;
  /** The subtrees by the char after `label`, from char code `low`. */
  low: number;
  branches: (Chars | undefined)[];

  constructor(
    label: Uint8Array,
    node: Node | undefined,
    low: number,
    branches: (Chars | undefined)[],
  ) {
    this.label = label;
    this.node = node;
    this.low = low;
    this.branches = branches;
  }
}

/** The radix tree of segments that share their first `from` chars. */
function radix(entries: [string, Node][], from: number): Chars {
  const first = entries[0][0];
  let to = from;
  grow: for (;; to++) {
    for (const [key] of entries) {
      if (key.length === to || key.charCodeAt(to) !== first.charCodeAt(to)) {
        break grow;
      }
    }
  }
  let node: Node | undefined;
  const groups = new Map<number, [string, Node][]>();
  for (const entry of entries) {
    if (entry[0].length === to) node = entry[1];
    else {
      const c = entry[0].charCodeAt(to);
      const group = groups.get(c);
      if (group === undefined) groups.set(c, [entry]);
      else group.push(entry);
    }
  }
  const codes = [...groups.keys()];
  const low = codes.length === 0 ? 0 : Math.min(...codes);
  const branches = new Array<Chars | undefined>(
    codes.length === 0 ? 0 : Math.max(...codes) - low + 1,
  ).fill(undefined);
  for (const [c, group] of groups) branches[c - low] = radix(group, to + 1);
  const label = Uint8Array.from(first.slice(from, to), (c) => c.charCodeAt(0));
  return new Chars(label, node, low, branches);
}

/**
 * A node's radix tree. A segment never holds "/", so a key that does (an
 * escaped %2F in a pattern) is left out: no path reaches it.
 */
function chars(node: Node): Chars {
  const entries = [...node.statics!].filter(([key]) => !key.includes("/"));
  return node.chars = entries.length === 0
    ? new Chars(new Uint8Array(0), undefined, 0, [])
    : radix(entries, 0);
}

const PARAM_NAME = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const utf8 = new TextDecoder();

function pick(routes: Map<string, Route> | undefined, method: string) {
  if (routes === undefined) return undefined;
  return routes.get(method) ??
    (method === "HEAD" ? routes.get("GET") : undefined) ??
    routes.get("*");
}

/**
 * What an exact route consumes: the whole path but a trailing "/", which
 * stays in PATH_INFO ("/app/" is SCRIPT_NAME "/app", PATH_INFO "/"), so the
 * root never gives SCRIPT_NAME "/".
 */
function exactEnd(path: string): number {
  const end = path.length;
  return end > 0 && path.charCodeAt(end - 1) === 47 ? end - 1 : end;
}

/** A captured value as text: the latin-1 octets read as UTF-8. */
function decode(value: string): string {
  for (let i = 0; i < value.length; i++) {
    if (value.charCodeAt(i) > 0x7f) {
      const bytes = new Uint8Array(value.length);
      for (let j = 0; j < value.length; j++) bytes[j] = value.charCodeAt(j);
      return utf8.decode(bytes);
    }
  }
  return value;
}

/**
 * Dispatches requests by method and path to tsgi apps, as a segment trie:
 * a fully static path is one Map lookup, any other is one walk over its
 * chars, however many routes there are, with no string cut out but the
 * values captured.
 *
 * Patterns: static segments (`/users`), named parameters matching one
 * non-empty segment (`/users/:id`), and a wildcard tail (`/files/*` or a
 * named `/files/*path`) matching zero or more segments. Static segments beat
 * parameters, which beat wildcards; a branch that leads nowhere for the
 * request's method falls back to the next. Patterns are written as text,
 * UTF-8 and `%XX` escapes allowed, and are turned once, when added, into
 * the octets-as-latin-1 form `PATH_INFO` has, so `/café` matches a request
 * for `/caf%C3%A9`. Matching is case-sensitive and trailing slashes count.
 *
 * On a match the router sets `wsgiorg.routing_args` to `[positional,
 * named]` (values decoded from UTF-8, added to any an outer dispatcher
 * set), moves the consumed part of the path from `PATH_INFO` to
 * `SCRIPT_NAME`, and calls the route's app. A path that matches only for
 * other methods is answered 405 with `Allow` (an unhandled `OPTIONS` gets
 * 204 with `Allow`); `HEAD` uses the `GET` route when it has none of its
 * own; anything else is 404.
 *
 * @example Routes and a mounted sub-app
 * ```ts
 * import { Router, toFetchHandler, type App, type RoutingArgs } from "@tsgi/tsgi";
 * const text = (body: string): App => (environ, startResponse) => {
 *   const [, named] = environ["wsgiorg.routing_args"] as RoutingArgs;
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode(body + JSON.stringify(named))];
 * };
 * const router = new Router()
 *   .get("/", text("home"))
 *   .get("/users/:id", text("user"))
 *   .post("/users", text("created"))
 *   .mount("/static", text("static"));
 * const handler = toFetchHandler(router.app);
 * const response = await handler(new Request("http://localhost/users/7"));
 * console.log(await response.text()); // 'user{"id":"7"}'
 * ```
 */
export class Router {
  readonly #root = new Node();
  // Fully static patterns by their native path: most requests are answered
  // by one lookup of the whole path, before any segment is cut out. The
  // tables are the trie nodes' own, so both always agree.
  readonly #exact = new Map<string, Map<string, Route>>();
  readonly #notFound: App;
  readonly #consume: boolean;
  // The search's results, beside the route it returns: the values captured
  // on the current branch and how much of the path the route consumed.
  // match() runs no user code while it searches, so one of each serves.
  readonly #captures: string[] = [];
  #count = 0;
  /** Whether a capture may hold a char above U+007F: only then decode. */
  #wide = false;
  #consumed = 0;

  /**
   * The router as a tsgi app: pass it to `toFetchHandler`, `mount` or
   * another router.
   */
  readonly app: App;

  /**
   * Makes an empty router.
   *
   * @param options What to answer when nothing matches, and whether routes
   *   consume the path.
   */
  constructor(options: RouterOptions = {}) {
    this.#notFound = options.notFound ?? notFound;
    this.#consume = options.consumePath ?? true;
    this.app = (environ, startResponse) => this.#handle(environ, startResponse);
  }

  /**
   * Adds a route.
   *
   * @param method An HTTP method, a list of them, or `"*"` for any.
   * @param pattern The path pattern, starting with `/` (or `""` for an
   *   empty `PATH_INFO`).
   * @param app The app to call.
   * @returns This router, for chaining.
   */
  add<P extends string>(
    method: string | readonly string[],
    pattern: P,
    app: RouteApp<P>,
  ): this {
    const methods = typeof method === "string" ? [method] : method;
    for (const m of methods) this.#add(m, pattern, app as App, false);
    return this;
  }

  /**
   * Adds a `GET` route (which also answers `HEAD`).
   *
   * @param pattern The path pattern.
   * @param app The app to call.
   * @returns This router.
   */
  get<P extends string>(pattern: P, app: RouteApp<P>): this {
    return this.add("GET", pattern, app);
  }

  /**
   * Adds a `POST` route.
   *
   * @param pattern The path pattern.
   * @param app The app to call.
   * @returns This router.
   */
  post<P extends string>(pattern: P, app: RouteApp<P>): this {
    return this.add("POST", pattern, app);
  }

  /**
   * Adds a `PUT` route.
   *
   * @param pattern The path pattern.
   * @param app The app to call.
   * @returns This router.
   */
  put<P extends string>(pattern: P, app: RouteApp<P>): this {
    return this.add("PUT", pattern, app);
  }

  /**
   * Adds a `PATCH` route.
   *
   * @param pattern The path pattern.
   * @param app The app to call.
   * @returns This router.
   */
  patch<P extends string>(pattern: P, app: RouteApp<P>): this {
    return this.add("PATCH", pattern, app);
  }

  /**
   * Adds a `DELETE` route.
   *
   * @param pattern The path pattern.
   * @param app The app to call.
   * @returns This router.
   */
  delete<P extends string>(pattern: P, app: RouteApp<P>): this {
    return this.add("DELETE", pattern, app);
  }

  /**
   * Adds a route for every method.
   *
   * @param pattern The path pattern.
   * @param app The app to call.
   * @returns This router.
   */
  all<P extends string>(pattern: P, app: RouteApp<P>): this {
    return this.add("*", pattern, app);
  }

  /**
   * Mounts a sub-app at a prefix, for every method: `/api` takes `/api`
   * (`PATH_INFO` `""`), `/api/` (`"/"`) and `/api/...`, never `/apix`. The
   * prefix moves to `SCRIPT_NAME`. A prefix may hold parameters
   * (`/users/:id/files`). A route that matches the request's method and
   * path wins over a mount.
   *
   * @param prefix The prefix, starting with `/`; a trailing `/` is ignored.
   * @param app The sub-app.
   * @returns This router.
   *
   * @example
   * ```ts
   * import { Router, type App } from "@tsgi/tsgi";
   * const adminApp: App = (environ, startResponse) => {
   *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
   *   return [new TextEncoder().encode(`admin sees ${environ.PATH_INFO}`)];
   * };
   * const router = new Router().mount("/admin", adminApp);
   * // GET /admin/users: SCRIPT_NAME "/admin", PATH_INFO "/users"
   * ```
   */
  mount(prefix: string, app: App): this {
    this.#add(
      "*",
      prefix.endsWith("/") ? prefix.slice(0, -1) : prefix,
      app,
      true,
    );
    return this;
  }

  #add(method: string, pattern: string, app: App, mount: boolean): void {
    if (typeof app !== "function") {
      throw new TypeError(
        `Cannot route to ${show(app)}: expected an app function`,
      );
    }
    if (method !== "*" && !METHOD.test(method)) {
      throw new TypeError(
        `Cannot route method ${show(method)}: expected an HTTP method`,
      );
    }
    if (
      typeof pattern !== "string" ||
      (pattern !== "" && !pattern.startsWith("/"))
    ) {
      throw new TypeError(
        `Cannot route pattern ${show(pattern)}: it must start with "/"`,
      );
    }
    const segments = pattern === "" ? [] : pattern.slice(1).split("/");
    const names: (string | null)[] = [];
    let node = this.#root;
    let wildcard = false;
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i];
      if (segment.startsWith("*")) {
        const name = segment.slice(1);
        if (
          mount || i !== segments.length - 1 ||
          (name !== "" && !PARAM_NAME.test(name))
        ) {
          throw new TypeError(
            `Cannot route pattern ${
              show(pattern)
            }: a wildcard is "*" or "*name", last`,
          );
        }
        names.push(name === "" ? null : name);
        wildcard = true;
        break;
      }
      if (segment.startsWith(":")) {
        const name = segment.slice(1);
        if (!PARAM_NAME.test(name) || names.includes(name)) {
          throw new TypeError(
            `Cannot route pattern ${show(pattern)}: bad or repeated parameter ${
              show(segment)
            }`,
          );
        }
        names.push(name);
        node = node.param ??= new Node();
        continue;
      }
      const key = patternToNative(segment);
      node.statics ??= new Map();
      let child = node.statics.get(key);
      if (child === undefined) {
        node.statics.set(key, child = new Node());
        node.chars = undefined;
      }
      node = child;
    }
    const route: Route = { app, names, pattern, mount };
    if (mount) {
      if (node.mount !== undefined) this.#duplicate("mount", pattern);
      node.mount = route;
      return;
    }
    const table = wildcard
      ? (node.wildcard ??= new Map())
      : (node.routes ??= new Map());
    if (table.has(method)) this.#duplicate(method, pattern);
    table.set(method, route);
    if (!wildcard && names.length === 0) {
      this.#exact.set(patternToNative(pattern), table);
    }
  }

  #duplicate(method: string, pattern: string): never {
    throw new Error(
      `Cannot add ${method} ${show(pattern)}: that route is already defined`,
    );
  }

  /**
   * Finds the route for a method and a `PATH_INFO`, without calling it.
   *
   * @param method The request method.
   * @param path `PATH_INFO`: decoded octets, one char each.
   * @returns The match, or `undefined` when no route takes this method and path.
   *
   * @example
   * ```ts
   * import { Router, type App } from "@tsgi/tsgi";
   * const app: App = (_e, startResponse) => (startResponse("204 No Content", []), []);
   * const router = new Router().get("/users/:id", app);
   * console.log(router.match("GET", "/users/7")?.named); // { id: "7" }
   * console.log(router.match("GET", "/users")); // undefined
   * ```
   */
  match(method: string, path: string): RouteMatch | undefined {
    const exact = pick(this.#exact.get(path), method);
    if (exact !== undefined) {
      return {
        app: exact.app,
        positional: [],
        named: {},
        consumed: exactEnd(path),
        mount: false,
      };
    }
    this.#count = 0;
    this.#wide = false;
    const route = this.#find(this.#root, path, 0, method);
    if (route === undefined) return undefined;
    const positional: string[] = [];
    const named: Record<string, string> = {};
    const names = route.names;
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      const capture = this.#captures[i];
      const value = this.#wide ? decode(capture) : capture;
      if (name === null) positional.push(value);
      else named[name] = value;
    }
    return {
      app: route.app,
      positional,
      named,
      consumed: this.#consumed,
      mount: route.mount,
    };
  }

  /**
   * Depth-first search: static child, then parameter, then wildcard, then
   * mount. `pos` is at a "/" that starts the next segment, or at the end.
   */
  #find(
    node: Node,
    path: string,
    pos: number,
    method: string,
  ): Route | undefined {
    const end = path.length;
    if (pos === end) {
      const route = pick(node.routes, method);
      if (route !== undefined) {
        this.#consumed = exactEnd(path);
        return route;
      }
    } else if (path.charCodeAt(pos) === 47) {
      const start = pos + 1;
      let next = start;
      // The chars of the segment or'ed: above 0x7f, a capture needs decoding.
      let high = 0;
      if (node.statics !== undefined) {
        let at = node.chars ?? chars(node);
        let child: Node | undefined;
        walk: for (;;) {
          const label = at.label;
          for (let k = 0; k < label.length; k++, next++) {
            if (next === end) break walk;
            const c = path.charCodeAt(next);
            if (c !== label[k]) break walk;
            high |= c;
          }
          const c = next === end ? 47 : path.charCodeAt(next);
          if (c === 47) {
            child = at.node;
            break;
          }
          const branch = c < at.low ? undefined : at.branches[c - at.low];
          if (branch === undefined) break;
          high |= c;
          next++;
          at = branch;
        }
        if (child !== undefined) {
          const route = this.#find(child, path, next, method);
          if (route !== undefined) return route;
        }
      }
      for (; next < end; next++) {
        const c = path.charCodeAt(next);
        if (c === 47) break;
        high |= c;
      }
      if (node.param !== undefined && next > start) {
        if (high > 0x7f) this.#wide = true;
        const count = this.#count;
        this.#captures[count] = path.slice(start, next);
        this.#count = count + 1;
        const route = this.#find(node.param, path, next, method);
        if (route !== undefined) return route;
        this.#count = count;
      }
    }
    const tail = pick(node.wildcard, method);
    if (tail !== undefined) {
      if (!this.#wide) {
        let high = 0;
        for (let i = pos; i < end; i++) high |= path.charCodeAt(i);
        if (high > 0x7f) this.#wide = true;
      }
      this.#captures[this.#count++] = pos === end ? "" : path.slice(pos + 1);
      this.#consumed = pos;
      return tail;
    }
    if (node.mount !== undefined) {
      this.#consumed = pos;
      return node.mount;
    }
    return undefined;
  }

  /** The methods some route takes for this path, for 405's `Allow`. */
  #allowed(node: Node, path: string, pos: number, into: Set<string>): void {
    const end = path.length;
    if (pos === end) {
      for (const method of node.routes?.keys() ?? []) into.add(method);
    } else if (path.charCodeAt(pos) === 47) {
      let next = path.indexOf("/", pos + 1);
      if (next === -1) next = end;
      const child = node.statics?.get(path.slice(pos + 1, next));
      if (child !== undefined) this.#allowed(child, path, next, into);
      if (node.param !== undefined && next > pos + 1) {
        this.#allowed(node.param, path, next, into);
      }
    }
    for (const method of node.wildcard?.keys() ?? []) into.add(method);
  }

  #handle(
    environ: Environ,
    startResponse: StartResponse,
  ): AppIterable | Promise<AppIterable> {
    const path = environ.PATH_INFO ?? "";
    const method = environ.REQUEST_METHOD;
    const found = this.match(method, path);
    if (found === undefined) {
      const allowed = new Set<string>();
      this.#allowed(this.#root, path, 0, allowed);
      if (allowed.size === 0) return this.#notFound(environ, startResponse);
      if (allowed.has("GET")) allowed.add("HEAD");
      allowed.add("OPTIONS");
      const allow = [...allowed].sort().join(", ");
      return method === "OPTIONS"
        ? options(allow)(environ, startResponse)
        : methodNotAllowed(allow)(environ, startResponse);
    }
    const previous = environ["wsgiorg.routing_args"] as RoutingArgs | undefined;
    environ["wsgiorg.routing_args"] = Array.isArray(previous)
      ? [[...previous[0], ...found.positional], {
        ...previous[1],
        ...found.named,
      }]
      : [found.positional, found.named];
    if (this.#consume || found.mount) {
      environ.SCRIPT_NAME = (environ.SCRIPT_NAME ?? "") +
        path.slice(0, found.consumed);
      environ.PATH_INFO = path.slice(found.consumed);
    }
    return found.app(environ, startResponse);
  }
}

// @ts-self-types="./_shared_apps.d.ts"
// The apps every benchmark serves, in plain JavaScript so that Deno, Bun and
// Node (which runs no TypeScript) serve the very same code. The tsgi router
// and Hono are passed in: each runtime loads them from where it can (the
// sources on Deno and Bun, the npm build on Node).

/** The body of every hello world. */
export const TEXT = "Hello world!\n";
const encoder = new TextEncoder();
/** TEXT as the bytes an app returns. */
export const GREETING = encoder.encode(TEXT);
/** The body of a 404. */
export const NOT_FOUND = encoder.encode("Not found\n");

/**
 * PEP 3333's own hello world (`simple_app`: "200 OK", `Content-type:
 * text/plain`) with another Content-Type, routed on PATH_INFO so the
 * environ must be real.
 */
export function helloApp(contentType) {
  return (environ, startResponse) => {
    if (environ.PATH_INFO !== "/") {
      startResponse("404 Not Found", [["Content-type", "text/plain"]]);
      return [NOT_FOUND];
    }
    startResponse("200 OK", [["Content-type", contentType]]);
    return [GREETING];
  };
}

/** PEP 3333's `simple_app`. */
export const hello = helloApp("text/plain");

/**
 * The same with a charset, which Deno's static Response path does not
 * know: what an app with any other Content-Type pays.
 */
export const helloCharset = helloApp("text/plain; charset=utf-8");

/**
 * Enumerates the environ and reads a header, as `dict(environ)`, a proxy
 * or a debug page does: every key the gateway has is built.
 */
export const helloEnviron = (environ, startResponse) => {
  let keys = 0;
  for (const _ in environ) keys++;
  const agent = String(environ.HTTP_USER_AGENT ?? "-");
  startResponse("200 OK", [
    ["Content-Type", "text/plain; charset=utf-8"],
    ["X-Keys", String(keys)],
    ["X-Agent-Length", String(agent.length)],
  ]);
  return [GREETING];
};

// ------------------------------------------------------------ the JSON API

/** The request the JSON API rows send (with browser_headers.lua's headers). */
export const API_PATH = "/users/42?x=1";

/**
 * Route i of 99 beside `GET /users/:id`: a fifth each static, one
 * parameter, two parameters, a wildcard tail, a parameter then statics;
 * GET, POST and PUT (the router benchmark's table).
 */
function route(i) {
  switch (i % 5) {
    case 0:
      return ["GET", `/api/res${i}`];
    case 1:
      return ["GET", `/api/res${i}/:id`];
    case 2:
      return ["POST", `/api/res${i}/:id/items/:item`];
    case 3:
      return ["GET", `/static${i}/*`];
    default:
      return ["PUT", `/users/:user/res${i}/settings`];
  }
}

/** The 99 other routes, as [method, pattern]. */
export const OTHER_ROUTES = Array.from({ length: 99 }, (_, i) => route(i));

/** What `GET /users/42?x=1` answers, given the three values read. */
export function userJson(id, x, agent) {
  return { id, x, agent, name: `User ${id}`, roles: ["reader", "writer"] };
}

/**
 * The JSON API as a tsgi app: a Router of 100 routes; the user route
 * reads its path parameter, `x` from the query string and User-Agent, and
 * answers JSON.
 */
export function tsgiApi(Router) {
  const other = (_environ, startResponse) => {
    startResponse("204 No Content", []);
    return [];
  };
  const router = new Router();
  for (const [method, pattern] of OTHER_ROUTES) {
    router.add(method, pattern, other);
  }
  router.get("/users/:id", (environ, startResponse) => {
    const [, named] = environ["wsgiorg.routing_args"];
    const x = new URLSearchParams(environ.QUERY_STRING).get("x");
    const agent = environ.HTTP_USER_AGENT ?? null;
    const body = encoder.encode(
      JSON.stringify(userJson(named.id, x, agent)),
    );
    startResponse("200 OK", [["Content-Type", "application/json"]]);
    return [body];
  });
  return router.app;
}

/** The same API in Hono; returns its Fetch handler. */
export function honoApi(Hono) {
  const app = new Hono();
  for (const [method, pattern] of OTHER_ROUTES) {
    app.on(method, pattern, (c) => c.body(null, 204));
  }
  app.get("/users/:id", (c) =>
    c.json(
      userJson(
        c.req.param("id"),
        c.req.query("x") ?? null,
        c.req.header("User-Agent") ?? null,
      ),
    ));
  return app.fetch;
}

/** Hono's hello world; returns its Fetch handler. */
export function honoHello(Hono) {
  const app = new Hono();
  app.get("/", (c) => c.text(TEXT));
  return app.fetch;
}

/**
 * The API with no framework on a Fetch runtime: the least the same answer
 * takes (a path test, the query, one header, JSON out).
 */
export function rawApi(request) {
  const url = request.url;
  const start = url.indexOf("/", url.indexOf("//") + 2);
  const q = url.indexOf("?", start);
  const path = q === -1 ? url.slice(start) : url.slice(start, q);
  if (!path.startsWith("/users/")) {
    return new Response(NOT_FOUND, { status: 404 });
  }
  const x = new URLSearchParams(q === -1 ? "" : url.slice(q + 1)).get("x");
  return Response.json(
    userJson(path.slice(7), x, request.headers.get("user-agent")),
  );
}

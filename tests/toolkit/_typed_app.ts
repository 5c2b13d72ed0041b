// An app as its author writes it, with no casts: typed_environ_test.ts runs
// it and compiles this file with `tsc --strict`.
import {
  type App,
  type Environ,
  getCookies,
  query,
  Router,
} from "../../mod.ts";

const enc = new TextEncoder();

interface Env {
  GREETING: string;
}

/** Everything here must type-check without `as`. */
export const app: App<Env> = (environ, startResponse) => {
  const agent = environ.HTTP_USER_AGENT?.includes("x") ? "x" : "other";
  const cookie = environ.HTTP_COOKIE?.split(";").length ?? 0;
  const type: string | undefined = environ.CONTENT_TYPE;
  const length: string | undefined = environ.CONTENT_LENGTH;
  const greeting: string = environ["tsgi.env"].GREETING;
  environ["tsgi.ctx"].waitUntil(Promise.resolve());
  const name = query(environ).get("name");
  const theme = getCookies(environ).theme ?? "light";
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  return [
    enc.encode(
      [agent, cookie, type, length, greeting, name, theme].join(" "),
    ),
  ];
};

/** Route parameters without `as RoutingArgs`. */
export const user: App = (environ, startResponse) => {
  const named = environ["wsgiorg.routing_args"]?.[1];
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  return [enc.encode(`user ${named?.id}`)];
};

/** Route parameters typed from the pattern: no optional chaining, no cast. */
export const router: Router = new Router()
  .get("/files/:owner/*path", (environ, startResponse) => {
    const { owner, path } = environ["wsgiorg.routing_args"][1];
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [enc.encode(`${owner}: ${path}`)];
  });

/** A plain Environ still reads any key as unknown and HTTP_* as strings. */
export function describe(environ: Environ): string {
  const custom: unknown = environ["myserver.name"];
  return `${environ.REQUEST_METHOD} ${environ.HTTP_HOST ?? ""} ${
    String(custom)
  }`;
}

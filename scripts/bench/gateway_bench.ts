// Per-request overhead of the gateway, in process: toFetchHandler around a
// hello-world app against a raw Fetch handler that answers the same bytes.
//   deno task bench:gateway
import { toFetchHandler } from "../../mod.ts";
import type { App } from "../../mod.ts";
import { INFO, NINE, ONE } from "./_requests.ts";

const TEXT = "Hello world!\n";
const GREETING = new TextEncoder().encode(TEXT);
const URL_ = "http://127.0.0.1:8000/";
const hello: App = (environ, startResponse) => {
  if (environ.PATH_INFO !== "/") {
    startResponse("404 Not Found", [["Content-Type", "text/plain"]]);
    return [];
  }
  startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
  return [GREETING];
};

const enumerating: App = (environ, startResponse) => {
  let keys = 0;
  for (const _ in environ) keys++;
  startResponse("200 OK", [
    ["Content-Type", "text/plain; charset=utf-8"],
    ["X-Keys", String(keys)],
  ]);
  return [GREETING];
};

const raw = (_request: Request, _info?: unknown): Response =>
  new Response(TEXT);
const tsgi = toFetchHandler(hello);
const tsgiEnviron = toFetchHandler(enumerating);

// The Request is made per call in every case, as a server would.
for (
  const [label, headers] of [["1 header", ONE], ["9 headers", NINE]] as const
) {
  Deno.bench({
    name: `raw handler, ${label}`,
    group: label,
    baseline: true,
    fn: () => {
      raw(new Request(URL_, { headers }), INFO);
    },
  });
  Deno.bench({
    name: `toFetchHandler, ${label}`,
    group: label,
    fn: () => {
      tsgi(new Request(URL_, { headers }), INFO);
    },
  });
  Deno.bench({
    name: `toFetchHandler, enumerating environ, ${label}`,
    group: label,
    fn: () => {
      tsgiEnviron(new Request(URL_, { headers }), INFO);
    },
  });
}

// What the runtime charges for the Response the gateway hands it: Deno
// answers a string or bytes with at most a Content-Type from a static fast
// path; any second header (the gateway adds Content-Length to known
// bodies) builds native headers instead.
const CT = "text/plain; charset=utf-8";
const RESPONSES: [string, () => Response][] = [
  ["string body, no init (raw)", () => new Response(TEXT)],
  [
    "Content-Type as [[name, value]]",
    () =>
      new Response(GREETING, {
        status: 200,
        statusText: "OK",
        headers: [["Content-Type", CT]],
      }),
  ],
  [
    "Content-Type as a record",
    () =>
      new Response(GREETING, {
        status: 200,
        statusText: "OK",
        headers: { "Content-Type": CT },
      }),
  ],
  [
    "Content-Type + Content-Length as [[name, value]]",
    () =>
      new Response(GREETING, {
        status: 200,
        statusText: "OK",
        headers: [["Content-Type", CT], ["content-length", "13"]],
      }),
  ],
  [
    "Content-Type + Content-Length as a record",
    () =>
      new Response(GREETING, {
        status: 200,
        statusText: "OK",
        headers: { "Content-Type": CT, "content-length": "13" },
      }),
  ],
];
for (const [name, make] of RESPONSES) {
  Deno.bench({
    name: `new Response: ${name}`,
    group: "new Response",
    baseline: name.endsWith("(raw)"),
    fn: () => {
      make();
    },
  });
}

// Per-request overhead of the gateway, in process: toFetchHandler around a
// hello-world app against a raw Fetch handler that answers the same bytes.
//   deno task bench:gateway
import { toFetchHandler } from "../../mod.ts";
import { INFO, NINE, ONE } from "./_requests.ts";
import {
  floor,
  GREETING,
  hello,
  helloCharset,
  helloEnviron,
  raw,
  TEXT,
} from "./_apps.ts";

const URL_ = "http://127.0.0.1:8000/";
const tsgi = toFetchHandler(hello);
const tsgiCharset = toFetchHandler(helloCharset);
const tsgiEnviron = toFetchHandler(helloEnviron);

// The Request is made per call in every case, as a server would.
for (
  const [label, headers] of [["1 header", ONE], ["9 headers", NINE]] as const
) {
  Deno.bench({
    name: `raw handler, ${label}`,
    group: label,
    baseline: true,
    fn: () => {
      new Request(URL_, { headers });
      raw();
    },
  });
  Deno.bench({
    name: `raw-floor handler, ${label}`,
    group: label,
    fn: () => {
      floor(new Request(URL_, { headers }));
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
    name: `toFetchHandler, with a charset, ${label}`,
    group: label,
    fn: () => {
      tsgiCharset(new Request(URL_, { headers }), INFO);
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

// What the runtime charges for the Response the gateway hands it, which is
// what the gateway's fast paths are built on: Deno copies a byte body but
// takes a string as it is, converts a list of pairs through the iterator
// protocol where it walks a record, and keeps a 200 with one Content-Type
// of text/plain, text/plain;charset=UTF-8 or application/json on a static
// path with no header list at all. (Bun differs little.)
const CT = "text/plain; charset=utf-8";
const RESPONSES: [string, () => Response][] = [
  ["string body, no init (raw)", () => new Response(TEXT)],
  [
    "bytes, statusText, [[name, value]] (the gateway before)",
    () =>
      new Response(GREETING, {
        status: 200,
        statusText: "OK",
        headers: [["Content-Type", CT]],
      }),
  ],
  [
    "bytes, { name: value }",
    () =>
      new Response(GREETING, { status: 200, headers: { "Content-Type": CT } }),
  ],
  [
    "string, { name: value } (the gateway now)",
    () => new Response(TEXT, { status: 200, headers: { "Content-Type": CT } }),
  ],
  [
    "string, { Content-type: text/plain } (Deno's static path)",
    () =>
      new Response(TEXT, {
        status: 200,
        headers: { "Content-type": "text/plain" },
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

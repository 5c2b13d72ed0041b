// query(): URLSearchParams over the raw QUERY_STRING.
import assert from "node:assert/strict";
import { type Environ, toFetchHandler } from "../../mod.ts";
import { query } from "../../src/toolkit/query.ts";

const environ = (qs: string) => ({ QUERY_STRING: qs }) as unknown as Environ;

Deno.test("query: ?name=Bob&x=1 gives Bob, + is a space, escapes decode as UTF-8, names repeat", () => {
  const q = query(environ("name=Bob&x=1&city=Z%C3%BCrich&t=a+b&t=c%2Bd"));
  assert.equal(q.get("name"), "Bob");
  assert.equal(q.get("city"), "Zürich");
  assert.deepEqual(q.getAll("t"), ["a b", "c+d"]);
  assert.equal(q.get("missing"), null);
  assert.equal([...query(environ(""))].length, 0);
});

Deno.test("query: raw octets above 0x7F (a native string) decode as the UTF-8 they were", () => {
  // "ü" sent unencoded arrives as the two octets C3 BC, one char each.
  assert.equal(query(environ("city=Z\xc3\xbcrich")).get("city"), "Zürich");
  assert.equal(query(environ("a=\xc3\xbc&b=\xc3\xbc")).get("b"), "ü");
});

Deno.test("query: through the gateway", async () => {
  const handler = toFetchHandler((environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
    return [new TextEncoder().encode(`Hello ${query(environ).get("name")}`)];
  });
  const response = await handler(new Request("http://x/?name=B%C3%B6b&x=1"));
  assert.equal(await response.text(), "Hello Böb");
});

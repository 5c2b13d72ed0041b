// HeaderList (wsgiref.headers).
import assert from "node:assert/strict";
import { HeaderList, validator } from "../../mod.ts";
import type { App, Header } from "../../mod.ts";
import { b, harness } from "../_util/helpers.ts";

Deno.test("headers: edits the list it wraps, in place", () => {
  const list: Header[] = [["Content-Type", "text/plain"]];
  const headers = new HeaderList(list);
  assert.equal(headers.list, list);
  headers.add("X-One", "1");
  assert.deepEqual(list, [["Content-Type", "text/plain"], ["X-One", "1"]]);
  assert.equal(headers.size, 2);
  assert.deepEqual(new HeaderList().list, []);
});

Deno.test("headers: refuses what is not an array", () => {
  for (const bad of [null, "x", { a: "b" }, new Headers()]) {
    assert.throws(() => new HeaderList(bad as unknown as Header[]), TypeError);
  }
});

Deno.test("headers: get/getAll/has are case-insensitive; get is the first value", () => {
  const headers = new HeaderList([
    ["Set-Cookie", "a=1"],
    ["content-type", "text/html"],
    ["SET-COOKIE", "b=2"],
  ]);
  assert.equal(headers.get("set-cookie"), "a=1");
  assert.deepEqual(headers.getAll("Set-Cookie"), ["a=1", "b=2"]);
  assert.equal(headers.get("Content-Type"), "text/html");
  assert.equal(headers.has("CONTENT-TYPE"), true);
  assert.equal(headers.get("X-Missing"), undefined);
  assert.deepEqual(headers.getAll("X-Missing"), []);
  assert.equal(headers.has("X-Missing"), false);
});

Deno.test("headers: set replaces every value, keeping the first one's place", () => {
  const headers = new HeaderList([
    ["A", "1"],
    ["X", "old"],
    ["B", "2"],
    ["x", "older"],
  ]);
  headers.set("x", "new");
  assert.deepEqual(headers.list, [["A", "1"], ["x", "new"], ["B", "2"]]);
  headers.set("C", "3");
  assert.deepEqual(headers.list.at(-1), ["C", "3"]);
});

Deno.test("headers: delete removes every match and says how many", () => {
  const headers = new HeaderList([["A", "1"], ["a", "2"], ["B", "3"]]);
  assert.equal(headers.delete("A"), 2);
  assert.deepEqual(headers.list, [["B", "3"]]);
  assert.equal(headers.delete("nothing"), 0);
});

Deno.test("headers: add keeps repeats and writes parameters like wsgiref", () => {
  const headers = new HeaderList();
  headers.add("Set-Cookie", "a=1").add("Set-Cookie", "b=2");
  assert.deepEqual(headers.getAll("set-cookie"), ["a=1", "b=2"]);
  // wsgiref.headers docs: h.add_header('content-disposition', 'attachment', filename='bud.gif')
  headers.add("Content-Disposition", "attachment", { filename: "bud.gif" });
  headers.add("Content-Disposition", "attachment", {
    filename: "my report.csv",
  });
  headers.add("Content-Disposition", "attachment", { filename: 'a"b\\c' });
  headers.add("Content-Disposition", null, { inline: null });
  headers.add("X-Flags", "v", { secure: true, "max-age": "60", empty: "" });
  headers.add("Content-Disposition", "attachment", {
    filename: "résumé 日本.pdf",
  });
  assert.deepEqual(headers.getAll("Content-Disposition"), [
    'attachment; filename="bud.gif"',
    'attachment; filename="my report.csv"',
    'attachment; filename="a\\"b\\\\c"',
    "inline",
    "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9%20%E6%97%A5%E6%9C%AC.pdf",
  ]);
  assert.equal(headers.get("X-Flags"), 'v; secure; max-age="60"; empty');
  // CPython's test_wsgiref: h.add_header('foo', 'bar', baz='spam').
  headers.add("foo", "bar", { baz: "spam" });
  headers.add("foo", "bar", { baz: null, cheese: "" });
  assert.deepEqual(headers.getAll("foo"), [
    'bar; baz="spam"',
    "bar; baz; cheese",
  ]);
});

Deno.test("headers: setDefault adds only when missing and returns the value in force", () => {
  const headers = new HeaderList([["Content-Type", "text/html"]]);
  assert.equal(headers.setDefault("content-type", "text/plain"), "text/html");
  assert.equal(headers.setDefault("Cache-Control", "no-store"), "no-store");
  assert.deepEqual(headers.list, [["Content-Type", "text/html"], [
    "Cache-Control",
    "no-store",
  ]]);
});

Deno.test("headers: refuses control characters, bad names and hop-by-hop names", () => {
  const headers = new HeaderList();
  const bad: [string, string][] = [
    ["X-Inject", "a\r\nSet-Cookie: evil=1"],
    ["X-Nul", "a\0b"],
    ["X-Del", "a\x7fb"],
    ["X-Wide", "\u0100"],
    ["Bad Name", "x"],
    ["X-Colon:", "x"],
    ["", "x"],
    ["Connection", "close"],
    ["Transfer-Encoding", "chunked"],
  ];
  for (const [name, value] of bad) {
    assert.throws(() => headers.set(name, value), TypeError, `set ${name}`);
    assert.throws(() => headers.add(name, value), TypeError, `add ${name}`);
    assert.throws(
      () => headers.setDefault(name, value),
      TypeError,
      `setDefault ${name}`,
    );
  }
  assert.throws(() => headers.add("X", "v", { "bad name": "x" }), TypeError);
  assert.throws(() => headers.add("X", "v", { p: "a\nb" }), TypeError);
  assert.throws(
    () => headers.add("X", "v", { p: 3 as unknown as string }),
    TypeError,
  );
  assert.deepEqual(headers.list, [], "nothing was added by a refused call");
  // TAB is allowed in values; latin-1 too.
  headers.set("X-Tab", "a\tb").set("X-Latin", "caf\u00e9");
  assert.equal(headers.size, 2);
});

Deno.test("headers: reading and deleting work on entries it would refuse to add", () => {
  const headers = new HeaderList([
    ["Connection", "close"],
    ["Keep-Alive", "5"],
    ["X", "1"],
  ]);
  assert.equal(headers.get("connection"), "close");
  headers.delete("Connection");
  headers.delete("Keep-Alive");
  assert.deepEqual(headers.list, [["X", "1"]]);
});

Deno.test("headers: iteration, keys, values and toString", () => {
  const headers = new HeaderList([["A", "1"], ["B", "2"], ["a", "3"]]);
  assert.deepEqual([...headers], [["A", "1"], ["B", "2"], ["a", "3"]]);
  const first = [...headers][0];
  first[1] = "changed";
  assert.equal(headers.get("A"), "1", "iteration yields copies");
  assert.deepEqual(headers.keys(), ["A", "B", "a"]);
  assert.deepEqual(headers.values(), ["1", "2", "3"]);
  assert.equal(String(headers), "A: 1\r\nB: 2\r\na: 3\r\n\r\n");
  assert.equal(String(new HeaderList()), "\r\n");
});

Deno.test("headers: the list goes to start_response and through the gateway", async () => {
  const app: App = (_environ, startResponse) => {
    const headers = new HeaderList();
    headers.set("Content-Type", "text/plain");
    headers.add("Set-Cookie", "a=1").add("Set-Cookie", "b=2");
    headers.add("Content-Disposition", "attachment", { filename: "x y.txt" });
    startResponse("200 OK", headers.list);
    // Editing after start_response changes nothing already sent, as in wsgiref.
    return [b("body")];
  };
  const checked = validator(app);
  const { handler, logs } = harness(checked);
  const response = await handler("/");
  assert.equal(response.status, 200);
  assert.deepEqual(response.headers.getSetCookie(), ["a=1", "b=2"]);
  assert.equal(
    response.headers.get("content-disposition"),
    'attachment; filename="x y.txt"',
  );
  assert.equal(await response.text(), "body");
  assert.deepEqual(logs, []);
  checked.assertClosed();
});

// Cookie parsing and Set-Cookie building with RFC 6265bis's rules.
import assert from "node:assert/strict";
import type { Environ } from "../../mod.ts";
import {
  deleteCookie,
  getCookies,
  parseCookies,
  setCookie,
} from "../../src/toolkit/cookies.ts";

Deno.test("cookies: parseCookies splits pairs, unquotes, keeps the first of a repeated name, skips junk", () => {
  const cookies = parseCookies(
    ' a=1; b="two"; a=ignored; junk; =nameless; c=x=y ; empty=',
  );
  assert.deepEqual({ ...cookies }, { a: "1", b: "two", c: "x=y", empty: "" });
  assert.equal(cookies.missing, undefined);
  assert.equal(Object.getPrototypeOf(cookies), null);
  assert.equal(parseCookies("constructor=1").constructor, "1");
  assert.deepEqual({ ...parseCookies(undefined) }, {});
  const environ = { HTTP_COOKIE: "theme=dark" } as unknown as Environ;
  assert.equal(getCookies(environ).theme, "dark");
});

Deno.test("cookies: setCookie writes every attribute in order", () => {
  assert.equal(
    setCookie("id", "a3fWa", {
      domain: "example.com",
      path: "/docs",
      expires: new Date(Date.UTC(2030, 0, 2, 3, 4, 5)),
      maxAge: 3600,
      secure: true,
      httpOnly: true,
      sameSite: "None",
      partitioned: true,
    }),
    "id=a3fWa; Domain=example.com; Path=/docs; Expires=Wed, 02 Jan 2030 03:04:05 GMT; Max-Age=3600; Secure; HttpOnly; SameSite=None; Partitioned",
  );
  assert.equal(setCookie("q", '"quoted"'), 'q="quoted"');
  assert.equal(
    setCookie("__Host-s", "1", { secure: true, path: "/" }),
    "__Host-s=1; Path=/; Secure",
  );
  assert.equal(
    deleteCookie("s", { path: "/" }),
    "s=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0",
  );
});

Deno.test("cookies: setCookie refuses bad names, values and attribute combinations with a TypeError naming them", () => {
  const cases: [() => string, RegExp][] = [
    [() => setCookie("a b", "1"), /cookie name "a b": expected a token/],
    [() => setCookie("", "1"), /cookie name "": expected a token/],
    [
      () => setCookie("a", "x y"),
      /cookie value "x y": expected cookie-octets.*encodeURIComponent/,
    ],
    [() => setCookie("a", "x;y"), /cookie value "x;y"/],
    [() => setCookie("a", "ü"), /cookie value "ü"/],
    [
      () => setCookie("a", "1", { domain: "exa mple.com" }),
      /cookie domain "exa mple.com"/,
    ],
    [
      () => setCookie("a", "1", { path: "docs" }),
      /cookie path "docs": expected a path starting with \//,
    ],
    [() => setCookie("a", "1", { path: "/a;b" }), /cookie path "\/a;b"/],
    [
      () => setCookie("a", "1", { expires: new Date(NaN) }),
      /cookie expires .*: expected a valid Date/,
    ],
    [
      () => setCookie("a", "1", { maxAge: 1.5 }),
      /cookie maxAge 1.5: expected a whole number/,
    ],
    [() => setCookie("a", "1", { maxAge: -1 }), /cookie maxAge -1/],
    [
      () => setCookie("a", "1", { sameSite: "lax" as "Lax" }),
      /cookie sameSite "lax": expected "Strict", "Lax" or "None"/,
    ],
    [
      () => setCookie("a", "1", { sameSite: "None" }),
      /SameSite=None needs secure: true/,
    ],
    [
      () => setCookie("a", "1", { partitioned: true }),
      /Partitioned needs secure: true/,
    ],
    [
      () => setCookie("__Secure-a", "1"),
      /cookie name "__Secure-a": a __Secure- cookie needs secure: true/,
    ],
    [() => setCookie("__secure-a", "1"), /__Secure- cookie needs secure/],
    [
      () => setCookie("__Host-a", "1", { secure: true }),
      /__Host- cookie needs secure: true, path: "\/" and no domain/,
    ],
    [
      () =>
        setCookie("__Host-a", "1", {
          secure: true,
          path: "/",
          domain: "example.com",
        }),
      /__Host- cookie/,
    ],
  ];
  for (const [run, message] of cases) {
    assert.throws(run, (error: unknown) => {
      assert.ok(error instanceof TypeError, String(error));
      assert.match(error.message, message);
      return true;
    });
  }
});

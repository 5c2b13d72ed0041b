/**
 * Cookies: read the `Cookie` request header, build `Set-Cookie` values
 * whose attributes are checked against RFC 6265bis.
 *
 * @module
 */

import type { Environ } from "../types.ts";

/** The cookies of a request, by name; a name absent is `undefined`. */
export type Cookies = { [name: string]: string | undefined };

/**
 * The attributes of a `Set-Cookie` header (RFC 6265bis §4.1).
 *
 * @example A session cookie
 * ```ts
 * import type { CookieAttributes } from "@tsgi/tsgi/cookies";
 * const attributes: CookieAttributes = {
 *   path: "/",
 *   httpOnly: true,
 *   secure: true,
 *   sameSite: "Lax",
 *   maxAge: 60 * 60 * 24,
 * };
 * ```
 */
export interface CookieAttributes {
  /** The hosts the cookie goes to: this domain and its subdomains. */
  domain?: string;
  /** The path prefix the cookie goes to; must start with `/`. */
  path?: string;
  /** When the cookie expires; `maxAge` wins where both are given. */
  expires?: Date;
  /** Seconds until the cookie expires; 0 deletes it. */
  maxAge?: number;
  /** Send the cookie over HTTPS only. */
  secure?: boolean;
  /** Hide the cookie from scripts. */
  httpOnly?: boolean;
  /** Whether the cookie goes with cross-site requests. `"None"` needs `secure`. */
  sameSite?: "Strict" | "Lax" | "None";
  /** CHIPS: keep the cookie per top-level site. Needs `secure`. */
  partitioned?: boolean;
}

// RFC 9110 tchar.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// RFC 6265 cookie-value: cookie-octets, optionally in double quotes.
const COOKIE_VALUE =
  /^(?:"[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*"|[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*)$/;
// av-octet: any CHAR but CTLs and ";".
const ATTRIBUTE_VALUE = /^[\x20-\x3A\x3C-\x7E]*$/;
const DOMAIN =
  /^\.?(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/**
 * Parses a `Cookie` header: `name=value` pairs separated by `;`.
 *
 * Values are returned as sent, without their surrounding double quotes and
 * without percent-decoding (the cookie's owner chose its encoding). Pairs
 * without `=` are skipped; when a name repeats, the first wins, as it is
 * the one with the longest path (RFC 6265 §5.4).
 *
 * @param header The `Cookie` header value, or undefined.
 * @returns The cookies by name, in an object without a prototype.
 *
 * @example
 * ```ts
 * import { parseCookies } from "@tsgi/tsgi/cookies";
 * const cookies = parseCookies('theme=dark; session="abc123"');
 * console.log(cookies.theme, cookies.session); // "dark" "abc123"
 * ```
 */
export function parseCookies(header: string | undefined): Cookies {
  const cookies: Cookies = Object.create(null);
  if (header === undefined) return cookies;
  for (const pair of header.split(";")) {
    const equals = pair.indexOf("=");
    if (equals === -1) continue;
    const name = pair.slice(0, equals).trim();
    if (name === "" || name in cookies) continue;
    let value = pair.slice(equals + 1).trim();
    if (value.length >= 2 && value[0] === '"' && value.at(-1) === '"') {
      value = value.slice(1, -1);
    }
    cookies[name] = value;
  }
  return cookies;
}

/**
 * The cookies of a request: {@linkcode parseCookies} over `HTTP_COOKIE`.
 *
 * @param environ The request's environ.
 * @returns The cookies by name.
 *
 * @example Read a cookie in an app
 * ```ts
 * import { getCookies } from "@tsgi/tsgi/cookies";
 * import type { App } from "@tsgi/tsgi";
 * const app: App = (environ, startResponse) => {
 *   const theme = getCookies(environ).theme ?? "light";
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode(theme)];
 * };
 * ```
 */
export function getCookies(environ: Environ): Cookies {
  return parseCookies(environ.HTTP_COOKIE);
}

function bad(what: string, value: unknown, fix: string): TypeError {
  return new TypeError(
    `Cannot set the cookie ${what} ${
      JSON.stringify(value) ?? String(value)
    }: ${fix}`,
  );
}

/**
 * Builds a `Set-Cookie` header value, checking every part.
 *
 * The name must be a token and the value cookie-octets (no space, `"`,
 * `,`, `;` or `\`: encode others, for instance with `encodeURIComponent`).
 * `sameSite: "None"` and `partitioned` need `secure`; a `__Secure-` name
 * needs `secure`, a `__Host-` name needs `secure`, `path: "/"` and no
 * `domain` (RFC 6265bis §4.1.3). Anything else throws a TypeError naming
 * the bad value.
 *
 * @param name The cookie's name.
 * @param value The cookie's value.
 * @param attributes The cookie's attributes.
 * @returns The value of one `Set-Cookie` header.
 *
 * @example Set a session cookie
 * ```ts
 * import { setCookie } from "@tsgi/tsgi/cookies";
 * const header = setCookie("__Host-session", "abc123", {
 *   path: "/",
 *   secure: true,
 *   httpOnly: true,
 *   sameSite: "Lax",
 * });
 * console.log(header); // "__Host-session=abc123; Path=/; Secure; HttpOnly; SameSite=Lax"
 * ```
 */
export function setCookie(
  name: string,
  value: string,
  attributes: CookieAttributes = {},
): string {
  if (typeof name !== "string" || !TOKEN.test(name)) {
    throw bad(
      "name",
      name,
      "expected a token (letters, digits and !#$%&'*+-.^_`|~)",
    );
  }
  if (typeof value !== "string" || !COOKIE_VALUE.test(value)) {
    throw bad(
      "value",
      value,
      'expected cookie-octets (no space, control, ", comma, ; or \\); encode it, for instance with encodeURIComponent',
    );
  }
  const {
    domain,
    path,
    expires,
    maxAge,
    secure,
    httpOnly,
    sameSite,
    partitioned,
  } = attributes;
  let out = `${name}=${value}`;
  if (domain !== undefined) {
    if (typeof domain !== "string" || !DOMAIN.test(domain)) {
      throw bad("domain", domain, "expected a host name such as example.com");
    }
    out += `; Domain=${domain}`;
  }
  if (path !== undefined) {
    if (
      typeof path !== "string" || !path.startsWith("/") ||
      !ATTRIBUTE_VALUE.test(path)
    ) {
      throw bad(
        "path",
        path,
        "expected a path starting with / without ; or control characters",
      );
    }
    out += `; Path=${path}`;
  }
  if (expires !== undefined) {
    if (!(expires instanceof Date) || Number.isNaN(expires.getTime())) {
      throw bad("expires", expires, "expected a valid Date");
    }
    out += `; Expires=${expires.toUTCString()}`;
  }
  if (maxAge !== undefined) {
    if (!Number.isInteger(maxAge) || maxAge < 0) {
      throw bad("maxAge", maxAge, "expected a whole number of seconds >= 0");
    }
    out += `; Max-Age=${maxAge}`;
  }
  if (secure) out += "; Secure";
  if (httpOnly) out += "; HttpOnly";
  if (sameSite !== undefined) {
    if (sameSite !== "Strict" && sameSite !== "Lax" && sameSite !== "None") {
      throw bad("sameSite", sameSite, 'expected "Strict", "Lax" or "None"');
    }
    if (sameSite === "None" && !secure) {
      throw bad("sameSite", sameSite, "SameSite=None needs secure: true");
    }
    out += `; SameSite=${sameSite}`;
  }
  if (partitioned) {
    if (!secure) {
      throw bad("partitioned", partitioned, "Partitioned needs secure: true");
    }
    out += "; Partitioned";
  }
  const lower = name.toLowerCase();
  if (lower.startsWith("__secure-") && !secure) {
    throw bad("name", name, "a __Secure- cookie needs secure: true");
  }
  if (lower.startsWith("__host-")) {
    if (!secure || path !== "/" || domain !== undefined) {
      throw bad(
        "name",
        name,
        'a __Host- cookie needs secure: true, path: "/" and no domain',
      );
    }
  }
  return out;
}

/**
 * A `Set-Cookie` value that deletes a cookie: empty, `Max-Age=0` and an
 * `Expires` in the past. Give the `path` and `domain` it was set with.
 *
 * @param name The cookie's name.
 * @param attributes The attributes it was set with (path, domain, secure…).
 * @returns The value of one `Set-Cookie` header.
 *
 * @example Log out
 * ```ts
 * import { deleteCookie } from "@tsgi/tsgi/cookies";
 * console.log(deleteCookie("session", { path: "/" }));
 * // "session=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0"
 * ```
 */
export function deleteCookie(
  name: string,
  attributes: Omit<CookieAttributes, "expires" | "maxAge"> = {},
): string {
  return setCookie(name, "", {
    ...attributes,
    expires: new Date(0),
    maxAge: 0,
  });
}

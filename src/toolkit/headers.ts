/**
 * wsgiref.headers for tsgi: edit a `[name, value][]` header list by name,
 * in place, so the same array can be handed to `start_response`.
 *
 * @module
 */

import {
  checkHeaderName,
  checkHeaderValue,
  show,
} from "../gateway/_response_rules.ts";
import type { Header } from "../types.ts";

const PARAM_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Non-ASCII goes out as RFC 8187; control characters stay and are refused.
const NOT_ASCII = /[\u0080-\uffff]/;

/** A parameter value for {@linkcode HeaderList.add}: `true` or `null` for a bare flag. */
export type HeaderParam = string | true | null;

function formatParam(name: string, value: HeaderParam): string {
  if (!PARAM_NAME.test(name)) {
    throw new TypeError(
      `Cannot use header parameter name ${show(name)}: expected an HTTP token`,
    );
  }
  // wsgiref's _formatparam: an empty value is a bare flag too.
  if (value === null || value === true || value === "") return name;
  if (typeof value !== "string") {
    throw new TypeError(
      `Cannot use header parameter ${show(name)} value ${
        show(value)
      }: expected a string, true or null`,
    );
  }
  if (NOT_ASCII.test(value)) {
    // RFC 8187 (ext-value): UTF-8, percent-encoded, e.g. a non-ASCII filename.
    const encoded = encodeURIComponent(value).replace(
      /['()*]/g,
      (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase(),
    );
    return `${name}*=UTF-8''${encoded}`;
  }
  // wsgiref's add_header quotes every value (_formatparam with quote=1).
  return `${name}="${value.replace(/[\\"]/g, "\\$&")}"`;
}

/**
 * A case-insensitive view of a `[name, value][]` header list that edits the
 * list in place (wsgiref's `Headers`). Names and values added through it
 * are checked as the gateway checks them: names must be HTTP tokens and not
 * hop-by-hop, values may hold no control character (TAB aside) and only
 * code points up to U+00FF.
 *
 * `get` returns the first value, as wsgiref does, not the comma-joined
 * list the Fetch `Headers.get` gives: joining is wrong for `Set-Cookie`.
 * Use `getAll` for every value.
 *
 * @example Build headers and start the response
 * ```ts
 * import { HeaderList, type App } from "@tsgi/tsgi";
 * const app: App = (_environ, startResponse) => {
 *   const headers = new HeaderList();
 *   headers.set("Content-Type", "text/csv");
 *   headers.add("Content-Disposition", "attachment", { filename: "report 1.csv" });
 *   headers.setDefault("Cache-Control", "no-store");
 *   startResponse("200 OK", headers.list);
 *   return [new TextEncoder().encode("a,b\n")];
 * };
 * ```
 */
export class HeaderList implements Iterable<Header> {
  /** The list being edited; hand it to `start_response`. */
  readonly list: Header[];

  /**
   * Wraps a header list (a new empty one by default). Entries already in
   * it are not checked, so a list may be cleaned of bad headers with it.
   *
   * @param list The array to edit in place.
   */
  constructor(list: Header[] = []) {
    if (!Array.isArray(list)) {
      throw new TypeError(
        `Cannot wrap ${
          show(list)
        } as a header list: expected an array of [name, value]`,
      );
    }
    this.list = list;
  }

  /** The number of entries, counting repeated names. */
  get size(): number {
    return this.list.length;
  }

  /**
   * The first value of a header.
   *
   * @param name The header name, in any case.
   * @returns The value, or `undefined` when there is none.
   */
  get(name: string): string | undefined {
    const lower = name.toLowerCase();
    for (const [key, value] of this.list) {
      if (key.toLowerCase() === lower) return value;
    }
    return undefined;
  }

  /**
   * Every value of a header, in list order.
   *
   * @param name The header name, in any case.
   * @returns The values; empty when there are none.
   */
  getAll(name: string): string[] {
    const lower = name.toLowerCase();
    const values: string[] = [];
    for (const [key, value] of this.list) {
      if (key.toLowerCase() === lower) values.push(value);
    }
    return values;
  }

  /**
   * Whether the header is present.
   *
   * @param name The header name, in any case.
   * @returns True when at least one entry has that name.
   */
  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /**
   * Sets a header to one value: the first entry with the name keeps its
   * place and takes the value, any others are removed; with no entry, one
   * is appended.
   *
   * @param name The header name.
   * @param value The value.
   * @returns This list, for chaining.
   */
  set(name: string, value: string): this {
    checkHeaderName(name);
    checkHeaderValue(name, value);
    const lower = name.toLowerCase();
    let found = false;
    const list = this.list;
    let write = 0;
    for (let read = 0; read < list.length; read++) {
      const entry = list[read];
      if (entry[0].toLowerCase() === lower) {
        if (found) continue;
        found = true;
        list[write++] = [name, value];
      } else {
        list[write++] = entry;
      }
    }
    list.length = write;
    if (!found) list.push([name, value]);
    return this;
  }

  /**
   * Removes every entry with the name; no error when there is none.
   *
   * @param name The header name, in any case.
   * @returns How many entries were removed.
   */
  delete(name: string): number {
    const lower = name.toLowerCase();
    const list = this.list;
    let write = 0;
    for (let read = 0; read < list.length; read++) {
      if (list[read][0].toLowerCase() !== lower) list[write++] = list[read];
    }
    const removed = list.length - write;
    list.length = write;
    return removed;
  }

  /**
   * Appends an entry, keeping the others (`Set-Cookie`, `Vary`, …), with
   * optional parameters as wsgiref's `add_header` writes them: every value
   * quoted (`\` and `"` escaped), `true`, `null` or `""` a bare flag. Two
   * differences: a value outside printable ASCII is written as RFC 8187
   * `name*=UTF-8''…`, and parameter names are used as given (`max-age`
   * can be spelled in an object key, so `_` is not turned into `-`).
   *
   * @param name The header name.
   * @param value The main value; `null` for parameters only.
   * @param params Parameters, in order.
   * @returns This list, for chaining.
   *
   * @example A download with a file name
   * ```ts
   * import { HeaderList } from "@tsgi/tsgi";
   * const headers = new HeaderList();
   * headers.add("Content-Disposition", "attachment", { filename: "bud.gif" });
   * headers.add("Content-Disposition", "attachment", { filename: "résumé.pdf" });
   * console.log(headers.getAll("content-disposition"));
   * // ['attachment; filename="bud.gif"', "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"]
   * ```
   */
  add(
    name: string,
    value: string | null,
    params: Record<string, HeaderParam> = {},
  ): this {
    const parts: string[] = value === null ? [] : [value];
    for (const [key, param] of Object.entries(params)) {
      parts.push(formatParam(key, param));
    }
    const full = parts.join("; ");
    checkHeaderName(name);
    checkHeaderValue(name, full);
    this.list.push([name, full]);
    return this;
  }

  /**
   * Adds the header unless it is present.
   *
   * @param name The header name.
   * @param value The value to add when it is missing.
   * @returns The first value now in the list.
   */
  setDefault(name: string, value: string): string {
    const existing = this.get(name);
    if (existing !== undefined) return existing;
    this.add(name, value);
    return value;
  }

  /** The header names in list order, repeats included. */
  keys(): string[] {
    return this.list.map(([name]) => name);
  }

  /** The values in list order. */
  values(): string[] {
    return this.list.map(([, value]) => value);
  }

  /** Yields a copy of each `[name, value]` entry in list order. */
  *[Symbol.iterator](): Iterator<Header> {
    for (const [name, value] of this.list) yield [name, value];
  }

  /** The header block as HTTP writes it: `Name: value` lines, CRLF, and a blank line. */
  toString(): string {
    let out = "";
    for (const [name, value] of this.list) out += `${name}: ${value}\r\n`;
    return out + "\r\n";
  }
}

/**
 * A streaming `multipart/form-data` parser over `wsgi.input` (RFC 7578,
 * with RFC 2046's delimiter rules): file uploads of any size in bounded
 * memory, with limits on parts, headers, fields and files.
 *
 * @module
 */

import { concat as join } from "../gateway/_bytes.ts";
import type { Environ, InputStream } from "../types.ts";
import { FormLimitError, FormParseError } from "./form.ts";

/**
 * One part of a multipart body. Read `body` (or call `text()` or
 * `bytes()`) before asking for the next part; a part left unread is
 * skipped.
 *
 * @example Tell files from fields
 * ```ts
 * import type { Part } from "@tsgi/tsgi/multipart";
 * function describe(part: Part): string {
 *   return part.filename === undefined ? `field ${part.name}` : `file ${part.filename}`;
 * }
 * ```
 */
export interface Part {
  /** The form field's name, from `Content-Disposition`. */
  name: string;
  /** The file's name for a file field, as the client sent it (`filename*` wins). */
  filename?: string;
  /** The part's `Content-Type` (`text/plain` when absent, as RFC 7578 says). */
  contentType: string;
  /** Every header of the part, names lower-cased. */
  headers: [string, string][];
  /** The part's bytes, as they arrive; each chunk at most one read long. */
  body: AsyncIterable<Uint8Array>;
  /** The whole body as UTF-8 text; for fields (bounded by `maxFieldSize`). */
  text(): Promise<string>;
  /** The whole body in one array; for fields or small files. */
  bytes(): Promise<Uint8Array>;
}

/**
 * Limits of {@linkcode parseMultipart}. A body that passes one throws a
 * {@linkcode FormLimitError} naming it (answer 413); a malformed body a
 * {@linkcode FormParseError} (answer 400).
 *
 * @example Small forms, files up to 10 MiB
 * ```ts
 * import type { MultipartOptions } from "@tsgi/tsgi/multipart";
 * const options: MultipartOptions = {
 *   maxParts: 20,
 *   maxFieldSize: 64 * 1024,
 *   maxFileSize: 10 * 1024 * 1024,
 * };
 * ```
 */
export interface MultipartOptions {
  /**
   * The most bytes read from `wsgi.input` at once; memory held stays near
   * it whatever the size of the files.
   *
   * @default {65536}
   */
  chunkSize?: number;
  /**
   * The most bytes of headers one part may have.
   *
   * @default {16384}
   */
  maxHeaderSize?: number;
  /**
   * The most parts a body may have.
   *
   * @default {1000}
   */
  maxParts?: number;
  /**
   * The most bytes of a field (a part without a filename).
   *
   * @default {1048576}
   */
  maxFieldSize?: number;
  /**
   * The most bytes of one file. The gateway's `maxBodySize` bounds the
   * whole body as well.
   *
   * @default {Infinity}
   */
  maxFileSize?: number;
}

const CR = 13;
const LF = 10;
const DASH = 45;
const CRLF = Uint8Array.of(CR, LF);
const HEADERS_END = Uint8Array.of(CR, LF, CR, LF);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The boundary from a `multipart/form-data; boundary=…` content type.
 *
 * @param contentType The request's Content-Type.
 * @returns The boundary, 1 to 70 characters.
 * @throws {FormParseError} (a TypeError, status 415) for another type or no
 *   boundary.
 *
 * @example
 * ```ts
 * import { boundaryOf } from "@tsgi/tsgi/multipart";
 * console.log(boundaryOf('multipart/form-data; boundary="abc"')); // "abc"
 * ```
 */
export function boundaryOf(contentType: string | undefined): string {
  const match =
    /^multipart\/form-data\s*;(?:.*;)?\s*boundary=(?:"([^"]+)"|([^\s;]+))/i
      .exec(contentType ?? "");
  const boundary = match?.[1] ?? match?.[2];
  if (boundary === undefined || boundary.length > 70) {
    throw new FormParseError(
      `Cannot parse the form: expected multipart/form-data with a boundary of 1 to 70 characters, got ${
        JSON.stringify(contentType ?? null)
      }`,
      415,
    );
  }
  return boundary;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * Where `pattern` (which starts with CR) occurs in `buf` from `from`: its
 * index and whether all of it is there (`false`: the buffer ends inside a
 * possible match). -1 when it does not occur.
 */
function search(
  buf: Uint8Array,
  pattern: Uint8Array,
  from: number,
): [index: number, whole: boolean] {
  const n = pattern.length;
  for (let i = buf.indexOf(CR, from); i !== -1; i = buf.indexOf(CR, i + 1)) {
    let j = 1;
    while (j < n && i + j < buf.length && buf[i + j] === pattern[j]) j++;
    if (j === n) return [i, true];
    if (i + j === buf.length) return [i, false];
  }
  return [-1, false];
}

/** Decodes an RFC 8187 (RFC 5987) `ext-value`: `charset'lang'pct-encoded`. */
function extValue(value: string): string | undefined {
  const match = /^([A-Za-z0-9!#$%&+^_`{}~-]+)'[^']*'(.*)$/.exec(value);
  if (match === null) return undefined;
  const charset = match[1].toLowerCase();
  const bytes: number[] = [];
  const raw = match[2];
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === "%" && /^[0-9A-Fa-f]{2}$/.test(raw.slice(i + 1, i + 3))) {
      bytes.push(parseInt(raw.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(raw.charCodeAt(i) & 0xff);
  }
  if (charset === "utf-8") {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(
        Uint8Array.from(bytes),
      );
    } catch {
      return undefined;
    }
  }
  if (charset === "iso-8859-1") return String.fromCharCode(...bytes);
  return undefined;
}

/** The parameters of a Content-Disposition value, names lower-cased. */
function dispositionParams(value: string): Map<string, string> {
  const params = new Map<string, string>();
  const re = /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g;
  for (let m; (m = re.exec(value)) !== null;) {
    const name = m[1].toLowerCase();
    if (params.has(name)) continue;
    params.set(
      name,
      m[2] !== undefined
        // HTML's form encoding escapes `"`, CR and LF in names as %22, %0D
        // and %0A; RFC 2616-style senders backslash-escape instead.
        ? m[2].replace(/\\(["\\])/g, "$1").replace(
          /%(22|0D|0A)/gi,
          (_, hex: string) => String.fromCharCode(parseInt(hex, 16)),
        )
        : m[3].trim(),
    );
  }
  return params;
}

function parseHeaders(
  block: string,
): Omit<Part, "body" | "text" | "bytes"> {
  const headers: [string, string][] = [];
  for (const line of block.split("\r\n")) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) {
      throw new FormParseError(
        `Cannot parse the form: a part has the header line ${
          JSON.stringify(line)
        }`,
      );
    }
    headers.push([
      line.slice(0, colon).trim().toLowerCase(),
      line.slice(colon + 1).trim(),
    ]);
  }
  const disposition = headers.find(([n]) => n === "content-disposition")?.[1];
  const params = dispositionParams(disposition ?? "");
  const starred = (key: string) => {
    const ext = params.get(key + "*");
    return ext === undefined ? undefined : extValue(ext);
  };
  const name = starred("name") ?? params.get("name");
  if (!/^form-data\s*(;|$)/i.test(disposition ?? "") || name === undefined) {
    throw new FormParseError(
      `Cannot parse the form: a part lacks "Content-Disposition: form-data; name=…", got ${
        JSON.stringify(disposition ?? null)
      }`,
    );
  }
  return {
    name,
    filename: starred("filename") ?? params.get("filename"),
    contentType: headers.find(([n]) => n === "content-type")?.[1] ??
      "text/plain",
    headers,
  };
}

function positive(name: string, value: number, min: number): number {
  if (!(value >= min) || (value !== Infinity && !Number.isInteger(value))) {
    throw new RangeError(
      `Cannot parse the form with ${name} ${value}: expected an integer of at least ${min}`,
    );
  }
  return value;
}

/**
 * Parses a `multipart/form-data` request body as it streams in from
 * `wsgi.input`, yielding each part with its body as an async iterable of
 * chunks.
 *
 * Memory stays near `chunkSize`: part bodies are handed out as they are
 * read, in views of what was read, never gathered. A part's body not read
 * before the next part is asked for is skipped. A malformed body throws a
 * {@linkcode FormParseError}, a body over a limit a
 * {@linkcode FormLimitError} (both handled by `answerFormError`), and a
 * body over the gateway's `maxBodySize` the gateway's RangeError.
 *
 * @param environ The request's environ (its `wsgi.input` and
 *   `CONTENT_TYPE`), or the input stream itself.
 * @param contentType The Content-Type, when `environ` is an input stream.
 * @param options Limits.
 * @returns The parts, in order.
 *
 * @example Save each file's size, read each field
 * ```ts
 * import { parseMultipart } from "@tsgi/tsgi/multipart";
 * import { answerFormError } from "@tsgi/tsgi/form";
 * import { toFetchHandler, type App } from "@tsgi/tsgi";
 * const app: App = async (environ, startResponse) => {
 *   const seen: string[] = [];
 *   try {
 *     for await (const part of parseMultipart(environ, { maxFileSize: 1 << 20 })) {
 *       if (part.filename === undefined) seen.push(`${part.name}=${await part.text()}`);
 *       else {
 *         let size = 0;
 *         for await (const chunk of part.body) size += chunk.length;
 *         seen.push(`${part.filename}: ${size} bytes`);
 *       }
 *     }
 *   } catch (error) {
 *     return answerFormError(error, startResponse);
 *   }
 *   startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
 *   return [new TextEncoder().encode(seen.join("\n"))];
 * };
 * const form = new FormData();
 * form.append("note", "hi");
 * form.append("file", new File(["hello"], "a.txt"));
 * const response = await toFetchHandler(app)(
 *   new Request("http://localhost/", { method: "POST", body: form }),
 * );
 * console.log(await response.text()); // "note=hi\na.txt: 5 bytes"
 * ```
 */
export function parseMultipart(
  environ: Environ,
  options?: MultipartOptions,
): AsyncGenerator<Part>;
/**
 * Parses a `multipart/form-data` body from an input stream, given its
 * Content-Type; see the form taking an environ.
 *
 * @param input The body, such as `environ["wsgi.input"]`.
 * @param contentType The body's Content-Type, with its boundary.
 * @param options Limits.
 * @returns The parts, in order.
 *
 * @example Parse a body read elsewhere
 * ```ts
 * import { parseMultipart } from "@tsgi/tsgi/multipart";
 * import { BodyInput } from "@tsgi/tsgi";
 * const body = "--b\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--b--\r\n";
 * for await (const part of parseMultipart(new BodyInput(new TextEncoder().encode(body)), "multipart/form-data; boundary=b")) {
 *   console.log(part.name, await part.text()); // "a" "1"
 * }
 * ```
 */
export function parseMultipart(
  input: InputStream,
  contentType: string | undefined,
  options?: MultipartOptions,
): AsyncGenerator<Part>;
export function parseMultipart(
  source: Environ | InputStream,
  second?: string | MultipartOptions,
  third?: MultipartOptions,
): AsyncGenerator<Part> {
  if (typeof (source as InputStream).read === "function") {
    return parse(source as InputStream, second as string | undefined, third);
  }
  const environ = source as Environ;
  return parse(
    environ["wsgi.input"],
    environ.CONTENT_TYPE,
    second as MultipartOptions | undefined,
  );
}

async function* parse(
  input: InputStream,
  contentType: string | undefined,
  options: MultipartOptions = {},
): AsyncGenerator<Part> {
  const chunkSize = positive("chunkSize", options.chunkSize ?? 65536, 80);
  const maxHeaderSize = positive(
    "maxHeaderSize",
    options.maxHeaderSize ?? 16384,
    0,
  );
  const maxParts = positive("maxParts", options.maxParts ?? 1000, 0);
  const maxFieldSize = positive(
    "maxFieldSize",
    options.maxFieldSize ?? 1024 * 1024,
    0,
  );
  const maxFileSize = positive(
    "maxFileSize",
    options.maxFileSize ?? Infinity,
    0,
  );
  const delimiter = encoder.encode(`\r\n--${boundaryOf(contentType)}`);
  const truncated = () =>
    new FormParseError("Cannot parse the form: the body ended inside a part");
  // read1 answers what has arrived without waiting to fill the size asked.
  const read1 = (input as { read1?: (n: number) => Promise<Uint8Array> })
    .read1;
  const readSome = read1 === undefined
    ? (n: number) => input.read(n)
    : (n: number) => read1.call(input, n);

  // The body as if it began with CRLF, so a delimiter at its very start
  // is found as one after a line like any other.
  let buf: Uint8Array = CRLF;
  let pos = 0;
  let eof = false;
  /** Keeps what is unread and appends the next read; false at the end. */
  const fill = async (): Promise<boolean> => {
    if (eof) return false;
    const chunk = await readSome(chunkSize);
    if (chunk.length === 0) {
      eof = true;
      return false;
    }
    buf = pos < buf.length ? concat(buf.subarray(pos), chunk) : chunk;
    pos = 0;
    return true;
  };

  /**
   * What follows a whole delimiter at `at`: the index after its line
   * (`--` for the last one, optional spaces or tabs, CRLF, or the end of
   * the body after the last), "data" when it is no delimiter, or "more"
   * when the bytes held do not tell yet.
   */
  const trailer = (at: number): [number, boolean] | "data" | "more" => {
    let i = at + delimiter.length;
    let last = false;
    if (i + 1 >= buf.length) return eof && i === buf.length ? "data" : "more";
    if (buf[i] === DASH && buf[i + 1] === DASH) {
      last = true;
      i += 2;
    }
    while (i < buf.length && (buf[i] === 32 || buf[i] === 9)) {
      if (i - at > delimiter.length + 256) return "data";
      i++;
    }
    if (i === buf.length) return eof ? (last ? [i, true] : "data") : "more";
    if (buf[i] === CR) {
      if (i + 1 === buf.length) return eof ? "data" : "more";
      if (buf[i + 1] === LF) return [i + 2, last];
    }
    return "data";
  };

  /**
   * The next delimiter in the bytes held from `pos`: its index and where
   * its line ends, or [index, -1] when the buffer ends inside what may be
   * one, or [-1, -1].
   */
  const findDelimiter = (): [number, number, boolean] => {
    for (let from = pos;;) {
      const [at, whole] = search(buf, delimiter, from);
      if (at === -1) return [-1, -1, false];
      if (!whole) return [at, -1, false];
      const after = trailer(at);
      if (after === "more") return [at, -1, false];
      if (after !== "data") return [at, after[0], after[1]];
      from = at + 1;
    }
  };

  // The preamble, up to the first delimiter line.
  for (;;) {
    const [at, end, last] = findDelimiter();
    if (end !== -1) {
      if (last) return;
      pos = end;
      break;
    }
    // Nothing before a possible delimiter can be one: drop it.
    pos = at === -1 ? buf.length : at;
    if (eof) {
      throw new FormParseError(
        "Cannot parse the form: the body has no multipart delimiter",
      );
    }
    await fill();
  }

  let done = false;
  for (let count = 1; !done; count++) {
    if (count > maxParts) {
      throw new FormLimitError("maxParts", maxParts, "the form has more parts");
    }
    // The headers: lines up to a blank one.
    let head: string;
    for (;;) {
      if (buf.length - pos >= 2 && buf[pos] === CR && buf[pos + 1] === LF) {
        head = "";
        pos += 2;
        break;
      }
      const [at, whole] = search(buf, HEADERS_END, pos);
      if (whole && at - pos <= maxHeaderSize) {
        head = decoder.decode(buf.subarray(pos, at));
        pos = at + 4;
        break;
      }
      if ((whole ? at : buf.length) - pos > maxHeaderSize) {
        throw new FormLimitError(
          "maxHeaderSize",
          maxHeaderSize,
          `part ${count}'s headers are longer`,
        );
      }
      if (eof) throw truncated();
      await fill();
    }
    const info = parseHeaders(head);
    const isFile = info.filename !== undefined;
    const limit = isFile ? maxFileSize : maxFieldSize;
    let size = 0;
    let finished = false;
    /** The next piece of this part's body; undefined at its end. */
    const next = async (): Promise<Uint8Array | undefined> => {
      while (!finished) {
        const [at, end, last] = findDelimiter();
        let out: Uint8Array | undefined;
        const stop = at === -1 ? buf.length : at;
        // The bytes held back at the end of a read (a possible delimiter)
        // come back in front of the next read; a chunk stops one read long
        // so that they never make it longer, and the rest goes next time.
        if (stop > pos) {
          out = buf.subarray(pos, Math.min(stop, pos + chunkSize));
        } else if (end !== -1) {
          pos = end;
          finished = true;
          done = last;
          return undefined;
        }
        if (out !== undefined) {
          pos += out.length;
          size += out.length;
          if (size > limit) {
            throw new FormLimitError(
              isFile ? "maxFileSize" : "maxFieldSize",
              limit,
              isFile
                ? `the file ${JSON.stringify(info.filename)} is larger`
                : `the field ${JSON.stringify(info.name)} is larger`,
            );
          }
          return out;
        }
        if (eof) throw truncated();
        await fill();
      }
      return undefined;
    };
    const body: AsyncIterable<Uint8Array> = {
      async *[Symbol.asyncIterator]() {
        for (let chunk; (chunk = await next()) !== undefined;) yield chunk;
      },
    };
    const bytes = async (): Promise<Uint8Array> => {
      const chunks: Uint8Array[] = [];
      let total = 0;
      for (let chunk; (chunk = await next()) !== undefined;) {
        chunks.push(chunk);
        total += chunk.length;
      }
      return join(chunks, total);
    };
    yield {
      ...info,
      body,
      bytes,
      text: async () => decoder.decode(await bytes()),
    };
    // The caller may have left the body unread: skip the rest of it.
    while (await next() !== undefined) { /* skip */ }
  }
}

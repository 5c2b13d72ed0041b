/**
 * Static files: an app that serves a directory with validators (ETag,
 * Last-Modified), conditional requests, byte ranges, precompressed
 * variants and index files, streaming from disk in bounded memory.
 *
 * @module
 */

import { negotiateEncoding } from "../middleware/compress.ts";
import { wrapFile } from "../gateway/file_wrapper.ts";
import { notFound } from "./_responses.ts";
import type {
  App,
  AppIterable,
  Environ,
  Header,
  StartResponse,
} from "../types.ts";
// The default file system is the runtime's. _fs.ts loads node:fs (which
// Deno and Bun provide too) only on the first request, so a Worker that
// passes its own `fs`, or never serves a file, never loads it.
// layout-check: allowed
import { nodeFileSystem } from "../runtime/_fs.ts";

/** What staticFiles() learns about a file. */
export interface FileStat {
  /** A regular file. */
  isFile: boolean;
  /** A directory. */
  isDirectory: boolean;
  /** Its size in bytes. */
  size: number;
  /** Its modification time, in milliseconds since the epoch. */
  mtimeMs: number;
}

/** The file access staticFiles() needs. */
export interface StaticFileSystem {
  /** The file at `path`, following symlinks; undefined when there is none. */
  stat(path: string): Promise<FileStat | undefined>;
  /** `path` with every symlink resolved. */
  realPath(path: string): Promise<string>;
  /** The bytes `start` to `end` (exclusive) of the file at `path`. */
  open(
    path: string,
    start: number,
    end: number,
  ): Promise<Blob | ReadableStream<Uint8Array>>;
}

/**
 * Options of {@linkcode staticFiles}.
 *
 * @example Long-lived caching for hashed names
 * ```ts
 * import type { StaticFilesOptions } from "@tsgi/tsgi/static-files";
 * const options: StaticFilesOptions = {
 *   maxAge: 60,
 *   immutable: /\.[0-9a-f]{8,}\.(js|css|woff2)$/,
 *   index: ["index.html"],
 * };
 * ```
 */
export interface StaticFilesOptions {
  /**
   * Seconds a cache may keep a file without asking again:
   * `Cache-Control: public, max-age=N`. Without it, `no-cache` (caches
   * revalidate every time, which the ETag makes cheap).
   */
  maxAge?: number;
  /**
   * Files whose names change when their content does (`app.3f9a1c.js`):
   * `Cache-Control: public, max-age=31536000, immutable`. Tested on the
   * path below the root, such as `/assets/app.3f9a1c.js`.
   */
  immutable?: RegExp | ((path: string) => boolean);
  /**
   * The files served for a directory, in order.
   *
   * @default {["index.html"]}
   */
  index?: string[];
  /**
   * Serve `.br` and `.gz` siblings (`app.js.br`) to clients that accept
   * them, with `Content-Encoding` and `Vary: Accept-Encoding`.
   *
   * @default {true}
   */
  precompressed?: boolean;
  /**
   * Serve names with a segment starting with `.` (`.env`, `.git/…`).
   *
   * @default {false}
   */
  dotfiles?: boolean;
  /**
   * Serve files reached through symlinks that lead outside the root.
   *
   * @default {false}
   */
  followSymlinks?: boolean;
  /** Answers what is not found; a plain 404 by default. */
  fallback?: App;
  /**
   * Content types by extension (lower-case, without the dot), added to
   * and overriding the built-in table.
   */
  types?: Record<string, string>;
  /**
   * The file access. By default node:fs (Deno, Bun and Node all have it),
   * loaded at the first request.
   */
  fs?: StaticFileSystem;
  /**
   * The most ranges one request may ask for; more are answered with the
   * whole file.
   *
   * @default {16}
   */
  maxRanges?: number;
}

const TEXT = "; charset=utf-8";
const TYPES: Record<string, string> = {
  html: "text/html" + TEXT,
  htm: "text/html" + TEXT,
  css: "text/css" + TEXT,
  js: "text/javascript" + TEXT,
  mjs: "text/javascript" + TEXT,
  cjs: "text/javascript" + TEXT,
  json: "application/json" + TEXT,
  map: "application/json" + TEXT,
  webmanifest: "application/manifest+json" + TEXT,
  txt: "text/plain" + TEXT,
  md: "text/markdown" + TEXT,
  csv: "text/csv" + TEXT,
  xml: "application/xml" + TEXT,
  svg: "image/svg+xml" + TEXT,
  ts: "text/typescript" + TEXT,
  wasm: "application/wasm",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  avif: "image/avif",
  ico: "image/vnd.microsoft.icon",
  bmp: "image/bmp",
  woff: "font/woff",
  woff2: "font/woff2",
  ttf: "font/ttf",
  otf: "font/otf",
  mp3: "audio/mpeg",
  ogg: "audio/ogg",
  wav: "audio/wav",
  mp4: "video/mp4",
  webm: "video/webm",
  pdf: "application/pdf",
  zip: "application/zip",
  gz: "application/gzip",
  tar: "application/x-tar",
};
const DEFAULT_TYPE = "application/octet-stream";

const encoder = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { fatal: true });

function plain(
  startResponse: StartResponse,
  status: string,
  extra: Header[] = [],
): AppIterable {
  const body = encoder.encode(status + "\n");
  startResponse(status, [
    ["Content-Type", "text/plain; charset=utf-8"],
    ["Content-Length", String(body.length)],
    ...extra,
  ]);
  return [body];
}

/**
 * The path below the root as a list of segments, or a status: 400 for
 * what may be an escape (`..`, a backslash, NUL, an encoded `/`), 404 for
 * dotfiles when they are hidden.
 */
function segmentsOf(
  environ: Environ,
  dotfiles: boolean,
): string[] | 400 | 404 {
  const uri = environ.REQUEST_URI ?? "";
  const rawPath = uri.split("?")[0];
  if (/%(2f|5c|00)/i.test(rawPath)) return 400;
  let path: string;
  try {
    // PATH_INFO holds one char per octet; files are named in UTF-8.
    path = utf8.decode(
      Uint8Array.from(environ.PATH_INFO, (c) => c.charCodeAt(0)),
    );
  } catch {
    return 400;
  }
  if (path.includes("\\") || path.includes("\0")) return 400;
  const segments = path.split("/").filter((s) => s !== "" && s !== ".");
  for (const segment of segments) {
    if (segment === "..") return 400;
    if (!dotfiles && segment.startsWith(".")) return 404;
  }
  return segments;
}

function etagOf(stat: FileStat, suffix: string): string {
  return `"${stat.size.toString(16)}-${
    Math.floor(stat.mtimeMs).toString(16)
  }${suffix}"`;
}

/** Whether an If-None-Match / If-Match list names `etag` (weak comparison when `weak`). */
function matches(list: string, etag: string, weak: boolean): boolean {
  if (list.trim() === "*") return true;
  const bare = etag.replace(/^W\//, "");
  for (const item of list.split(",")) {
    const tag = item.trim();
    if (tag === etag) return true;
    if (weak && tag.replace(/^W\//, "") === bare) return true;
  }
  return false;
}

type Range = [start: number, end: number];

/**
 * The ranges of a `Range` header (RFC 9110 §14.2), clipped to `size`;
 * undefined when the header is not a valid byte range set (it is then
 * ignored), [] when none is satisfiable.
 */
function parseRanges(header: string, size: number): Range[] | undefined {
  const match = /^\s*bytes\s*=\s*(.+)$/i.exec(header);
  if (match === null) return undefined;
  const ranges: Range[] = [];
  for (const spec of match[1].split(",")) {
    const part = spec.trim();
    if (part === "") continue;
    const m = /^(\d*)\s*-\s*(\d*)$/.exec(part);
    if (m === null || (m[1] === "" && m[2] === "")) return undefined;
    if (m[1] === "") {
      const suffix = Number(m[2]);
      if (suffix > 0 && size > 0) {
        ranges.push([Math.max(0, size - suffix), size]);
      }
      continue;
    }
    const start = Number(m[1]);
    const last = m[2] === "" ? Infinity : Number(m[2]);
    if (last < start) return undefined;
    if (start < size) ranges.push([start, Math.min(last, size - 1) + 1]);
  }
  return ranges;
}

function cacheControl(
  options: StaticFilesOptions,
  path: string,
): string {
  const immutable = options.immutable;
  if (
    immutable !== undefined &&
    (typeof immutable === "function" ? immutable(path) : immutable.test(path))
  ) return "public, max-age=31536000, immutable";
  return options.maxAge === undefined
    ? "no-cache"
    : `public, max-age=${options.maxAge}`;
}

/** A multipart/byteranges body: each range with its own headers. */
async function* byteranges(
  fs: StaticFileSystem,
  path: string,
  ranges: Range[],
  parts: Uint8Array[],
  closing: Uint8Array,
): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < ranges.length; i++) {
    yield parts[i];
    const source = await fs.open(path, ranges[i][0], ranges[i][1]);
    const stream = source instanceof Blob ? source.stream() : source;
    const reader = stream.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        yield value;
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
  }
  yield closing;
}

/**
 * An app that serves the files under `root` (GET and HEAD).
 *
 * - **Validators:** a strong `ETag` made of the file's size and
 *   modification time (in milliseconds, as nginx does; a change that keeps
 *   both keeps the tag) and `Last-Modified`. `If-None-Match` and
 *   `If-Modified-Since` answer 304; `If-Match` and `If-Unmodified-Since`
 *   412.
 * - **Ranges:** `Range: bytes=…` answers 206 with `Content-Range`; several
 *   ranges a `multipart/byteranges` body; none satisfiable 416 with
 *   `Content-Range: bytes *\/size`. `If-Range` with a stale validator gets
 *   the whole file.
 * - **Precompressed siblings:** `app.js.br` or `app.js.gz`, when the
 *   client's Accept-Encoding allows (q-values, br preferred), with
 *   `Content-Encoding` and `Vary: Accept-Encoding`; their own ETag.
 * - **Directories:** `index.html` (see `index`); a directory asked for
 *   without its trailing slash is redirected (301) to it.
 * - **Safety:** `..` segments, backslashes, NUL and encoded `/` or `\` in
 *   the path answer 400; dotfiles and files whose real path leaves the
 *   root (symlinks) 404 unless allowed. Other methods answer 405 with
 *   `Allow: GET, HEAD`.
 * - **Streaming:** the body goes out through `wsgi.file_wrapper`, so the
 *   gateway hands the file to the runtime as a Blob or a stream; memory
 *   stays at one read (256 KiB) whatever the size.
 *
 * Files are read through node:fs, which Deno, Bun and Node provide,
 * loaded at the first request. On Cloudflare Workers there is no file
 * system: the platform serves assets itself (Workers Static Assets, the
 * `[assets]` section of wrangler.toml) before the Worker runs; pass
 * `options.fs` to serve from elsewhere.
 *
 * @param root The directory to serve.
 * @param options Caching, index files, precompressed variants, safety.
 * @returns The app; mount it, or give it a `fallback`.
 *
 * @example Serve ./public under /static
 * ```ts ignore
 * import { mount, serve } from "@tsgi/tsgi";
 * import { staticFiles } from "@tsgi/tsgi/static-files";
 * await serve(mount({ "/static": staticFiles("./public", { maxAge: 3600 }) }));
 * ```
 *
 * @example Serve files from memory (any `fs`)
 * ```ts
 * import { staticFiles } from "@tsgi/tsgi/static-files";
 * import { toFetchHandler } from "@tsgi/tsgi";
 * const files: Record<string, string> = { "/site/hello.txt": "hello" };
 * const app = staticFiles("/site", {
 *   fs: {
 *     stat: (path) => Promise.resolve(path in files
 *       ? { isFile: true, isDirectory: false, size: files[path].length, mtimeMs: 0 }
 *       : path === "/site" ? { isFile: false, isDirectory: true, size: 0, mtimeMs: 0 } : undefined),
 *     realPath: (path) => Promise.resolve(path),
 *     open: (path, start, end) => Promise.resolve(new Blob([files[path]]).slice(start, end)),
 *   },
 * });
 * const response = await toFetchHandler(app)(
 *   new Request("http://localhost/hello.txt", { headers: { Range: "bytes=1-3" } }),
 * );
 * console.log(response.status, await response.text()); // 206 "ell"
 * ```
 */
export function staticFiles(
  root: string,
  options: StaticFilesOptions = {},
): App {
  if (typeof root !== "string" || root === "") {
    throw new TypeError(
      `Cannot serve static files from ${
        JSON.stringify(root)
      }: expected a directory path`,
    );
  }
  const maxRanges = options.maxRanges ?? 16;
  const index = options.index ?? ["index.html"];
  const types = { ...TYPES, ...options.types };
  const precompressed = options.precompressed ?? true;
  const dotfiles = options.dotfiles ?? false;
  const fallback = options.fallback ?? notFound;
  const trimmedRoot = root.length > 1 ? root.replace(/\/+$/, "") : root;
  let ready: Promise<[StaticFileSystem, string]> | undefined;
  const setup = () =>
    ready ??= (async (): Promise<[StaticFileSystem, string]> => {
      // Bun's openAsBlob is file-backed and sent with sendfile; Deno's
      // reads the whole file into memory, so there (and on Node) a stream
      // over a file handle is used instead.
      const fs = options.fs ??
        await nodeFileSystem(
          (globalThis.navigator?.userAgent ?? "").startsWith("Bun/"),
        );
      return [fs, await fs.realPath(trimmedRoot)];
    })();

  return async (environ, startResponse) => {
    const method = environ.REQUEST_METHOD;
    if (method !== "GET" && method !== "HEAD") {
      return plain(startResponse, "405 Method Not Allowed", [[
        "Allow",
        "GET, HEAD",
      ]]);
    }
    const segments = segmentsOf(environ, dotfiles);
    if (segments === 400) return plain(startResponse, "400 Bad Request");
    if (segments === 404) return fallback(environ, startResponse);
    const [fs, realRoot] = await setup();
    const relative = "/" + segments.join("/");
    let path = trimmedRoot + (segments.length ? relative : "");
    let stat = await fs.stat(path);
    if (stat === undefined) return fallback(environ, startResponse);
    let served = relative;
    if (stat.isDirectory) {
      if (!environ.PATH_INFO.endsWith("/")) {
        // Relative to the directory's own name, so it works behind any mount.
        const name = segments.at(-1);
        const qs = environ.QUERY_STRING ? "?" + environ.QUERY_STRING : "";
        const location = name === undefined
          ? `${environ.SCRIPT_NAME}/${qs}`
          : `./${encodeURIComponent(name)}/${qs}`;
        return plain(startResponse, "301 Moved Permanently", [[
          "Location",
          location,
        ]]);
      }
      let found: FileStat | undefined;
      for (const name of index) {
        const candidate = `${path}/${name}`;
        const s = await fs.stat(candidate);
        if (s?.isFile) {
          path = candidate;
          found = s;
          served = (segments.length ? relative : "") + "/" + name;
          break;
        }
      }
      if (found === undefined) return fallback(environ, startResponse);
      stat = found;
    }
    if (!stat.isFile) return fallback(environ, startResponse);
    if (!options.followSymlinks) {
      const real = await fs.realPath(path);
      if (
        real !== realRoot && !real.startsWith(realRoot.replace(/\/$/, "") + "/")
      ) {
        return fallback(environ, startResponse);
      }
    }

    const extension = /\.([^./]+)$/.exec(served)?.[1].toLowerCase() ?? "";
    const headers: Header[] = [
      ["Content-Type", types[extension] ?? DEFAULT_TYPE],
    ];
    // A precompressed sibling the client accepts.
    let encoding: "br" | "gzip" | undefined;
    if (precompressed) {
      const siblings: ("br" | "gzip")[] = [];
      const br = await fs.stat(path + ".br");
      if (br?.isFile) siblings.push("br");
      const gz = await fs.stat(path + ".gz");
      if (gz?.isFile) siblings.push("gzip");
      if (siblings.length > 0) {
        headers.push(["Vary", "Accept-Encoding"]);
        const chosen = negotiateEncoding(
          environ.HTTP_ACCEPT_ENCODING,
          siblings,
        ) as "br" | "gzip" | undefined;
        if (chosen !== undefined) {
          encoding = chosen;
          path += chosen === "br" ? ".br" : ".gz";
          stat = chosen === "br" ? br! : gz!;
          headers.push(["Content-Encoding", chosen]);
        }
      }
    }
    const size = stat.size;
    const etag = etagOf(stat, encoding === undefined ? "" : "-" + encoding);
    const mtime = Math.floor(stat.mtimeMs / 1000);
    const lastModified = new Date(mtime * 1000).toUTCString();
    headers.push(
      ["ETag", etag],
      ["Last-Modified", lastModified],
      ["Cache-Control", cacheControl(options, served)],
      ["Accept-Ranges", "bytes"],
    );

    // RFC 9110 §13.2.2: the preconditions, in order.
    const ifMatch = environ.HTTP_IF_MATCH;
    if (ifMatch !== undefined) {
      if (!matches(ifMatch, etag, false)) {
        return plain(startResponse, "412 Precondition Failed");
      }
    } else {
      const since = Date.parse(environ.HTTP_IF_UNMODIFIED_SINCE ?? "");
      if (!Number.isNaN(since) && mtime * 1000 > since) {
        return plain(startResponse, "412 Precondition Failed");
      }
    }
    const ifNoneMatch = environ.HTTP_IF_NONE_MATCH;
    const notModified = ifNoneMatch !== undefined
      ? matches(ifNoneMatch, etag, true)
      : mtime * 1000 <=
        Date.parse(environ.HTTP_IF_MODIFIED_SINCE ?? "invalid");
    if (notModified) {
      startResponse(
        "304 Not Modified",
        headers.filter(([name]) =>
          name !== "Content-Type" && name !== "Content-Encoding" &&
          name !== "Accept-Ranges"
        ),
      );
      return [];
    }

    let ranges: Range[] | undefined;
    const rangeHeader = environ.HTTP_RANGE;
    if (rangeHeader !== undefined && method === "GET") {
      const ifRange = environ.HTTP_IF_RANGE?.trim();
      const fresh = ifRange === undefined ||
        (ifRange.startsWith('"') || ifRange.startsWith("W/")
          ? ifRange === etag
          : Date.parse(ifRange) === mtime * 1000);
      if (fresh) ranges = parseRanges(rangeHeader, size);
      if (ranges !== undefined && ranges.length > maxRanges) {
        ranges = undefined;
      }
    }
    if (ranges !== undefined && ranges.length === 0) {
      return plain(startResponse, "416 Range Not Satisfiable", [
        ["Content-Range", `bytes */${size}`],
      ]);
    }
    const wrap = environ["wsgi.file_wrapper"] ?? wrapFile;
    if (ranges === undefined || ranges.length === 1) {
      const [start, end] = ranges?.[0] ?? [0, size];
      if (ranges !== undefined) {
        headers.push(["Content-Range", `bytes ${start}-${end - 1}/${size}`]);
      }
      headers.push(["Content-Length", String(end - start)]);
      startResponse(
        ranges === undefined ? "200 OK" : "206 Partial Content",
        headers,
      );
      if (method === "HEAD" || end === start) return [];
      return wrap(await fs.open(path, start, end));
    }
    // Several ranges: multipart/byteranges (RFC 9110 §14.6).
    const boundary = crypto.randomUUID().replaceAll("-", "");
    const type = headers[0][1];
    const parts = ranges.map(([start, end], i) =>
      encoder.encode(
        `${i === 0 ? "" : "\r\n"}--${boundary}\r\nContent-Type: ${type}\r\n` +
          `Content-Range: bytes ${start}-${end - 1}/${size}\r\n\r\n`,
      )
    );
    const closing = encoder.encode(`\r\n--${boundary}--\r\n`);
    const length = parts.reduce((n, p) => n + p.length, closing.length) +
      ranges.reduce((n, [start, end]) => n + end - start, 0);
    headers[0] = [
      "Content-Type",
      `multipart/byteranges; boundary=${boundary}`,
    ];
    headers.push(["Content-Length", String(length)]);
    startResponse("206 Partial Content", headers);
    return byteranges(fs, path, ranges, parts, closing);
  };
}

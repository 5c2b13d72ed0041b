// A streaming multipart/form-data parser over wsgi.input (RFC 7578, with
// RFC 2046's delimiter rules), used by examples/upload.ts. Copy it into an
// app that takes file uploads: memory stays bounded by one line piece
// (64 KiB by default) whatever the size of the files, because a part's body
// is handed out as it is read and never held whole.
//
// It reads with readline(n): a delimiter can only start a line, so a piece
// that does not begin a line is body bytes as it stands, and the CRLF that
// ends a line is held back until the next line shows whether it belonged to
// the body or to the delimiter after it.
import type { InputStream } from "../mod.ts";

/** One part of a multipart body; read `body` before asking for the next. */
export interface Part {
  /** The form field's name, from `Content-Disposition`. */
  name: string;
  /** The file's name for a file field, as the client sent it. */
  filename?: string;
  /** The part's `Content-Type` (`text/plain` when absent, as RFC 7578 says). */
  contentType: string;
  /** Every header of the part, names lower-cased. */
  headers: [string, string][];
  /** The part's bytes, as they arrive. */
  body: AsyncIterable<Uint8Array>;
}

/** Limits of {@linkcode parseMultipart}. */
export interface MultipartOptions {
  /** The longest piece read at once, and so the memory held. */
  chunkSize?: number;
  /** The most bytes of headers one part may have. */
  maxHeaderSize?: number;
  /** The most parts a body may have. */
  maxParts?: number;
}

const CR = 13;
const LF = 10;
const decoder = new TextDecoder();

/** The boundary from a `multipart/form-data; boundary=…` content type. */
export function boundaryOf(contentType: string | undefined): string {
  const match =
    /^multipart\/form-data\s*;(?:.*;)?\s*boundary=(?:"([^"]+)"|([^\s;]+))/i
      .exec(contentType ?? "");
  const boundary = match?.[1] ?? match?.[2];
  if (boundary === undefined || boundary.length > 70) {
    throw new TypeError(
      `Cannot parse the form: expected multipart/form-data with a boundary of 1 to 70 characters, got ${
        JSON.stringify(contentType ?? null)
      }`,
    );
  }
  return boundary;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function startsWith(line: Uint8Array, prefix: Uint8Array): boolean {
  if (line.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) {
    if (line[i] !== prefix[i]) return false;
  }
  return true;
}

/**
 * Whether `line`, which starts with the delimiter, is a delimiter line:
 * `--boundary`, then `--` for the last one, optional spaces or tabs, and
 * CRLF (or the end of the body after the last one).
 */
function delimiterKind(
  line: Uint8Array,
  delimiter: Uint8Array,
): "part" | "last" | undefined {
  let i = delimiter.length;
  let last = false;
  if (line[i] === 45 && line[i + 1] === 45) {
    last = true;
    i += 2;
  }
  while (line[i] === 32 || line[i] === 9) i++;
  if (i === line.length && last) return "last";
  if (line[i] === CR && line[i + 1] === LF && i + 2 === line.length) {
    return last ? "last" : "part";
  }
  return undefined;
}

function parseHeaders(block: string): Omit<Part, "body"> {
  const headers: [string, string][] = [];
  for (const line of block.split("\r\n")) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) {
      throw new TypeError(
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
  const param = (key: string) => {
    // Browsers send names as quoted UTF-8 with `"` escaped as %22.
    const match = new RegExp(`;\\s*${key}="((?:[^"\\\\]|\\\\.)*)"`, "i")
      .exec(disposition ?? "") ??
      new RegExp(`;\\s*${key}=([^;\\s]+)`, "i").exec(disposition ?? "");
    return match?.[1].replace(/\\(.)/g, "$1").replaceAll("%22", '"');
  };
  const name = param("name");
  if (!/^form-data\b/i.test(disposition ?? "") || name === undefined) {
    throw new TypeError(
      `Cannot parse the form: a part lacks "Content-Disposition: form-data; name=…", got ${
        JSON.stringify(disposition ?? null)
      }`,
    );
  }
  return {
    name,
    filename: param("filename"),
    contentType: headers.find(([n]) => n === "content-type")?.[1] ??
      "text/plain",
    headers,
  };
}

/**
 * Parses a `multipart/form-data` request body as it streams in, yielding
 * each part with its body as an async iterable of chunks. A part's body not
 * read before the next part is asked for is skipped. A malformed body
 * throws a TypeError (answer it 400); a body larger than the gateway's
 * `maxBodySize` throws the gateway's RangeError.
 */
export async function* parseMultipart(
  input: InputStream,
  contentType: string | undefined,
  options: MultipartOptions = {},
): AsyncGenerator<Part> {
  const {
    chunkSize = 64 * 1024,
    maxHeaderSize = 16 * 1024,
    maxParts = 1000,
  } = options;
  if (!Number.isInteger(chunkSize) || chunkSize < 80) {
    // A delimiter line (up to 70 boundary characters, dashes, CRLF) must
    // fit in one piece to be recognised.
    throw new RangeError(
      `Cannot parse the form with chunkSize ${chunkSize}: expected an integer of at least 80`,
    );
  }
  const delimiter = new TextEncoder().encode(`--${boundaryOf(contentType)}`);
  const truncated = () =>
    new TypeError("Cannot parse the form: the body ended inside a part");

  // A piece that ends in CR looks one byte ahead for the LF that would make
  // it a line; a byte that is not one waits here for the next piece.
  let ahead: number | undefined;
  /** Reads a line, or a piece of one at most `chunkSize` bytes long. */
  const readPiece = async (): Promise<Uint8Array> => {
    let line: Uint8Array;
    if (ahead === undefined) line = await input.readline(chunkSize);
    else if (ahead === LF) line = Uint8Array.of(LF);
    else {
      line = concat(Uint8Array.of(ahead), await input.readline(chunkSize - 1));
    }
    ahead = undefined;
    if (line.length > 0 && line[line.length - 1] === CR) {
      const next = await input.read(1);
      if (next[0] === LF) line = concat(line, next);
      else ahead = next[0];
    }
    return line;
  };

  // The preamble, up to the first delimiter line.
  for (let atLineStart = true;;) {
    const line = await readPiece();
    if (line.length === 0) {
      throw new TypeError(
        "Cannot parse the form: the body has no multipart delimiter",
      );
    }
    if (atLineStart && startsWith(line, delimiter)) {
      const kind = delimiterKind(line, delimiter);
      if (kind === "last") return;
      if (kind === "part") break;
    }
    atLineStart = line[line.length - 1] === LF;
  }

  let done = false;
  for (let count = 1; !done; count++) {
    if (count > maxParts) {
      throw new TypeError(
        `Cannot parse the form: it has more than ${maxParts} parts`,
      );
    }
    // The delimiter line ended in CRLF, so no byte waits in `ahead`.
    let head = "";
    for (let size = 0;;) {
      const line = await input.readline(maxHeaderSize + 1 - size);
      if (line.length === 0) throw truncated();
      head += decoder.decode(line);
      size += line.length;
      if (line.length === 2 && line[0] === CR && line[1] === LF) break;
      if (size > maxHeaderSize) {
        throw new TypeError(
          `Cannot parse the form: a part's headers exceed ${maxHeaderSize} bytes`,
        );
      }
    }
    // The blank line ending the headers does not count as the CRLF a
    // delimiter needs, so a part's first line is always body.
    let held: Uint8Array | undefined;
    let finished = false;
    /** The next piece of this part's body; undefined at its end. */
    const next = async (): Promise<Uint8Array | undefined> => {
      while (!finished) {
        const line = await readPiece();
        if (line.length === 0) throw truncated();
        if (held !== undefined && startsWith(line, delimiter)) {
          const kind = delimiterKind(line, delimiter);
          if (kind !== undefined) {
            done = kind === "last";
            finished = true;
            return undefined;
          }
        }
        const crlf = line.length >= 2 && line[line.length - 2] === CR &&
          line[line.length - 1] === LF;
        const data = crlf ? line.subarray(0, line.length - 2) : line;
        const out = held === undefined ? data : concat(held, data);
        held = crlf ? line.subarray(line.length - 2) : undefined;
        if (out.length > 0) return out;
      }
      return undefined;
    };
    const body: AsyncIterable<Uint8Array> = {
      async *[Symbol.asyncIterator]() {
        for (let chunk; (chunk = await next()) !== undefined;) yield chunk;
      },
    };
    yield { ...parseHeaders(head), body };
    // The caller may have left the body unread: skip the rest of it.
    while (await next() !== undefined) { /* skip */ }
  }
}

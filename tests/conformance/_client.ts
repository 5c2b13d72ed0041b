// Client-side tools of the conformance runner: a raw HTTP/1.1 client over
// Deno.connect for what fetch cannot express (exact request bytes, chunked
// uploads, reading a broken response, a reader that stops reading), and
// process memory read from /proc.

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const latin1 = new TextDecoder("latin1");

/** A response as it came off the socket. */
export interface RawResponse {
  status: number;
  /** Header lines in order, names lowercased; repeats kept. */
  headers: [string, string][];
  /** The body, de-chunked when it was chunked. */
  body: Uint8Array;
  /** Whether the body ended the way its framing said it would. */
  complete: boolean;
  /** The connection was reset (or closed) before a whole head arrived: status 0. */
  reset?: boolean;
}

/** The first value of a header, or null. */
export function header(response: RawResponse, name: string): string | null {
  return response.headers.find(([n]) => n === name)?.[1] ?? null;
}

/** Every value of a header. */
export function headers(response: RawResponse, name: string): string[] {
  return response.headers.filter(([n]) => n === name).map(([, v]) => v);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function indexOfCrlfCrlf(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (
      bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 &&
      bytes[i + 3] === 10
    ) return i;
  }
  return -1;
}

/** Decodes a chunked body; `complete` only when the last chunk arrived. */
function dechunk(bytes: Uint8Array): { body: Uint8Array; complete: boolean } {
  const parts: Uint8Array[] = [];
  let at = 0;
  for (;;) {
    let eol = -1;
    for (let i = at; i + 1 < bytes.length; i++) {
      if (bytes[i] === 13 && bytes[i + 1] === 10) {
        eol = i;
        break;
      }
    }
    if (eol === -1) return { body: concat(parts), complete: false };
    const size = parseInt(decoder.decode(bytes.subarray(at, eol)), 16);
    if (Number.isNaN(size)) return { body: concat(parts), complete: false };
    if (size === 0) return { body: concat(parts), complete: true };
    const start = eol + 2;
    const piece = bytes.subarray(start, Math.min(start + size, bytes.length));
    parts.push(piece);
    if (start + size + 2 > bytes.length) {
      return { body: concat(parts), complete: false };
    }
    at = start + size + 2;
  }
}

/** Where the probe's response starts: the first status line after the first head. */
function probeStart(bytes: Uint8Array): number {
  const end = indexOfCrlfCrlf(bytes);
  if (end === -1) return -1;
  const text = latin1.decode(bytes);
  return text.indexOf("HTTP/1.1 ", end + 4);
}

/** Parses a whole response read until the server closed the connection. */
export function parseResponse(bytes: Uint8Array, head: boolean): RawResponse {
  const end = indexOfCrlfCrlf(bytes);
  if (end === -1) {
    throw new Error(
      `Cannot parse a response of ${bytes.length} bytes: no end of headers`,
    );
  }
  // Header octets are latin-1 (RFC 9110 §5.5): one char per octet.
  const lines = latin1.decode(bytes.subarray(0, end)).split("\r\n");
  const status = Number(lines[0].split(" ")[1]);
  const list: [string, string][] = lines.slice(1).map((line) => {
    const colon = line.indexOf(":");
    return [
      line.slice(0, colon).trim().toLowerCase(),
      line.slice(colon + 1).trim(),
    ];
  });
  const rest = bytes.subarray(end + 4);
  const response = { status, headers: list, body: rest, complete: true };
  if (head || status === 204 || status === 304) {
    // These carry no body: whatever follows the headers is a bug to report.
    return response;
  }
  if (header(response, "transfer-encoding")?.includes("chunked")) {
    return { ...response, ...dechunk(rest) };
  }
  const length = header(response, "content-length");
  if (length !== null) {
    return { ...response, complete: rest.length === Number(length) };
  }
  return response; // framed by the close itself
}

/** A request as raw bytes: the head, then any body pieces written in turn. */
export interface RawRequest {
  method?: string;
  target: string;
  headers?: [string, string][];
  /** Written after the head, one write per piece. */
  body?: (Uint8Array | string)[];
  /**
   * Pipelines a `GET /sized` after this request on the same connection.
   * Whatever arrives between the two response heads is this response's
   * body: the way to see that a HEAD, 204 or 304 sends none, without
   * waiting for a close the server may never make.
   */
  probe?: boolean;
}

/** Builds the head of a request, adding Host (unless given), identity and (unless kept alive) Connection: close. */
export function requestHead(
  port: number,
  request: RawRequest,
  keepAlive = false,
): Uint8Array {
  const lines = [`${request.method ?? "GET"} ${request.target} HTTP/1.1`];
  const own = request.headers ?? [];
  if (!own.some(([name]) => name.toLowerCase() === "host")) {
    lines.push(`Host: 127.0.0.1:${port}`);
  }
  if (!keepAlive) lines.push("Connection: close");
  lines.push("Accept-Encoding: identity");
  for (const [name, value] of own) {
    lines.push(`${name}: ${value}`);
  }
  // One octet per char, as HTTP heads are latin-1: "\u00e9" is the octet E9.
  const text = lines.join("\r\n") + "\r\n\r\n";
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff) {
      throw new RangeError(
        `Cannot send ${
          JSON.stringify(text[i])
        } in a request head: beyond latin-1`,
      );
    }
    bytes[i] = code;
  }
  return bytes;
}

/** Encodes pieces as one chunked body (each piece one chunk). */
export function chunked(pieces: Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const piece of pieces) {
    out.push(encoder.encode(piece.length.toString(16) + "\r\n"));
    out.push(piece, encoder.encode("\r\n"));
  }
  out.push(encoder.encode("0\r\n\r\n"));
  return out;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) {
    at += await conn.write(bytes.subarray(at));
  }
}

/**
 * Sends a request on a new connection and reads until the server closes
 * it. Body pieces are written while the response is read, so a server that
 * answers early (413) is still heard; write errors after that are expected
 * and ignored.
 */
export async function raw(
  port: number,
  request: RawRequest,
  timeoutMs = 20_000,
): Promise<RawResponse> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const guard = setTimeout(() => {
    try {
      conn.close();
    } catch { /* already closed */ }
  }, timeoutMs);
  try {
    const writing = (async () => {
      await writeAll(conn, requestHead(port, request, request.probe));
      for (const piece of request.body ?? []) {
        await writeAll(
          conn,
          typeof piece === "string" ? encoder.encode(piece) : piece,
        );
      }
      if (request.probe) {
        await writeAll(conn, requestHead(port, { target: "/sized" }));
      }
    })().catch(() => {});
    const parts: Uint8Array[] = [];
    const buffer = new Uint8Array(64 * 1024);
    for (;;) {
      let n: number | null;
      try {
        n = await conn.read(buffer);
      } catch (error) {
        // A reset is how a server may break a response: report it as such.
        if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
        break;
      }
      if (n === null) break;
      parts.push(buffer.slice(0, n));
      // Stop at the end its framing gives: a server need not close the
      // connection (workerd lingers; Deno waits for an unread request body).
      const sofar = concat(parts);
      parts.length = 0;
      parts.push(sofar);
      if (request.probe) {
        const second = probeStart(sofar);
        if (
          second !== -1 && parseResponse(sofar.subarray(second), false).complete
        ) break;
      } else if (indexOfCrlfCrlf(sofar) !== -1) {
        const response = parseResponse(sofar, request.method === "HEAD");
        const framed = response.status < 200 || response.status === 204 ||
          response.status === 304 || request.method === "HEAD" ||
          header(response, "content-length") !== null ||
          header(response, "transfer-encoding") !== null;
        if (framed && response.complete) break;
      }
    }
    await writing;
    const bytes = concat(parts);
    if (request.probe) {
      const second = probeStart(bytes);
      if (second === -1) {
        throw new Error("No response to the pipelined probe request");
      }
      // Parsed as a HEAD response: everything after its head is kept.
      return parseResponse(bytes.subarray(0, second), true);
    }
    if (indexOfCrlfCrlf(bytes) === -1) {
      return {
        status: 0,
        headers: [],
        body: bytes,
        complete: false,
        reset: true,
      };
    }
    return parseResponse(bytes, request.method === "HEAD");
  } finally {
    clearTimeout(guard);
    try {
      conn.close();
    } catch { /* closed by the guard or the peer */ }
  }
}

/** Resident memory of a process and all its descendants, in bytes. */
export async function treeRss(pid: number): Promise<number> {
  const children = new Map<number, number[]>();
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`);
      // The comm field may hold spaces; the ppid follows its closing paren.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry.name));
      children.set(ppid, list);
    } catch { /* the process ended while we looked */ }
  }
  let total = 0;
  const queue = [pid];
  while (queue.length) {
    const p = queue.pop()!;
    try {
      const status = await Deno.readTextFile(`/proc/${p}/status`);
      const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
      total += kb * 1024;
    } catch { /* gone */ }
    queue.push(...(children.get(p) ?? []));
  }
  return total;
}

// The one tsgi app every runtime serves in the conformance suite. It routes
// on PATH_INFO; each route exists for one or more cases in cases.ts. It
// imports only the gateway's contract, so the same source is served by
// Deno, Bun, workerd (bundled) and Node (from the npm build).
//
// Per-process state (streams produced, close() calls) is kept in module
// scope and read back over HTTP through /stats, so a case can check what
// the server saw without sharing memory with it.

import type { App, AppIterable, Environ, GatewayOptions } from "../../mod.ts";

const encoder = new TextEncoder();

/** The options every runtime's server passes to `toFetchHandler`. */
export const fixtureOptions: GatewayOptions = {
  // Small enough to reach with a raw-socket upload, large enough that the
  // upload cases stay under it.
  maxBodySize: 1024 * 1024,
};

/** Size of every chunk the download routes yield. */
export const CHUNK_SIZE = 64 * 1024;

/** What /stats reports about one streamed response. */
export interface StreamStats {
  /** Bytes the app's iterable had produced. */
  produced: number;
  /** How many times the result's close() ran. */
  closed: number;
}

const streams = new Map<string, StreamStats>();

// The download pattern: byte i of every chunk is i & 0xff, so a client can
// check content without the server holding more than one chunk.
const PATTERN = new Uint8Array(CHUNK_SIZE).map((_, i) => i & 0xff);

function json(
  startResponse: Parameters<App>[1],
  value: unknown,
  status = "200 OK",
): Uint8Array[] {
  const body = encoder.encode(JSON.stringify(value));
  startResponse(status, [
    ["Content-Type", "application/json"],
    ["Content-Length", String(body.length)],
  ]);
  return [body];
}

function param(environ: Environ, name: string): string | undefined {
  for (const pair of environ.QUERY_STRING.split("&")) {
    const eq = pair.indexOf("=");
    if (eq !== -1 && pair.slice(0, eq) === name) return pair.slice(eq + 1);
  }
  return undefined;
}

/** FNV-1a over bytes: the upload cases compare it with the client's. */
export function checksum(bytes: Uint8Array, seed = 0x811c9dc5): number {
  let hash = seed;
  for (let i = 0; i < bytes.length; i++) {
    hash = Math.imul(hash ^ bytes[i], 0x01000193) >>> 0;
  }
  return hash;
}

/** Memory of this process, where the runtime can tell it. */
function memory(): { rss: number; heapUsed: number } | null {
  const g = globalThis as {
    Deno?: { memoryUsage(): { rss: number; heapUsed: number } };
    process?: { memoryUsage?(): { rss: number; heapUsed: number } };
  };
  const usage = g.Deno?.memoryUsage() ?? g.process?.memoryUsage?.();
  return usage ? { rss: usage.rss, heapUsed: usage.heapUsed } : null;
}

/** A body of `total` pattern bytes, counted into `stats` as it is pulled. */
function pattern(total: number, stats?: StreamStats): AppIterable {
  function* chunks(): Generator<Uint8Array> {
    let left = total;
    while (left > 0) {
      const chunk = left >= CHUNK_SIZE ? PATTERN : PATTERN.subarray(0, left);
      left -= chunk.length;
      if (stats) stats.produced += chunk.length;
      yield chunk;
    }
  }
  const iterator = chunks();
  return {
    [Symbol.iterator]: () => iterator,
    close() {
      if (stats) stats.closed++;
    },
  };
}

const digits = encoder.encode("0123456789");

/** The fixture application. */
export const app: App = async (environ, startResponse) => {
  const path = environ.PATH_INFO;
  switch (path) {
    case "/echo": {
      const body = await environ["wsgi.input"].read();
      const http: Record<string, string> = {};
      for (const key of Object.keys(environ)) {
        if (key.startsWith("HTTP_")) http[key] = environ[key] as string;
      }
      return json(startResponse, {
        method: environ.REQUEST_METHOD,
        path: environ.PATH_INFO,
        query: environ.QUERY_STRING,
        uri: environ.REQUEST_URI,
        contentType: environ.CONTENT_TYPE ?? null,
        contentLength: environ.CONTENT_LENGTH ?? null,
        remoteAddr: environ.REMOTE_ADDR ?? null,
        serverName: environ.SERVER_NAME,
        serverPort: environ.SERVER_PORT,
        scheme: environ["wsgi.url_scheme"],
        http,
        body: new TextDecoder().decode(body),
      });
    }
    case "/cookies":
      startResponse("200 OK", [
        ["Content-Type", "text/plain"],
        ["Set-Cookie", "a=1; Path=/"],
        ["Set-Cookie", "b=2; Path=/; HttpOnly"],
      ]);
      return [encoder.encode("two cookies\n")];
    case "/latin1":
      // PEP 3333 header values are latin-1 strings: "\u00e9" is the octet 0xE9.
      startResponse("200 OK", [
        ["Content-Type", "text/plain"],
        ["X-Latin1", "caf\u00e9"],
      ]);
      return [encoder.encode("latin-1 header\n")];
    case "/upload/readline": {
      const input = environ["wsgi.input"];
      const lengths: number[] = [];
      let sum = 0x811c9dc5;
      for (let line = await input.readline(); line.length;) {
        lengths.push(line.length);
        sum = checksum(line, sum);
        line = await input.readline();
      }
      return json(startResponse, { lengths, checksum: sum });
    }
    case "/upload/read": {
      const input = environ["wsgi.input"];
      const size = Number(param(environ, "n") ?? 1000);
      const lengths: number[] = [];
      let sum = 0x811c9dc5;
      for (let chunk = await input.read(size); chunk.length;) {
        lengths.push(chunk.length);
        sum = checksum(chunk, sum);
        chunk = await input.read(size);
      }
      return json(startResponse, { lengths, checksum: sum });
    }
    case "/download": {
      const total = Number(param(environ, "bytes") ?? CHUNK_SIZE);
      startResponse("200 OK", [["Content-Type", "application/octet-stream"]]);
      return pattern(total);
    }
    case "/stream": {
      // A long body whose production and close() are observable via /stats.
      const id = param(environ, "id") ?? "";
      const stats: StreamStats = { produced: 0, closed: 0 };
      streams.set(id, stats);
      startResponse("200 OK", [["Content-Type", "application/octet-stream"]]);
      return pattern(
        Number(param(environ, "bytes") ?? 256 * 1024 * 1024),
        stats,
      );
    }
    case "/stats": {
      const stats = streams.get(param(environ, "id") ?? "");
      return json(
        startResponse,
        stats ?? null,
        stats ? "200 OK" : "404 Not Found",
      );
    }
    case "/memory":
      return json(startResponse, memory());
    case "/sized":
      if (param(environ, "stream") === "1") {
        startResponse("200 OK", [
          ["Content-Type", "text/plain"],
          ["Content-Length", "10"],
        ]);
        return (function* () {
          yield digits.subarray(0, 4);
          yield digits.subarray(4);
        })();
      }
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      return [digits];
    case "/status/204":
      startResponse("204 No Content", [["X-Case", "204"]]);
      return [];
    case "/status/304":
      // The app wrongly sends a body; the gateway must not.
      startResponse("304 Not Modified", [["ETag", '"v1"']]);
      return [encoder.encode("not for the wire")];
    case "/cl/long":
    case "/cl/short": {
      const declared = path === "/cl/long" ? "5" : "10";
      const sent = path === "/cl/long" ? digits : digits.subarray(0, 5);
      startResponse("200 OK", [
        ["Content-Type", "text/plain"],
        ["Content-Length", declared],
      ]);
      if (param(environ, "stream") !== "1") return [sent];
      return (function* () {
        yield sent.subarray(0, 3);
        yield sent.subarray(3);
      })();
    }
    case "/error/before":
      throw new Error("secret detail: token=hunter2");
    case "/error/after":
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      return (function* () {
        yield encoder.encode("first chunk\n");
        throw new Error("secret detail: token=hunter2");
      })();
    case "/limited": {
      const body = await environ["wsgi.input"].read();
      return json(startResponse, { length: body.length });
    }
    default:
      startResponse("404 Not Found", [["Content-Type", "text/plain"]]);
      return [encoder.encode(`no route ${JSON.stringify(path)}\n`)];
  }
};

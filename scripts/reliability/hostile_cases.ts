// Hostile HTTP/1.1 requests, sent as raw bytes over TCP, and what a safe
// server must do with each. Shared by tests/e2e/hostile_requests_test.ts (Deno,
// in-process) and scripts/reliability/hostile_requests.ts (every runtime).
//
// The server under test serves the fixture app (fixture_app.ts) with
// maxBodySize 1024.

/** Cases each runtime is known to get wrong before tsgi sees the request. */
export const KNOWN_GAPS: Record<"deno" | "bun" | "node", string[]> = {
  // Deno builds Request.url from the Host header as sent.
  deno: ["Host with a path"],
  bun: [],
  // serve() on Node refuses the HTTP/0.9 that llhttp makes of a request
  // line cut at a bare LF.
  node: [],
};

/** What came back for one raw request. */
export interface RawResult {
  /** The status code, or 0 when the server closed without answering. */
  status: number;
  /** The whole response as latin-1 text. */
  text: string;
  /** The parsed JSON body of /environ answers. */
  environ?: Record<string, string>;
}

/** One hostile request. */
export interface HostileCase {
  name: string;
  request: string;
  /**
   * Judges the answer: "ok: …" says what happened and that it is safe;
   * anything else is a failure. A known runtime gap starts "gap: ".
   */
  judge(result: RawResult): string;
}

/** The largest body the server under test accepts. */
export const MAX_BODY_SIZE = 1024;

const CLOSE = "Connection: close\r\n";
const HOST = "Host: localhost\r\n";

function bodyOf(result: RawResult): string {
  const at = result.text.indexOf("\r\n\r\n");
  return at === -1 ? "" : result.text.slice(at + 4);
}

/** Who answered: the runtime itself, tsgi's gateway, or the app. */
export function answeredBy(result: RawResult): "runtime" | "tsgi" | "app" {
  if (result.status === 0) return "runtime";
  const body = bodyOf(result);
  if (/^\d{3} [A-Za-z ]+\n$/.test(body)) return "tsgi";
  return body === "" ? "runtime" : "app";
}

function rejected(result: RawResult, what = "rejected"): string {
  if (result.status === 0) return `ok: closed by the runtime (${what})`;
  const by = answeredBy(result);
  if (by === "app") {
    return `reached the app: ${result.status} ${
      JSON.stringify(bodyOf(result))
    }`;
  }
  if (result.status >= 400) return `ok: ${result.status} from ${by} (${what})`;
  return `expected a rejection, got ${result.status}`;
}

/** The cases: each request ends with Connection: close. */
export const CASES: HostileCase[] = [
  {
    name: "malformed percent-escapes",
    request:
      `GET /environ/%zz%2/%%41%C3%A9?q=%zz HTTP/1.1\r\n${HOST}${CLOSE}\r\n`,
    judge(r) {
      if (r.status !== 200) return rejected(r, "refused the target");
      const path = r.environ?.PATH_INFO;
      // Kept as they are, as wsgiref's unquote keeps them; valid ones decode
      // octet by octet (latin-1).
      return path === "/environ/%zz%2/%A\u00c3\u00a9" &&
          r.environ?.QUERY_STRING === "q=%zz"
        ? "ok: 200, malformed escapes kept literally, valid ones decoded as latin-1"
        : `PATH_INFO ${JSON.stringify(path)}`;
    },
  },
  {
    name: "64 KiB header value",
    request: `GET /small HTTP/1.1\r\n${HOST}X-Big: ${
      "a".repeat(65536)
    }\r\n${CLOSE}\r\n`,
    judge: (r) => rejected(r, "headers too large"),
  },
  {
    name: "2,000 headers (64 KiB)",
    request: `GET /small HTTP/1.1\r\n${HOST}${
      Array.from({ length: 2000 }, (_, i) => `X-H${i}: ${"v".repeat(24)}\r\n`)
        .join("")
    }${CLOSE}\r\n`,
    judge: (r) => rejected(r, "too many headers"),
  },
  {
    name: "Host with a path",
    request:
      `GET /environ HTTP/1.1\r\nHost: evil.example/environ/forged?x=\r\n${CLOSE}\r\n`,
    judge(r) {
      if (answeredBy(r) !== "app") return rejected(r, "bad Host");
      const path = r.environ?.PATH_INFO;
      return path === "/environ"
        ? "ok: 200, PATH_INFO from the request line"
        : r.status !== 200
        ? `reached the app as another path: ${r.status}`
        : `gap: the runtime built the URL from the Host: PATH_INFO ${
          JSON.stringify(path)
        }, QUERY_STRING ${JSON.stringify(r.environ?.QUERY_STRING)}`;
    },
  },
  {
    name: "Host with garbage",
    request: `GET /environ HTTP/1.1\r\nHost: a b@c\\d\r\n${CLOSE}\r\n`,
    judge: (r) => rejected(r, "bad Host"),
  },
  {
    name: "CR in the target",
    request: `GET /a\rb HTTP/1.1\r\n${HOST}${CLOSE}\r\n`,
    judge: (r) => rejected(r, "bad request line"),
  },
  {
    name: "LF in the target (request-line splitting)",
    request: `GET /environ/a\nX-Evil: 1 HTTP/1.1\r\n${HOST}${CLOSE}\r\n`,
    judge(r) {
      if (answeredBy(r) !== "app") return rejected(r, "bad request line");
      return `gap: the runtime took the bare LF for a line end: PATH_INFO ${
        JSON.stringify(r.environ?.PATH_INFO)
      }, HTTP_X_EVIL ${
        JSON.stringify(r.environ?.HTTP_X_EVIL)
      }, SERVER_PROTOCOL ${JSON.stringify(r.environ?.SERVER_PROTOCOL)}`;
    },
  },
  {
    name: "underscore spoofing (X_Forwarded_For)",
    request:
      `GET /environ HTTP/1.1\r\n${HOST}X_Forwarded_For: 6.6.6.6\r\nX-Forwarded_For: 6.6.6.7\r\nCF_Connecting_IP: 6.6.6.8\r\n${CLOSE}\r\n`,
    judge(r) {
      if (r.status !== 200) return rejected(r, "underscored names");
      const env = r.environ ?? {};
      const spoofed = Object.entries(env).filter(([, v]) =>
        v.startsWith("6.6.6.")
      );
      return spoofed.length === 0
        ? `ok: 200, underscored headers dropped, REMOTE_ADDR ${
          env.REMOTE_ADDR ?? "absent"
        }`
        : `spoofed: ${spoofed.map(([k]) => k).join(", ")}`;
    },
  },
  {
    name: "X-Forwarded-For is not REMOTE_ADDR",
    request:
      `GET /environ HTTP/1.1\r\n${HOST}X-Forwarded-For: 6.6.6.6\r\nCF-Connecting-IP: 6.6.6.8\r\nX-Real-IP: 6.6.6.9\r\n${CLOSE}\r\n`,
    judge(r) {
      if (r.status !== 200) return `expected 200, got ${r.status}`;
      const addr = r.environ?.REMOTE_ADDR;
      return addr === undefined || !addr.startsWith("6.6.6.")
        ? `ok: 200, REMOTE_ADDR ${
          addr ?? "absent"
        }, forwarded headers only as HTTP_*`
        : `REMOTE_ADDR taken from a header: ${addr}`;
    },
  },
  {
    name: "Content-Length larger than the body",
    request:
      `POST /upload HTTP/1.1\r\n${HOST}Content-Length: 100\r\n${CLOSE}\r\nabc`,
    judge: (r) => rejected(r, "body ended early"),
  },
  {
    name: "invalid chunk size",
    request:
      `POST /upload HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n${CLOSE}\r\nzz\r\nabc\r\n0\r\n\r\n`,
    judge: (r) => rejected(r, "bad chunked framing"),
  },
  {
    name: "chunk shorter than its size",
    request:
      `POST /upload HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n${CLOSE}\r\n10\r\nabc\r\n0\r\n\r\n`,
    judge: (r) => rejected(r, "bad chunked framing"),
  },
  {
    name: "Transfer-Encoding and Content-Length (smuggling)",
    request:
      `POST /upload HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\nContent-Length: 3\r\n${CLOSE}\r\n3\r\nabc\r\n0\r\n\r\n`,
    judge(r) {
      // RFC 9112 §6.3: a server may process it as chunked and must then close.
      if (r.status === 200) {
        return r.text.endsWith("\r\n\r\n3\n")
          ? "ok: 200, read as chunked (RFC 9112 §6.3), connection closed"
          : `read wrongly: ${JSON.stringify(r.text.slice(-20))}`;
      }
      return rejected(r, "ambiguous framing");
    },
  },
  {
    name: "two different Content-Lengths",
    request:
      `POST /upload HTTP/1.1\r\n${HOST}Content-Length: 3\r\nContent-Length: 5\r\n${CLOSE}\r\nabcde`,
    judge: (r) => rejected(r, "ambiguous length"),
  },
  {
    name: "negative Content-Length",
    request:
      `POST /upload HTTP/1.1\r\n${HOST}Content-Length: -1\r\n${CLOSE}\r\n`,
    judge: (r) => rejected(r, "bad length"),
  },
  {
    name: "declared body over maxBodySize",
    request: `POST /upload HTTP/1.1\r\n${HOST}Content-Length: ${
      MAX_BODY_SIZE + 1
    }\r\n${CLOSE}\r\n${"x".repeat(MAX_BODY_SIZE + 1)}`,
    judge: (r) =>
      r.status === 413 ? "ok: 413" : `expected 413, got ${r.status}`,
  },
  {
    name: "chunked body over maxBodySize",
    request:
      `POST /upload HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n${CLOSE}\r\n${
        (MAX_BODY_SIZE * 2).toString(16)
      }\r\n${"x".repeat(MAX_BODY_SIZE * 2)}\r\n0\r\n\r\n`,
    judge: (r) =>
      r.status === 413 ? "ok: 413" : `expected 413, got ${r.status}`,
  },
  {
    name: "NUL in a header value",
    request: `GET /environ HTTP/1.1\r\n${HOST}X-A: a\0b\r\n${CLOSE}\r\n`,
    judge: (r) => rejected(r, "control character"),
  },
  {
    name: "obsolete line folding",
    request: `GET /environ HTTP/1.1\r\n${HOST}X-A: a\r\n b\r\n${CLOSE}\r\n`,
    judge(r) {
      if (r.status === 200) {
        const v = r.environ?.HTTP_X_A;
        return v === "a b" || v === "a  b"
          ? `ok: 200, folded into ${JSON.stringify(v)} (RFC 9112 §5.2)`
          : `HTTP_X_A ${JSON.stringify(v)}`;
      }
      return rejected(r, "obs-fold");
    },
  },
  {
    name: "latin-1 header value",
    request: `GET /environ HTTP/1.1\r\n${HOST}X-A: caf\xe9\r\n${CLOSE}\r\n`,
    judge(r) {
      if (r.status !== 200) return rejected(r, "obs-text");
      const v = r.environ?.HTTP_X_A;
      return v === "caf\u00e9"
        ? "ok: 200, HTTP_X_A is one char per octet"
        : `HTTP_X_A ${JSON.stringify(v)}`;
    },
  },
  {
    name: "TLS hello on a plain port",
    request: "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
    judge: (r) => rejected(r, "not HTTP"),
  },
  {
    name: "HTTP/0.9 request",
    request: "GET /environ\r\n\r\n",
    judge(r) {
      if (answeredBy(r) !== "app") return rejected(r, "HTTP/0.9");
      const protocol = r.environ?.SERVER_PROTOCOL;
      return protocol === "HTTP/0.9"
        ? 'ok: served, SERVER_PROTOCOL "HTTP/0.9"'
        : `SERVER_PROTOCOL ${JSON.stringify(protocol)} for an HTTP/0.9 request`;
    },
  },
  {
    name: "unknown HTTP version",
    request: `GET /small HTTP/9.9\r\n${HOST}${CLOSE}\r\n`,
    judge(r) {
      return rejected(r, "bad version");
    },
  },
];

/**
 * Sends raw bytes (each char one octet), half-closes, and reads to the end.
 * Every case asks the server to close, so the read ends by itself.
 */
export async function sendRaw(
  port: number,
  request: string,
): Promise<RawResult> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const parts: Uint8Array[] = [];
  try {
    await conn.write(Uint8Array.from(request, (c) => c.charCodeAt(0)));
    await conn.closeWrite();
    const buffer = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      parts.push(buffer.slice(0, n));
    }
  } catch {
    // A reset after (or instead of) the answer: judged on what arrived.
  } finally {
    conn.close();
  }
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  const text = new TextDecoder("latin1").decode(bytes);
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  const result: RawResult = { status: match ? Number(match[1]) : 0, text };
  // latin-1 decoding is one char per octet, so text offsets are byte offsets.
  const bodyStart = text.indexOf("\r\n\r\n") + 4;
  if (bodyStart > 3 && text[bodyStart] === "{") {
    try {
      result.environ = JSON.parse(
        new TextDecoder().decode(bytes.subarray(bodyStart)),
      );
    } catch {
      // Not the fixture's JSON: judged on the status alone.
    }
  }
  return result;
}

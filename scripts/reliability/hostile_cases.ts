// Hostile HTTP/1.1 requests, sent as raw bytes over TCP, and what a safe
// server must do with each. Shared by tests/e2e/hostile_requests_test.ts (Deno,
// in-process) and scripts/reliability/hostile_requests.ts (every runtime).
//
// The server under test serves the fixture app (fixture_app.ts) with
// maxBodySize 1024.

/**
 * Cases a runtime gets wrong where the gateway cannot see or fix it (a bug
 * upstream, with a reproduction in the repository). Anything the gateway
 * can fix is judged as a failure until it is fixed, never listed here.
 */
export const KNOWN_GAPS: Record<
  "deno" | "bun" | "node",
  Record<string, string>
> = {
  deno: {
    "app fails after its first chunk (sync, HTTP/1.0)":
      "Deno ends a close-delimited body whose stream errors with a FIN, not a reset (scripts/repro/runtime_gaps.ts)",
    "app fails after its first chunk (async, HTTP/1.0)":
      "Deno ends a close-delimited body whose stream errors with a FIN, not a reset (scripts/repro/runtime_gaps.ts)",
    "Content-Length 10, 3 bytes sent (HTTP/1.1)":
      "Deno closes short of the Content-Length with a FIN, not a reset: still incomplete by RFC 9112 §8",
    "Content-Length 10, 3 bytes sent (HTTP/1.0)":
      "Deno closes short of the Content-Length with a FIN, not a reset: still incomplete by RFC 9112 §8",
    "Expect 100-continue over maxBodySize":
      "Deno sends 100 Continue before the handler runs (scripts/repro/runtime_gaps.ts)",
    "chunked body ending 0\\n\\n (bare LF)":
      "Deno's parser waits for a CRLF that never comes; the read ends when the client closes (scripts/repro/runtime_gaps.ts)",
  },
  bun: {
    "backslashes in the path":
      "Bun's URL parser turns backslashes into slashes before the handler runs (scripts/repro/runtime_gaps.ts)",
    "a backslash before the query":
      "Bun's URL parser turns backslashes into slashes before the handler runs (scripts/repro/runtime_gaps.ts)",
    "raw 0xE9 octet in the path":
      "Bun replaces an octet that is not UTF-8 with U+FFFD before the handler runs (scripts/repro/runtime_gaps.ts)",
    "raw 0xE9 octet in the query":
      "Bun replaces an octet that is not UTF-8 with U+FFFD before the handler runs (scripts/repro/runtime_gaps.ts)",
    "Expect 100-continue over maxBodySize":
      "Bun sends 100 Continue before the handler runs (scripts/repro/runtime_gaps.ts)",
  },
  node: {},
};

/**
 * Judges a case on one runtime: a failure listed in KNOWN_GAPS becomes
 * "gap: …", so a run passes with the gaps as recorded and fails when one
 * is fixed upstream (it then says "ok") or a new one appears.
 */
export function verdictOn(
  runtime: keyof typeof KNOWN_GAPS,
  c: HostileCase,
  result: RawResult,
): string {
  const verdict = c.judge(result);
  if (verdict.startsWith("ok: ") || verdict.startsWith("gap: ")) return verdict;
  const why = KNOWN_GAPS[runtime][c.name];
  return why === undefined ? verdict : `gap: ${verdict} — ${why}`;
}

/** How long a case may wait for the server before it counts as a hang. */
export const DEADLINE_MS = 5000;

/** What came back for one raw request. */
export interface RawResult {
  /** The status code, or 0 when the server closed without answering. */
  status: number;
  /** The whole response as latin-1 text. */
  text: string;
  /** The parsed JSON body of /environ answers. */
  environ?: Record<string, string>;
  /**
   * How the read ended: "eof" (a FIN), "reset" (ECONNRESET), or "hang"
   * (nothing for DEADLINE_MS: the case fails).
   */
  end: "eof" | "reset" | "hang";
}

/** One hostile request. */
export interface HostileCase {
  name: string;
  request: string;
  /** The class of hole the case probes, for reports. */
  group?: string;
  /**
   * Keep the write side open instead of half-closing after the request, as
   * a real client does: a server that waits for more input then hangs, and
   * the deadline turns that into a failure.
   */
  keepOpen?: boolean;
  /** Sends the request another way than HTTP/1 bytes (h2c). */
  send?(port: number): Promise<RawResult>;
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

/** The body of a raw answer as sent (after the head), as latin-1 text. */
export function rawBodyOf(result: RawResult): string {
  const at = result.text.indexOf("\r\n\r\n");
  return at === -1 ? "" : result.text.slice(at + 4);
}

/** The body of a raw answer, de-chunked when it is chunked. */
export function bodyOf(result: RawResult): string {
  const raw = rawBodyOf(result);
  if (!/chunked/i.test(headerOf(result, "transfer-encoding") ?? "")) return raw;
  let out = "";
  for (let at = 0;;) {
    const eol = raw.indexOf("\r\n", at);
    const size = eol === -1 ? 0 : parseInt(raw.slice(at, eol), 16);
    if (!(size > 0)) return out;
    out += raw.slice(eol + 2, eol + 2 + size);
    at = eol + 4 + size;
  }
}

/** Who answered: the runtime itself, tsgi's gateway, or the app. */
export function answeredBy(result: RawResult): "runtime" | "tsgi" | "app" {
  if (result.status === 0) return "runtime";
  const body = bodyOf(result);
  if (/^\d{3} [A-Za-z ]+\n$/.test(body)) return "tsgi";
  return body === "" ? "runtime" : "app";
}

/** The value of a response header in a raw answer, or undefined. */
export function headerOf(result: RawResult, name: string): string | undefined {
  const at = result.text.indexOf("\r\n\r\n");
  const head = at === -1 ? result.text : result.text.slice(0, at);
  for (const line of head.split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    if (line.slice(0, colon).toLowerCase() === name) {
      return line.slice(colon + 1).trim();
    }
  }
  return undefined;
}

function rejected(result: RawResult, what = "rejected"): string {
  if (result.end === "hang") return hang(result);
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

function hang(result: RawResult): string {
  return `hang: nothing ended the exchange within ${DEADLINE_MS} ms${
    result.status ? ` (got ${result.status} first)` : ""
  }`;
}

function describe(r: RawResult): string {
  if (r.end === "hang") return hang(r);
  if (r.status === 0) return `closed with no answer (${r.end})`;
  const env = r.environ;
  if (env === undefined) {
    return `${r.status} from ${answeredBy(r)} ${
      JSON.stringify(bodyOf(r).slice(0, 60))
    }`;
  }
  return `${r.status} from the app: PATH_INFO ${
    JSON.stringify(env.PATH_INFO)
  }, QUERY_STRING ${JSON.stringify(env.QUERY_STRING)}, SERVER_NAME ${
    JSON.stringify(env.SERVER_NAME)
  }, SERVER_PORT ${JSON.stringify(env.SERVER_PORT)}, HTTP_HOST ${
    JSON.stringify(env.HTTP_HOST)
  }`;
}

/**
 * A bad Host: refused, or (only when `literal` allows it) served with
 * PATH_INFO and QUERY_STRING strictly from the request line.
 */
function hostJudge(path: string, query: string, mayServe = false) {
  return (r: RawResult): string => {
    if (answeredBy(r) !== "app") return rejected(r, "bad Host");
    const env = r.environ;
    if (
      mayServe && env?.PATH_INFO === path && env?.QUERY_STRING === query
    ) return `ok: served from the request line: ${describe(r)}`;
    return `reached the app: ${describe(r)}`;
  };
}

/** An absolute-form target on a plain listener: the claim is ignored. */
function plainSchemeJudge(path: string, query = "", portFromHost = false) {
  return (r: RawResult): string => {
    const env = r.environ;
    if (env === undefined) {
      return `expected 200 from the app, got ${describe(r)}`;
    }
    const wrong: string[] = [];
    if (env["wsgi.url_scheme"] !== "http") {
      wrong.push(`wsgi.url_scheme ${JSON.stringify(env["wsgi.url_scheme"])}`);
    }
    if (env.HTTPS !== undefined) {
      wrong.push(`HTTPS ${JSON.stringify(env.HTTPS)}`);
    }
    if (env.SERVER_PORT === "443" && !portFromHost) {
      wrong.push(`SERVER_PORT "443"`);
    }
    if (env.PATH_INFO !== path) {
      wrong.push(`PATH_INFO ${JSON.stringify(env.PATH_INFO)}`);
    }
    if (env.QUERY_STRING !== query) {
      wrong.push(`QUERY_STRING ${JSON.stringify(env.QUERY_STRING)}`);
    }
    return wrong.length === 0
      ? `ok: 200, scheme http, no HTTPS, SERVER_NAME ${
        JSON.stringify(env.SERVER_NAME)
      }, SERVER_PORT ${JSON.stringify(env.SERVER_PORT)}`
      : `believed the client: ${wrong.join(", ")}`;
  };
}

/** The app's answer with exactly this PATH_INFO. */
function pathJudge(path: string, query = "") {
  return (r: RawResult): string => {
    const env = r.environ;
    if (env === undefined) {
      return `expected 200 from the app, got ${describe(r)}`;
    }
    return env.PATH_INFO === path && env.QUERY_STRING === query
      ? `ok: 200, PATH_INFO ${JSON.stringify(path)}`
      : `PATH_INFO ${JSON.stringify(env.PATH_INFO)}, QUERY_STRING ${
        JSON.stringify(env.QUERY_STRING)
      }, want ${JSON.stringify(path)}`;
  };
}

/** A refusal with a status line (not a silent close), before any hang. */
function answeredRejection(r: RawResult, what: string): string {
  // An answer that arrived is what counts; the connection may stay open.
  if (r.end === "hang" && r.status === 0) return hang(r);
  if (answeredBy(r) === "app") return `reached the app: ${describe(r)}`;
  if (r.status === 400 || r.status === 505) {
    return `ok: ${r.status} from ${answeredBy(r)} at once (${what})`;
  }
  return `expected a 400 at once, got ${describe(r)}`;
}

function contentLengthJudge(want: string | "reject") {
  return (r: RawResult): string => {
    if (r.end === "hang") return hang(r);
    const env = r.environ;
    if (env === undefined) {
      return r.status >= 400 && answeredBy(r) !== "app"
        ? `ok: ${r.status} from ${answeredBy(r)} (bad Content-Length)`
        : `got ${describe(r)}`;
    }
    if (want === "reject") {
      return `reached the app with CONTENT_LENGTH ${
        JSON.stringify(env.CONTENT_LENGTH)
      }`;
    }
    return env.CONTENT_LENGTH === want
      ? `ok: 200, CONTENT_LENGTH ${JSON.stringify(want)}`
      : `CONTENT_LENGTH ${JSON.stringify(env.CONTENT_LENGTH)}`;
  };
}

/**
 * A response whose body broke after the headers went out must look broken:
 * chunked without the last chunk, or a reset where nothing else can say so.
 * An error before the headers (a clean 500) is safe too.
 */
function brokenJudge(mustReset: boolean) {
  return (r: RawResult): string => {
    if (r.end === "hang") return hang(r);
    if (r.status === 0) return `ok: no answer, connection ${r.end}`;
    if (r.status >= 500) return `ok: ${r.status} before any body`;
    const chunked = /chunked/i.test(headerOf(r, "transfer-encoding") ?? "");
    const length = headerOf(r, "content-length");
    const body = rawBodyOf(r);
    const seen = `${r.status}, ${
      chunked
        ? "chunked"
        : length
        ? `content-length ${length}`
        : "close-delimited"
    }, body ${JSON.stringify(body.slice(0, 40))}, then ${
      r.end === "reset" ? "RST" : "FIN"
    }`;
    if (r.end === "reset") return `ok: ${seen}`;
    if (mustReset) return `looks complete: ${seen}`;
    if (chunked) {
      return body.endsWith("0\r\n\r\n")
        ? `looks complete: ${seen} with the last chunk`
        : `ok: ${seen}, no last chunk`;
    }
    return `looks complete: ${seen}`;
  };
}

function noBodyHeaders(r: RawResult, status: number): string {
  if (r.status !== status) return `expected ${status}, got ${describe(r)}`;
  const length = headerOf(r, "content-length");
  const coding = headerOf(r, "transfer-encoding");
  const wrong = [
    ...(length !== undefined && status === 204
      ? [`content-length: ${length}`]
      : []),
    ...(coding !== undefined ? [`transfer-encoding: ${coding}`] : []),
    ...(bodyOf(r) !== "" ? [`body ${JSON.stringify(bodyOf(r))}`] : []),
  ];
  return wrong.length === 0
    ? `ok: ${status}, no body headers${
      length === undefined ? "" : ` (content-length ${length} on a 304)`
    }`
    : `body headers on a ${status}: ${wrong.join(", ")}`;
}

function headJudge(getLength: string | undefined) {
  return (r: RawResult): string => {
    if (r.status !== 200) return `expected 200, got ${describe(r)}`;
    const length = headerOf(r, "content-length");
    if (bodyOf(r) !== "") return `a body on HEAD: ${JSON.stringify(bodyOf(r))}`;
    if (length === undefined) return "ok: 200 without content-length";
    return length === getLength
      ? `ok: 200, content-length ${length} as a GET would`
      : `content-length: ${length} (a GET sends ${getLength ?? "none"})`;
  };
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
    name: "unknown HTTP version",
    request: `GET /small HTTP/9.9\r\n${HOST}${CLOSE}\r\n`,
    judge(r) {
      return rejected(r, "bad version");
    },
  },
  // The Host header must not rewrite the path, the query or the authority.
  ...[
    ["Host with a path", "evil.example/environ/forged?x="],
    ["Host with a path and query (path rewrite)", "x/environ/admin?"],
    ["Host with a query", "localhost?x=/environ/forged"],
    ["Host with a fragment", "localhost#/environ/forged"],
    ["Host with userinfo", "a@b.example"],
    ["Host with a non-numeric port", "a.example:abc"],
    ["Host with a port over 65535", "a.example:70000"],
    ["Host with a space", "a.example b.example"],
    ["Host with a comma", "a.example, b.example"],
    ["Host with a backslash", "a.example\\environ\\forged"],
  ].map(([name, host]): HostileCase => ({
    name,
    group: "host",
    request:
      `GET /environ/public?q=1 HTTP/1.1\r\nHost: ${host}\r\n${CLOSE}\r\n`,
    judge: hostJudge("/environ/public", "q=1"),
  })),
  {
    name: "two different Host headers",
    group: "host",
    request:
      `GET /environ/public HTTP/1.1\r\nHost: a.example\r\nHost: b.example/environ/forged\r\n${CLOSE}\r\n`,
    judge: hostJudge("/environ/public", ""),
  },
  {
    name: "two identical Host headers",
    group: "host",
    request: `GET /environ/public HTTP/1.1\r\n${HOST}${HOST}${CLOSE}\r\n`,
    // RFC 9112 §3.2: more than one Host field line is a 400.
    judge: hostJudge("/environ/public", ""),
  },
  {
    name: "empty Host",
    group: "host",
    request: `GET /environ/public?q=1 HTTP/1.1\r\nHost:\r\n${CLOSE}\r\n`,
    // Valid syntax (an empty reg-name); served only from the request line.
    judge: hostJudge("/environ/public", "q=1", true),
  },
  {
    name: "no Host over HTTP/1.1",
    group: "host",
    request: `GET /environ/public?q=1 HTTP/1.1\r\n${CLOSE}\r\n`,
    judge: hostJudge("/environ/public", "q=1", true),
  },
  {
    name: "no Host over HTTP/1.0 is served",
    group: "host",
    request: `GET /environ/public?q=1 HTTP/1.0\r\n\r\n`,
    judge: pathJudge("/environ/public", "q=1"),
  },
  {
    name: "IPv6 Host with a port is served",
    group: "host",
    request: `GET /environ HTTP/1.1\r\nHost: [::1]:8080\r\n${CLOSE}\r\n`,
    judge(r) {
      const env = r.environ;
      return env?.SERVER_NAME === "[::1]" && env.SERVER_PORT === "8080"
        ? 'ok: 200, SERVER_NAME "[::1]", SERVER_PORT "8080"'
        : `got ${describe(r)}`;
    },
  },

  // A plain-text client cannot claim TLS.
  {
    name: "absolute-form https target",
    group: "scheme",
    request:
      `GET https://bank.example/environ/x?q=1 HTTP/1.1\r\n${HOST}${CLOSE}\r\n`,
    judge: plainSchemeJudge("/environ/x", "q=1"),
  },
  {
    name: "absolute-form HTTPS target, upper case",
    group: "scheme",
    request: `GET HTTPS://bank.example/environ HTTP/1.1\r\n${HOST}${CLOSE}\r\n`,
    judge(r) {
      // Schemes are case-insensitive; refusing this rare spelling is safe.
      if (answeredBy(r) !== "app") return rejected(r, "upper-case scheme");
      return plainSchemeJudge("/environ")(r);
    },
  },
  {
    name: "absolute-form https target with Host :443",
    group: "scheme",
    request:
      `GET https://bank.example/environ HTTP/1.1\r\nHost: bank.example:443\r\n${CLOSE}\r\n`,
    // The Host names port 443 itself: SERVER_PORT may follow it.
    judge: plainSchemeJudge("/environ", "", true),
  },
  {
    name: "absolute-form http target naming another host",
    group: "scheme",
    request:
      `GET http://other-host/environ/y?z=2 HTTP/1.1\r\n${HOST}${CLOSE}\r\n`,
    judge: plainSchemeJudge("/environ/y", "z=2"),
  },
  {
    name: "X-Forwarded-Proto https without proxyFix",
    group: "scheme",
    request:
      `GET /environ HTTP/1.1\r\n${HOST}X-Forwarded-Proto: https\r\nX-Forwarded-Ssl: on\r\nFront-End-Https: on\r\n${CLOSE}\r\n`,
    judge: plainSchemeJudge("/environ"),
  },
  {
    name: "h2c prior knowledge with :scheme https",
    group: "scheme",
    request: "",
    send: (port) =>
      sendH2c(port, {
        ":method": "GET",
        ":scheme": "https",
        ":authority": "bank.example",
        ":path": "/environ/h2?q=1",
      }),
    judge(r) {
      // Only Deno speaks h2c; the others refuse the preface.
      if (r.environ === undefined) return rejected(r, "no h2c");
      return plainSchemeJudge("/environ/h2", "q=1")(r);
    },
  },
  {
    name: "h2c prior knowledge with :authority carrying a path",
    group: "host",
    request: "",
    send: (port) =>
      sendH2c(port, {
        ":method": "GET",
        ":scheme": "http",
        ":authority": "x/environ/admin?",
        ":path": "/environ/public",
      }),
    judge: hostJudge("/environ/public", ""),
  },

  // A body that breaks after the headers went out must look broken.
  ...[["1.1", false], ["1.0", true]].flatMap(([version, mustReset]) =>
    [["sync", ""], ["async", "?async=1"]].map(([kind, query]): HostileCase => ({
      name: `app fails after its first chunk (${kind}, HTTP/${version})`,
      group: "broken body",
      request: `GET /fail-after-first${query} HTTP/${version}\r\n${HOST}${
        version === "1.1" ? CLOSE : ""
      }\r\n`,
      judge: brokenJudge(mustReset as boolean),
    }))
  ),
  ...["1.1", "1.0"].map((version): HostileCase => ({
    name: `Content-Length 10, 3 bytes sent (HTTP/${version})`,
    group: "broken body",
    request: `GET /short-length HTTP/${version}\r\n${HOST}${
      version === "1.1" ? CLOSE : ""
    }\r\n`,
    // A known length cut short: the client must see a reset, not an end.
    judge: brokenJudge(true),
  })),

  // The raw target reaches PATH_INFO the same way on every runtime.
  {
    name: "backslashes in the path",
    group: "path",
    request: `GET /environ/a\\..\\..\\admin HTTP/1.1\r\n${HOST}${CLOSE}\r\n`,
    judge: pathJudge("/environ/a\\..\\..\\admin"),
  },
  {
    name: "a backslash before the query",
    group: "path",
    request: `GET /environ\\x?q=\\ HTTP/1.1\r\n${HOST}${CLOSE}\r\n`,
    judge(r) {
      // A raw "\" is not a valid query char either; literal or refused.
      if (r.environ === undefined) return rejected(r, "raw backslash");
      return pathJudge("/environ\\x", "q=\\")(r);
    },
  },
  {
    name: "raw 0xE9 octet in the path",
    group: "path",
    request: `GET /environ/caf\xe9 HTTP/1.1\r\n${HOST}${CLOSE}\r\n`,
    judge: (r) => answeredRejection(r, "raw non-ASCII in the target"),
  },
  {
    name: "raw 0xE9 octet in the query",
    group: "path",
    request: `GET /environ?q=caf\xe9 HTTP/1.1\r\n${HOST}${CLOSE}\r\n`,
    judge: (r) => answeredRejection(r, "raw non-ASCII in the target"),
  },
  {
    name: "dot segments",
    group: "path",
    request: `GET /environ/a/../b/./c HTTP/1.1\r\n${HOST}${CLOSE}\r\n`,
    // RFC 3986 §5.2.4, as the WHATWG parser (Bun, Node) resolves them.
    judge: pathJudge("/environ/b/c"),
  },
  {
    name: "encoded dot segments (%2e%2e)",
    group: "path",
    request: `GET /environ/a/%2e%2e/b/%2E/c HTTP/1.1\r\n${HOST}${CLOSE}\r\n`,
    // %2E is an unreserved char encoded (RFC 3986 §6.2.2.2): the same as "."
    judge: pathJudge("/environ/b/c"),
  },
  {
    name: "dot segments above the root",
    group: "path",
    request: `GET /../../environ HTTP/1.1\r\n${HOST}${CLOSE}\r\n`,
    judge: pathJudge("/environ"),
  },
  {
    name: "encoded slash with dots (..%2f)",
    group: "path",
    request: `GET /environ/a/..%2f..%2fadmin HTTP/1.1\r\n${HOST}${CLOSE}\r\n`,
    // %2F is not a separator before decoding; PATH_INFO is decoded after,
    // as wsgiref does. REQUEST_URI keeps the raw target.
    judge: pathJudge("/environ/a/../../admin"),
  },

  // Invalid environ values.
  {
    name: "Content-Length 5 twice, identical",
    group: "content-length",
    request:
      `POST /environ HTTP/1.1\r\n${HOST}Content-Length: 5\r\nContent-Length: 5\r\n${CLOSE}\r\nhello`,
    judge: contentLengthJudge("5"),
  },
  {
    name: "Content-Length 5 and 6",
    group: "content-length",
    request:
      `POST /environ HTTP/1.1\r\n${HOST}Content-Length: 5\r\nContent-Length: 6\r\n${CLOSE}\r\nhello!`,
    judge: contentLengthJudge("reject"),
  },
  {
    name: "Content-Length 5, 5 in one line",
    group: "content-length",
    request:
      `POST /environ HTTP/1.1\r\n${HOST}Content-Length: 5, 5\r\n${CLOSE}\r\nhello`,
    // RFC 9110 §8.6: one value, or a 400.
    judge: contentLengthJudge("5"),
  },
  {
    name: "Content-Length 70000 twice over maxBodySize",
    group: "content-length",
    request:
      `POST /environ HTTP/1.1\r\n${HOST}Content-Length: 70000\r\nContent-Length: 70000\r\n${CLOSE}\r\n`,
    judge(r) {
      if (r.end === "hang") return hang(r);
      // A parser that refuses any repeated Content-Length is safe too.
      if (r.status === 400 && answeredBy(r) === "runtime") {
        return "ok: 400 from the runtime, before the app";
      }
      return r.status === 413 && answeredBy(r) !== "app"
        ? "ok: 413 before the app"
        : `expected 413 without calling the app, got ${describe(r)}`;
    },
  },
  {
    name: "Content-Length 70000, 70000 in one line over maxBodySize",
    group: "content-length",
    request:
      `POST /environ HTTP/1.1\r\n${HOST}Content-Length: 70000, 70000\r\n${CLOSE}\r\n`,
    judge(r) {
      if (r.end === "hang") return hang(r);
      if (r.status === 400 && answeredBy(r) !== "app") {
        return `ok: 400 from ${answeredBy(r)}`;
      }
      return r.status === 413 && answeredBy(r) !== "app"
        ? "ok: 413 before the app"
        : `expected 413 (or 400) without calling the app, got ${describe(r)}`;
    },
  },
  ...[
    ["Content-Length +5", "+5"],
    ["Content-Length 0x5", "0x5"],
    ["Content-Length 5 5", "5 5"],
    ["Content-Length 5.0", "5.0"],
    ["Content-Length 1e1", "1e1"],
  ].map(([name, value]): HostileCase => ({
    name,
    group: "content-length",
    request:
      `POST /environ HTTP/1.1\r\n${HOST}Content-Length: ${value}\r\n${CLOSE}\r\nhello`,
    judge: contentLengthJudge("reject"),
  })),
  {
    name: "Content-Length with extra whitespace",
    group: "content-length",
    request:
      `POST /environ HTTP/1.1\r\n${HOST}Content-Length:    5  \r\n${CLOSE}\r\nhello`,
    // OWS around a field value is not part of it (RFC 9110 §5.5).
    judge: contentLengthJudge("5"),
  },
  {
    name: "Content-Length of 20 digits",
    group: "content-length",
    request:
      `POST /environ HTTP/1.1\r\n${HOST}Content-Length: 99999999999999999999\r\n${CLOSE}\r\n`,
    judge(r) {
      if (r.end === "hang") return hang(r);
      return (r.status === 413 || r.status === 400) && answeredBy(r) !== "app"
        ? `ok: ${r.status} from ${answeredBy(r)}`
        : `expected 413 or 400 before the app, got ${describe(r)}`;
    },
  },

  // Framing never lies.
  {
    name: "204 with an app-set Content-Length",
    group: "framing",
    request: `GET /no-content HTTP/1.1\r\n${HOST}${CLOSE}\r\n`,
    judge: (r) => noBodyHeaders(r, 204),
  },
  {
    name: "304 with an app-set Content-Length",
    group: "framing",
    request: `GET /not-modified HTTP/1.1\r\n${HOST}${CLOSE}\r\n`,
    judge: (r) => noBodyHeaders(r, 304),
  },
  {
    name: "HEAD of a streamed response",
    group: "framing",
    request: `HEAD /stream?n=2&size=10 HTTP/1.1\r\n${HOST}${CLOSE}\r\n`,
    // A GET is chunked: no length, so HEAD must not claim 0.
    judge: headJudge(undefined),
  },
  {
    name: "HEAD of a one-chunk response",
    group: "framing",
    request: `HEAD /small HTTP/1.1\r\n${HOST}${CLOSE}\r\n`,
    judge: headJudge("3"),
  },
  {
    name: "Expect 100-continue over maxBodySize",
    group: "framing",
    keepOpen: true,
    request: `POST /upload HTTP/1.1\r\n${HOST}Content-Length: ${
      MAX_BODY_SIZE * 4
    }\r\nExpect: 100-continue\r\n${CLOSE}\r\n`,
    judge(r) {
      if (r.end === "hang" && r.status === 0) return hang(r);
      const continued = /^HTTP\/1\.1 100 /.test(r.text);
      const final =
        /HTTP\/1\.[01] (\d{3}) [^\r]*\r\n(?![\s\S]*HTTP\/1\.[01] \d{3})/
          .exec(r.text);
      const status = final ? Number(final[1]) : 0;
      if (continued) return `sent 100 Continue, then ${status || "nothing"}`;
      return status === 413
        ? "ok: 413 without 100 Continue"
        : `expected 413, got ${describe(r)}`;
    },
  },
  {
    name: "Expect 100-continue under maxBodySize",
    group: "framing",
    request:
      `POST /upload HTTP/1.1\r\n${HOST}Content-Length: 5\r\nExpect: 100-continue\r\n${CLOSE}\r\nhello`,
    judge(r) {
      if (r.end === "hang") return hang(r);
      const continued = /^HTTP\/1\.1 100 /.test(r.text);
      return /HTTP\/1\.1 200 [^\r]*\r\n[\s\S]*\r\n\r\n5\n$/.test(r.text)
        ? `ok: 200 "5", ${continued ? "after" : "without"} 100 Continue`
        : `expected 200 "5", got ${JSON.stringify(r.text.slice(0, 80))}`;
    },
  },

  // Malformed input ends at once, never in a hang.
  {
    name: "chunked body ending 0\\n\\n (bare LF)",
    group: "hang",
    keepOpen: true,
    request:
      `POST /upload HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n${CLOSE}\r\n5\r\nhello\r\n0\n\n`,
    judge(r) {
      if (r.end === "hang" && r.status === 0) return hang(r);
      return r.status === 400
        ? `ok: 400 from ${answeredBy(r)}`
        : `expected a 400, got ${describe(r)}`;
    },
  },
  ...[
    ["HTTP/0.9 request", "GET /environ\r\n\r\n"],
    ["HTTP/0.9 request, bare LF", "GET /environ\n\n"],
    ["no method", `/environ HTTP/1.1\r\n${HOST}\r\n`],
    [
      "a fourth word in the request line",
      `GET /environ HTTP/1.1 x\r\n${HOST}\r\n`,
    ],
    ["lowercase version", `GET /environ http/1.1\r\n${HOST}\r\n`],
    ["version HTTP/1", `GET /environ HTTP/1\r\n${HOST}\r\n`],
    ["target not starting with /", `GET environ HTTP/1.1\r\n${HOST}\r\n`],
  ].map(([name, request]): HostileCase => ({
    name,
    group: "hang",
    keepOpen: true,
    request,
    judge: (r) => answeredRejection(r, "malformed request line"),
  })),
  ...[
    ["double space in the request line", `GET  /environ HTTP/1.1`],
    ["tab in the request line", `GET\t/environ HTTP/1.1`],
  ].map(([name, line]): HostileCase => ({
    name,
    group: "hang",
    keepOpen: true,
    request: `${line}\r\n${HOST}${CLOSE}\r\n`,
    judge(r) {
      // RFC 9112 §3 lets a recipient split on any whitespace run: served
      // with the right path, or refused, both at once.
      if (r.environ !== undefined) return pathJudge("/environ")(r);
      return answeredRejection(r, "malformed request line");
    },
  })),

  // Methods.
  {
    name: "lowercase method (delete)",
    group: "method",
    request: `delete /environ HTTP/1.1\r\n${HOST}${CLOSE}\r\n`,
    judge(r) {
      const method = r.environ?.REQUEST_METHOD;
      // SPEC.md: Fetch's six standard methods are upper-cased. Bun's and
      // Node's parsers refuse lowercase methods outright: also consistent.
      if (r.environ === undefined) return rejected(r, "lowercase method");
      return method === "DELETE"
        ? 'ok: 200, REQUEST_METHOD "DELETE"'
        : `REQUEST_METHOD ${JSON.stringify(method)}`;
    },
  },
  {
    name: "lowercase method (get)",
    group: "method",
    request: `get /environ HTTP/1.1\r\n${HOST}${CLOSE}\r\n`,
    judge(r) {
      const method = r.environ?.REQUEST_METHOD;
      if (r.environ === undefined) return rejected(r, "lowercase method");
      return method === "GET"
        ? 'ok: 200, REQUEST_METHOD "GET"'
        : `REQUEST_METHOD ${JSON.stringify(method)}`;
    },
  },
  ...[
    [
      "CONNECT",
      `CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n${CLOSE}\r\n`,
    ],
    [
      "CONNECT to the server itself",
      `CONNECT localhost:80 HTTP/1.1\r\nHost: localhost:80\r\n${CLOSE}\r\n`,
    ],
  ].map(([name, request]): HostileCase => ({
    name,
    group: "method",
    request,
    judge(r) {
      if (r.end === "hang") return hang(r);
      if (answeredBy(r) === "app") return `reached the app: ${describe(r)}`;
      if (r.status === 0) return `ok: closed by the runtime (${r.end})`;
      return r.status === 405 || r.status === 400 || r.status === 501
        ? `ok: ${r.status} from ${answeredBy(r)}`
        : `expected 405 or 400, got ${describe(r)}`;
    },
  })),
];

/** Sends one case's request the way it asks, and reads the answer. */
export function runCase(port: number, c: HostileCase): Promise<RawResult> {
  return c.send ? c.send(port) : sendRaw(port, c.request, c.keepOpen);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return bytes;
}

/**
 * Reads a connection to its end and says how it ended. The deadline is a
 * failure detector, not synchronisation: a case that needs it has failed.
 */
async function readToEnd(
  conn: Deno.Conn,
): Promise<{ bytes: Uint8Array; end: RawResult["end"] }> {
  const parts: Uint8Array[] = [];
  let end: RawResult["end"] = "eof";
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    conn.close();
  }, DEADLINE_MS);
  try {
    const buffer = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      parts.push(buffer.slice(0, n));
    }
  } catch {
    // ECONNRESET (or the deadline's close).
    end = timedOut ? "hang" : "reset";
  } finally {
    clearTimeout(timer);
    if (!timedOut) conn.close();
  }
  return { bytes: concat(parts), end };
}

function toResult(bytes: Uint8Array, end: RawResult["end"]): RawResult {
  const text = new TextDecoder("latin1").decode(bytes);
  const match = /^(?:HTTP\/1\.1 1\d\d [^\r]*\r\n\r\n)*HTTP\/1\.[01] (\d{3})/
    .exec(text);
  const result: RawResult = {
    status: match ? Number(match[1]) : 0,
    text,
    end,
  };
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

/**
 * Sends raw bytes (each char one octet), half-closes unless `keepOpen`,
 * and reads to the end: every well-formed case asks the server to close.
 */
export async function sendRaw(
  port: number,
  request: string,
  keepOpen = false,
): Promise<RawResult> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(Uint8Array.from(request, (c) => c.charCodeAt(0)));
    if (!keepOpen) await conn.closeWrite();
  } catch {
    // Refused mid-write: judged on what comes back.
  }
  const { bytes, end } = await readToEnd(conn);
  return toResult(bytes, end);
}

function frame(
  type: number,
  flags: number,
  stream: number,
  payload: Uint8Array,
): Uint8Array {
  const head = new Uint8Array(9);
  head[0] = payload.length >> 16;
  head[1] = (payload.length >> 8) & 255;
  head[2] = payload.length & 255;
  head[3] = type;
  head[4] = flags;
  new DataView(head.buffer).setUint32(5, stream);
  return concat([head, payload]);
}

// HPACK (RFC 7541) Huffman codes of the digits, enough to read a :status.
const HUFFMAN_DIGITS: [string, string][] = [
  ["00000", "0"],
  ["00001", "1"],
  ["00010", "2"],
  ["011001", "3"],
  ["011010", "4"],
  ["011011", "5"],
  ["011100", "6"],
  ["011101", "7"],
  ["011110", "8"],
  ["011111", "9"],
];
const STATIC_STATUS: Record<number, number> = {
  8: 200,
  9: 204,
  10: 206,
  11: 304,
  12: 400,
  13: 404,
  14: 500,
};

/** The :status of a response header block, when it comes first. */
function statusOf(block: Uint8Array): number {
  const first = block[0];
  if (first & 0x80) return STATIC_STATUS[first & 0x7f] ?? 0;
  // A literal with the indexed name :status (8), any indexing mode.
  const named = (first & 0xc0) === 0x40 ? first & 0x3f : first & 0x0f;
  if (named !== 8) return 0;
  const huffman = (block[1] & 0x80) !== 0;
  const value = block.subarray(2, 2 + (block[1] & 0x7f));
  if (!huffman) return Number(new TextDecoder().decode(value));
  let bits = [...value].map((b) => b.toString(2).padStart(8, "0")).join("");
  let digits = "";
  while (digits.length < 3) {
    const hit = HUFFMAN_DIGITS.find(([code]) => bits.startsWith(code));
    if (hit === undefined) return 0;
    digits += hit[1];
    bits = bits.slice(hit[0].length);
  }
  return Number(digits);
}

/**
 * One HTTP/2 request with prior knowledge (h2c) over raw TCP, headers as
 * given (pseudo-headers included, in order), as HPACK literals.
 */
export async function sendH2c(
  port: number,
  headers: Record<string, string>,
): Promise<RawResult> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const enc = new TextEncoder();
  const block: number[] = [];
  for (const [name, value] of Object.entries(headers)) {
    // Literal without indexing, new name; lengths stay under 127.
    block.push(0, name.length, ...enc.encode(name));
    block.push(value.length, ...enc.encode(value));
  }
  const out = concat([
    enc.encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
    frame(4, 0, 0, new Uint8Array()),
    // END_STREAM | END_HEADERS on stream 1.
    frame(1, 5, 1, Uint8Array.from(block)),
  ]);
  let status = 0;
  const data: Uint8Array[] = [];
  let end: RawResult["end"] = "eof";
  let pending: Uint8Array = new Uint8Array();
  let done = false;
  let timedOut = false;
  let closed = false;
  const timer = setTimeout(() => {
    timedOut = true;
    conn.close();
  }, DEADLINE_MS);
  try {
    await conn.write(out);
    const buffer = new Uint8Array(65536);
    while (!done) {
      const n = await conn.read(buffer);
      if (n === null) break;
      pending = concat([pending, buffer.subarray(0, n)]);
      // An HTTP/1 server answers the preface in HTTP/1.
      if (status === 0 && data.length === 0 && pending.length >= 5) {
        if (new TextDecoder().decode(pending.subarray(0, 5)) === "HTTP/") {
          clearTimeout(timer);
          const rest = await readToEnd(conn);
          closed = true;
          return toResult(concat([pending, rest.bytes]), rest.end);
        }
      }
      while (pending.length >= 9) {
        const length = (pending[0] << 16) | (pending[1] << 8) | pending[2];
        if (pending.length < 9 + length) break;
        const [type, flags] = [pending[3], pending[4]];
        const payload = pending.slice(9, 9 + length);
        pending = pending.slice(9 + length);
        if (type === 4 && (flags & 1) === 0) {
          await conn.write(frame(4, 1, 0, new Uint8Array()));
        } else if (type === 1) {
          status = statusOf(payload);
          if (flags & 1) done = true;
        } else if (type === 0) {
          data.push(payload);
          if (flags & 1) done = true;
        } else if (type === 3 || type === 7) {
          done = true;
        }
      }
    }
  } catch {
    end = timedOut ? "hang" : "reset";
  } finally {
    clearTimeout(timer);
    if (!timedOut && !closed) conn.close();
  }
  if (status === 0) return { status: 0, text: "", end };
  // The answer as HTTP/1 text, so the same judges read it.
  return toResult(
    concat([enc.encode(`HTTP/1.1 ${status} h2\r\n\r\n`), concat(data)]),
    end,
  );
}

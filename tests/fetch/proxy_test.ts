import assert from "node:assert/strict";
import { proxy, type ProxyOptions, toFetchHandler } from "../../mod.ts";
import { b } from "../_util/helpers.ts";
import { allClosed, checked, serving } from "../_util/middleware.ts";

interface Upstream {
  url: string;
  close(): Promise<void>;
}

/** A real HTTP server on 127.0.0.1. */
function upstream(handler: Deno.ServeHandler): Upstream {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    handler,
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    close: () => server.shutdown(),
  };
}

/** A URL where nothing listens: a port that was bound, then closed. */
function downUrl(): string {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return `http://127.0.0.1:${port}`;
}

/** Serves the proxy in front of `urls` for the length of `fn`. */
async function through<T>(
  urls: string | string[],
  fn: (base: string, logs: string[]) => Promise<T>,
  options: ProxyOptions = {},
  scriptName = "",
): Promise<T> {
  const logs: string[] = [];
  const result = await serving(
    toFetchHandler(checked(proxy(urls, options)), {
      scriptName,
      errors: (text) => logs.push(text),
    }),
    (base) => fn(base, logs),
  );
  await allClosed();
  return result;
}

const echo = (name: string) => async (request: Request) => {
  const body = request.body === null ? "" : await request.text();
  return Response.json({
    name,
    method: request.method,
    url: request.url,
    headers: Object.fromEntries(request.headers),
    body,
  });
};

Deno.test("proxy: forwards method, path under the mount, query, headers and body", async () => {
  const up = upstream(echo("a"));
  try {
    await through(
      up.url + "/base",
      async (base) => {
        const response = await fetch(base + "/api/users/caf%C3%A9?x=1&y=%20", {
          method: "POST",
          body: "payload",
          headers: { "X-Custom": "v", "Content-Type": "text/plain" },
        });
        assert.equal(response.status, 200);
        const seen = await response.json();
        assert.equal(seen.method, "POST");
        assert.equal(new URL(seen.url).pathname, "/base/users/caf%C3%A9");
        assert.equal(new URL(seen.url).search, "?x=1&y=%20");
        assert.equal(seen.body, "payload");
        assert.equal(seen.headers["x-custom"], "v");
        assert.equal(seen.headers["content-type"], "text/plain");
        assert.equal(seen.headers["x-forwarded-for"], "127.0.0.1");
        assert.equal(seen.headers["x-forwarded-proto"], "http");
        assert.equal(seen.headers["x-forwarded-host"], new URL(base).host);
        assert.equal(seen.headers["x-forwarded-prefix"], "/api");
        assert.equal(seen.headers["accept-encoding"], "identity");
      },
      {},
      "/api",
    );
  } finally {
    await up.close();
  }
});

Deno.test("proxy: X-Forwarded-For appends to what an earlier proxy sent", async () => {
  const up = upstream(echo("a"));
  try {
    await through(up.url, async (base) => {
      const seen = await (await fetch(base + "/", {
        headers: { "X-Forwarded-For": "203.0.113.7" },
      })).json();
      assert.equal(seen.headers["x-forwarded-for"], "203.0.113.7, 127.0.0.1");
      assert.equal(new URL(seen.url).pathname, "/");
    });
  } finally {
    await up.close();
  }
});

Deno.test("proxy: hop-by-hop headers are stripped in both directions", async () => {
  const up = upstream((request) => {
    const headers = new Headers({
      "x-seen": [...request.headers.keys()].join(","),
      "keep-alive": "timeout=5",
      "x-hop": "1",
      "connection": "x-hop",
      "x-end": "1",
    });
    headers.append("set-cookie", "a=1");
    headers.append("set-cookie", "b=2");
    return new Response("ok", { headers });
  });
  try {
    await through(up.url, async (base) => {
      const response = await fetch(base + "/", {
        headers: {
          "Connection": "x-secret, keep-alive",
          "X-Secret": "s",
          "Proxy-Authorization": "Basic x",
          "TE": "trailers",
          "X-Kept": "k",
        },
      });
      const seen = response.headers.get("x-seen")!.split(",");
      assert.ok(seen.includes("x-kept"));
      for (const name of ["x-secret", "proxy-authorization", "te"]) {
        assert.ok(!seen.includes(name), `${name} reached the upstream`);
      }
      assert.equal(response.headers.get("x-hop"), null);
      assert.equal(response.headers.get("keep-alive"), null);
      assert.equal(response.headers.get("x-end"), "1");
      assert.deepEqual(response.headers.getSetCookie(), ["a=1", "b=2"]);
      await response.text();
    });
  } finally {
    await up.close();
  }
});

Deno.test("proxy: round-robin over the upstreams", async () => {
  const ups = [upstream(echo("a")), upstream(echo("b")), upstream(echo("c"))];
  try {
    await through(ups.map((u) => u.url), async (base) => {
      const names: string[] = [];
      for (let i = 0; i < 6; i++) {
        names.push((await (await fetch(base + "/")).json()).name);
      }
      assert.deepEqual(names, ["a", "b", "c", "a", "b", "c"]);
    });
  } finally {
    await Promise.all(ups.map((u) => u.close()));
  }
});

Deno.test("proxy: a down upstream is skipped for requests without a body", async () => {
  const up = upstream(echo("up"));
  try {
    await through([downUrl(), up.url], async (base, logs) => {
      for (let i = 0; i < 4; i++) {
        const response = await fetch(base + "/");
        assert.equal(response.status, 200);
        assert.equal((await response.json()).name, "up");
      }
      assert.equal(logs.length, 0, logs.join(""));
      // Turn is at the down one again. Deno's fetch reads a request body as
      // it connects, so a body was consumed: not retried, 502.
      const posted = await fetch(base + "/", { method: "POST", body: "once" });
      assert.equal(posted.status, 502);
      assert.equal(await posted.text(), "502 Bad Gateway\n");
      assert.match(logs.join(""), /no upstream answered.*Connection refused/s);
    });
  } finally {
    await up.close();
  }
});

Deno.test("proxy: 502 when every upstream is down", async () => {
  await through([downUrl(), downUrl()], async (base, logs) => {
    const response = await fetch(base + "/x");
    assert.equal(response.status, 502);
    assert.equal(
      response.headers.get("content-type"),
      "text/plain; charset=utf-8",
    );
    assert.equal(await response.text(), "502 Bad Gateway\n");
    assert.match(logs.join(""), /proxy: no upstream answered \(GET \/x\)/);
  });
});

Deno.test("proxy: 504 when the upstream sends no headers within the timeout", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let arrived!: () => void;
  const reached = new Promise<void>((r) => (arrived = r));
  const slow = upstream(async () => {
    arrived();
    await gate;
    return new Response("too late");
  });
  try {
    await through(slow.url, async (base, logs) => {
      const response = await fetch(base + "/slow");
      await reached;
      assert.equal(response.status, 504);
      assert.equal(await response.text(), "504 Gateway Timeout\n");
      assert.match(logs.join(""), /sent no response within 50 ms/);
    }, { timeout: 50 });
  } finally {
    release();
    await slow.close();
  }
});

/** An upstream that reports when `bytes` of the request body have arrived. */
function countingUpstream(bytes: number) {
  let arrived!: () => void;
  const reached = new Promise<void>((r) => (arrived = r));
  const up = upstream(async (request) => {
    let total = 0;
    for await (const chunk of request.body!) {
      total += chunk.length;
      if (total >= bytes) arrived();
    }
    return new Response(`upstream read ${total}`);
  });
  return { up, reached };
}

Deno.test("proxy: the request body streams to the upstream as the client sends it", async () => {
  // The client holds back the end of its body until the upstream has the
  // start: a proxy that gathered the body first would never answer.
  const piece = 256 * 1024;
  const { up, reached } = countingUpstream(piece);
  try {
    await through(up.url, async (base) => {
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (sent === piece) await reached;
          if (sent === 2 * piece) return controller.close();
          controller.enqueue(new Uint8Array(16 * 1024).fill(1));
          sent += 16 * 1024;
        },
      }, { highWaterMark: 0 });
      const response = await fetch(base + "/", {
        method: "PUT",
        body,
        duplex: "half",
      } as RequestInit);
      assert.equal(await response.text(), `upstream read ${2 * piece}`);
    });
  } finally {
    await up.close();
  }
});

Deno.test("proxy: with tsgi's wsgi.input, even a few bytes are relayed at once", async () => {
  // Without the validator, whose wsgi.input wrapper offers only PEP 3333's
  // read(n) (which waits for n bytes): ReadableInputStream.read1 relays what came.
  const { up, reached } = countingUpstream(6);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    toFetchHandler(proxy(up.url)),
  );
  try {
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(b("first "));
        await reached;
        controller.enqueue(b("second"));
        controller.close();
      },
    });
    const response = await fetch(`http://127.0.0.1:${server.addr.port}/`, {
      method: "POST",
      body,
      duplex: "half",
    } as RequestInit);
    assert.equal(await response.text(), "upstream read 12");
  } finally {
    await server.shutdown();
    await up.close();
  }
});

Deno.test("proxy: an endless response streams back and a client abort cancels the upstream", async () => {
  let cancelled!: () => void;
  const cancel = new Promise<void>((r) => (cancelled = r));
  let pulls = 0;
  const up = upstream(() =>
    new Response(
      new ReadableStream<Uint8Array>({
        pull(controller) {
          pulls++;
          controller.enqueue(new Uint8Array(16 * 1024).fill(97));
        },
        cancel() {
          cancelled();
        },
      }, { highWaterMark: 0 }),
    )
  );
  try {
    await through(up.url, async (base) => {
      const abort = new AbortController();
      const response = await fetch(base + "/", { signal: abort.signal });
      const reader = response.body!.getReader();
      const first = await reader.read();
      assert.ok(first.value!.length > 0);
      abort.abort();
      await reader.cancel().catch(() => {});
      await cancel;
    });
    assert.ok(pulls < 2000, `${pulls} chunks pulled`);
  } finally {
    await up.close();
  }
});

Deno.test("proxy: an upstream that breaks mid-body breaks the client's stream", async () => {
  let fail!: () => void;
  const failing = new Promise<void>((r) => (fail = r));
  const up = upstream(() =>
    new Response(
      new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(b("partial"));
          await failing;
          controller.error(new Error("upstream died"));
        },
      }),
      { headers: { "content-type": "text/plain" } },
    )
  );
  try {
    await through(up.url, async (base, logs) => {
      const response = await fetch(base + "/");
      assert.equal(response.status, 200);
      fail();
      await assert.rejects(response.text());
      assert.match(logs.join(""), /after the response started/);
    });
  } finally {
    await up.close();
  }
});

Deno.test("proxy: an upstream that gzips anyway is passed on as gzip, intact", async () => {
  const text = "squeeze me ".repeat(500);
  const up = upstream(() =>
    new Response(
      new Blob([text]).stream().pipeThrough(new CompressionStream("gzip")),
      {
        headers: { "content-encoding": "gzip", "content-type": "text/plain" },
      },
    )
  );
  try {
    await through(up.url, async (base) => {
      // The client asks for identity too, so Deno's fetch leaves it encoded.
      const response = await fetch(base + "/", {
        headers: { "Accept-Encoding": "identity" },
      });
      assert.equal(response.headers.get("content-encoding"), "gzip");
      const plain = response.body!.pipeThrough(new DecompressionStream("gzip"));
      assert.equal(await new Response(plain).text(), text);
    });
  } finally {
    await up.close();
  }
});

Deno.test("proxy: refuses bad upstream lists and timeouts", () => {
  assert.throws(() => proxy([]), /no upstream/);
  assert.throws(() => proxy("ftp://x/"), /http: or https:/);
  assert.throws(() => proxy("/relative"), /absolute URL/);
  assert.throws(() => proxy("http://x/?q=1"), /no query/);
  assert.throws(() => proxy("http://x/", { timeout: 0 }), RangeError);
});

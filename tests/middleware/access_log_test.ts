import assert from "node:assert/strict";
import {
  accessLog,
  type AccessLogEntry,
  type App,
  toFetchHandler,
} from "../../mod.ts";
import { b, harness } from "../_util/helpers.ts";
import {
  checked,
  endless,
  readFirstThenAbort,
  serving,
} from "../_util/middleware.ts";

const CLF =
  /^(\S+) - (\S+) \[\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "([^"]*)" (\d{3}) (\d+|-)$/;

const hello: App = (_environ, startResponse) => {
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  return [b("hello "), b("world\n")];
};

function logged(app: App, options = {}) {
  const lines: string[] = [];
  const { handler, logs } = harness(
    checked(accessLog(checked(app), {
      sink: (line) => lines.push(line),
      ...options,
    })),
  );
  return { handler, lines, logs };
}

Deno.test("access log: a Common Log Format line with status and bytes", async () => {
  const { handler, lines } = logged(hello);
  const response = await handler("/greet?name=a%20b");
  assert.equal(await response.text(), "hello world\n");
  assert.equal(lines.length, 1);
  const match = CLF.exec(lines[0]);
  assert.ok(match, lines[0]);
  assert.equal(match[3], "GET /greet?name=a%20b HTTP/1.1");
  assert.equal(match[4], "200");
  assert.equal(match[5], "12");
});

Deno.test("access log: Combined adds Referer and User-Agent, escaping quotes", async () => {
  const { handler, lines } = logged(hello, { format: "combined" });
  await (await handler(
    new Request("http://localhost/", {
      headers: { "Referer": "http://x/", "User-Agent": 'evil" 200 1 "x' },
    }),
  )).text();
  assert.ok(
    lines[0].endsWith(' "http://x/" "evil\\" 200 1 \\"x"'),
    lines[0],
  );
});

Deno.test("access log: a streamed body is logged when it ends, with the bytes that passed", async () => {
  let closes = 0;
  const { handler, lines } = logged((_environ, startResponse) => {
    startResponse("201 Created", [["Content-Type", "text/plain"]]);
    return {
      async *[Symbol.asyncIterator]() {
        yield b("abc");
        yield b("defg");
      },
      close() {
        closes++;
      },
    };
  });
  const response = await handler("/s");
  assert.equal(lines.length, 0, "nothing is logged before the body ends");
  assert.equal(await response.text(), "abcdefg");
  assert.equal(lines.length, 1);
  assert.equal(CLF.exec(lines[0])![5], "7");
  assert.equal(CLF.exec(lines[0])![4], "201");
  assert.equal(closes, 1);
});

Deno.test("access log: write() bytes count; HEAD and 304 log no bytes", async () => {
  const writer: App = (_environ, startResponse) => {
    const write = startResponse("200 OK", [["Content-Type", "text/plain"]]);
    write(b("12345"));
    return [b("678")];
  };
  const { handler, lines } = logged(writer);
  assert.equal(await (await handler("/")).text(), "12345678");
  assert.equal(CLF.exec(lines[0])![5], "8");
  await (await handler(new Request("http://localhost/", { method: "HEAD" })))
    .text();
  assert.equal(CLF.exec(lines[1])![5], "-");
  const notModified = logged((_environ, startResponse) => {
    startResponse("304 Not Modified", []);
    return [];
  });
  await (await notModified.handler("/")).text();
  assert.equal(CLF.exec(notModified.lines[0])![4], "304");
  assert.equal(CLF.exec(notModified.lines[0])![5], "-");
});

Deno.test("access log: an overstated Content-Length logs only the bytes sent", async () => {
  // No validator here: the app breaks S49 on purpose, and the gateway cuts.
  const lines: string[] = [];
  const { handler, logs } = harness(
    accessLog((_environ, startResponse) => {
      startResponse("200 OK", [["Content-Length", "4"]]);
      return [b("1234567")];
    }, { sink: (line) => lines.push(line) }),
  );
  assert.equal(await (await handler("/")).text(), "1234");
  assert.equal(CLF.exec(lines[0])![5], "4");
  assert.match(logs.join(""), /too many bytes/);
});

Deno.test("access log: an app that raises is logged as 500 and the error goes on", async () => {
  const { handler, lines, logs } = logged(() => {
    throw new Error("boom");
  });
  const response = await handler("/x");
  assert.equal(response.status, 500);
  await response.text();
  assert.equal(CLF.exec(lines[0])![4], "500");
  assert.match(logs.join(""), /boom/);
  const late = logged((_environ, startResponse) => {
    startResponse("200 OK", []);
    return (function* () {
      yield* [];
      throw new Error("late");
    })();
  });
  const r2 = await late.handler("/y");
  assert.equal(r2.status, 500);
  await r2.text();
  assert.equal(CLF.exec(late.lines[0])![4], "500");
});

Deno.test("access log: by default lines go to wsgi.errors; a custom format sees the entry", async () => {
  const { handler, logs } = harness(checked(accessLog(checked(hello))));
  await (await handler("/")).text();
  assert.match(logs.join(""), /"GET \/ HTTP\/1.1" 200 12\n$/);
  let seen: AccessLogEntry | undefined;
  const custom = harness(checked(accessLog(checked(hello), {
    format: (entry) => {
      seen = entry;
      return `${entry.method} ${entry.status} ${entry.bytes} ${entry.complete}`;
    },
  })));
  await (await custom.handler("/")).text();
  assert.equal(seen?.complete, true);
  assert.ok(seen!.duration >= 0);
  assert.match(custom.logs.join(""), /^GET 200 12 true\n$/);
});

Deno.test("access log: a client abort mid-stream closes the app once and logs the bytes sent", async () => {
  const body = endless();
  const entries: AccessLogEntry[] = [];
  let logged!: () => void;
  const done = new Promise<void>((r) => (logged = r));
  const app = checked(accessLog(checked(body.app), {
    format: (entry) => {
      entries.push(entry);
      logged();
      return "";
    },
    sink: () => {},
  }));
  await serving(toFetchHandler(app), async (base) => {
    const { first } = await readFirstThenAbort(base + "/endless");
    assert.ok(first.length > 0, "the endless body streams");
    await body.closed;
    await done;
  });
  assert.equal(body.closeCalls(), 1);
  assert.equal(entries.length, 1);
  assert.equal(entries[0].complete, false);
  assert.ok(entries[0].bytes > 0);
  assert.ok(entries[0].bytes <= body.chunksMade() * 16 * 1024);
});

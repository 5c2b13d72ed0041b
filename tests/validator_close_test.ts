// Regression: when validator() rejected what an app returned (a body before
// start_response, A2; a non-iterable, A3), it threw without closing the
// result. The gateway never received the result, so nobody called its
// close(): a leak of whatever it held (S62). Found by
// tests/hostile_apps_test.ts.
import assert from "node:assert/strict";
import { toFetchHandler, validator } from "../mod.ts";
import type { App } from "../mod.ts";

function closable<T extends object>(value: T, counter: { n: number }): T {
  return Object.assign(value, { close: () => void counter.n++ });
}

const cases: [string, (counter: { n: number }) => App][] = [
  [
    "a body before start_response (A2)",
    (c) => () => closable([new Uint8Array([1])], c),
  ],
  ["the same from an async app", (c) => async () => {
    await null;
    return closable([new Uint8Array([1])], c);
  }],
  [
    "a result that is not iterable (A3)",
    (c) => () => closable({}, c) as unknown as ReturnType<App>,
  ],
];

for (const [name, make] of cases) {
  Deno.test(`validator closes a result it rejects: ${name}`, async () => {
    const counter = { n: 0 };
    const logs: string[] = [];
    const app = validator(make(counter));
    const handler = toFetchHandler(app, { errors: (t) => logs.push(t) });
    const response = await handler(new Request("http://localhost/"));
    assert.equal(response.status, 500);
    await response.body?.cancel();
    assert.match(logs.join(""), /\bA[23]: /);
    assert.equal(counter.n, 1);
  });
}

// SPEC.md against the PEP 3333 rules (docs/pep3333_rules.md), the validator
// and the gateway: every rule has a row in SPEC.md's coverage table, every rule the
// validator cites is in SPEC.md, and what SPEC.md says about environ keys,
// hop-by-hop names, the status format, the error response and URL
// reconstruction is what the code does.
import assert from "node:assert/strict";
import { toFetchHandler } from "../../mod.ts";
import type { Environ, GatewayOptions } from "../../mod.ts";
import {
  checkHeaders,
  HOP_BY_HOP,
  parseStatus,
} from "../../src/gateway/_response_rules.ts";

// The rules, by the IDs validator() cites, as the repository states them.
const RULES_URL = new URL("../../docs/pep3333_rules.md", import.meta.url);
const SPEC_URL = new URL("../../SPEC.md", import.meta.url);
const VALIDATOR_URL = new URL(
  "../../src/toolkit/validator.ts",
  import.meta.url,
);

const COVERAGE_URL = new URL(
  "../../docs/pep3333_coverage.md",
  import.meta.url,
);

const spec = Deno.readTextFileSync(SPEC_URL);
const coverageDoc = Deno.readTextFileSync(COVERAGE_URL);
const checklist = Deno.readTextFileSync(RULES_URL);
const validator = Deno.readTextFileSync(VALIDATOR_URL);

/** Rule IDs (S1, E25, A3, M6, V17, …) in the order the rules file defines them. */
function checklistIds(text: string): string[] {
  return [...text.matchAll(/^- \*\*([SEAMV]\d+)\*\*:/gm)].map((m) => m[1]);
}

/** The text of a `## N.` section of SPEC.md, up to the next `## `. */
function section(number: number): string {
  const start = spec.search(new RegExp(`^## ${number}\\. `, "m"));
  assert.notEqual(start, -1, `SPEC.md has no section "## ${number}."`);
  const rest = spec.slice(start + 3);
  const end = rest.search(/^## /m);
  return end === -1 ? rest : rest.slice(0, end);
}

/** A RegExp for a phrase of SPEC.md, which `deno fmt` may wrap anywhere. */
function phrase(text: string, rest = ""): RegExp {
  const escaped = text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(escaped.replaceAll(" ", "\\s+") + rest);
}

/** The cells of every Markdown table row in `text`, header and rule rows excluded. */
function tableRows(text: string): string[][] {
  const rows: string[][] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("|") || /^\|[\s|:-]+\|$/.test(line)) continue;
    rows.push(line.slice(1, -1).split(" | ").map((cell) => cell.trim()));
  }
  return rows;
}

/** Coverage rows of docs/pep3333_coverage.md: ID → the "Where" cell. */
function coverage(): Map<string, string> {
  const rows = new Map<string, string>();
  for (const cells of tableRows(coverageDoc)) {
    const id = cells[0];
    if (!/^[SEAMV]\d+$/.test(id)) continue;
    assert.ok(!rows.has(id), `the coverage table lists ${id} twice`);
    rows.set(id, cells[cells.length - 1]);
  }
  return rows;
}

/** Section numbers SPEC.md defines: "3", "3.1", … */
function sectionNumbers(): Set<string> {
  return new Set(
    [...spec.matchAll(/^#{2,4} (\d+(?:\.\d+)*)\.? /gm)].map((m) => m[1]),
  );
}

Deno.test({
  name: "the coverage table has a row for every PEP 3333 rule",
  fn() {
    const ids = checklistIds(checklist);
    for (const family of ["S", "E"]) {
      assert.ok(
        ids.some((id) => id.startsWith(family)),
        `the checklist parser found no ${family} rules`,
      );
    }
    const rows = coverage();
    const missing = ids.filter((id) => !rows.has(id));
    assert.deepEqual(
      missing,
      [],
      `docs/pep3333_coverage.md lacks rows for ${missing}`,
    );
    const unknown = [...rows.keys()].filter((id) => !ids.includes(id));
    assert.deepEqual(
      unknown,
      [],
      `docs/pep3333_coverage.md lists unknown IDs ${unknown}`,
    );
  },
});

Deno.test("every coverage row points to a section of SPEC.md or says why not", () => {
  const rows = coverage();
  assert.ok(rows.size > 0, "docs/pep3333_coverage.md has no coverage rows");
  const defined = sectionNumbers();
  for (const [id, where] of rows) {
    const refs = [...where.matchAll(/§(\d+(?:\.\d+)*)/g)].map((m) => m[1]);
    if (refs.length === 0) {
      assert.match(
        where,
        /^n\/a: \S/,
        `${id}: "${where}" names no section and gives no reason`,
      );
    }
    for (const ref of refs) {
      assert.ok(
        defined.has(ref),
        `${id} points to §${ref}, which SPEC.md lacks`,
      );
    }
  }
});

Deno.test("every section reference in SPEC.md's text exists", () => {
  const defined = sectionNumbers();
  // "RFC 9110 §5.3" is another document's section.
  for (const m of spec.matchAll(/(?<!RFC\s+\d+\s+)§(\d+(?:\.\d+)*)/g)) {
    assert.ok(defined.has(m[1]), `SPEC.md refers to §${m[1]}, which it lacks`);
  }
});

Deno.test({
  name:
    "every rule src/toolkit/validator.ts cites is defined in docs/pep3333_rules.md and appears in SPEC.md",
  fn() {
    const known = new Set(checklistIds(checklist));
    const highest = new Map<string, number>();
    for (const id of known) {
      const n = Number(id.slice(1));
      if (n > (highest.get(id[0]) ?? 0)) highest.set(id[0], n);
    }
    const cited = new Set(
      [...validator.matchAll(/\b([SEAMV])(\d{1,3})\b/g)]
        .filter((m) => highest.has(m[1]))
        .map((m) => m[1] + m[2]),
    );
    for (const id of cited) {
      // Every cited ID leads a user to its rule.
      assert.ok(
        known.has(id),
        `src/toolkit/validator.ts cites ${id}, which docs/pep3333_rules.md does not define`,
      );
      assert.match(
        spec,
        new RegExp(`\\b${id}\\b`),
        `src/toolkit/validator.ts cites ${id}, which SPEC.md never mentions`,
      );
    }
  },
});

/** Runs one request through the gateway and returns the environ the app saw. */
async function environOf(
  request: Request,
  options: GatewayOptions = {},
  ...runtimeArgs: unknown[]
): Promise<Record<string, unknown>> {
  let seen: Record<string, unknown> | undefined;
  const handler = toFetchHandler((environ, startResponse) => {
    seen = { ...environ };
    startResponse("200 OK", []);
    return [];
  }, { errors: () => {}, ...options });
  const response = await handler(request, ...runtimeArgs);
  await response.body?.cancel();
  assert.ok(seen !== undefined, "the app was not called");
  return seen;
}

/** Keys of SPEC.md §3's tables (first cell, in backticks) with their "Present" cell. */
function documentedKeys(): Map<string, string> {
  const keys = new Map<string, string>();
  for (const cells of tableRows(section(3))) {
    const key = /^`([^`]+)`$/.exec(cells[0])?.[1];
    if (key === undefined || cells.length < 3) continue;
    const present = cells.length === 3 ? cells[1] : cells[2];
    keys.set(key, present);
  }
  return keys;
}

Deno.test("SPEC.md documents every environ key the gateway sets, on every runtime shape", async () => {
  const documented = documentedKeys();
  const post = () =>
    new Request("https://example.com:8443/a?b=c", {
      method: "POST",
      body: "hello",
      headers: {
        "content-type": "text/plain",
        "x-forwarded-for": "10.0.0.1",
        "cf-connecting-ip": "192.0.2.1",
      },
    });
  const shapes: [string, unknown[]][] = [
    ["no runtime arguments", []],
    ["Deno", [{ remoteAddr: { hostname: "127.0.0.1", port: 5000 } }]],
    ["Bun", [{ requestIP: () => ({ address: "::1", port: 6000 }) }]],
    ["Workers", [{ KV: {} }, { waitUntil() {}, passThroughOnException() {} }]],
  ];
  for (const [shape, args] of shapes) {
    const environ = await environOf(post(), {}, ...args);
    for (const key of Object.keys(environ)) {
      const name = key.startsWith("HTTP_") ? "HTTP_*" : key;
      assert.ok(
        documented.has(name),
        `${shape}: the gateway sets ${key}, which SPEC.md §3 does not document`,
      );
    }
  }
});

Deno.test("a bare GET gets exactly the keys SPEC.md marks 'always'", async () => {
  const always = [...documentedKeys()]
    .filter(([, present]) => present === "always")
    .map(([key]) => key)
    .sort();
  const environ = await environOf(new Request("http://localhost/"));
  assert.deepEqual(Object.keys(environ).sort(), always);
});

Deno.test("SPEC.md's environ values match the gateway's for a mounted app", async () => {
  let seen: Environ | undefined;
  const handler = toFetchHandler((environ, startResponse) => {
    seen = environ;
    startResponse("200 OK", []);
    return [];
  }, { scriptName: "/app/" });
  await handler(new Request("http://h/app/x%2Fy/t%C3%A4st/%zz?q=%20"));
  assert.equal(seen!.SCRIPT_NAME, "/app");
  assert.equal(seen!.PATH_INFO, "/x/y/t\u00c3\u00a4st/%zz");
  assert.equal(seen!.QUERY_STRING, "q=%20");
  assert.equal(seen!.REQUEST_URI, "/app/x%2Fy/t%C3%A4st/%zz?q=%20");
  assert.equal(seen!.SERVER_PORT, "80");
  assert.deepEqual(seen!["wsgi.version"], [1, 0]);
  for (const [path, pathInfo] of [["/app", ""], ["/app/", "/"]]) {
    await handler(new Request("http://h" + path));
    assert.equal(seen!.PATH_INFO, pathInfo, `PATH_INFO for ${path}`);
  }
});

Deno.test("SPEC.md lists exactly the gateway's hop-by-hop header names", () => {
  const sentence = phrase(
    "The hop-by-hop names, compared case-insensitively, are:",
    "([^.]+)\\.",
  ).exec(section(7));
  assert.ok(sentence !== null, "SPEC.md §7.2 lost its hop-by-hop sentence");
  const listed = [...sentence[1].matchAll(/`([^`]+)`/g)].map((m) => m[1]);
  assert.deepEqual(listed.sort(), [...HOP_BY_HOP].sort());
});

Deno.test("SPEC.md's status rule agrees with the gateway's check", () => {
  const rule = phrase("it matches", "\\s+`\\/(.+?)\\/`").exec(section(7));
  assert.ok(rule !== null, "SPEC.md §7.1 lost its status pattern");
  const pattern = new RegExp(rule[1]);
  const statuses = [
    "200 OK",
    "204 ",
    "404 Not Found",
    "599 Custom\tReason",
    "200 Caf\u00e9",
    "200",
    "200OK",
    " 200 OK",
    "200  OK",
    "099 Low",
    "100 Continue",
    "600 High",
    "200 OK\r\n",
    "200 \u0100",
    "200 A\x7fB",
  ];
  for (const status of statuses) {
    const code = Number(status.slice(0, 3));
    const specAccepts = pattern.test(status) && code >= 200 && code <= 599;
    let gatewayAccepts = true;
    try {
      parseStatus(status);
    } catch {
      gatewayAccepts = false;
    }
    assert.equal(gatewayAccepts, specAccepts, JSON.stringify(status));
  }
});

Deno.test("SPEC.md's error response is the one the gateway sends", async () => {
  const block = phrase(
    "the gateway answers:",
    "\\s+```\\n([\\s\\S]*?)\\n\\s*```",
  )
    .exec(section(12));
  assert.ok(block !== null, "SPEC.md §12 lost its error response example");
  const handler = toFetchHandler(() => {
    throw new Error("secret detail");
  }, { errors: () => {} });
  const response = await handler(new Request("http://localhost/"));
  const body = await response.text();
  const shown = `${response.status} ${response.statusText}\n` +
    `content-type: ${response.headers.get("content-type")}\n` +
    `content-length: ${response.headers.get("content-length")}\n\n${body}`;
  const example = block[1].replace(/^ +/gm, "") + "\n";
  assert.equal(shown, example);
  assert.ok(!body.includes("secret detail"));
});

Deno.test("SPEC.md's URL reconstruction rebuilds the request URL", async () => {
  const code =
    /```ts\n((?:(?!```)[\s\S])*export function reconstructUrl[\s\S]*?)```/
      .exec(section(14));
  assert.ok(code !== null, "SPEC.md §14 lost reconstructUrl");
  const { reconstructUrl } = await import(
    "data:application/typescript;base64," + btoa(code[1])
  ) as { reconstructUrl(environ: Record<string, unknown>): string };
  const cases: [url: string, scriptName: string][] = [
    ["http://localhost/", ""],
    ["http://example.com:8080/app/t%C3%A4st?q=1&r=%20", "/app"],
    ["https://example.com/a/b/", ""],
    ["https://example.com:444/x%25y", ""],
    ["http://[::1]:9000/p%0Aq?", ""],
  ];
  for (const [url, scriptName] of cases) {
    const environ = await environOf(new Request(url), {
      scriptName,
      urlScheme: url.startsWith("https:") ? "https" : "http",
    });
    const expected = new URL(url).href.replace(/\?$/, "");
    // A Request built in-process has no Host header: SERVER_NAME/PORT are used.
    assert.equal(reconstructUrl(environ), expected, url);
    const withHost = { ...environ, HTTP_HOST: new URL(url).host };
    assert.equal(reconstructUrl(withHost), expected, `${url} with HTTP_HOST`);
  }
});

Deno.test("SPEC.md's sample header error is the gateway's message", () => {
  const sample = /^\s*TypeError: (Cannot use header .*)$/m.exec(section(7));
  assert.ok(sample !== null, "SPEC.md §7.2 lost its sample error");
  assert.throws(
    () => checkHeaders([["X-Bad", "a\r\nb"]]),
    (error: unknown) =>
      error instanceof TypeError && error.message === sample[1],
  );
});

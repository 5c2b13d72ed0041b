// The browser end to end: headless Chromium (Debian's, driven by
// playwright-core) loads examples/upload.ts served by serve(), submits its
// multipart form with a 5 MiB file, and reads the streamed result page. The
// test checks the bytes the app received against the bytes uploaded, the
// page the browser rendered, and takes a screenshot
// (tests/.tmp/browser_upload.png).
import assert from "node:assert/strict";
import {
  type Browser,
  haveChromium,
  launchChromium,
} from "../_util/browser.ts";
import { Buffer } from "node:buffer";
import { serve } from "../../mod.ts";
import {
  MAX_BODY_SIZE,
  type Received,
  uploadApp,
} from "../../examples/upload.ts";

const root = new URL("../../", import.meta.url).pathname;
// Without Chromium the test is skipped, except where CI requires it
// (scripts/ci/10_deno_test.sh sets TSGI_REQUIRE_ALL=1).
const required = Deno.env.get("TSGI_REQUIRE_ALL") === "1";
const FILE_SIZE = 5 * 1024 * 1024;
const NOTE = "grüße from Chromium";

// playwright-core is CommonJS; its .d.ts files use extensionless paths Deno
// does not resolve, so the slice used here is typed by hand.
interface Response {
  status(): number;
  allHeaders(): Promise<Record<string, string>>;
}
interface Page {
  goto(url: string): Promise<Response | null>;
  fill(selector: string, value: string): Promise<void>;
  setInputFiles(
    selector: string,
    file: { name: string; mimeType: string; buffer: Buffer },
  ): Promise<void>;
  click(selector: string): Promise<void>;
  waitForResponse(predicate: (r: { url(): string }) => boolean): Promise<
    Response
  >;
  waitForSelector(selector: string): Promise<unknown>;
  waitForLoadState(state: "load"): Promise<void>;
  textContent(selector: string): Promise<string | null>;
  title(): Promise<string>;
  screenshot(options: { path: string; fullPage?: boolean }): Promise<Buffer>;
  setDefaultTimeout(ms: number): void;
}

/** `size` reproducible bytes (xorshift32), every byte value in the mix. */
function deterministicBytes(
  size: number,
  seed = 0x2545f491,
): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  const words = new Uint32Array(bytes.buffer, 0, size >>> 2);
  let x = seed;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return bytes;
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(
    new Uint8Array(digest),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

Deno.test({
  name:
    "browser: Chromium uploads a 5 MiB file through a multipart form to serve(), the app hashes what it received, the page shows it",
  ignore: !haveChromium && !required,
  // Chromium and playwright's pipes outlive single test steps by design.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const file = deterministicBytes(FILE_SIZE);
    const expected = await sha256(file);
    // The file carries CRLF and delimiter-like bytes, so a parser that
    // split on them would show up as a wrong hash.
    file.set(
      new TextEncoder().encode("\r\n--\r\n------WebKitFormBoundary"),
      1000,
    );
    const expectedWithMarkers = await sha256(file);
    assert.notEqual(expected, expectedWithMarkers);

    let received: Received[] | undefined;
    const accessLines: string[] = [];
    const errors: string[] = [];
    const server = await serve(
      uploadApp({
        onUpload: (parts) => received = parts,
        log: (line) => accessLines.push(line),
      }),
      {
        hostname: "127.0.0.1",
        port: 0,
        maxBodySize: MAX_BODY_SIZE,
        onListen() {},
        accessLog: false,
        errors: (text) => errors.push(text),
      },
    );
    const profile = await Deno.makeTempDir({ prefix: "tsgi-chromium-" });
    let context: Browser<Page> | undefined;
    try {
      context = await launchChromium<Page>(profile);
      const page = await context.newPage();
      page.setDefaultTimeout(30_000);

      const formResponse = await page.goto(server.url);
      assert.equal(formResponse?.status(), 200);
      assert.equal(await page.title(), "tsgi upload");

      await page.fill('input[name="note"]', NOTE);
      await page.setInputFiles('input[name="file"]', {
        name: "random.bin",
        mimeType: "application/octet-stream",
        buffer: Buffer.from(file.buffer, file.byteOffset, file.byteLength),
      });
      const [result] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith("/upload")),
        page.click('button[type="submit"]'),
      ]);
      await page.waitForSelector("td.sha256");
      // The whole streamed page has arrived, and so the log line was written.
      await page.waitForLoadState("load");

      // What the app received: every byte, in order.
      assert.ok(received, "the app was not called with a form");
      assert.deepEqual(
        received.map(({ name, filename, contentType, size }) => ({
          name,
          filename,
          contentType,
          size,
        })),
        [
          {
            name: "note",
            filename: undefined,
            contentType: "text/plain",
            size: new TextEncoder().encode(NOTE).length,
          },
          {
            name: "file",
            filename: "random.bin",
            contentType: "application/octet-stream",
            size: FILE_SIZE,
          },
        ],
      );
      assert.equal(received[0].value, NOTE);
      assert.equal(received[1].sha256, expectedWithMarkers);

      // The answer was streamed (no Content-Length) and compressed for the
      // browser, and the browser shows it.
      assert.equal(result.status(), 200);
      const headers = await result.allHeaders();
      assert.equal(headers["content-type"], "text/html; charset=utf-8");
      assert.equal(headers["content-length"], undefined);
      // Chromium accepts br, which Deno's CompressionStream makes.
      assert.equal(headers["content-encoding"], "br");
      assert.equal(headers["vary"], "Accept-Encoding");
      assert.equal(await page.textContent("h1"), "Received 2 parts");
      assert.equal(
        await page.textContent('tr[data-field="file"] td.sha256'),
        expectedWithMarkers,
      );
      assert.equal(
        await page.textContent('tr[data-field="file"] td.size'),
        String(FILE_SIZE),
      );
      assert.equal(
        await page.textContent('tr[data-field="note"] td.value'),
        NOTE,
      );

      await Deno.mkdir(`${root}tests/.tmp`, { recursive: true });
      const shot = `${root}tests/.tmp/browser_upload.png`;
      const png = await page.screenshot({ path: shot, fullPage: true });
      assert.deepEqual(
        [...png.subarray(0, 8)],
        [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
      );
      console.log(`screenshot: ${shot}`);

      // The access log's combined format: the form as the referer and
      // Chromium's user agent.
      const logged = accessLines.find((line) =>
        line.includes('"POST /upload HTTP/1.1" 200 ')
      );
      assert.ok(
        logged,
        `no upload in the access log:\n${accessLines.join("\n")}`,
      );
      assert.match(logged, /^127\.0\.0\.1 - - \[/);
      assert.ok(logged.includes(`"${server.url}" "`), logged);
      assert.match(logged, /HeadlessChrome\/[\d.]+/);
      assert.deepEqual(errors, [], "the app or validator logged errors");
    } finally {
      await context?.close();
      await server.shutdown();
      await Deno.remove(profile, { recursive: true });
    }
  },
});

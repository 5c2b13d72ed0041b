// The batteries end to end in Chromium (Debian's, driven by
// playwright-core): a 50 MiB file goes up through an HTML form, parsed by
// parseMultipart and written to disk, and comes back from staticFiles()
// whole, as a byte range (206), and as a 304 when the browser revalidates
// with the ETag it was given.
import assert from "node:assert/strict";
import {
  type Browser,
  haveChromium,
  launchChromium,
} from "../_util/browser.ts";
import {
  answerFormError,
  type App,
  parseMultipart,
  Router,
  serve,
  staticFiles,
  validator,
} from "../../mod.ts";

const required = Deno.env.get("TSGI_REQUIRE_ALL") === "1";
const FILE_SIZE = 50 * 1024 * 1024;

// The slice of playwright-core used here, typed by hand (see browser_test.ts).
interface Page {
  goto(url: string): Promise<unknown>;
  setInputFiles(selector: string, path: string): Promise<void>;
  click(selector: string): Promise<void>;
  waitForSelector(selector: string): Promise<unknown>;
  textContent(selector: string): Promise<string | null>;
  evaluate<T, A>(fn: (arg: A) => Promise<T>, arg: A): Promise<T>;
  setDefaultTimeout(ms: number): void;
}

function deterministicBytes(size: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(size);
  const words = new Uint32Array(bytes.buffer, 0, size >>> 2);
  let x = 0x2545f491;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  // CRLFs and a boundary look-alike a careless parser would cut at.
  bytes.set(
    new TextEncoder().encode("\r\n--\r\n------WebKitFormBoundary"),
    1000,
  );
  return bytes;
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

const FORM = `<!doctype html><meta charset="utf-8"><title>upload</title>
<form method="post" action="/upload" enctype="multipart/form-data">
<input type="file" name="file"><button type="submit">Send</button></form>`;

Deno.test({
  name:
    "e2e batteries: Chromium uploads 50 MiB through a form (parseMultipart), gets it back whole, as a Range (206) and as a 304",
  ignore: !haveChromium && !required,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const file = deterministicBytes(FILE_SIZE);
    const expected = await sha256(file);
    const files = await Deno.makeTempDir({ prefix: "tsgi-e2e-files-" });
    const seen: string[] = [];
    const errors: string[] = [];

    const form: App = (_environ, startResponse) => {
      startResponse("200 OK", [["Content-Type", "text/html; charset=utf-8"]]);
      return [new TextEncoder().encode(FORM)];
    };
    const upload: App = async (environ, startResponse) => {
      const names: string[] = [];
      try {
        for await (
          const part of parseMultipart(environ, { maxFileSize: FILE_SIZE })
        ) {
          if (part.filename === undefined) continue;
          // A name of our own: the client's filename never reaches the disk.
          const name = `upload-${names.length}.bin`;
          const out = await Deno.open(`${files}/${name}`, {
            write: true,
            create: true,
            truncate: true,
          });
          try {
            for await (const chunk of part.body) {
              for (let at = 0; at < chunk.length;) {
                at += await out.write(chunk.subarray(at));
              }
            }
          } finally {
            out.close();
          }
          names.push(name);
        }
      } catch (error) {
        return answerFormError(error, startResponse);
      }
      startResponse("200 OK", [["Content-Type", "text/html; charset=utf-8"]]);
      return [
        new TextEncoder().encode(
          `<!doctype html><title>done</title><p id="name">${names[0]}</p>`,
        ),
      ];
    };
    const site = new Router()
      .get("/", form)
      .post("/upload", upload)
      .mount("/files", staticFiles(files));
    // Every status the server sent, to see the 206 and the 304 from its side.
    const recorded: App = (environ, startResponse) =>
      site.app(environ, (status, headers, excInfo) => {
        seen.push(`${environ.REQUEST_METHOD} ${environ.REQUEST_URI} ${status}`);
        return startResponse(status, headers, excInfo);
      });
    const server = await serve(validator(recorded), {
      hostname: "127.0.0.1",
      port: 0,
      maxBodySize: FILE_SIZE + 64 * 1024,
      onListen() {},
      accessLog: false,
      errors: (text) => errors.push(text),
    });
    const profile = await Deno.makeTempDir({ prefix: "tsgi-chromium-" });
    const sourceDir = await Deno.makeTempDir({ prefix: "tsgi-e2e-source-" });
    let context: Browser<Page> | undefined;
    try {
      context = await launchChromium<Page>(profile);
      const page = await context.newPage();
      page.setDefaultTimeout(120_000);
      await page.goto(server.url);
      // Over 50 MB, playwright takes a file's path rather than its bytes.
      const source = `${sourceDir}/big.bin`;
      await Deno.writeFile(source, file);
      await page.setInputFiles('input[name="file"]', source);
      await page.click('button[type="submit"]');
      await page.waitForSelector("#name");
      const name = await page.textContent("#name");
      assert.equal(name, "upload-0.bin");
      // What reached the disk: every byte, in order.
      assert.equal(
        await sha256(await Deno.readFile(`${files}/${name}`)),
        expected,
      );

      // Back in the browser: whole, a range, and a revalidation.
      const result = await page.evaluate(async (url: string) => {
        const hex = (buffer: ArrayBuffer) =>
          crypto.subtle.digest("SHA-256", buffer).then((d) =>
            Array.from(
              new Uint8Array(d),
              (b) => b.toString(16).padStart(2, "0"),
            )
              .join("")
          );
        const whole = await fetch(url);
        const wholeHash = await hex(await whole.arrayBuffer());
        const etag = whole.headers.get("etag")!;
        // no-store: to the server as it is, not answered from the cache.
        const range = await fetch(url, {
          headers: { Range: "bytes=1000-1999" },
          cache: "no-store",
        });
        const rangeBytes = Array.from(
          new Uint8Array(await range.arrayBuffer()),
        );
        // The browser's own revalidation: its cached copy, confirmed by a 304.
        const revalidated = await fetch(url, { cache: "no-cache" });
        const revalidatedHash = await hex(await revalidated.arrayBuffer());
        // An explicit one, whose 304 the page sees.
        const again = await fetch(url, { headers: { "If-None-Match": etag } });
        return {
          wholeStatus: whole.status,
          wholeLength: whole.headers.get("content-length"),
          wholeHash,
          etag,
          rangeStatus: range.status,
          contentRange: range.headers.get("content-range"),
          rangeBytes,
          revalidatedStatus: revalidated.status,
          revalidatedHash,
          againStatus: again.status,
          againEtag: again.headers.get("etag"),
        };
      }, `${server.url}files/${name}`);
      assert.equal(result.wholeStatus, 200);
      assert.equal(result.wholeLength, String(FILE_SIZE));
      assert.equal(result.wholeHash, expected);
      assert.match(result.etag, /^"[0-9a-f]+-[0-9a-f]+"$/);
      assert.equal(result.rangeStatus, 206);
      assert.equal(result.contentRange, `bytes 1000-1999/${FILE_SIZE}`);
      assert.deepEqual(result.rangeBytes, [...file.subarray(1000, 2000)]);
      assert.equal(result.revalidatedStatus, 200);
      assert.equal(result.revalidatedHash, expected);
      assert.equal(result.againStatus, 304);
      assert.equal(result.againEtag, result.etag);
      assert.deepEqual(seen.filter((line) => !line.includes("favicon")), [
        "GET / 200 OK",
        "POST /upload 200 OK",
        `GET /files/${name} 200 OK`,
        `GET /files/${name} 206 Partial Content`,
        `GET /files/${name} 304 Not Modified`,
        `GET /files/${name} 304 Not Modified`,
      ]);
      assert.deepEqual(errors, [], "the app or validator logged errors");
    } finally {
      await context?.close();
      await server.shutdown();
      await Deno.remove(profile, { recursive: true });
      await Deno.remove(files, { recursive: true });
      await Deno.remove(sourceDir, { recursive: true });
    }
  },
});

// File uploads through a browser form: GET / shows the form, POST /upload
// streams the multipart body through the library's parseMultipart, hashing each
// file as it arrives (bounded memory whatever the file's size), and answers
// with an HTML page streamed in pieces. In front: an access log (Apache's
// combined format), error pages and compression; behind them, validator()
// checks both sides of the router.
//
//   deno run --allow-net examples/upload.ts [port]      (then open the URL)
//
// tests/e2e/browser_test.ts drives it with headless Chromium.
import { createHash } from "node:crypto";
import {
  accessLog,
  answerFormError,
  type App,
  compress,
  errorPages,
  parseMultipart,
  Router,
  serve,
  validator,
} from "../mod.ts";

/** What the app received in one part of the form. */
export interface Received {
  /** The form field. */
  name: string;
  /** The file's name, for a file field. */
  filename?: string;
  /** The part's Content-Type. */
  contentType: string;
  /** The bytes received. */
  size: number;
  /** Their SHA-256, in hex. */
  sha256: string;
  /** A text field's value (the first 1,000 bytes). */
  value?: string;
}

/** Options of {@linkcode uploadApp}. */
export interface UploadOptions {
  /** Called with every part of each form received, before the answer. */
  onUpload?: (parts: Received[]) => void;
  /** Where access-log lines go; stdout by default. */
  log?: (line: string) => void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const FORM = `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>tsgi upload</title>
<style>body { font: 16px system-ui, sans-serif; margin: 2em; }</style>
<h1>Upload a file</h1>
<form method="post" action="upload" enctype="multipart/form-data">
  <p><label>Note <input name="note" value=""></label></p>
  <p><label>File <input type="file" name="file"></label></p>
  <p><button type="submit">Upload</button></p>
</form>
`;

const form: App = (_environ, startResponse) => {
  startResponse("200 OK", [["Content-Type", "text/html; charset=utf-8"]]);
  return [encoder.encode(FORM)];
};

/** The result page, streamed one piece at a time. */
async function* resultPage(parts: Received[]): AsyncGenerator<Uint8Array> {
  yield encoder.encode(`<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>tsgi upload: received</title>
<style>
body { font: 16px system-ui, sans-serif; margin: 2em; }
td, th { border: 1px solid #999; padding: .3em .6em; text-align: left; }
table { border-collapse: collapse; } code { font-size: 13px; }
</style>
<h1>Received ${parts.length} part${parts.length === 1 ? "" : "s"}</h1>
<table>
<tr><th>field</th><th>file</th><th>type</th><th>bytes</th><th>SHA-256 or value</th></tr>
`);
  for (const part of parts) {
    const last = part.filename === undefined
      ? escape(part.value ?? "")
      : `<code>${part.sha256}</code>`;
    yield encoder.encode(
      `<tr data-field="${escape(part.name)}"><td>${escape(part.name)}</td>` +
        `<td class="filename">${escape(part.filename ?? "")}</td>` +
        `<td>${escape(part.contentType)}</td>` +
        `<td class="size">${part.size}</td>` +
        `<td class="${part.filename === undefined ? "value" : "sha256"}">` +
        `${last}</td></tr>\n`,
    );
  }
  yield encoder.encode(`</table>\n<p><a href="./">Upload another</a></p>\n`);
}

function upload(options: UploadOptions): App {
  return async (environ, startResponse) => {
    const parts: Received[] = [];
    try {
      for await (const part of parseMultipart(environ)) {
        const hash = createHash("sha256");
        let size = 0;
        let value = "";
        for await (const chunk of part.body) {
          hash.update(chunk);
          size += chunk.length;
          if (part.filename === undefined && value.length < 1000) {
            value += decoder.decode(chunk, { stream: true });
          }
        }
        parts.push({
          name: part.name,
          filename: part.filename,
          contentType: part.contentType,
          size,
          sha256: hash.digest("hex"),
          value: part.filename === undefined ? value.slice(0, 1000) : undefined,
        });
      }
    } catch (error) {
      // 400 for a malformed form, 413 for one over a limit; others rethrown.
      return answerFormError(error, startResponse);
    }
    options.onUpload?.(parts);
    // No Content-Length: the page goes out chunk by chunk as it is produced.
    startResponse("200 OK", [["Content-Type", "text/html; charset=utf-8"]]);
    return resultPage(parts);
  };
}

/** The upload site: the form at `/`, the handler at `/upload`. */
export function uploadApp(options: UploadOptions = {}): App {
  const site = new Router().get("/", form).post("/upload", upload(options));
  const log = options.log ?? ((line: string) => console.log(line));
  return accessLog(errorPages(compress(validator(site.app))), {
    format: "combined",
    sink: (line) => log(line),
  });
}

/** The largest upload the example accepts, in bytes. */
export const MAX_BODY_SIZE = 64 * 1024 * 1024;

if (import.meta.main) {
  const port = Number(Deno.args[0] ?? 8000);
  // The access log is the middleware's, so serve()'s own is off.
  await serve(uploadApp(), {
    port,
    maxBodySize: MAX_BODY_SIZE,
    accessLog: false,
  });
}

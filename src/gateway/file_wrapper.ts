/**
 * `wsgi.file_wrapper`: hand a Blob or a ReadableStream to the server so it
 * becomes the Response body as it is, with PEP 3333's plain-iterable
 * fallback for anything else.
 *
 * @module
 */

import type { AppIterable, FileLike } from "../types.ts";

const DEFAULT_BLOCK = 64 * 1024;

/**
 * The iterable `wsgi.file_wrapper` returns.
 *
 * The gateway recognises it and sends a Blob or a ReadableStream source
 * without copying it through JavaScript. Anywhere else (a middleware that
 * filters the body, another server) it is an ordinary async iterable of
 * chunks, read from where the source stands, and `close()` releases the
 * source, as PEP 3333 requires.
 *
 * @example Serve a Blob
 * ```ts
 * import { FileWrapper } from "@tsgi/tsgi";
 * const body = new FileWrapper(new Blob(["hello"]));
 * for await (const chunk of body) console.log(chunk.length); // 5
 * await body.close();
 * ```
 */
export class FileWrapper implements AsyncIterable<Uint8Array> {
  /** What is being sent. */
  readonly source: FileLike;
  /** A hint for the size of the chunks of the fallback iteration. */
  readonly blockSize: number;
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #handedOff = false;
  #closed = false;

  /**
   * Wraps a file-like source.
   *
   * @param source A Blob (or File), a ReadableStream, or an object with
   *   `read(size)` and optionally `close()`.
   * @param blockSize A hint for the chunk size; 64 KiB by default.
   */
  constructor(source: FileLike, blockSize: number = DEFAULT_BLOCK) {
    if (
      !(source instanceof Blob) && !(source instanceof ReadableStream) &&
      typeof (source as { read?: unknown })?.read !== "function"
    ) {
      throw new TypeError(
        `Cannot wrap ${typeof source} as a file: expected a Blob, a ReadableStream or an object with read(size)`,
      );
    }
    this.source = source;
    this.blockSize = blockSize > 0 ? blockSize : DEFAULT_BLOCK;
  }

  /**
   * Gives the source to the caller to send as it is (a server's fast
   * path). Afterwards the caller owns a stream source; `close()` leaves it.
   *
   * @returns the Blob or stream, or undefined when the source is file-like.
   */
  handOff(): Blob | ReadableStream<Uint8Array> | undefined {
    if (this.#reader !== undefined || this.#closed) return undefined;
    if (this.source instanceof Blob || this.source instanceof ReadableStream) {
      this.#handedOff = true;
      return this.source;
    }
    return undefined;
  }

  /** Yields the source's bytes in chunks. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    const source = this.source;
    if (source instanceof Blob) {
      for (let at = 0; at < source.size; at += this.blockSize) {
        if (this.#closed) return;
        const part = source.slice(at, at + this.blockSize);
        yield new Uint8Array(await part.arrayBuffer());
      }
      return;
    }
    if (source instanceof ReadableStream) {
      this.#reader = source.getReader();
      for (;;) {
        const { done, value } = await this.#reader.read();
        if (done) return;
        yield value;
      }
    }
    for (;;) {
      const chunk = await source.read(this.blockSize);
      if (chunk.length === 0) return;
      yield chunk;
    }
  }

  /** Releases the source: its own `close()`, or cancelling a stream. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const source = this.source;
    if (source instanceof ReadableStream) {
      if (this.#handedOff) return;
      await (this.#reader ?? source).cancel();
    } else if (!(source instanceof Blob)) {
      await source.close?.();
    }
  }
}

/**
 * The function apps find as `environ["wsgi.file_wrapper"]`.
 *
 * @param file The source to send.
 * @param blockSize A hint for the chunk size.
 * @returns a {@linkcode FileWrapper}.
 *
 * @example Send a file on Deno
 * ```ts ignore
 * import type { App } from "@tsgi/tsgi";
 * const app: App = async (environ, startResponse) => {
 *   const file = await Deno.open("./README.md");
 *   startResponse("200 OK", [["Content-Type", "text/markdown"]]);
 *   return environ["wsgi.file_wrapper"]!(file.readable);
 * };
 * ```
 */
export function wrapFile(file: FileLike, blockSize?: number): AppIterable {
  return new FileWrapper(file, blockSize);
}

/**
 * `wsgi.input`: PEP 3333's input stream over a Fetch body.
 *
 * @module
 */

import { readLines } from "./_values.ts";
import type { InputStream } from "../types.ts";
import { concat } from "./_bytes.ts";
import { BODY_BROKEN, BODY_TOO_LARGE } from "./_body_errors.ts";

const EMPTY = new Uint8Array(0);
/** Bytes asked of the source per chunk when reading into our own buffers. */
const CHUNK = 65536;
/**
 * The largest `read(size)` served by one buffer of `size` bytes read into in
 * place; larger sizes collect chunks, so `read(2 ** 40)` of a short body
 * doesn't try to allocate a terabyte.
 */
const MAX_EXACT = 2 ** 24;

function toSize(size: number | null | undefined): number {
  if (size === undefined || size === null) return Infinity;
  if (typeof size !== "number" || Number.isNaN(size)) {
    throw new TypeError(
      `Cannot read ${String(size)} bytes: expected a number or nothing`,
    );
  }
  return size < 0 ? Infinity : Math.floor(size);
}

/**
 * Reads a request body the way PEP 3333's `wsgi.input` is read: `read(n)`
 * returns exactly `n` bytes unless the body ends first, `readline` stops
 * after `\n`, and an empty or spent body answers an empty array at once.
 *
 * It pulls from the source only as the app reads, holding at most one
 * source chunk plus what a single call asks for.
 *
 * @example Read a POST body
 * ```ts
 * import { ReadableInputStream } from "@tsgi/tsgi";
 * const input = new ReadableInputStream(new Request("http://x/", { method: "POST", body: "a\nb" }).body);
 * console.log(await input.readline()); // Uint8Array [97, 10]
 * console.log(await input.read()); // Uint8Array [98]
 * ```
 */
export class ReadableInputStream implements InputStream {
  #source: ReadableStream<Uint8Array> | null;
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  // Set when the source is a byte stream (Deno's request bodies, stdin):
  // the runtime then reads straight into a buffer of the size asked for.
  #byob: ReadableStreamBYOBReader | undefined;
  // An unshared buffer left by a small chunk, to read the next chunk into.
  #spare: ArrayBuffer | undefined;
  #buffer: Uint8Array = EMPTY;
  #offset = 0;
  #done: boolean;
  #limit: number;
  #received = 0;

  /**
   * Makes an input stream over a body.
   *
   * @param source The body; `null` for none.
   * @param maxBodySize Reading past this many bytes throws a RangeError.
   */
  constructor(
    source: ReadableStream<Uint8Array> | Uint8Array | null,
    maxBodySize: number = Infinity,
  ) {
    this.#limit = maxBodySize;
    if (source instanceof Uint8Array) {
      this.#source = null;
      this.#buffer = source;
      this.#done = true;
      if (source.length > maxBodySize) this.#tooLarge();
    } else {
      this.#source = source;
      this.#done = source === null;
    }
  }

  /** Bytes held but not read yet. */
  get #available(): number {
    return this.#buffer.length - this.#offset;
  }

  #tooLarge(): never {
    const error = new RangeError(
      `Cannot read the request body: it is larger than maxBodySize (${this.#limit} bytes)`,
    );
    Object.defineProperty(error, BODY_TOO_LARGE, { value: true });
    throw error;
  }

  /** Takes a reader on first use: a BYOB one when the source allows it. */
  #open(): void {
    try {
      this.#byob = this.#source!.getReader({ mode: "byob" });
    } catch {
      // Not a byte stream (Bun's bodies, most user streams): chunks as given.
      this.#reader = this.#source!.getReader();
    }
  }

  /** Reads from the source, turning its failure into the client's error. */
  async #next(
    view?: Uint8Array,
  ): Promise<ReadableStreamReadResult<Uint8Array>> {
    try {
      return view === undefined
        ? await this.#reader!.read()
        : await this.#byob!.read(view);
    } catch (cause) {
      // The client's fault (a short or malformed body, a hang-up), not the
      // app's: the gateway answers 400 if nothing was sent yet.
      this.#done = true;
      this.#buffer = EMPTY;
      this.#offset = 0;
      const error = new Error(
        `Cannot read the request body: it ended early or was malformed after ${this.#received} bytes`,
        { cause },
      );
      Object.defineProperty(error, BODY_BROKEN, { value: true });
      throw error;
    }
  }

  /** Counts `n` more bytes received; past maxBodySize, stops reading. */
  #count(n: number): void {
    this.#received += n;
    if (this.#received > this.#limit) {
      this.#done = true;
      this.#buffer = EMPTY;
      this.#offset = 0;
      (this.#byob ?? this.#reader)!.cancel().catch(() => {});
      this.#tooLarge();
    }
  }

  #finish(): void {
    this.#done = true;
    (this.#byob ?? this.#reader)!.releaseLock();
  }

  /**
   * Pulls one more chunk into the empty buffer; false at the end of the body.
   * Callers take what is held first: the buffer is replaced, not appended to.
   */
  async #fill(): Promise<boolean> {
    if (this.#done) return false;
    if (this.#byob === undefined && this.#reader === undefined) this.#open();
    for (;;) {
      const spare = this.#spare;
      this.#spare = undefined;
      const step = this.#byob === undefined
        ? await this.#next()
        : await this.#next(new Uint8Array(spare ?? new ArrayBuffer(CHUNK)));
      let value = step.value;
      if (step.done || value === undefined) {
        this.#finish();
        return false;
      }
      const n = value.length;
      if (n === 0) continue;
      this.#count(n);
      if (this.#byob !== undefined && n < CHUNK / 4) {
        // A small chunk gets its own small array, and the big buffer that
        // nothing else refers to takes the next read, so memory held stays
        // near the bytes held.
        this.#spare = value.buffer as ArrayBuffer;
        value = value.slice();
      }
      this.#buffer = value;
      this.#offset = 0;
      return true;
    }
  }

  /**
   * Reads exactly `want` bytes (fewer at the end of the body) into one array
   * through the BYOB reader: the runtime writes into the array handed out.
   * Called with nothing held and `want >= CHUNK`.
   */
  async #readExact(want: number): Promise<Uint8Array> {
    let out = new Uint8Array(want);
    let filled = 0;
    while (filled < want) {
      const rest = want - filled;
      if (rest < CHUNK) {
        // Never offer the runtime a view smaller than a chunk: Deno, left
        // holding the rest of a chunked-encoding frame, spends ~100 µs per
        // read (measured 8x the CPU of whole-chunk reads). A whole chunk is
        // read instead and its head copied; the rest is held.
        if (!await this.#fill()) break;
        const n = Math.min(this.#available, rest);
        out.set(this.#take(n), filled);
        filled += n;
        continue;
      }
      // The read transfers the buffer: `out` comes back in `value.buffer`.
      // No `{ min }`: a read that fails would lose the count of what it got.
      const step = await this.#next(new Uint8Array(out.buffer, filled, rest));
      const value = step.value;
      if (value === undefined) {
        // Cancelled under us: the buffer is gone with the stream.
        this.#finish();
        return EMPTY;
      }
      out = new Uint8Array(value.buffer as ArrayBuffer);
      filled += value.length;
      if (value.length > 0) this.#count(value.length);
      if (step.done) {
        this.#finish();
        break;
      }
    }
    if (filled === want) return out;
    // A short read at the end of the body: don't keep the rest of `want`.
    return filled === 0 ? EMPTY : out.slice(0, filled);
  }

  #take(n: number): Uint8Array {
    const out = this.#buffer.subarray(this.#offset, this.#offset + n);
    this.#offset += n;
    if (this.#offset === this.#buffer.length) {
      this.#buffer = EMPTY;
      this.#offset = 0;
    }
    return out;
  }

  /**
   * Reads `size` bytes, fewer only at the end of the body; with no size, the
   * rest of the body.
   */
  async read(size?: number | null): Promise<Uint8Array> {
    const want = toSize(size);
    if (want === 0) return EMPTY;
    if (this.#available >= want) return this.#take(want);
    if (this.#done) return this.#take(this.#available);
    if (this.#available === 0 && want >= CHUNK && want <= MAX_EXACT) {
      if (this.#byob === undefined && this.#reader === undefined) this.#open();
      if (this.#byob !== undefined) return this.#readExact(want);
    }
    if (this.#available === 0 && want !== Infinity) {
      // The common streaming case: hand out source chunks without copying.
      if (!await this.#fill()) return EMPTY;
      if (this.#available >= want) return this.#take(want);
    }
    const parts: Uint8Array[] = [];
    let total = 0;
    while (total < want) {
      if (this.#available === 0 && !await this.#fill()) break;
      const part = this.#take(Math.min(this.#available, want - total));
      parts.push(part);
      total += part.length;
    }
    return total === 0 ? EMPTY : concat(parts, total);
  }

  /**
   * Reads at most `size` bytes, waiting for no more than one chunk of the
   * source: what is held, else the next chunk to arrive (Python's `read1`).
   * An empty array means the body has ended. For relaying a body as it
   * arrives (a proxy), where `read(size)` would wait for all `size` bytes.
   */
  async read1(size?: number | null): Promise<Uint8Array> {
    const want = toSize(size);
    if (want === 0) return EMPTY;
    if (this.#available === 0 && !await this.#fill()) return EMPTY;
    return this.#take(Math.min(this.#available, want));
  }

  /** Reads through the next `\n` (kept), or at most `size` bytes. */
  async readline(size?: number | null): Promise<Uint8Array> {
    const want = toSize(size);
    if (want === 0) return EMPTY;
    const parts: Uint8Array[] = [];
    let total = 0;
    while (total < want) {
      if (this.#available === 0 && !await this.#fill()) break;
      const room = Math.min(this.#available, want - total);
      const nl = this.#buffer.indexOf(10, this.#offset);
      const n = nl !== -1 && nl - this.#offset < room
        ? nl - this.#offset + 1
        : room;
      const part = this.#take(n);
      parts.push(part);
      total += n;
      if (part[n - 1] === 10) break;
    }
    return total === 0 ? EMPTY : concat(parts, total);
  }

  /** Reads the remaining lines, stopping once `hint` bytes have been read. */
  async readlines(hint?: number | null): Promise<Uint8Array[]> {
    const limit = hint === undefined || hint === null || hint <= 0
      ? Infinity
      : hint;
    const lines: Uint8Array[] = [];
    let total = 0;
    while (total < limit) {
      const line = await this.readline();
      if (line.length === 0) break;
      lines.push(line);
      total += line.length;
    }
    return lines;
  }

  /** Yields the body line by line. */
  [Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    return readLines(this);
  }
}

/**
 * The former name of {@linkcode ReadableInputStream}.
 *
 * @deprecated Use {@linkcode ReadableInputStream}: the class is an
 * {@linkcode InputStream} over a ReadableStream, and `BodyInput` read as the
 * mirror of the body going the other way.
 */
export const BodyInput: typeof ReadableInputStream = ReadableInputStream;
/**
 * The former name of {@linkcode ReadableInputStream}.
 *
 * @deprecated Use {@linkcode ReadableInputStream}.
 */
export type BodyInput = ReadableInputStream;

// Bodies a middleware hands to the server in place of the app's result.
// They pass the app's chunks on one at a time as the server pulls (never
// gathering a streamed body), and end the app's iteration and call its
// close() exactly once, however the request ends.

import { concat } from "../gateway/_bytes.ts";
import { show } from "../gateway/_response_rules.ts";
import { isThenable } from "../gateway/_values.ts";
import type {
  App,
  AppIterable,
  Environ,
  StartResponse,
  Write,
} from "../types.ts";

type Step = IteratorResult<Uint8Array, undefined>;
type AnyIterator = Iterator<Uint8Array> | AsyncIterator<Uint8Array>;

const DONE: Step = Object.freeze({ done: true, value: undefined });

/**
 * Calls an app and hands its result (sync or awaited) to `wrap`; an error
 * it raises, synchronously or by rejecting, goes to `fail`.
 */
export function callApp(
  app: App,
  environ: Environ,
  startResponse: StartResponse,
  wrap: (result: AppIterable) => AppIterable,
  fail: (error: unknown) => AppIterable,
): AppIterable | Promise<AppIterable> {
  let result: AppIterable | Promise<AppIterable>;
  try {
    result = app(environ, startResponse);
  } catch (error) {
    return fail(error);
  }
  if (isThenable(result)) {
    return (result as Promise<AppIterable>).then(wrap, fail);
  }
  return wrap(result);
}

function checkChunk(chunk: unknown): Uint8Array {
  if (!(chunk instanceof Uint8Array)) {
    throw new TypeError(
      `Cannot pass on ${show(chunk)}: body chunks must be Uint8Array`,
    );
  }
  return chunk;
}

/**
 * The app's result as a pull source: one `next()` at a time, a first step
 * that can be put back, and `close()` that runs once.
 */
export class Source {
  readonly result: AppIterable;
  /** Whether `next()` answers Promises. */
  readonly async: boolean;
  #iterator: AnyIterator | undefined;
  #peeked: Step | undefined;
  #done = false;
  #closed = false;

  constructor(result: AppIterable) {
    if (typeof result !== "object" || result === null) {
      throw new TypeError(
        `Cannot use the application's result ${
          show(result)
        }: expected an iterable of Uint8Array chunks`,
      );
    }
    this.result = result;
    this.async = typeof (result as AsyncIterable<Uint8Array>)[
      Symbol.asyncIterator
    ] === "function";
  }

  /** True once the result is exhausted (or closed). */
  get done(): boolean {
    return this.#done;
  }

  /** Puts a step back; the next `next()` answers it. */
  unshift(step: Step): void {
    this.#peeked = step;
  }

  /** The next chunk; a Promise when the result is async. */
  next(): Step | Promise<Step> {
    const peeked = this.#peeked;
    if (peeked !== undefined) {
      this.#peeked = undefined;
      return this.async ? Promise.resolve(peeked) : peeked;
    }
    if (this.#done) return this.async ? Promise.resolve(DONE) : DONE;
    const iterator = this.#iterator ??= this.async
      ? (this.result as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
      : (this.result as Iterable<Uint8Array>)[Symbol.iterator]();
    if (!this.async) {
      try {
        return this.#take((iterator as Iterator<Uint8Array>).next());
      } catch (error) {
        this.#done = true;
        throw error;
      }
    }
    return (iterator as AsyncIterator<Uint8Array>).next().then(
      (step) => this.#take(step),
      (error) => {
        this.#done = true;
        throw error;
      },
    );
  }

  #take(step: IteratorResult<Uint8Array>): Step {
    if (step.done) {
      this.#done = true;
      return DONE;
    }
    return { done: false, value: checkChunk(step.value) };
  }

  /** Ends the iteration and calls the result's close(), both once. */
  close(): void | Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const iterator = this.#iterator;
    let pending: unknown;
    if (iterator !== undefined && !this.#done) {
      this.#done = true;
      pending = iterator.return?.();
    }
    this.#done = true;
    const result = this.result;
    const close = () => result.close?.();
    if (isThenable(pending)) {
      return Promise.resolve(pending).then(close, async (error) => {
        await close();
        throw error;
      });
    }
    return close();
  }
}

/** What a {@linkcode mapBody} does on the way. */
export interface BodyHooks {
  /** Changes a chunk as it passes; may return an empty chunk. */
  map?(chunk: Uint8Array): Uint8Array;
  /** A last chunk, after the app's last. */
  tail?(): Uint8Array | undefined;
  /**
   * The app's iteration raised. Return chunks that end the body in its
   * place, or throw. `sent` tells whether a non-empty chunk went out.
   */
  error?(error: unknown, sent: boolean): Uint8Array[];
  /** Runs once, at close(); `complete` when the body reached its end. */
  end?(complete: boolean): void;
}

/** The shared state machine of the sync and async mapped bodies. */
class Mapped {
  readonly source: Source;
  readonly hooks: BodyHooks;
  #queue: Uint8Array[] | undefined;
  #sent = false;
  #finished = false;
  #complete = false;
  #closed = false;

  constructor(source: Source, hooks: BodyHooks) {
    this.source = source;
    this.hooks = hooks;
  }

  /** A step that needs no pull, or undefined. */
  queued(): Step | undefined {
    const queue = this.#queue;
    if (queue !== undefined && queue.length > 0) {
      return this.out(queue.shift()!);
    }
    if (this.#finished) return DONE;
    return undefined;
  }

  out(chunk: Uint8Array): Step {
    if (chunk.length > 0) this.#sent = true;
    return { done: false, value: chunk };
  }

  /** Turns the source's step into ours. */
  take(step: Step): Step {
    if (!step.done) {
      const map = this.hooks.map;
      return this.out(map === undefined ? step.value : map(step.value));
    }
    this.#finished = true;
    this.#complete = true;
    const last = this.hooks.tail?.();
    return last === undefined ? DONE : this.out(last);
  }

  /** The source raised: a replacement ending, or the error again. */
  fail(error: unknown): Step {
    this.#finished = true;
    const handle = this.hooks.error;
    if (handle === undefined) throw error;
    this.#queue = handle(error, this.#sent);
    this.#complete = true;
    return this.queued()!;
  }

  close(): void | Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#finished = true;
    const end = () => this.hooks.end?.(this.#complete);
    let closing: void | Promise<void>;
    try {
      closing = this.source.close();
    } catch (error) {
      end();
      throw error;
    }
    if (isThenable(closing)) return closing.finally(end);
    end();
  }
}

class SyncBody implements IterableIterator<Uint8Array> {
  readonly #m: Mapped;
  constructor(m: Mapped) {
    this.#m = m;
  }
  [Symbol.iterator](): this {
    return this;
  }
  next(): Step {
    const m = this.#m;
    const queued = m.queued();
    if (queued !== undefined) return queued;
    let step: Step;
    try {
      step = m.source.next() as Step;
    } catch (error) {
      return m.fail(error);
    }
    return m.take(step);
  }
  return(): Step {
    return DONE;
  }
  close(): void | Promise<void> {
    return this.#m.close();
  }
}

class AsyncBody implements AsyncIterableIterator<Uint8Array> {
  readonly #m: Mapped;
  constructor(m: Mapped) {
    this.#m = m;
  }
  [Symbol.asyncIterator](): this {
    return this;
  }
  async next(): Promise<Step> {
    const m = this.#m;
    const queued = m.queued();
    if (queued !== undefined) return queued;
    let step: Step;
    try {
      step = await m.source.next();
    } catch (error) {
      return m.fail(error);
    }
    return m.take(step);
  }
  return(): Promise<Step> {
    return Promise.resolve(DONE);
  }
  close(): void | Promise<void> {
    return this.#m.close();
  }
}

/**
 * The app's result with each chunk passed through `hooks` as the server
 * pulls it. Sync results stay sync, so the gateway keeps its sync path.
 */
export function mapBody(source: Source, hooks: BodyHooks): AppIterable {
  const m = new Mapped(source, hooks);
  return source.async ? new AsyncBody(m) : new SyncBody(m);
}

const GATHER = 64 * 1024;

/**
 * Joins the chunks a sync source has at hand, up to 64 KiB: some
 * compressors (Deno's CompressionStream) flush after every write, so many
 * tiny writes compress badly. An async source's chunks are never waited for.
 */
function gather(source: Source, first: Uint8Array): Uint8Array {
  if (first.length >= GATHER) return first;
  const parts = [first];
  let size = first.length;
  while (size < GATHER) {
    const step = source.next() as Step;
    if (step.done) {
      source.unshift(step);
      break;
    }
    parts.push(step.value);
    size += step.value.length;
  }
  return concat(parts, size);
}

/**
 * The app's body through a TransformStream (a CompressionStream, a user's
 * filter): chunks are written in as the server pulls output, so at most a
 * chunk or two waits inside; a streamed body is never gathered.
 *
 * Apps that use write() feed the same stream; until the app returns its
 * result a pump sends the output through the server's write().
 */
export class StreamedBody implements AsyncIterableIterator<Uint8Array> {
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #end: ((complete: boolean) => void) | undefined;
  #source: Source | undefined;
  #feeding: Promise<void> | undefined;
  #pump: Promise<void> | undefined;
  #pumpStop = false;
  #stopPump: (() => void) | undefined;
  #carry: ReadableStreamReadResult<Uint8Array> | undefined;
  #stopped = false;
  #complete = false;
  #closed = false;

  constructor(
    stream: TransformStream<Uint8Array, Uint8Array>,
    end?: (complete: boolean) => void,
  ) {
    this.#writer = stream.writable.getWriter();
    this.#reader = stream.readable.getReader();
    this.#end = end;
    // Failures surface through the reader; these would be unhandled.
    this.#writer.closed.catch(() => {});
  }

  /**
   * The app's result, once it returns it. From then on nothing goes
   * through the server's write() (PEP 3333: not after the app returned).
   */
  attach(source: Source): void {
    this.#source = source;
    this.#pumpStop = true;
    this.#stopPump?.();
  }

  /** The write() an app calls before returning its result. */
  write(chunk: Uint8Array, outer: Write): Promise<void> {
    checkChunk(chunk);
    this.#pump ??= this.#runPump(outer);
    return this.#writer.write(chunk);
  }

  async #runPump(outer: Write): Promise<void> {
    // Once the server iterates the result, it pulls only when our next()
    // settles: waiting for its write() to drain then would never end.
    const stopped = new Promise<void>((resolve) => (this.#stopPump = resolve));
    try {
      while (!this.#pumpStop) {
        const step = await this.#reader.read();
        if (this.#pumpStop) {
          // Read after the app returned: the result's first step instead.
          this.#carry = step;
          return;
        }
        if (step.done) {
          this.#complete = true;
          return;
        }
        await Promise.race([outer(step.value), stopped]);
      }
    } catch (error) {
      this.#writer.abort(error).catch(() => {});
      throw error;
    }
  }

  async #feed(): Promise<void> {
    const writer = this.#writer;
    const source = this.#source;
    try {
      if (source !== undefined) {
        for (;;) {
          const step = await source.next();
          if (this.#stopped) return;
          if (step.done) break;
          const chunk = source.async ? step.value : gather(source, step.value);
          // Backpressure: wait until the transform has taken the last one.
          await writer.ready;
          if (this.#stopped) return;
          writer.write(chunk).catch(() => {});
        }
      }
      if (!this.#stopped) await writer.close();
    } catch (error) {
      if (!this.#stopped) writer.abort(error).catch(() => {});
    }
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<Step> {
    if (this.#closed) return DONE;
    this.#feeding ??= this.#feed();
    if (this.#pump !== undefined) {
      this.#pumpStop = true;
      this.#stopPump?.();
      await this.#pump;
      this.#pump = undefined;
    }
    const carried = this.#carry;
    this.#carry = undefined;
    const { done, value } = carried ?? await this.#reader.read();
    if (done) {
      this.#complete = true;
      return DONE;
    }
    return { done: false, value };
  }

  return(): Promise<Step> {
    return Promise.resolve(DONE);
  }

  /** Stops feeding, drops what the stream holds, closes the app's result. */
  close(): void | Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopped = true;
    this.#reader.cancel().catch(() => {});
    const end = () => this.#end?.(this.#complete);
    let closing: void | Promise<void>;
    try {
      closing = this.#source?.close();
    } catch (error) {
      end();
      throw error;
    }
    if (isThenable(closing)) return closing.finally(end);
    end();
  }
}

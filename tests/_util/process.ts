// Helpers for tests that start real processes: free ports, waiting for a
// listener, reading a child's output line by line.

/** A port nothing listens on right now (bound, then released). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/**
 * Resolves once something accepts connections on `port`. Polls with a
 * bounded number of tries; rejects early when `exited` settles first.
 */
export async function waitForPort(
  port: number,
  exited?: Promise<unknown>,
  tries = 200,
): Promise<void> {
  let gone = false;
  exited?.then(() => gone = true, () => gone = true);
  for (let i = 0; i < tries; i++) {
    if (gone) throw new Error(`The server exited before listening on ${port}`);
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`Nothing listened on port ${port} after ${tries} tries`);
}

/** Reads a stream as lines, letting a test wait for the line it expects. */
export class LineReader {
  readonly lines: string[] = [];
  #waiters: {
    test: (line: string) => boolean;
    resolve: (l: string) => void;
  }[] = [];
  #done: Promise<void>;
  #ended = false;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#done = this.#read(stream);
  }

  async #read(stream: ReadableStream<Uint8Array>): Promise<void> {
    let pending = "";
    for await (
      const text of stream.pipeThrough(new TextDecoderStream())
    ) {
      pending += text;
      let nl;
      while ((nl = pending.indexOf("\n")) !== -1) {
        this.#push(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    }
    if (pending !== "") this.#push(pending);
    this.#ended = true;
    for (const waiter of this.#waiters) waiter.resolve("");
    this.#waiters = [];
  }

  #push(line: string): void {
    this.lines.push(line);
    this.#waiters = this.#waiters.filter((waiter) => {
      if (!waiter.test(line)) return true;
      waiter.resolve(line);
      return false;
    });
  }

  /**
   * The first line (seen or to come) matching `pattern` (a substring, a
   * RegExp or a predicate); "" if the stream ends first.
   */
  waitFor(
    pattern: RegExp | string | ((line: string) => boolean),
  ): Promise<string> {
    const test = (line: string) =>
      typeof pattern === "string"
        ? line.includes(pattern)
        : pattern instanceof RegExp
        ? pattern.test(line)
        : pattern(line);
    const seen = this.lines.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    if (this.#ended) return Promise.resolve("");
    return new Promise((resolve) => this.#waiters.push({ test, resolve }));
  }

  /**
   * As `waitFor`, but gives up after `ms` and resolves `undefined`: for a
   * bounded retry loop, and so that a test fails instead of hanging.
   */
  async waitWithin(
    pattern: RegExp | string | ((line: string) => boolean),
    ms: number,
  ): Promise<string | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ms);
    });
    try {
      return await Promise.race([this.waitFor(pattern), expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves when the stream has ended. */
  get done(): Promise<void> {
    return this.#done;
  }

  /** Everything read so far. */
  get text(): string {
    return this.lines.join("\n");
  }
}

/** The SHA-256 of some bytes, as hex. */
export async function sha256(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", data);
  return Array.from(
    new Uint8Array(digest),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

/**
 * `wsgi.errors`: PEP 3333's text error stream.
 *
 * @module
 */

import type { ErrorStream } from "../types.ts";

/**
 * An error stream that passes each write to a sink, or, with no sink,
 * sends complete lines to `console.error` (text mode: `\n` ends a line,
 * `flush()` passes on a partial line).
 *
 * @example Collect what an app logs
 * ```ts
 * import { LogErrorStream } from "@tsgi/tsgi";
 * const lines: string[] = [];
 * const errors = new LogErrorStream((text) => lines.push(text));
 * errors.write("disk almost full\n");
 * console.log(lines); // ["disk almost full\n"]
 * ```
 */
export class LogErrorStream implements ErrorStream {
  #sink: ((text: string) => void) | undefined;
  #pending = "";

  /**
   * Makes an error stream.
   *
   * @param sink Receives every write as it is; omit for `console.error`.
   */
  constructor(sink?: (text: string) => void) {
    this.#sink = sink;
  }

  /** Writes text; PEP 3333 wants any string accepted without raising. */
  write(text: string): void {
    if (typeof text !== "string") {
      throw new TypeError(
        `Cannot write ${typeof text} to wsgi.errors: expected a string`,
      );
    }
    if (this.#sink !== undefined) return this.#sink(text);
    let start = 0;
    let nl = text.indexOf("\n");
    if (nl === -1) {
      this.#pending += text;
      return;
    }
    let line = this.#pending;
    this.#pending = "";
    while (nl !== -1) {
      console.error(line + text.slice(start, nl));
      line = "";
      start = nl + 1;
      nl = text.indexOf("\n", start);
    }
    this.#pending = text.slice(start);
  }

  /** Writes each string in turn. */
  writelines(lines: Iterable<string>): void {
    for (const line of lines) this.write(line);
  }

  /** Passes on a held partial line. */
  flush(): void {
    if (this.#pending !== "") {
      console.error(this.#pending);
      this.#pending = "";
    }
  }
}

/**
 * The former name of {@linkcode LogErrorStream}.
 *
 * @deprecated Use {@linkcode LogErrorStream}: the class is an
 * {@linkcode ErrorStream}, which the old name did not say.
 */
export const LogStream: typeof LogErrorStream = LogErrorStream;
/**
 * The former name of {@linkcode LogErrorStream}.
 *
 * @deprecated Use {@linkcode LogErrorStream}.
 */
export type LogStream = LogErrorStream;

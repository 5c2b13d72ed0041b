// The CGI gateway's process I/O on Node and Bun.

import process from "node:process";
import { readFileSync, writeSync } from "node:fs";
import { Readable } from "node:stream";
import { type CgiIo, parseEnvironBlock } from "./_cgi.ts";

function rawEnv(): Map<string, Uint8Array> | undefined {
  if (process.platform !== "linux") return undefined;
  try {
    return parseEnvironBlock(readFileSync("/proc/self/environ"));
  } catch {
    return undefined;
  }
}

/** Node's (and Bun's) stdin, stdout, stderr and environment. */
export function nodeCgiIo(): CgiIo {
  // A host that hangs up makes stdout emit "error"; the write's callback
  // reports it, so the event must not crash the process.
  const ignore = () => {};
  process.stdout.on("error", ignore);
  return {
    env() {
      const env: Record<string, string> = {};
      for (const [name, value] of Object.entries(process.env)) {
        if (value !== undefined) env[name] = value;
      }
      return env;
    },
    rawEnv,
    // Node decodes every variable, with U+FFFD for bytes that are not UTF-8.
    unreadable: () => [],
    stdin: () =>
      Readable.toWeb(process.stdin) as unknown as ReadableStream<Uint8Array>,
    write: (chunk) =>
      new Promise((resolve, reject) => {
        process.stdout.write(
          chunk,
          (error) => error ? reject(error) : resolve(),
        );
      }),
    error(text) {
      try {
        writeSync(2, text);
      } catch {
        // Nowhere left to report to.
      }
    },
    finish: () =>
      new Promise((resolve) => {
        process.stdout.write("", () => {
          process.stdout.off("error", ignore);
          resolve();
        });
      }),
  };
}

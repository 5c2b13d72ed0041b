// The CGI gateway's process I/O on Node and Bun.

import { type CgiIo, parseEnvironBlock } from "./_cgi.ts";
import { nodeModules, nodeProcess } from "../runtime/_node_shape.ts";

/** Node's (and Bun's) stdin, stdout, stderr and environment. */
export async function cgiIo(): Promise<CgiIo> {
  const process = nodeProcess();
  const { fs, stream } = await nodeModules("fs", "stream");
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
    rawEnv() {
      if (process.platform !== "linux") return undefined;
      try {
        return parseEnvironBlock(fs.readFileSync("/proc/self/environ"));
      } catch {
        return undefined;
      }
    },
    // Node decodes every variable, with U+FFFD for bytes that are not UTF-8.
    unreadable: () => [],
    stdin: () => stream.Readable.toWeb(process.stdin),
    write: (chunk) =>
      new Promise((resolve, reject) => {
        process.stdout.write(
          chunk,
          (error) => error ? reject(error) : resolve(),
        );
      }),
    error(text) {
      try {
        fs.writeSync(2, text);
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

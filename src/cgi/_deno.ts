// The CGI gateway's process I/O on Deno.

import { type CgiIo, parseEnvironBlock } from "./_cgi.ts";
import { deno } from "../runtime/_deno_shape.ts";

const encoder = new TextEncoder();

/** Deno's stdin, stdout, stderr and environment. */
export function cgiIo(): CgiIo {
  const Deno = deno();
  return {
    // toObject() leaves out variables that are not valid UTF-8.
    env: () => Deno.env.toObject(),
    rawEnv() {
      // Deno reads /proc/self/environ only with --allow-all (it would
      // bypass --allow-env); ask first so a terminal is never prompted.
      const path = "/proc/self/environ";
      if (
        Deno.build.os !== "linux" ||
        Deno.permissions.querySync({ name: "read", path }).state !== "granted"
      ) return undefined;
      try {
        return parseEnvironBlock(Deno.readFileSync(path));
      } catch {
        return undefined;
      }
    },
    unreadable: (names) =>
      names.filter((name) => {
        try {
          Deno.env.get(name);
          return false;
        } catch (error) {
          return error instanceof Deno.errors.InvalidData;
        }
      }),
    stdin: () => Deno.stdin.readable,
    async write(chunk) {
      for (let offset = 0; offset < chunk.length;) {
        offset += await Deno.stdout.write(chunk.subarray(offset));
      }
    },
    error(text) {
      const bytes = encoder.encode(text);
      for (let offset = 0; offset < bytes.length;) {
        offset += Deno.stderr.writeSync(bytes.subarray(offset));
      }
    },
    finish: () => Promise.resolve(),
  };
}

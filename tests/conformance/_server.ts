// Starts a server process and learns its port from the line it prints
// once listening; keeps its recent output for diagnosis; stops it with
// SIGTERM (SIGKILL after 5 s) and waits for it to exit.

/** A started server: its port, its pid, and its recent output. */
export interface Server {
  port: number;
  pid: number;
  output: string[];
  stop(): Promise<void>;
}

/** Spawns `command`; resolves once an output line matches `listening` (group 1: the port). */
export async function startServer(
  command: string[],
  listening: RegExp,
): Promise<Server> {
  const [cmd, ...args] = command;
  const child = new Deno.Command(cmd, {
    args,
    cwd: new URL("../../", import.meta.url).pathname,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output: string[] = [];
  let announce: (port: number) => void;
  const announced = new Promise<number>((resolve) => (announce = resolve));
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const lines = stream.pipeThrough(new TextDecoderStream());
    let pending = "";
    for await (const text of lines) {
      pending += text;
      const parts = pending.split("\n");
      pending = parts.pop()!;
      for (const line of parts) {
        output.push(line);
        if (output.length > 200) output.shift();
        const match = listening.exec(line);
        if (match) announce(Number(match[1]));
      }
    }
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const port = await Promise.race([
    announced,
    child.status.then((s) => {
      throw new Error(
        `exited with code ${s.code} before listening:\n${output.join("\n")}`,
      );
    }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new Error(`not listening after 60 s:\n${output.join("\n")}`)),
        60_000,
      );
    }),
  ]).finally(() => clearTimeout(timer));
  return {
    port,
    pid: child.pid,
    output,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      const killer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }, 5000);
      await child.stdin.close().catch(() => {});
      await child.status;
      clearTimeout(killer);
      await pumps;
    },
  };
}

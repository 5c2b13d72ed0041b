// One server for scripts/bench/serve_bench.sh, on whichever runtime runs
// this file: `<runtime> _serve_target.mjs MODE`, where MODE is
//   raw        the runtime's own server answering a fixed Response
//   serve      tsgi's serve(app) with the access log off
//   serve-log  tsgi's serve(app) with the access log on (to stderr)
// It prints its port on stdout and runs until killed.
const mode = globalThis.Deno?.args[0] ?? globalThis.process.argv[2];
const text = "Hello world!\n";
const body = new TextEncoder().encode(text);
const app = (_environ, startResponse) => {
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  return [body];
};
const say = (port) => console.log(String(port));

if (mode === "raw") {
  const headers = { "content-type": "text/plain" };
  if (globalThis.Deno) {
    Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: ({ port }) => say(port) },
      () => new Response(body, { headers }),
    );
  } else if (globalThis.Bun) {
    say(
      Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        fetch: () => new Response(body, { headers }),
      }).port,
    );
  } else {
    const { createServer } = await import("node:http");
    const server = createServer((_req, res) => {
      res.writeHead(200, { ...headers, "content-length": body.length });
      res.end(body);
    });
    server.listen(0, "127.0.0.1", () => say(server.address().port));
  }
} else if (mode === "serve" || mode === "serve-log") {
  const where = globalThis.Deno || globalThis.Bun
    ? "../../mod.ts"
    : "../../npm/mod.js";
  const { serve } = await import(new URL(where, import.meta.url).href);
  const server = await serve(app, {
    port: 0,
    onListen() {},
    accessLog: mode === "serve-log",
  });
  say(server.port);
} else {
  throw new Error(
    `Cannot run mode ${JSON.stringify(mode)}: expected raw, serve or serve-log`,
  );
}

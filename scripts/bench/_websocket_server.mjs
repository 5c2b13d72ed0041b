// The WebSocket benchmark's servers, one echo each, printing
// "listening <port>":
//   deno run -A _websocket_server.mjs raw|tsgi
//   bun _websocket_server.mjs raw|tsgi
//   node _websocket_server.mjs tsgi <npm serve module>
// raw is the runtime's own WebSocket server; tsgi the same echo as a tsgi
// app served by serve().
const args = globalThis.Deno?.args ?? process.argv.slice(2);
const [kind, serveModule] = args;

const app = (environ, startResponse) => {
  const upgrade = environ["tsgi.websocket"];
  if (upgrade === undefined) {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [new TextEncoder().encode("ok\n")];
  }
  const socket = upgrade.accept();
  socket.onmessage = (event) => socket.send(event.data);
  return [];
};

const announce = (port) => console.log(`listening ${port}`);

if (kind === "raw" && globalThis.Deno) {
  Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: ({ port }) => announce(port),
  }, (request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.onmessage = (event) => socket.send(event.data);
    return response;
  });
} else if (kind === "raw" && globalThis.Bun) {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request, server) {
      if (server.upgrade(request)) return undefined;
      return new Response("ok\n");
    },
    websocket: { message: (ws, message) => ws.send(message) },
  });
  announce(server.port);
} else if (kind === "tsgi") {
  const module = serveModule === undefined
    ? new URL("../../src/serve/serve.ts", import.meta.url).href
    : new URL(serveModule, `file://${process.cwd()}/`).href;
  const { serve } = await import(module);
  await serve(app, {
    hostname: "127.0.0.1",
    port: 0,
    accessLog: false,
    onListen: ({ port }) => announce(port),
  });
} else {
  throw new Error(`Cannot serve ${kind}: expected raw (Deno, Bun) or tsgi`);
}

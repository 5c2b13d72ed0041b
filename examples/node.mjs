// The hello app on Node, from the npm package:
//   npm install tsgi
//   node examples/node.mjs [port]
// serve() runs it on node:http, streaming both ways with backpressure.
import process from "node:process";
import { serve } from "tsgi";

/** @type {import("tsgi").App} */
const app = (environ, startResponse) => {
  startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
  return [
    new TextEncoder().encode(`Hello from Node, ${environ.REMOTE_ADDR}!\n`),
  ];
};

await serve(app, { port: Number(process.argv[2] ?? 8000) });

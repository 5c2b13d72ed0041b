// A tsgi app as a Cloudflare Worker. In a directory with this file as
// src/index.ts and ./wrangler.toml beside it:
//   npm install tsgi
//   npm install --save-dev wrangler
//   npx wrangler dev       (serves it locally under workerd)
//   npx wrangler deploy
//
// Workers call fetch(request, env, ctx): the gateway hands the bindings
// (wrangler.toml's [vars]) to the app as environ["tsgi.env"] and the
// context as environ["tsgi.ctx"], and takes REMOTE_ADDR from
// CF-Connecting-IP.
import { type App, toFetchHandler } from "tsgi";

/** The bindings this Worker is configured with (wrangler.toml `[vars]`). */
interface Env {
  GREETING: string;
}

/** Greets with the binding's text and says what it was asked. */
export const app: App = (environ, startResponse) => {
  const env = environ["tsgi.env"] as Env;
  startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
  return [
    new TextEncoder().encode(
      `${env.GREETING} from a Worker: ${environ.REQUEST_METHOD} ${environ.PATH_INFO}\n`,
    ),
  ];
};

export default { fetch: toFetchHandler(app) };

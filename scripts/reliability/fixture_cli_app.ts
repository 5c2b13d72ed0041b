// The fixture app (fixture_app.ts) for the tsgi CLI, which may run it in
// several worker processes: each environ check that fails is written to
// wsgi.errors as one "fixture violation:" line, so the driver counts them
// on the CLI's stderr across all workers.
//
//   deno run -A src/cli/cli.ts -w 2 --max-body-size 1024 scripts/reliability/fixture_cli_app.ts

import type { App } from "../../mod.ts";
import { createFixture, environProblems } from "./fixture_app.ts";

const { app: fixture } = createFixture();

/** The fixture app, reporting environ violations on wsgi.errors. */
export const app: App = (environ, startResponse) => {
  const problems = environProblems(environ);
  if (problems.length > 0) {
    const errors = environ["wsgi.errors"];
    errors.write(
      `fixture violation: ${environ.REQUEST_URI}: ${problems.join("; ")}\n`,
    );
    errors.flush();
  }
  return fixture(environ, startResponse);
};

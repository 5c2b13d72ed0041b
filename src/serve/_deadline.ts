// A per-request deadline around a Fetch handler, outside the gateway: each
// request gets a signal that aborts when the deadline passes (or the client
// leaves), which the app finds in environ as `tsgi.signal`. The request
// itself is handed on untouched: a copy would go through the URL parser
// again (turning a backslash into a slash on Deno) and could no longer be
// upgraded to a WebSocket. A response not
// begun by then is answered 504 here; a body still streaming is cut, which
// the runtime turns into a reset connection, so the client never takes the
// part for the whole. Other requests are untouched.

import type { App, FetchHandler } from "../types.ts";

// The gateway's note of a body length it knows but left to the runtime
// (see the Node adapter); carried over to the response that wraps the body.
const KNOWN_LENGTH = Symbol.for("tsgi.knownLength");

const encoder = new TextEncoder();

// Each request's deadline signal, for withSignal to put in its environ.
const signals = new WeakMap<Request, AbortSignal>();

/**
 * Told of a request that ran past its deadline, and whether any of its
 * response had gone out (the stream was cut) or not (it was answered 504).
 *
 * @example Log it
 * ```ts
 * import type { TimeoutReport } from "@tsgi/tsgi/serve";
 * const report: TimeoutReport = (request, sent) =>
 *   console.warn(`${request.method} ${request.url}: ${sent ? "cut" : "504"}`);
 * ```
 */
export type TimeoutReport = (request: Request, sent: boolean) => void;

function gatewayTimeout(): Response {
  return new Response(encoder.encode("504 Gateway Timeout\n"), {
    status: 504,
    statusText: "Gateway Timeout",
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "connection": "close",
    },
  });
}

/** A body that ends in an error once `expired` fires. */
function cutOff(
  body: ReadableStream<Uint8Array>,
  expired: Promise<Error>,
  done: () => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let over = false;
  const end = () => {
    if (!over) {
      over = true;
      done();
    }
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      expired.then((reason) => {
        if (over) return;
        end();
        controller.error(reason);
        // Cancelling the app's body runs its close().
        reader.cancel(reason).catch(() => {});
      });
    },
    async pull(controller) {
      let step: ReadableStreamReadResult<Uint8Array>;
      try {
        step = await reader.read();
      } catch (error) {
        if (over) return;
        end();
        controller.error(error);
        return;
      }
      if (over) return;
      if (step.done) {
        end();
        controller.close();
      } else controller.enqueue(step.value);
    },
    cancel(reason) {
      end();
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/**
 * Wraps `handler` so each request has `seconds` to complete. `report` is
 * told of each request that ran out of time, and whether any of its
 * response had gone out.
 */
export function withDeadline(
  handler: FetchHandler,
  seconds: number,
  report?: TimeoutReport,
): FetchHandler {
  const ms = seconds * 1000;
  return function deadlineHandler(
    request: Request,
    ...args: unknown[]
  ): Response | Promise<Response> {
    const deadline = new AbortController();
    let fire!: (reason: Error) => void;
    const expired = new Promise<Error>((resolve) => fire = resolve);
    let finished = false;
    const finish = () => {
      finished = true;
      clearTimeout(timer);
    };
    const timer = setTimeout(() => {
      if (finished) return;
      finished = true;
      const reason = new DOMException(
        `The request ran past its deadline of ${seconds} s`,
        "TimeoutError",
      );
      deadline.abort(reason);
      fire(reason);
    }, ms);
    // Deno's info says when the client left through `completed`; its
    // request.signal warns on first use (it also aborts after success).
    const completed = (args[0] as { completed?: Promise<void> } | undefined)
      ?.completed;
    if (completed instanceof Promise) {
      completed.catch((error) => {
        if (!deadline.signal.aborted) deadline.abort(error);
      });
    }
    signals.set(
      request,
      completed instanceof Promise
        ? deadline.signal
        : AbortSignal.any([request.signal, deadline.signal]),
    );
    const wrap = (response: Response): Response => {
      const body = response.body;
      if (body === null || finished) {
        finish();
        return response;
      }
      expired.then(() => report?.(request, true));
      const wrapped = new Response(cutOff(body, expired, finish), {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      });
      const known = (response as unknown as Record<symbol, unknown>)[
        KNOWN_LENGTH
      ];
      if (known !== undefined) {
        (wrapped as unknown as Record<symbol, unknown>)[KNOWN_LENGTH] = known;
      }
      return wrapped;
    };
    let result: Response | Promise<Response>;
    try {
      result = handler(request, ...args);
    } catch (error) {
      finish();
      throw error;
    }
    if (result instanceof Response) return wrap(result);
    // A WebSocket the runtime answers itself: no response to time.
    if (result === undefined) {
      finish();
      return result;
    }
    let answered = false;
    return Promise.race([
      result.then((response) => {
        if (response === undefined) {
          finish();
          return response;
        }
        if (answered) {
          // Too late: the client has its 504. Cancelling runs close().
          response.body?.cancel().catch(() => {});
          return response;
        }
        answered = true;
        return wrap(response);
      }, (error) => {
        finish();
        throw error;
      }),
      expired.then(() => {
        if (answered) return new Promise<Response>(() => {});
        answered = true;
        report?.(request, false);
        return gatewayTimeout();
      }),
    ]);
  };
}

/**
 * Wraps an app so that `environ["tsgi.signal"]` is the request's signal:
 * aborted when the client leaves or the deadline passes.
 */
export function withSignal(app: App): App {
  return function signalledApp(environ, startResponse) {
    const request = environ["tsgi.request"] as Request | undefined;
    if (request !== undefined) {
      environ["tsgi.signal"] = signals.get(request) ?? request.signal;
    }
    return app(environ, startResponse);
  };
}

// Marks on the errors wsgi.input throws, so the exchange can tell the
// client's fault (a 400 or 413) from the app's (a 500) whatever the app did
// with the error on its way out.

/** Marks the RangeError thrown when a body passes `maxBodySize`. */
export const BODY_TOO_LARGE: unique symbol = Symbol("tsgi.bodyTooLarge");

/** Marks the Error thrown when the client's body breaks off or is malformed. */
export const BODY_BROKEN: unique symbol = Symbol("tsgi.bodyBroken");

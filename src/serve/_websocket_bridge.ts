// The app's WebSocket where the runtime's server-side socket is not a
// WHATWG WebSocket (Bun's ServerWebSocket): an EventTarget with the same
// members, fed by the runtime's callbacks. The runtime part is a Peer.

import type { WebSocketCloseEvent, WebSocketLike } from "../types.ts";

/** The runtime's socket, as far as the bridge drives it. */
export interface Peer {
  send(data: string | Uint8Array): number;
  close(code?: number, reason?: string): void;
  /** Bytes queued and not yet written, where the runtime tells. */
  getBufferedAmount?(): number;
}

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

const encoder = new TextEncoder();

/** CloseEvent where the platform has one; an Event with its members if not. */
function closeEvent(code: number, reason: string, wasClean: boolean): Event {
  const Native = (globalThis as { CloseEvent?: typeof CloseEvent })
    .CloseEvent;
  if (typeof Native === "function") {
    return new Native("close", { code, reason, wasClean });
  }
  return Object.assign(new Event("close"), { code, reason, wasClean });
}

type Handler = ((event: never) => void) | null;

interface LightMessageEvent {
  data: unknown;
  target: EventTarget;
  currentTarget: EventTarget;
}

/**
 * The event `onmessage` gets when nothing listens through
 * addEventListener: a MessageEvent by `instanceof`, with `type`, `data`,
 * `target`, `origin`, `lastEventId`, `source` and `ports`, made at a fifth of
 * what constructing a MessageEvent costs Bun (which is a tenth of an
 * echo). Listeners get a real MessageEvent.
 */
let lightPrototype: object | undefined;
function lightMessageEvent(data: unknown, target: EventTarget): MessageEvent {
  lightPrototype ??= Object.create(MessageEvent.prototype, {
    type: { value: "message" },
    origin: { value: "" },
    lastEventId: { value: "" },
    source: { value: null },
    ports: { value: Object.freeze([]) },
    data: { value: undefined, writable: true },
    target: { value: null, writable: true },
    currentTarget: { value: null, writable: true },
  });
  const event = Object.create(lightPrototype!) as LightMessageEvent;
  event.data = data;
  event.target = target;
  event.currentTarget = target;
  return event as unknown as MessageEvent;
}

/** The server side of a WebSocket, with the WHATWG interface. */
export class BridgedWebSocket extends EventTarget implements WebSocketLike {
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSING = CLOSING;
  static readonly CLOSED = CLOSED;

  readonly protocol: string;
  readonly extensions = "";
  binaryType = "arraybuffer";
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: ((event: WebSocketCloseEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;

  #peer: Peer | undefined;
  #state = CONNECTING;
  #maxMessageSize: number;
  // A close() called before the socket opened, done once it does.
  #pendingClose: [number | undefined, string | undefined] | undefined;
  // Bytes handed to send() after the socket closed (WHATWG counts them).
  #discarded = 0;

  constructor(protocol: string, maxMessageSize: number) {
    super();
    this.protocol = protocol;
    this.#maxMessageSize = maxMessageSize;
  }

  get readyState(): number {
    return this.#state;
  }

  get bufferedAmount(): number {
    return (this.#peer?.getBufferedAmount?.() ?? 0) + this.#discarded;
  }

  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void {
    if (this.#state === CONNECTING) {
      throw new DOMException(
        "Cannot send on a WebSocket that is not open yet: wait for its open event",
        "InvalidStateError",
      );
    }
    let payload: string | Uint8Array;
    if (typeof data === "string") payload = data;
    else if (ArrayBuffer.isView(data)) {
      payload = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } else if (data instanceof ArrayBuffer || isSharedBuffer(data)) {
      payload = new Uint8Array(data as ArrayBuffer);
    } else {
      const blob = data as Blob;
      blob.arrayBuffer().then((buffer) => {
        if (this.#state === OPEN) this.#peer!.send(new Uint8Array(buffer));
      });
      return;
    }
    if (this.#state !== OPEN) {
      this.#discarded += typeof payload === "string"
        ? encoder.encode(payload).byteLength
        : payload.byteLength;
      return;
    }
    // -1 (queued under backpressure) shows in bufferedAmount; 0 means the
    // runtime dropped it, which only happens to a closing socket.
    this.#peer!.send(payload);
  }

  close(code?: number, reason?: string): void {
    if (
      code !== undefined && code !== 1000 && !(code >= 3000 && code <= 4999)
    ) {
      throw new DOMException(
        `Cannot close with code ${code}: expected 1000 or 3000-4999`,
        "InvalidAccessError",
      );
    }
    if (reason !== undefined && encoder.encode(reason).byteLength > 123) {
      throw new DOMException(
        "Cannot close with a reason over 123 bytes",
        "SyntaxError",
      );
    }
    if (this.#state === CLOSING || this.#state === CLOSED) return;
    if (this.#state === CONNECTING) {
      this.#state = CLOSING;
      this.#pendingClose = [code, reason];
      return;
    }
    this.#state = CLOSING;
    this.#peer!.close(code, reason);
  }

  // Events that came before the app returned, held until release().
  #held: (() => void)[] | undefined = [];

  /** The app has returned: held events are delivered, later ones at once. */
  release(): void {
    const held = this.#held;
    this.#held = undefined;
    for (const deliver of held ?? []) deliver();
  }

  /** Runs `deliver` now, or after release() while the app still runs. */
  #when(deliver: () => void): void {
    if (this.#held === undefined) deliver();
    else this.#held.push(deliver);
  }

  /** The runtime opened the socket. */
  opened(peer: Peer): void {
    this.#when(() => this.#open(peer));
  }

  /** A message arrived. */
  received(message: string | Uint8Array): void {
    if (this.#held === undefined) this.#receive(message);
    else {
      // The runtime may reuse a binary message's buffer.
      const copy = typeof message === "string" ? message : message.slice();
      this.#held.push(() => this.#receive(copy));
    }
  }

  /** The connection is over, cleanly (a close frame) or not. */
  closed(code: number, reason: string): void {
    this.#when(() => this.#close(code, reason));
  }

  #open(peer: Peer): void {
    this.#peer = peer;
    if (this.#pendingClose !== undefined) {
      const [code, reason] = this.#pendingClose;
      peer.close(code, reason);
      return;
    }
    this.#state = OPEN;
    this.#emit("open", this.onopen, new Event("open"));
  }

  #receive(message: string | Uint8Array): void {
    if (this.#state !== OPEN) return;
    const text = typeof message === "string";
    const size = text ? message.length : message.byteLength;
    // A string's length in UTF-16 units is at most its UTF-8 size.
    if (
      size > this.#maxMessageSize ||
      (text && size * 3 > this.#maxMessageSize &&
        encoder.encode(message).byteLength > this.#maxMessageSize)
    ) {
      this.#state = CLOSING;
      this.#peer!.close(1009, "Message too big");
      return;
    }
    let data: unknown = message;
    if (!text) {
      const bytes = message as Uint8Array;
      // The runtime may reuse its buffer: the app gets its own copy.
      const buffer = bytes.buffer.slice(
        bytes.byteOffset,
        bytes.byteOffset + bytes.byteLength,
      ) as ArrayBuffer;
      data = this.binaryType === "blob" ? new Blob([buffer]) : buffer;
    }
    if (this.#listeners.has("message")) {
      this.#emit(
        "message",
        this.onmessage,
        new MessageEvent("message", { data }),
      );
    } else if (typeof this.onmessage === "function") {
      try {
        this.onmessage.call(this, lightMessageEvent(data, this));
      } catch (error) {
        report(error, "message");
      }
    }
  }

  #close(code: number, reason: string): void {
    if (this.#state === CLOSED) return;
    this.#state = CLOSED;
    const clean = code !== 1006;
    if (!clean) this.#emit("error", this.onerror, new Event("error"));
    this.#emit("close", this.onclose, closeEvent(code, reason, clean));
  }

  // Listeners added through addEventListener, by type: dispatching an
  // event nobody listens to costs Bun a fifth of an echo.
  #listeners = new Map<string, number>();

  override addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void {
    if (listener !== null) {
      this.#listeners.set(type, (this.#listeners.get(type) ?? 0) + 1);
    }
    super.addEventListener(type, listener, options);
  }

  #emit(type: string, handler: Handler, event: Event): void {
    // Counted high (removals and duplicates are not subtracted): an extra
    // dispatch is only a cost, never a lost event.
    if (this.#listeners.has(type)) this.dispatchEvent(event);
    if (typeof handler !== "function") return;
    try {
      (handler as (event: Event) => void).call(this, event);
    } catch (error) {
      report(error, type);
    }
  }
}

function isSharedBuffer(value: unknown): boolean {
  return typeof SharedArrayBuffer === "function" &&
    value instanceof SharedArrayBuffer;
}

/** An exception in an event handler is reported, as a browser would. */
function report(error: unknown, type: string): void {
  const reportError = (globalThis as { reportError?: (e: unknown) => void })
    .reportError;
  if (typeof reportError === "function") reportError(error);
  else console.error(`WebSocket ${type} handler raised:`, error);
}

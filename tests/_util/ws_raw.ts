// A WebSocket client on a bare TCP connection, for what the WebSocket API
// cannot send: fragmented messages, pings, and connections that vanish
// without a closing handshake.

/** One frame as read from the server. */
export interface Frame {
  fin: boolean;
  opcode: number;
  payload: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A raw connection that has completed the opening handshake (or not). */
export class RawWebSocket {
  readonly conn: Deno.TcpConn;
  #buffer = new Uint8Array(0);
  /** The status line and headers of the server's answer. */
  head = "";

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  /** Connects and sends the opening handshake; reads the answer's head. */
  static async open(
    port: number,
    path: string,
    headers: Record<string, string> = {},
  ): Promise<RawWebSocket> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const socket = new RawWebSocket(conn);
    const lines = [
      `GET ${path} HTTP/1.1`,
      `Host: 127.0.0.1:${port}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version: 13",
      ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    ];
    await socket.#write(encoder.encode(lines.join("\r\n") + "\r\n\r\n"));
    for (;;) {
      const end = decoder.decode(socket.#buffer).indexOf("\r\n\r\n");
      if (end !== -1) {
        socket.head = decoder.decode(socket.#buffer.subarray(0, end));
        socket.#buffer = socket.#buffer.slice(end + 4);
        return socket;
      }
      if (!(await socket.#fill())) {
        throw new Error("The server closed before answering the handshake");
      }
    }
  }

  /** The answer's status code. */
  get status(): number {
    return Number(this.head.split(" ")[1]);
  }

  async #write(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      offset += await this.conn.write(bytes.subarray(offset));
    }
  }

  async #fill(): Promise<boolean> {
    const chunk = new Uint8Array(65536);
    const n = await this.conn.read(chunk);
    if (n === null) return false;
    const joined = new Uint8Array(this.#buffer.length + n);
    joined.set(this.#buffer);
    joined.set(chunk.subarray(0, n), this.#buffer.length);
    this.#buffer = joined;
    return true;
  }

  async #take(n: number): Promise<Uint8Array> {
    while (this.#buffer.length < n) {
      if (!(await this.#fill())) {
        throw new Error("The server closed the connection mid-frame");
      }
    }
    const out = this.#buffer.slice(0, n);
    this.#buffer = this.#buffer.slice(n);
    return out;
  }

  /** Sends one masked frame. */
  async send(opcode: number, payload: Uint8Array, fin = true): Promise<void> {
    const length = payload.length;
    const head: number[] = [(fin ? 0x80 : 0) | opcode];
    if (length < 126) head.push(0x80 | length);
    else if (length < 65536) head.push(0x80 | 126, length >> 8, length & 255);
    else {
      head.push(0x80 | 127, 0, 0, 0, 0);
      head.push(
        (length >>> 24) & 255,
        (length >>> 16) & 255,
        (length >>> 8) & 255,
        length & 255,
      );
    }
    const mask = crypto.getRandomValues(new Uint8Array(4));
    const frame = new Uint8Array(head.length + 4 + length);
    frame.set(head);
    frame.set(mask, head.length);
    for (let i = 0; i < length; i++) {
      frame[head.length + 4 + i] = payload[i] ^ mask[i & 3];
    }
    await this.#write(frame);
  }

  /** Reads the next frame the server sent. */
  async read(): Promise<Frame> {
    const [b0, b1] = await this.#take(2);
    let length = b1 & 127;
    if (length === 126) {
      const ext = await this.#take(2);
      length = (ext[0] << 8) | ext[1];
    } else if (length === 127) {
      const ext = await this.#take(8);
      length = Number(new DataView(ext.buffer).getBigUint64(0));
    }
    const payload = await this.#take(length);
    return { fin: (b0 & 0x80) !== 0, opcode: b0 & 15, payload };
  }

  /** Reads frames until a whole message, its fragments joined. */
  async message(): Promise<{ opcode: number; data: Uint8Array }> {
    const parts: Uint8Array[] = [];
    let opcode = -1;
    for (;;) {
      const frame = await this.read();
      if (frame.opcode >= 8 && frame.opcode !== 8) continue;
      if (frame.opcode === 8) return { opcode: 8, data: frame.payload };
      if (opcode === -1) opcode = frame.opcode;
      parts.push(frame.payload);
      if (frame.fin) break;
    }
    const total = parts.reduce((n, p) => n + p.length, 0);
    const data = new Uint8Array(total);
    let offset = 0;
    for (const part of parts) {
      data.set(part, offset);
      offset += part.length;
    }
    return { opcode, data };
  }

  /**
   * The rest of an HTTP body: as many bytes as Content-Length says, or
   * everything until the server closes.
   */
  async rest(): Promise<Uint8Array> {
    const length = /\r\ncontent-length: *(\d+)/i.exec(this.head);
    if (length !== null) return await this.#take(Number(length[1]));
    while (await this.#fill());
    return this.#buffer;
  }

  /** Drops the TCP connection without a closing handshake. */
  drop(): void {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }
}

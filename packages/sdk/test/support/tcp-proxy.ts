import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 between a client and a relay, so a test can really cut the network
 * (`sever` closes every connection and refuses new ones until `restore`) and drop chosen
 * WebSocket frames from server to client (a lost ack, a lost live message).
 */
export interface TcpProxy {
  readonly port: number;
  readonly url: string;
  sever(): void;
  /** Keeps every connection open but forwards nothing either way (a dead path that no one closes), until `restore`. */
  stall(): void;
  restore(): void;
  /** Sends new connections elsewhere (e.g. to a restarted relay). */
  setTarget(port: number): void;
  /** Drops server→client text frames for which `predicate` answers true (until replaced or cleared with undefined). */
  dropServerFrames(predicate: ((text: string) => boolean) | undefined): void;
  /** Server→client text frames seen so far (dropped ones included). */
  readonly framesSeen: number;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let target = targetPort;
  let severed = false;
  let stalled = false;
  let dropper: ((text: string) => boolean) | undefined;
  let framesSeen = 0;
  const pairs = new Set<[Socket, Socket]>();

  const server: Server = createServer((client) => {
    if (severed) return client.destroy();
    const upstream = connect(target, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.on('data', (chunk) => {
      if (!stalled) upstream.write(chunk);
    });

    // Server → client: pass the HTTP upgrade through, then forward WebSocket frames one by one.
    let handshakeDone = false;
    let pending = Buffer.alloc(0);
    upstream.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      if (!handshakeDone) {
        const end = pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        client.write(pending.subarray(0, end + 4));
        pending = pending.subarray(end + 4);
        handshakeDone = true;
      }
      for (;;) {
        const frame = nextFrame(pending);
        if (!frame) return;
        pending = pending.subarray(frame.size);
        if (frame.text !== undefined) {
          framesSeen++;
          if (dropper?.(frame.text)) continue;
        }
        if (!stalled) client.write(frame.raw);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;

  const severAll = () => {
    for (const [client, upstream] of pairs) {
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
  };

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    sever() {
      severed = true;
      severAll();
    },
    stall() {
      stalled = true;
    },
    restore() {
      severed = false;
      stalled = false;
    },
    setTarget(next) {
      target = next;
    },
    dropServerFrames(predicate) {
      dropper = predicate;
    },
    get framesSeen() {
      return framesSeen;
    },
    async close() {
      severAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** One complete unmasked frame at the start of `buffer` (servers never mask), or undefined if incomplete. */
function nextFrame(buffer: Buffer): { size: number; raw: Buffer; text: string | undefined } | undefined {
  if (buffer.length < 2) return undefined;
  const opcode = buffer[0]! & 0x0f;
  let length = buffer[1]! & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buffer.length < 4) return undefined;
    length = buffer.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (buffer.length < 10) return undefined;
    length = Number(buffer.readBigUInt64BE(2));
    offset = 10;
  }
  if (buffer[1]! & 0x80) offset += 4;
  const size = offset + length;
  if (buffer.length < size) return undefined;
  const raw = Buffer.from(buffer.subarray(0, size));
  return { size, raw, text: opcode === 1 ? raw.subarray(offset).toString('utf8') : undefined };
}

import { connect, type Socket } from 'node:net';

/**
 * Writes a room's log straight into Redis in the relay's layout (packages/relay/src/store/redis-scripts.ts:
 * stream `pl:{R}:log`, entry ids `<seq>-0` with fields i, t, b, s, ts; hash `pl:{R}:meta` with epoch and
 * seq), pipelined over one plain RESP connection — a big room in seconds, without a Redis client dependency.
 * Messages have ids `m<seq>`, type `chat`, sender `filler`.
 */
export async function fillRoomLog(redisUrl: string, room: string, count: number, body: (seq: number) => string): Promise<void> {
  const connection = await RespConnection.open(redisUrl);
  try {
    const now = String(Date.now());
    const chunk = 10_000;
    for (let from = 1; from <= count; from += chunk) {
      const commands: string[][] = [];
      for (let seq = from; seq < Math.min(from + chunk, count + 1); seq++) {
        commands.push(['XADD', `pl:{${room}}:log`, `${seq}-0`, 'i', `m${seq}`, 't', 'chat', 'b', body(seq), 's', 'filler', 'ts', now]);
      }
      await connection.pipeline(commands);
    }
    await connection.pipeline([['HSET', `pl:{${room}}:meta`, 'epoch', `epoch-${room}`, 'seq', String(count)]]);
  } finally {
    connection.close();
  }
}

/** Just enough of RESP for pipelined writes: sends commands, counts replies, fails on the first error reply. */
class RespConnection {
  readonly #socket: Socket;
  #buffer: Buffer = Buffer.alloc(0);
  #waiting: { remaining: number; errors: string[]; done: (errors: string[]) => void; fail: (error: Error) => void } | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (data: Buffer) => this.#read(data));
    socket.on('error', (error) => this.#waiting?.fail(error));
  }

  static async open(redisUrl: string): Promise<RespConnection> {
    const url = new URL(redisUrl);
    const socket = connect(Number(url.port), url.hostname);
    await new Promise<void>((resolve, reject) => socket.once('connect', () => resolve()).once('error', reject));
    return new RespConnection(socket);
  }

  async pipeline(commands: string[][]): Promise<void> {
    const errors = await new Promise<string[]>((done, fail) => {
      this.#waiting = { remaining: commands.length, errors: [], done, fail };
      this.#socket.write(Buffer.concat(commands.map(encode)));
    });
    if (errors.length > 0) throw new Error(`redis answered ${errors.length} errors, first: ${errors[0]}`);
  }

  close(): void {
    this.#socket.destroy();
  }

  #read(data: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? data : Buffer.concat([this.#buffer, data]);
    let offset = 0;
    for (;;) {
      const end = this.#buffer.indexOf('\r\n', offset);
      if (end < 0) break;
      const type = String.fromCharCode(this.#buffer[offset]!);
      let next = end + 2;
      if (type === '$') {
        const length = Number(this.#buffer.toString('latin1', offset + 1, end));
        if (length >= 0) next += length + 2;
        if (next > this.#buffer.length) break;
      } else if (type === '-') {
        this.#waiting?.errors.push(this.#buffer.toString('utf8', offset + 1, end));
      }
      offset = next;
      const waiting = this.#waiting;
      if (waiting && --waiting.remaining === 0) {
        this.#waiting = undefined;
        waiting.done(waiting.errors);
      }
    }
    this.#buffer = this.#buffer.subarray(offset);
  }
}

function encode(args: string[]): Buffer {
  let text = `*${args.length}\r\n`;
  for (const arg of args) text += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
  return Buffer.from(text);
}

/**
 * What an unauthenticated peer can cost a relay process (the real CLI): a huge frame before any
 * token is refused from its header, binary packets are not buffered, one socket cannot repeat
 * CONNECT, and nobody without a token can use up the relay-wide connection allowance. Stalls and
 * memory are measured and printed; behaviour and bounded memory are asserted.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ErrorKind, PROTOCOL_VERSION } from '@partyline/protocol';
import { waitFor } from '@partyline/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { signAccessToken } from '../src/index.js';
import { connectClient, TEST_SECRET } from './support/harness.js';
import { startRelayProcess, type RelayProcess } from './support/relay-process.js';

let relay: RelayProcess;

beforeAll(async () => {
  // A relay-wide connect allowance small enough to use up, if refusals could use it.
  relay = await startRelayProcess(['--token-secret', TEST_SECRET, '--connect-rate', '20']);
}, 30_000);
afterAll(() => relay?.stop());

const wsUrl = () => `${relay.url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`;
const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${relay.child.pid}/status`, 'utf8'))![1]) / 1024;

/** An Engine.IO WebSocket, opened (past its `0{...}` open packet). */
async function rawSocket(): Promise<WebSocket> {
  const socket = new WebSocket(wsUrl());
  await new Promise<void>((resolve, reject) => {
    socket.once('message', () => resolve());
    socket.once('error', reject);
  });
  return socket;
}

const closed = (socket: WebSocket) => new Promise<number>((resolve) => (socket.readyState === WebSocket.CLOSED ? resolve(-1) : socket.once('close', (code) => resolve(code))));

/**
 * Slowest /healthz answer while `during` runs, measured from another process: this one is busy
 * sending (ws masks every byte in JS), which must not count as the relay's stall.
 */
async function slowestHealthz(during: () => Promise<unknown>): Promise<number> {
  const probe = spawn(process.execPath, ['-e', `
    let slowest = 0, stop = false;
    process.stdin.on('data', () => (stop = true));
    (async () => {
      await fetch(${JSON.stringify(relay.url)} + '/healthz'); // warm: the first fetch of a process loads its HTTP client
      process.stdout.write('ready;');
      while (!stop) {
        const started = performance.now();
        await fetch(${JSON.stringify(relay.url)} + '/healthz');
        slowest = Math.max(slowest, performance.now() - started);
        await new Promise((r) => setTimeout(r, 5));
      }
      process.stdout.write(String(slowest), () => process.exit(0));
    })();`], { stdio: ['pipe', 'pipe', 'inherit'] });
  let output = '';
  probe.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitFor(() => output.startsWith('ready;'), 'the /healthz probe polling', 10_000, 10);
  await during();
  probe.stdin.end('stop\n');
  await new Promise((resolve) => probe.once('exit', resolve));
  return Number(output.slice('ready;'.length));
}

describe('limits before trust, against a relay process', () => {
  it('refuses a 6 MB frame before any token from its header, without reading or parsing it', async () => {
    const socket = await rawSocket();
    const nested = '['.repeat(1_000_000) + ']'.repeat(1_000_000);
    const frame = `40${JSON.stringify({ token: 'x', junk: nested + 'y'.repeat(4_000_000) })}`;
    expect(frame.length).toBeGreaterThan(6_000_000);
    const code = closed(socket);
    const slowest = await slowestHealthz(() => {
      socket.send(frame);
      return code;
    });
    expect(await code).toBe(1009); // message too big
    console.log(`[pre-auth 6 MB frame] closed with 1009; slowest /healthz meanwhile ${slowest.toFixed(1)} ms`);
  });

  it('reads small frames only until the token is accepted, then batches up to the byte limit', async () => {
    // 20 KiB: far under the post-auth limit (1 MiB), over the pre-auth one (16 KiB).
    const early = await rawSocket();
    const code = closed(early);
    early.send(`40${JSON.stringify({ token: 'x'.repeat(20_000) })}`);
    expect(await code).toBe(1009);
    const member = await connectClient(relay.url, await signAccessToken({ sub: 'ana', rooms: ['big'] }, TEST_SECRET));
    const body = JSON.stringify('x'.repeat(60_000));
    const ack = (await member.timeout(10_000).emitWithAck('room:publish', {
      room: 'big',
      messages: Array.from({ length: 10 }, (_, i) => ({ id: `big-${i}`, type: 'chat', body })),
    })) as { ok: boolean };
    expect(ack.ok).toBe(true);
    const tooBig = (await member.timeout(10_000).emitWithAck('room:publish', {
      room: 'big',
      messages: Array.from({ length: 18 }, (_, i) => ({ id: `bigger-${i}`, type: 'chat', body })),
    })) as { ok: boolean; error?: { kind: string } };
    expect(tooBig).toMatchObject({ ok: false, error: { kind: ErrorKind.PayloadTooLarge } });
    member.close();
  });

  it('does not buffer binary attachments or raw binary before auth: memory stays flat', async () => {
    const before = rssMb();
    const sockets = await Promise.all(Array.from({ length: 20 }, () => rawSocket()));
    const codes = sockets.map(closed);
    // A CONNECT announcing binary attachments, then attachment-sized binary frames.
    for (const socket of sockets) {
      socket.send('451-["room:publish",{"_placeholder":true,"num":0}]');
      for (let i = 0; i < 5; i++) socket.send(Buffer.alloc(15_000, 1));
    }
    await Promise.all(codes);
    const grown = rssMb() - before;
    console.log(`[pre-auth binary] 20 sockets closed; relay RSS ${before.toFixed(0)} → ${rssMb().toFixed(0)} MB`);
    expect(grown).toBeLessThan(20);
  });

  it('holds at most 128 token-less connections per address, whatever the flood: memory stays bounded', async () => {
    const before = rssMb();
    // 2,000 WebSocket sessions that never send CONNECT (each would be held until the connect timeout).
    const attempts = await Promise.all(
      Array.from({ length: 2_000 }, () => rawSocket().then((socket) => socket, () => undefined)),
    );
    const opened = attempts.filter((socket): socket is WebSocket => socket !== undefined);
    const during = rssMb();
    console.log(`[pre-auth sessions] ${opened.length} of 2000 opened; relay RSS ${before.toFixed(0)} → ${during.toFixed(0)} MB`);
    expect(opened.length).toBeLessThanOrEqual(128);
    expect(during - before).toBeLessThan(20);
    // A real client from the same address still gets in once those are gone.
    const codes = opened.map(closed);
    for (const socket of opened) socket.close();
    await Promise.all(codes);
    await waitFor(async () => {
      try {
        (await connectClient(relay.url, await signAccessToken({ sub: 'ana', rooms: ['party:*'] }, TEST_SECRET))).close();
        return true;
      } catch {
        return false;
      }
    }, 'a real client connecting after the flood', 15_000, 100);
  });

  it('closes a socket after a refused CONNECT: one socket cannot repeat it, and refusals never lock real clients out', async () => {
    const socket = await rawSocket();
    const code = closed(socket);
    let refusals = 0;
    socket.on('message', (data) => {
      if (String(data).startsWith('44')) refusals++;
    });
    for (let i = 0; i < 500; i++) socket.send(`40${JSON.stringify({ token: 'not-a-token', protocol: PROTOCOL_VERSION })}`);
    await code;
    expect(refusals).toBe(1);
    // Hundreds of token-less attempts on fresh sockets: refused, and none charged to the relay-wide allowance (20/s here).
    await Promise.all(
      Array.from({ length: 100 }, async () => {
        const attacker = await rawSocket();
        const gone = closed(attacker);
        attacker.send(`40${JSON.stringify({ protocol: PROTOCOL_VERSION })}`);
        await gone;
      }),
    );
    const clients = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => connectClient(relay.url, await signAccessToken({ sub: `real-${i}`, rooms: ['r'] }, TEST_SECRET))),
    );
    expect(clients.every((client) => client.connected)).toBe(true);
    for (const client of clients) client.close();
  });

  it('still answers a refused CONNECT with its typed error before closing', async () => {
    const socket = await rawSocket();
    const answer = new Promise<string>((resolve) => socket.on('message', (data) => String(data).startsWith('44') && resolve(String(data))));
    socket.send(`40${JSON.stringify({ token: 'not-a-token' })}`);
    expect(JSON.parse((await answer).slice(2))).toMatchObject({ data: { kind: ErrorKind.Unauthorized } });
    await closed(socket);
  });
});

describe('long-polling, where a relay opts into it', () => {
  let polling: RelayProcess;
  beforeAll(async () => {
    polling = await startRelayProcess(['--token-secret', TEST_SECRET, '--transports', 'websocket,polling']);
  }, 30_000);
  afterAll(() => polling?.stop());

  it('caps token-less polling sessions per address even over keep-alive connections: memory stays bounded', async () => {
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${polling.child.pid}/status`, 'utf8'))![1]) / 1024;
    const before = rss();
    // 2,000 polling handshakes (Node's fetch reuses a few keep-alive connections), none sending CONNECT.
    let sessions = 0;
    let refused = 0;
    for (let i = 0; i < 2_000; i += 100) {
      const answers = await Promise.all(
        Array.from({ length: 100 }, () => fetch(`${polling.url}/socket.io/?EIO=4&transport=polling`).then(async (r) => ({ status: r.status, text: await r.text() }), () => undefined)),
      );
      for (const answer of answers) {
        if (answer?.status === 200 && answer.text.startsWith('0{')) sessions++;
        else refused++;
      }
    }
    const grown = rss() - before;
    console.log(`[pre-auth polling] ${sessions} sessions opened, ${refused} refused; relay RSS ${before.toFixed(0)} → ${rss().toFixed(0)} MB`);
    expect(sessions).toBeLessThanOrEqual(128);
    expect(refused).toBeGreaterThanOrEqual(2_000 - 128);
    expect(grown).toBeLessThan(20);
  });
});

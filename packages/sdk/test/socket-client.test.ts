/**
 * The SDK's WebSocket-only Socket.IO client against a real Socket.IO server (and a raw WebSocket
 * server for a relay that goes silent): the behaviour the Connection relies on, with
 * socket.io-client's event names, disconnect reasons and error messages.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { createSocket, decodePacket, type DisconnectReason, type SocketClient } from '../src/socket-client.js';

type Listen = { greet: (text: string) => void; 'ask:client': (question: string, answer: (reply: string) => void) => void };
type Emit = {
  echo: (request: { text: string }, ack: (answer: { text: string }) => void) => void;
  silent: (request: object, ack: (answer: object) => void) => void;
  note: (request: { text: string }) => void;
};
type TestSocket = SocketClient<Listen, Emit>;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function listen(server: ReturnType<typeof createServer>): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function socketIoServer(options: ConstructorParameters<typeof Server>[1] = {}) {
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'], ...options });
  const url = await listen(http);
  cleanups.push(() => void io.close());
  return { url, io };
}

function connect(url: string, auth: object = { token: 't' }, timeout = 5000): TestSocket {
  const socket = createSocket<Listen, Emit>(url, { auth, timeout });
  cleanups.push(() => socket.disconnect());
  return socket;
}

const connected = (socket: TestSocket) =>
  new Promise<void>((resolve, reject) => {
    socket.on('connect', resolve);
    socket.on('connect_error', reject);
  });
const connectError = (socket: TestSocket) => new Promise<Error & { data?: unknown }>((resolve) => socket.on('connect_error', resolve));
const disconnected = (socket: TestSocket) => new Promise<DisconnectReason>((resolve) => socket.on('disconnect', resolve));

describe('socket client', () => {
  it('connects with its auth, and carries events and acks both ways', async () => {
    const { url, io } = await socketIoServer();
    const auths: unknown[] = [];
    const notes: unknown[] = [];
    io.on('connection', (socket) => {
      auths.push(socket.handshake.auth);
      socket.on('echo', (request: { text: string }, ack: (answer: unknown) => void) => ack({ text: request.text.toUpperCase() }));
      socket.on('note', (request: unknown) => notes.push(request));
      socket.emit('greet', 'hello');
      socket.emit('ask:client', 'ready?', (reply: string) => socket.emit('greet', `client said ${reply}`));
    });
    const socket = connect(url, { token: 'abc', protocol: 2 });
    const greetings: string[] = [];
    socket.on('greet', (text) => greetings.push(text));
    socket.on('ask:client', (_question, answer) => answer('yes'));
    await connected(socket);
    expect(auths).toEqual([{ token: 'abc', protocol: 2 }]);

    await expect(socket.timeout(2000).emitWithAck('echo', { text: 'hi' })).resolves.toEqual({ text: 'HI' });
    const plain = await new Promise((resolve) => socket.emit('echo', { text: 'plain' }, resolve));
    expect(plain).toEqual({ text: 'PLAIN' });
    socket.emit('note', { text: 'no ack' });
    await expect.poll(() => notes).toEqual([{ text: 'no ack' }]);
    await expect.poll(() => greetings).toEqual(['hello', 'client said yes']);
  });

  it('reports a refusal as connect_error with the relay’s data, and no disconnect', async () => {
    const { url, io } = await socketIoServer();
    io.use((_socket, next) => next(Object.assign(new Error('nope'), { data: { kind: 'unauthorized', message: 'bad token', retryable: false } })));
    const socket = connect(url);
    let disconnects = 0;
    socket.on('disconnect', () => disconnects++);
    const error = await connectError(socket);
    expect(error.message).toBe('nope');
    expect(error.data).toEqual({ kind: 'unauthorized', message: 'bad token', retryable: false });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(disconnects).toBe(0);
  });

  it('says "websocket error" when nothing listens, "timeout" when the handshake never comes', async () => {
    const closed = createServer();
    const closedUrl = await listen(closed);
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    expect((await connectError(connect(closedUrl))).message).toBe('websocket error');

    const mute = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => new Promise<void>((resolve) => mute.close(() => resolve())));
    await new Promise((resolve) => mute.once('listening', resolve));
    const muteUrl = `http://127.0.0.1:${(mute.address() as AddressInfo).port}`;
    const started = Date.now();
    expect((await connectError(connect(muteUrl, {}, 200))).message).toBe('timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);

    // A malformed relay URL fails like any attempt (the Connection moves on), instead of throwing.
    expect((await connectError(connect('http://not a host'))).message).toMatch(/invalid url/i);
  });

  it('rejects an unanswered request after its timeout, and pending requests when the socket closes', async () => {
    const { url, io } = await socketIoServer();
    io.on('connection', (socket) => socket.on('silent', () => {}));
    const socket = connect(url);
    await connected(socket);
    await expect(socket.timeout(100).emitWithAck('silent', {})).rejects.toThrow('operation has timed out');

    const pending = socket.timeout(10_000).emitWithAck('silent', {});
    const reason = disconnected(socket);
    socket.disconnect();
    await expect(pending).rejects.toThrow('socket has been disconnected');
    expect(await reason).toBe('io client disconnect');
  });

  it('names who closed: the relay (io server disconnect) or the transport', async () => {
    const { url, io } = await socketIoServer();
    io.on('connection', (socket) => socket.on('silent', () => {}));
    const first = connect(url);
    await connected(first);
    const pending = first.timeout(10_000).emitWithAck('silent', {});
    const firstReason = disconnected(first);
    for (const socket of await io.fetchSockets()) socket.disconnect(true);
    expect(await firstReason).toBe('io server disconnect');
    await expect(pending).rejects.toThrow('socket has been disconnected');

    const second = connect(url);
    await connected(second);
    const secondReason = disconnected(second);
    io.close(); // closes every engine connection
    expect(await secondReason).toBe('transport close');
  });

  it('closes with "ping timeout" when a connected relay goes silent', async () => {
    // A relay that does the Engine.IO and Socket.IO handshakes, then never pings.
    const silent = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => new Promise<void>((resolve) => silent.close(() => resolve())));
    await new Promise((resolve) => silent.once('listening', resolve));
    silent.on('connection', (ws) => {
      ws.send(`0${JSON.stringify({ sid: 'e1', upgrades: [], pingInterval: 100, pingTimeout: 50, maxPayload: 1e6 })}`);
      ws.on('message', (data) => {
        if (String(data).startsWith('40')) ws.send('40{"sid":"s1"}');
      });
    });
    const socket = connect(`http://127.0.0.1:${(silent.address() as AddressInfo).port}`);
    await connected(socket);
    const started = Date.now();
    expect(await disconnected(socket)).toBe('ping timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('answers the relay’s pings and stays connected past pingInterval + pingTimeout', async () => {
    const { url, io } = await socketIoServer({ pingInterval: 100, pingTimeout: 50 });
    io.on('connection', (socket) => socket.on('echo', (request: { text: string }, ack: (answer: unknown) => void) => ack(request)));
    const socket = connect(url);
    let reason: DisconnectReason | undefined;
    socket.on('disconnect', (why) => (reason = why));
    await connected(socket);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(reason).toBeUndefined();
    await expect(socket.timeout(2000).emitWithAck('echo', { text: 'still here' })).resolves.toEqual({ text: 'still here' });
  });
});

describe('decodePacket', () => {
  it('reads type, namespace, ack id and payload as socket.io-parser does', () => {
    expect(decodePacket('0{"sid":"a"}')).toEqual({ type: 0, nsp: '/', id: undefined, data: { sid: 'a' } });
    expect(decodePacket('2/admin,12["event",1]')).toEqual({ type: 2, nsp: '/admin', id: 12, data: ['event', 1] });
    expect(decodePacket('37[{"ok":true}]')).toEqual({ type: 3, nsp: '/', id: 7, data: [{ ok: true }] });
    expect(decodePacket('1')).toEqual({ type: 1, nsp: '/', id: undefined, data: undefined });
    expect(decodePacket('4{"message":"nope","data":{"kind":"forbidden"}}')?.data).toEqual({ message: 'nope', data: { kind: 'forbidden' } });
  });

  it('refuses malformed packets, binary ones and reserved event names', () => {
    expect(decodePacket('2["event"')).toBeUndefined();
    expect(decodePacket('2{"not":"an array"}')).toBeUndefined();
    expect(decodePacket('2["connect"]')).toBeUndefined();
    expect(decodePacket('1{"unexpected":true}')).toBeUndefined();
    expect(decodePacket('51-["event",{"_placeholder":true,"num":0}]')).toBeUndefined();
    expect(decodePacket('9[]')).toBeUndefined();
  });
});

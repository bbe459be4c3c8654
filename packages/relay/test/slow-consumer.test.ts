import type { LogMessage } from '@partyline/protocol';
import { waitFor } from '@partyline/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, expectOk, publish, request, startRelay, tokenFor, type ClientSocket, type RunningRelay } from './support/harness.js';
import { readWholeLog } from './support/publish-until-acked.js';

let relay: RunningRelay;
const sockets: ClientSocket[] = [];

beforeAll(async () => {
  // The writer is fast on purpose (12 MB at once): no per-user byte rate here.
  relay = await startRelay({ maxBufferedBytes: 1024 * 1024, metricsPublic: true, userByteRatePerSecond: 0 });
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await relay?.relay.close();
});

/** Stops reading from the socket's TCP connection, as a frozen or overwhelmed client would. */
function stopReading(socket: ClientSocket): () => void {
  const tcp = (socket.io.engine.transport as unknown as { ws: { _socket: { pause(): void; resume(): void } } }).ws._socket;
  tcp.pause();
  return () => tcp.resume();
}

describe('a client that stops reading', () => {
  it('is disconnected before the relay buffers its backlog without bound, then catches up from the log', async () => {
    const room = 'firehose';
    const token = await tokenFor('slow', [room]);
    const slow = await connectClient(relay.url, token);
    // A version-2 client: its own publishes come back live (protocol 3 takes them from the acks).
    const fast = await connectClient(relay.url, await tokenFor('fast', [room]), { protocol: 2 });
    sockets.push(slow, fast);
    expectOk(await request(slow, 'room:join', { room }));
    expectOk(await request(fast, 'room:join', { room }));
    const fastReceived: LogMessage[] = [];
    fast.on('room:messages', (event) => fastReceived.push(...event.messages));
    const resume = stopReading(slow);

    const body = JSON.stringify('x'.repeat(60 * 1024));
    // Batches stay under the relay's 1 MiB per publish.
    for (let batch = 0; batch < 20; batch++) {
      const messages = Array.from({ length: 10 }, (_, i) => ({ id: `b${batch}-m${i}`, body }));
      expectOk(await publish(fast, room, messages));
    }

    await waitFor(() => relay.relay.io.of('/').sockets.size === 1, 'the relay to close the slow connection', 20_000);
    const metrics = await (await fetch(`${relay.url}/metrics`)).text();
    expect(metrics).toMatch(/^partyline_slow_consumer_disconnects_total 1$/m);
    resume();

    // The fast member got everything; the slow one reconnects and catches up from the log.
    await waitFor(() => fastReceived.length === 200, 'the fast member to get all 200');
    const back = await connectClient(relay.url, token);
    sockets.push(back);
    const log = await readWholeLog(back, room);
    expect(log.map((m) => m.id)).toEqual(fastReceived.map((m) => m.id));
  });
});

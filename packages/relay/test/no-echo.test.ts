/**
 * Protocol 3: a publisher learns its appended messages from its ack (`ts`, `previousId`, the seqs), and
 * the relay does not echo them to its connection; every other member, on this relay and the other, a
 * version-2 member too, gets them live. A version-2 publisher is echoed as before.
 */
import type { LogMessage, PublishAck } from '@partyline/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { collectMessages, connectClient, expectOk, MEMORY_OR_TWO_REDIS_RELAYS, publish, request, tokenFor, type ClientSocket } from './support/harness.js';

describe.each(MEMORY_OR_TWO_REDIS_RELAYS)('no echo to a protocol-3 publisher (%s)', (_name, setup) => {
  let pair: Awaited<ReturnType<typeof setup>> | undefined;
  const sockets: ClientSocket[] = [];
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.close();
    await pair?.stop();
    pair = undefined;
  });

  async function member(relay: number, sub: string, protocol?: number): Promise<{ socket: ClientSocket; live: LogMessage[] }> {
    const socket = await connectClient(pair!.relays[relay]!.url, await tokenFor(sub, ['party:*']), protocol === undefined ? {} : { protocol });
    sockets.push(socket);
    const live = collectMessages(socket);
    expectOk(await request(socket, 'room:join', { room: 'party:echo' }));
    return { socket, live };
  }

  it('acks with ts and previousId, sends the messages to every other member, and none back to the publisher', async () => {
    pair = await setup();
    const ana = await member(0, 'ana');
    const bob = await member(0, 'bob');
    const carl = await member(0, 'carl', 2);
    const dora = await member(1, 'dora');

    const first = expectOk(await publish(ana.socket, 'party:echo', [{ id: 'a1' }, { id: 'a2' }]) as never) as PublishAck;
    expect(first.results).toEqual([{ id: 'a1', seq: 1 }, { id: 'a2', seq: 2 }]);
    expect(first.ts).toEqual(expect.any(Number));
    expect(first.previousId).toBeUndefined();
    const second = expectOk(await publish(ana.socket, 'party:echo', [{ id: 'a3' }])) as PublishAck;
    expect(second).toMatchObject({ results: [{ id: 'a3', seq: 3 }], previousId: 'a2' });
    // A version-2 publisher is echoed.
    expectOk(await publish(carl.socket, 'party:echo', [{ id: 'c1' }]));

    for (const [name, { live }] of Object.entries({ bob, carl, dora })) {
      await expect.poll(() => live.map((m) => m.id), { message: name }).toEqual(['a1', 'a2', 'a3', 'c1']);
    }
    // Ana's own later request is answered after any broadcast queued for her before it.
    expectOk(await request(ana.socket, 'room:read', { room: 'party:echo', since: 0 }));
    expect(ana.live.map((m) => m.id)).toEqual(['c1']);
    // A resend is a duplicate: its ack names the seq, carries no ts, and nothing is broadcast again.
    const again = expectOk(await publish(ana.socket, 'party:echo', [{ id: 'a1' }])) as PublishAck;
    expect(again).toEqual({ ok: true, epoch: first.epoch, results: [{ id: 'a1', seq: 1, duplicate: true }] });
  });
});

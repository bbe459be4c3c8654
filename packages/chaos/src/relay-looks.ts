import { PROTOCOL_VERSION, type MessageSummary, type RoomPage, type UnreadAck } from '@partyline/protocol';
import { io, type Socket } from 'socket.io-client';
import type { RelayLook } from './annotation-checker.js';
import { mintChaosToken } from './system-under-test.js';

type Ack<T> = T & { ok: boolean; error?: { retryable?: boolean } };

/** A retryable refusal (the store busy after a failover) is asked again, this often, this far apart. */
const ATTEMPTS = 20;
const RETRY_MS = 500;

/**
 * After quiescence, what every relay tells every user of a room, connected as that user (so `mine`
 * and the read position are that user's): the summaries of every page of the room (`room:read` from
 * seq 0), the read state of a join ack, and `user:unread`. A relay that cannot answer (also after
 * retrying what it calls retryable) gives a look with `failed`: the checker counts it, the run goes on.
 */
export async function readRelayLooks(relays: { url: string; port: number }[], usersByRoom: Map<string, string[]>): Promise<RelayLook[]> {
  const looks: RelayLook[] = [];
  for (const relay of relays) {
    for (const [room, users] of usersByRoom) {
      looks.push(...(await Promise.all(users.map((user) => lookAs(relay, room, user)))));
    }
  }
  return looks;
}

async function lookAs(relay: { url: string; port: number }, room: string, user: string): Promise<RelayLook> {
  const token = await mintChaosToken(user, room, () => 1);
  const socket: Socket = io(relay.url, { transports: ['websocket'], auth: { token, protocol: PROTOCOL_VERSION }, reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => socket.once('connect', () => resolve()).once('connect_error', reject));
  const ask = async <T>(event: string, request: object): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      const answer = (await socket.timeout(10_000).emitWithAck(event, request)) as Ack<T>;
      if (answer.ok) return answer;
      if (!answer.error?.retryable || attempt === ATTEMPTS) throw new Error(`${event} ${JSON.stringify(request)}: ${JSON.stringify(answer)}${attempt > 1 ? ` (${attempt} attempts)` : ''}`);
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  };
  try {
    const summaries: Record<string, MessageSummary> = {};
    for (let since = 0; ; ) {
      const page = await ask<RoomPage>('room:read', { room, since });
      Object.assign(summaries, page.summaries ?? {});
      if (!page.hasMore || page.messages.length === 0) break;
      since = page.messages.at(-1)!.seq;
    }
    const joined = await ask<RoomPage>('room:join', { room, last: 1 });
    const { rooms } = await ask<UnreadAck>('user:unread', {});
    return {
      relay: String(relay.port),
      room,
      user,
      summaries,
      ...(joined.read ? { read: joined.read } : {}),
      ...(rooms[room] !== undefined ? { unread: rooms[room] } : {}),
    };
  } catch (error) {
    return { relay: String(relay.port), room, user, summaries: {}, failed: (error as Error).message };
  } finally {
    socket.close();
  }
}

import type { PartylineClient, Room } from '@partyline/sdk';
import { useClient } from './provider.js';
import { heldRooms, watchHeldRooms } from './use-room.js';
import { followWhileListened, useStore } from './use-store.js';

/** Unread messages per room name. */
export type UnreadCounts = Readonly<Record<string, number>>;

/** How often the counts are asked again anyway: rooms no component holds have no events here. */
const UNREAD_REFRESH_MS = 60_000;
/** Events in a burst (a busy room, a catch-up) are answered by one request, this long after the first. */
const UNREAD_COALESCE_MS = 500;

interface UnreadStore {
  subscribe(onChange: () => void): () => void;
  get(): UnreadCounts;
}

const NONE: UnreadCounts = Object.freeze({});
const stores = new WeakMap<PartylineClient, UnreadStore>();

function sameCounts(a: UnreadCounts, b: UnreadCounts): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}

/** The one unread store of `client`: asks `client.unread()` while anyone subscribes, when something may have moved the counts. */
function unreadOf(client: PartylineClient): UnreadStore {
  let store = stores.get(client);
  if (store) return store;
  let snapshot = NONE;
  const followers = followWhileListened(attach);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let asking = false;
  let askAgain = false;

  /** One request at a time, and one more if asked meanwhile. Offline (or closed) the last counts stay. */
  async function ask(): Promise<void> {
    if (asking) return void (askAgain = true);
    asking = true;
    do {
      askAgain = false;
      if (client.state !== 'online') break; // reconnecting asks again
      const counts = await client.unread().catch(() => snapshot);
      if (!followers.attached || sameCounts(counts, snapshot)) continue;
      snapshot = Object.freeze({ ...counts });
      followers.notify();
    } while (askAgain);
    asking = false;
  }

  function soon(): void {
    timer ??= setTimeout(() => {
      timer = undefined;
      void ask();
    }, UNREAD_COALESCE_MS);
  }

  function attach(): () => void {
    // New messages and read positions of the rooms components hold (others', own other tabs/devices), and
    // this tab's own entries reaching the log (a post, or a `markRead`, moves its own read position).
    let roomStops: (() => void)[] = [];
    const followRooms = () => {
      roomStops.forEach((each) => each());
      roomStops = heldRooms(client).flatMap((room: Room) => [room.on('message', soon), room.on('read', soon), room.on('status', soon)]);
    };
    followRooms();
    const stops = [
      watchHeldRooms(client, followRooms),
      client.on('state', ({ state }) => {
        if (state === 'online') void ask();
      }),
    ];
    const interval = setInterval(() => void ask(), UNREAD_REFRESH_MS);
    void ask();
    return () => {
      clearInterval(interval);
      clearTimeout(timer);
      timer = undefined;
      [...stops, ...roomStops].forEach((each) => each());
    };
  }

  store = {
    subscribe: followers.subscribe,
    get: () => snapshot,
  };
  stores.set(client, store);
  return store;
}

/**
 * Unread messages per room of this user (`client.unread()`: the rooms they marked read or posted in,
 * that the token lets them read; a room missing has none known), empty until the relay first answers.
 * Asked again when the client comes online (again); shortly after a new message, a read position that
 * moved, or an own post or `markRead` that reached the relay, in a room a component holds open with
 * {@link useRoom} (`message`, `read` and `status` events — a burst is answered by one request, half a
 * second after its first event); and every minute for the other rooms. While offline
 * the last counts stay. All components share one store per client.
 *
 * @example
 * const unread = useUnread();
 * parties.map((p) => <li key={p.id}>{p.title} {unread[`party:${p.id}`] ? <Badge n={unread[`party:${p.id}`]} /> : null}</li>);
 */
export function useUnread(): UnreadCounts {
  const client = useClient();
  const store = unreadOf(client);
  return useStore(client, store.subscribe, store.get);
}

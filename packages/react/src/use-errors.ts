import type { PartylineClient, PartylineError, Room } from '@partyline/sdk';
import { useMemo, useSyncExternalStore } from './react.js';
import { useClient } from './provider.js';
import { viewOf, type OwnMessage } from './room-view.js';

/** What went wrong, as {@link useErrors} hands it over: each until it is resolved. */
export interface PartylineErrors {
  /**
   * Why the client is not online (a refused token: `unauthorized`; an unreachable relay:
   * `connect_failed`), or its latest `error` since (storage trouble; `bad_request`: the `user` option
   * is not the token's `sub`). Cleared when it comes online.
   */
  client: PartylineError | undefined;
  /** The room's latest `error`: its join refused (`forbidden`: the token does not grant the room), … Cleared when the relay lets it in. */
  room: PartylineError | undefined;
  /** Own messages of the room refused for good (`failed`: refused by the relay; `expired`), each with its `error`. */
  refused: readonly OwnMessage[];
}

interface LatestError {
  subscribe(listener: () => void): () => void;
  get(): PartylineError | undefined;
}

/** One store per client or room, following it from its first use until it closes (its events go then). */
const latest = new WeakMap<PartylineClient | Room, LatestError>();

function latestError(source: PartylineClient | Room, initial: PartylineError | undefined, follow: (set: (error: PartylineError | undefined) => void) => void): LatestError {
  let store = latest.get(source);
  if (store) return store;
  let error = initial;
  const listeners = new Set<() => void>();
  follow((next) => {
    if (next === error) return;
    error = next;
    listeners.forEach((listener) => listener());
  });
  latest.set(source, (store = { subscribe: (listener) => (listeners.add(listener), () => listeners.delete(listener)), get: () => error }));
  return store;
}

const clientErrors = (client: PartylineClient) =>
  latestError(client, client.reason, (set) => {
    client.on('error', ({ error }) => set(error));
    client.on('state', ({ state, reason }) => (state === 'online' ? set(undefined) : reason && set(reason)));
  });

const roomErrors = (room: Room) =>
  latestError(room, undefined, (set) => {
    room.on('error', ({ error }) => set(error));
    room.on('joined', () => set(undefined));
  });

const none: LatestError = { subscribe: () => () => {}, get: () => undefined };
const noPending = { subscribe: none.subscribe, get: () => ({ pending: [] as readonly OwnMessage[] }) };

/**
 * The latest errors of the provider's client and, with `room`, of that room — each cleared once
 * resolved — re-rendering on changes: show why nothing happens instead of a spinner.
 *
 * @example
 * const { client, room: refused, refused: failed } = useErrors(room);
 * if (refused?.kind === 'forbidden') return <p>You are not invited to this party.</p>;
 * if (client) return <Banner>Not connected: {client.message}</Banner>;
 */
export function useErrors(room?: Room): PartylineErrors {
  const client = useClient();
  const ofClient = clientErrors(client);
  const ofRoom = room ? roomErrors(room) : none;
  const view = room ? viewOf(room) : noPending;
  const clientError = useSyncExternalStore(ofClient.subscribe, ofClient.get, ofClient.get);
  const roomError = useSyncExternalStore(ofRoom.subscribe, ofRoom.get, ofRoom.get);
  const pending = useSyncExternalStore(view.subscribe, () => view.get().pending, () => view.get().pending);
  const refused = useMemo(() => pending.filter((message) => message.status === 'failed' || message.status === 'expired'), [pending]);
  return useMemo(() => ({ client: clientError, room: roomError, refused }), [clientError, roomError, refused]);
}

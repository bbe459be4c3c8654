import type { PartylineClient, Room, RoomOptions } from '@partyline/sdk';
import { useEffect, useState } from './react.js';
import { useClient } from './provider.js';

interface Held {
  room: Room;
  /** Mounted components using it. */
  users: number;
  /** The pending check that leaves it if no component uses it by then. */
  timer?: ReturnType<typeof setTimeout>;
}

/** How long a room opened by a render may wait for its component to mount (a thrown-away render never does). */
const ORPHAN_MS = 5000;

const held = new WeakMap<PartylineClient, Map<string, Held>>();
/** Who wants to know when a client's held rooms change (useUnread follows their events). */
const watchers = new WeakMap<PartylineClient, Set<() => void>>();

/** @internal The rooms of `client` that components hold (opened by {@link useRoom}, not left yet). */
export function heldRooms(client: PartylineClient): Room[] {
  return [...(held.get(client)?.values() ?? [])].map((entry) => entry.room);
}

/** @internal Calls `listener` whenever {@link useRoom} opens or leaves a room of `client`; returns a function that stops it. */
export function watchHeldRooms(client: PartylineClient, listener: () => void): () => void {
  const set = watchers.get(client) ?? new Set();
  watchers.set(client, set);
  set.add(listener);
  return () => void set.delete(listener);
}

function heldChanged(client: PartylineClient): void {
  watchers.get(client)?.forEach((listener) => listener());
}

/** The held room `name` of `client`, opening (and joining) it if no component holds it. */
function hold(client: PartylineClient, name: string, options: RoomOptions | undefined): Held {
  const rooms = held.get(client) ?? new Map<string, Held>();
  held.set(client, rooms);
  let entry = rooms.get(name);
  if (!entry) {
    rooms.set(name, (entry = { room: client.room(name, options), users: 0 }));
    release(client, name, entry, ORPHAN_MS);
    heldChanged(client);
  }
  return entry;
}

/** Leaves the room after `delayMs` unless a component uses it by then. */
function release(client: PartylineClient, name: string, entry: Held, delayMs = 0): void {
  clearTimeout(entry.timer);
  entry.timer = setTimeout(() => {
    const rooms = held.get(client);
    if (entry.users || rooms?.get(name) !== entry) return;
    rooms.delete(name);
    entry.room.leave();
    heldChanged(client);
  }, delayMs);
}

/**
 * The room `name` of the provider's client: joined while any component using it is mounted, left
 * right after the last one unmounts — a StrictMode unmount + remount, or a component moving in the
 * tree, keeps the same joined room (one join). `options` apply when the room is opened.
 *
 * Throws, during render, a `PartylineError` `invalid_room` for a name that breaks the rule (1–128
 * letters, digits and `_ . : -`, starting with a letter or digit): a name from the URL or a form is
 * input — check it with `isValidRoomName` before rendering, or let an error boundary show it. (A
 * `Room` is always returned otherwise, so every hook below takes one without a check.) A room the
 * token does not grant opens fine and fails to join: `useErrors(room).room` says `forbidden`.
 *
 * @example
 * function Party({ id }: { id: string }) {
 *   const room = useRoom(`party:${id}`, { from: { last: 50 } });
 *   const { messages } = useMessages<ChatBody>(room);
 *   ...
 * }
 */
export function useRoom(name: string, options?: RoomOptions): Room {
  const client = useClient();
  const entry = hold(client, name, options);
  const [, rerender] = useState(0);
  useEffect(() => {
    const current = hold(client, name, options);
    current.users++;
    clearTimeout(current.timer);
    // This render's room was left meanwhile (its mount came late): render again with the new one.
    if (current !== entry) rerender((n) => n + 1);
    return () => {
      current.users--;
      release(client, name, current);
    };
  }, [client, name]); // options apply when the room is opened only
  return entry.room;
}

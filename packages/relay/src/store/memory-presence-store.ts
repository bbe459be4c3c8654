import { randomUUID } from 'node:crypto';
import type { PresenceChange, PresenceMember, PresenceSnapshot } from '@partyline/protocol';
import { subOfLease, type Lease, type PresenceChanges, type PresenceStore, type PresenceStoreOptions, type RecordedPresenceChange } from './presence-store.js';

interface RoomPresence {
  name: string;
  epoch: string;
  version: number;
  members: Map<string, PresenceMember>;
  /** Lease key → expiry. */
  leases: Map<string, number>;
  /** Live leases per member. */
  counts: Map<string, number>;
}

/** Presence for one relay on the in-memory store; a room with no lease left is forgotten. */
export function createMemoryPresenceStore({ recordChanges = false, beforeChange }: PresenceStoreOptions = {}, now: () => number = Date.now): PresenceStore {
  const rooms = new Map<string, RoomPresence>();
  /** Recorded changes per room (for webhooks), kept past the room itself until read. */
  const recorded = new Map<string, { next: number; changes: RecordedPresenceChange[] }>();

  const roomOf = (name: string): RoomPresence => {
    let room = rooms.get(name);
    if (!room) {
      room = { name, epoch: randomUUID(), version: 0, members: new Map(), leases: new Map(), counts: new Map() };
      rooms.set(name, room);
    }
    return room;
  };
  const change = (room: RoomPresence, changes: PresenceChange[], kind: PresenceChange['kind'], member: PresenceMember) => {
    changes.push({ version: ++room.version, kind, member: { ...member } });
    if (!recordChanges) return;
    const log = recorded.get(room.name) ?? { next: 1, changes: [] };
    recorded.set(room.name, log);
    log.changes.push({ cursor: String(log.next++), kind, member: { ...member }, members: room.members.size });
    if (log.changes.length > 10_000) log.changes.shift();
  };
  const drop = (room: RoomPresence, key: string, changes: PresenceChange[]) => {
    if (!room.leases.delete(key)) return;
    const sub = subOfLease(key);
    const left = (room.counts.get(sub) ?? 1) - 1;
    if (left > 0) return void room.counts.set(sub, left);
    room.counts.delete(sub);
    const member = room.members.get(sub);
    room.members.delete(sub);
    if (member) change(room, changes, 'left', member);
  };
  const done = (name: string, room: RoomPresence, changes: PresenceChange[]): PresenceChanges => {
    if (room.leases.size === 0) rooms.delete(name);
    return { epoch: room.epoch, changes };
  };

  return {
    async enter(name, lease: Lease, data, expiresAt) {
      await beforeChange?.(name);
      const room = roomOf(name);
      const changes: PresenceChange[] = [];
      if (!room.leases.has(lease.key)) room.counts.set(lease.sub, (room.counts.get(lease.sub) ?? 0) + 1);
      room.leases.set(lease.key, expiresAt);
      const member = room.members.get(lease.sub);
      if (!member) {
        const joined: PresenceMember = { sub: lease.sub, since: now(), ...(data !== undefined ? { data } : {}) };
        room.members.set(lease.sub, joined);
        change(room, changes, 'joined', joined);
      } else if (data !== undefined && member.data !== data) {
        member.data = data;
        change(room, changes, 'updated', member);
      }
      return done(name, room, changes);
    },
    async leave(name, lease) {
      await beforeChange?.(name);
      const room = rooms.get(name);
      if (!room) return { epoch: '', changes: [] };
      const changes: PresenceChange[] = [];
      drop(room, lease.key, changes);
      return done(name, room, changes);
    },
    async extend(name, keys, expiresAt) {
      const room = rooms.get(name);
      const missing: string[] = [];
      for (const key of keys) {
        if (room?.leases.has(key)) room.leases.set(key, expiresAt);
        else missing.push(key);
      }
      return missing;
    },
    async sweep(at, maxRooms) {
      const swept = new Map<string, PresenceChanges>();
      for (const [name, room] of rooms) {
        if (swept.size >= maxRooms) break;
        const changes: PresenceChange[] = [];
        if ([...room.leases.values()].some((expiresAt) => expiresAt <= at)) await beforeChange?.(name);
        for (const [key, expiresAt] of room.leases) if (expiresAt <= at) drop(room, key, changes);
        if (changes.length > 0) swept.set(name, done(name, room, changes));
        else done(name, room, changes);
      }
      return swept;
    },
    async recorded(name, after, limit) {
      const log = recorded.get(name);
      if (!log) return [];
      const from = Number(after || 0);
      const pending = log.changes.filter((change) => Number(change.cursor) > from);
      // Everything read and the room empty: nothing more will come for this log.
      if (pending.length === 0 && !rooms.has(name)) recorded.delete(name);
      return pending.slice(0, limit);
    },
    async snapshot(name): Promise<PresenceSnapshot> {
      const room = rooms.get(name);
      if (!room) return { epoch: '', version: 0, members: [] };
      return { epoch: room.epoch, version: room.version, members: [...room.members.values()].map((member) => ({ ...member })) };
    },
    async close() {
      rooms.clear();
    },
  };
}

import type { PresenceSnapshot } from '@partyline/protocol';
import type { Logger } from 'pino';
import type { RelayMetrics } from './metrics.js';
import { PresenceBatcher } from './presence-batcher.js';
import type { Lease, PresenceChanges, PresenceStore } from './store/presence-store.js';

/** How long presence outlives what it stands for. */
export interface PresenceTiming {
  /** A lease runs this long past its last renewal: a dead relay's members leave within it (plus a sweep). */
  leaseMs: number;
  /** How often a relay renews its connections' leases (well inside `leaseMs`). */
  renewMs: number;
  /** A connection that drops keeps its member this long: reconnecting (here or on another relay) within it is never seen. */
  graceMs: number;
  /** How often a relay removes expired leases (any relay's) and announces who left. */
  sweepMs: number;
  /** A room's changes go out at most this often per relay, together (see presence-batcher.ts); 0: each at once. */
  batchMs: number;
}

/**
 * Lease 7 s renewed every 2 s: after a relay dies, its leases still run 5–7 s (the failover grace)
 * and are swept within a second after that (≤ 8 s, inside the 10 s bound). A busy room's changes
 * wait up to 250 ms to share a frame, inside the SDK's wait for a gap to fill (500 ms).
 */
export const PRESENCE_TIMING: PresenceTiming = { leaseMs: 7_000, renewMs: 2_000, graceMs: 5_000, sweepMs: 1_000, batchMs: 250 };

/**
 * Keeps the presence of this relay's connections in the shared store: enters and leaves on request,
 * renews every lease in one batch per room, gives a dropped connection its grace, sweeps expired
 * leases of every relay, and broadcasts each change to the room (all relays, via the adapter).
 */
export class PresenceKeeper {
  /** Leases this relay keeps alive, by `room \n lease key`. */
  private readonly local = new Map<string, { room: string; lease: Lease; data: string | undefined }>();
  /** How many of `local` each user (`sub`) holds, for the per-user bound. */
  private readonly roomsByUser = new Map<string, number>();
  private readonly timers: NodeJS.Timeout[];
  private readonly batcher: PresenceBatcher;

  constructor(
    private readonly store: PresenceStore,
    broadcast: (room: string, changes: PresenceChanges) => void,
    private readonly metrics: RelayMetrics,
    private readonly logger: Logger,
    private readonly timing: PresenceTiming = PRESENCE_TIMING,
  ) {
    this.batcher = new PresenceBatcher(broadcast, timing.batchMs);
    this.timers = [setInterval(() => void this.renew(), timing.renewMs), setInterval(() => void this.sweep(), timing.sweepMs)];
    for (const timer of this.timers) timer.unref();
  }

  static leaseOf(connection: string, sub: string): Lease {
    return { key: `${connection}|${sub}`, sub };
  }

  /** Rooms the user `sub` is present in on this relay, over all its connections. */
  roomsOf(sub: string): number {
    return this.roomsByUser.get(sub) ?? 0;
  }

  async enter(room: string, lease: Lease, data: string | undefined): Promise<void> {
    const local = this.local.get(`${room}\n${lease.key}`);
    // Data is kept per member: an enter without data (another tab) keeps what is there.
    const kept = data ?? local?.data;
    this.local.set(`${room}\n${lease.key}`, { room, lease, data: kept });
    if (!local) this.roomsByUser.set(lease.sub, this.roomsOf(lease.sub) + 1);
    this.metrics.presenceLeases.set(this.local.size);
    this.announce(room, await this.store.enter(room, lease, data, Date.now() + this.timing.leaseMs));
  }

  async leave(room: string, lease: Lease): Promise<void> {
    if (!this.forget(room, lease)) return;
    this.metrics.presenceLeases.set(this.local.size);
    this.announce(room, await this.store.leave(room, lease));
  }

  /** A connection dropped: its leases stop being renewed and run out after the grace. */
  async disconnected(rooms: Iterable<string>, lease: Lease): Promise<void> {
    const until = Date.now() + this.timing.graceMs;
    for (const room of rooms) {
      if (!this.forget(room, lease)) continue;
      await this.store.extend(room, [lease.key], until).catch((error: Error) => this.logger.warn({ err: error.message, room }, 'presence grace not set; the lease runs out instead'));
    }
    this.metrics.presenceLeases.set(this.local.size);
  }

  snapshot(room: string): Promise<PresenceSnapshot> {
    return this.store.snapshot(room);
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.batcher.flush();
  }

  private forget(room: string, lease: Lease): boolean {
    if (!this.local.delete(`${room}\n${lease.key}`)) return false;
    const left = this.roomsOf(lease.sub) - 1;
    if (left > 0) this.roomsByUser.set(lease.sub, left);
    else this.roomsByUser.delete(lease.sub);
    return true;
  }

  private async renew(): Promise<void> {
    const byRoom = new Map<string, string[]>();
    for (const { room, lease } of this.local.values()) {
      const keys = byRoom.get(room);
      if (keys) keys.push(lease.key);
      else byRoom.set(room, [lease.key]);
    }
    const until = Date.now() + this.timing.leaseMs;
    await Promise.all(
      [...byRoom].map(async ([room, keys]) => {
        try {
          // A lease the store lost (swept while this relay was stalled, Redis restarted) is entered again.
          for (const key of await this.store.extend(room, keys, until)) {
            const local = this.local.get(`${room}\n${key}`);
            if (local) this.announce(room, await this.store.enter(room, local.lease, local.data, until));
          }
        } catch (error) {
          this.logger.warn({ err: (error as Error).message, room }, 'presence renewal failed; retrying next round');
        }
      }),
    );
  }

  private async sweep(): Promise<void> {
    try {
      for (const [room, changes] of await this.store.sweep(Date.now(), 100)) {
        this.metrics.presenceLeaseExpiries.inc(changes.changes.filter((change) => change.kind === 'left').length);
        this.announce(room, changes);
      }
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'presence sweep failed; retrying next round');
    }
  }

  private announce(room: string, { epoch, changes }: PresenceChanges): void {
    if (changes.length === 0) return;
    for (const change of changes) this.metrics.presenceChanges.inc({ kind: change.kind });
    this.batcher.add(room, { epoch, changes });
  }
}

import { randomUUID } from 'node:crypto';
import type { LogMessage } from '@partyline/protocol';
import type { Logger } from 'pino';
import type { PresenceStore, RecordedPresenceChange } from './store/presence-store.js';
import type { RoomLogStore } from './store/room-log-store.js';
import type { WebhookState } from './store/webhook-state.js';
import { signWebhook } from './webhook-signature.js';

/** Where webhooks go. */
export interface WebhookEndpoint {
  url: string;
  /** `whsec_<base64>` (Standard Webhooks). */
  secret: string;
}

/** The `message.appended` event, as the receiver gets it (JSON body). */
export interface MessageAppendedEvent {
  type: 'message.appended';
  /** When it was sent, ISO 8601. */
  timestamp: string;
  data: LogMessage & { room: string; epoch: string };
}

/** Presence events: a member joined, left or changed its data; a room got its first member or lost its last. */
export interface PresenceEvent {
  type: 'presence.joined' | 'presence.left' | 'presence.updated' | 'room.occupied' | 'room.vacated';
  timestamp: string;
  data: { room: string; member?: RecordedPresenceChange['member']; members: number };
}

type WebhookEvent = Omit<MessageAppendedEvent, 'timestamp'> | Omit<PresenceEvent, 'timestamp'>;

const LEASE_MS = 10_000;
const POLL_MS = 200;
const MAX_BACKOFF_MS = 30_000;
const REQUEST_TIMEOUT_MS = 10_000;

/**
 * Delivers `message.appended` webhooks at least once, in log order per room, from the room logs
 * themselves: appends mark their room (before appending), and every relay runs this loop — it takes
 * a marked room's lease (one relay per room at a time), sends each message after the room's cursor,
 * moves the cursor after each 2xx, retries failures with capped exponential backoff, and lets the
 * mark go once caught up. A relay killed mid-delivery loses nothing: its lease runs out and another
 * relay resends from the cursor (the receiver may see that event twice, with the same `webhook-id`).
 */
export class WebhookDeliverer {
  private readonly holder = randomUUID();
  private readonly timer: NodeJS.Timeout;
  private running = false;
  private stopped = false;

  constructor(
    private readonly endpoint: WebhookEndpoint,
    private readonly state: WebhookState,
    private readonly store: RoomLogStore,
    private readonly presence: PresenceStore,
    private readonly logger: Logger,
    private readonly onDelivered: (outcome: 'delivered' | 'failed') => void = () => {},
  ) {
    this.timer = setInterval(() => void this.tick(), POLL_MS);
    this.timer.unref();
  }

  /** Called before every append: the mark must exist before the message does. */
  beforeAppend(room: string): Promise<void> {
    return this.state.markDirty(room);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  private async tick(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    try {
      const rooms = await this.state.dirtyRooms(20);
      await Promise.all(rooms.map((room) => this.deliverRoom(room)));
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'webhook delivery round failed; retrying');
    } finally {
      this.running = false;
    }
  }

  private async deliverRoom(room: string): Promise<void> {
    if (!(await this.state.lease(room, this.holder, LEASE_MS))) return;
    try {
      for (;;) {
        const cursor = await this.state.cursor(room);
        const since = cursor?.seq ?? 0;
        const page = await this.store.read(room, since, 100);
        // A new log (lost and begun again): its events start from its first message.
        if (cursor && page.epoch !== '' && cursor.epoch !== page.epoch) {
          await this.state.advance(room, { epoch: page.epoch, seq: 0 });
          continue;
        }
        if (page.messages.length === 0) {
          if (!(await this.deliverPresence(room, cursor?.changes ?? ''))) return;
          await this.state.clean(room);
          // An append that marked the room while we were reading is not lost: look once more.
          const head = (await this.store.read(room, since, 0)).headSeq;
          if (head > since && page.epoch !== '') await this.state.markDirty(room);
          return;
        }
        // The cursor moves (and the lease is renewed) every few seconds, not per event: a crash resends
        // at most those events (same ids), and the lease never runs out while this relay is sending.
        let delivered: number | undefined;
        let checkpointAt = Date.now();
        const checkpoint = async (): Promise<boolean> => {
          if (delivered !== undefined) await this.state.advance(room, { epoch: page.epoch, seq: delivered });
          checkpointAt = Date.now();
          return this.state.lease(room, this.holder, LEASE_MS);
        };
        for (const message of page.messages) {
          const event = { type: 'message.appended', data: { room, epoch: page.epoch, ...message } } as const;
          if (!(await this.send(room, `msg_${Buffer.from(`${room}\n${page.epoch}\n${message.seq}`).toString('base64url')}`, event))) break; // stopping, or the lease went to another relay
          delivered = message.seq;
          if (Date.now() - checkpointAt > LEASE_MS / 4 && !(await checkpoint())) return;
        }
        if (!(await checkpoint()) || delivered !== page.messages.at(-1)!.seq) return;
      }
    } finally {
      await this.state.release(room, this.holder).catch(() => {});
    }
  }

  /**
   * Sends the room's recorded presence changes after `after`: `presence.*` for each, plus
   * `room.occupied` / `room.vacated` when the count went to 1 / 0. False if it had to stop.
   */
  private async deliverPresence(room: string, after: string): Promise<boolean> {
    for (let cursor = after; ; ) {
      const changes = await this.presence.recorded(room, cursor, 100);
      if (changes.length === 0) return true;
      for (const change of changes) {
        const key = (kind: string) => `${kind}_${Buffer.from(`${room}\n${change.cursor}`).toString('base64url')}`;
        const events: [string, WebhookEvent][] = [[key('pres'), { type: `presence.${change.kind}`, data: { room, member: change.member, members: change.members } }]];
        if (change.kind === 'joined' && change.members === 1) events.push([key('occ'), { type: 'room.occupied', data: { room, members: 1 } }]);
        if (change.kind === 'left' && change.members === 0) events.push([key('vac'), { type: 'room.vacated', data: { room, members: 0 } }]);
        for (const [id, event] of events) if (!(await this.send(room, id, event))) return false;
        cursor = change.cursor;
        await this.state.advance(room, { changes: cursor });
      }
      if (!(await this.state.lease(room, this.holder, LEASE_MS))) return false;
    }
  }

  /** Sends one event until the receiver answers 2xx (backing off between attempts); false if it had to give up the room. */
  private async send(room: string, id: string, event: WebhookEvent): Promise<boolean> {
    for (let attempt = 0; !this.stopped; attempt++) {
      const body = JSON.stringify({ type: event.type, timestamp: new Date().toISOString(), data: event.data });
      const timestamp = Math.floor(Date.now() / 1000);
      try {
        const response = await fetch(this.endpoint.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signWebhook(this.endpoint.secret, id, timestamp, body) },
          body,
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        await response.arrayBuffer().catch(() => {});
        if (response.ok) {
          this.onDelivered('delivered');
          return true;
        }
        this.logger.warn({ room, event: id, status: response.status, attempt }, 'webhook refused; retrying');
      } catch (error) {
        this.logger.warn({ room, event: id, err: (error as Error).message, attempt }, 'webhook not delivered; retrying');
      }
      this.onDelivered('failed');
      // Keep the lease while waiting, so no other relay sends this room's events meanwhile.
      const delay = Math.round(Math.min(MAX_BACKOFF_MS, 250 * 2 ** attempt) * (0.5 + Math.random() / 2));
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (!(await this.state.lease(room, this.holder, LEASE_MS + delay))) return false;
    }
    return false;
  }
}

import { randomUUID } from 'node:crypto';
import { signWebhook } from '@partyline/server';
import type { Logger } from 'pino';
import { apiPresenceMember } from './api-json.js';
import { logEntryEvent, type WebhookEvent } from './webhook-events.js';
import type { RelayMetrics } from './metrics.js';
import type { PresenceStore } from './store/presence-store.js';
import type { RoomLogStore } from './store/room-log-store.js';
import type { ClaimedReplay, DeadLetter, WebhookState } from './store/webhook-state.js';
import { isFinalStatus, judgeFailure, parseRetryAfter, type AttemptRecord, type DeadReason, type Refusal, type WebhookRetryPolicy } from './webhook-retry.js';

/** Where webhooks go. */
export interface WebhookEndpoint {
  url: string;
  /** `whsec_<base64>` (Standard Webhooks). */
  secret: string;
}


export interface WebhookDelivererOptions {
  endpoint: WebhookEndpoint;
  retry: WebhookRetryPolicy;
  state: WebhookState;
  store: RoomLogStore;
  presence: PresenceStore;
  logger: Logger;
  metrics: Pick<RelayMetrics, 'webhookDeliveries' | 'webhookDeadLetters'>;
}

/** What one attempt came to: 'done' (delivered or dead-lettered: the room moves on), 'stopped' (stopping, lease lost), or a retry time. */
type Attempted = 'done' | 'stopped' | { retryAt: number };

/** One delivery run of a room: its head event's failed attempts, read once per run (only the lease holder writes them). */
interface RoomRun {
  room: string;
  failing: AttemptRecord | undefined;
}

/** Longer than a request plus the time between renewals, so a slow receiver never costs a relay its lease. */
const LEASE_MS = 15_000;
const POLL_MS = 200;
const REQUEST_TIMEOUT_MS = 10_000;
/** Rooms one relay delivers at once (one request in flight each); rooms waiting for a retry take no slot. */
const MAX_ROOMS_IN_FLIGHT = 32;
/** Dead letters one relay replays at once, besides the rooms. */
const MAX_REPLAYS_IN_FLIGHT = 8;

/**
 * Delivers webhooks at least once, in order per room, from the room logs themselves: appends mark
 * their room due (before appending), and every relay polls the due rooms and delivers each on its
 * own — it takes the room's lease (one relay per room at a time), sends each event after the room's
 * cursor, moves the cursor on, and lets the mark go once caught up. Rooms never wait for each
 * other: a failing event puts only its room back in the queue at its retry time (the room's later
 * events wait behind it, keeping the order), and an event refused for good (a 4xx other than
 * 408/429, or attempts or age used up) goes to the dead letters and the room moves past it.
 * Redirects are not followed: a signed event goes only to the configured URL. A relay killed
 * mid-delivery loses nothing: its lease runs out and another relay resends from the cursor (the
 * receiver may see an event twice, with the same `webhook-id`).
 */
export class WebhookDeliverer {
  private readonly holder = randomUUID();
  private readonly timer: NodeJS.Timeout;
  private readonly aborter = new AbortController();
  private readonly rooms = new Set<string>();
  private readonly replays = new Set<string>();
  private polling = false;
  private stopped = false;

  constructor(private readonly options: WebhookDelivererOptions) {
    this.timer = setInterval(() => void this.poll(), POLL_MS);
    this.timer.unref();
  }

  /** Called before every append: the mark must exist before the message does. */
  beforeAppend(room: string): Promise<void> {
    return this.options.state.markDirty(room);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.aborter.abort();
  }

  /** Starts a task for each due room and replay that has a free slot; never waits for the tasks. */
  private async poll(): Promise<void> {
    if (this.polling || this.stopped) return;
    this.polling = true;
    const { state, logger } = this.options;
    try {
      const now = Date.now();
      const roomSlots = MAX_ROOMS_IN_FLIGHT - this.rooms.size;
      if (roomSlots > 0) {
        for (const room of await state.dueRooms(roomSlots, now)) this.start(this.rooms, room, () => this.deliverRoom(room));
      }
      const replaySlots = MAX_REPLAYS_IN_FLIGHT - this.replays.size;
      if (replaySlots > 0) {
        for (const claimed of await state.deadLetters.claimReplays(replaySlots, now, now + LEASE_MS)) this.start(this.replays, claimed.letter.id, () => this.replay(claimed));
      }
    } catch (error) {
      logger.warn({ err: (error as Error).message }, 'webhook queue unreadable; retrying');
    } finally {
      this.polling = false;
    }
  }

  private start(running: Set<string>, key: string, task: () => Promise<void>): void {
    if (running.has(key) || this.stopped) return;
    running.add(key);
    task()
      .catch((error: unknown) => this.options.logger.warn({ task: key, err: (error as Error).message }, 'webhook delivery interrupted; retrying after the lease'))
      .finally(() => running.delete(key));
  }

  private async deliverRoom(room: string): Promise<void> {
    const { state } = this.options;
    if (!(await state.lease(room, this.holder, LEASE_MS))) return;
    let retryAt: number | undefined;
    try {
      retryAt = await this.catchUp({ room, failing: await state.failing(room) });
    } finally {
      // Queued at the retry time before the lease goes, so no relay tries earlier; if that fails, the lease's hold brings it back.
      if (retryAt !== undefined) await state.defer(room, retryAt).catch(() => {});
      await state.release(room, this.holder).catch(() => {});
    }
  }

  /** Sends the room's events after its cursor until caught up (undefined) or until one has to wait (its retry time). */
  private async catchUp(run: RoomRun): Promise<number | undefined> {
    const { state, store } = this.options;
    const { room } = run;
    for (;;) {
      const cursor = await state.cursor(room);
      const since = cursor?.seq ?? 0;
      const page = await store.read(room, since, 100);
      // A new log (lost and begun again): its events start from its first message.
      if (cursor && page.epoch !== '' && cursor.epoch !== page.epoch) {
        await state.advance(room, { epoch: page.epoch, seq: 0 });
        continue;
      }
      if (page.messages.length === 0) {
        const presence = await this.deliverPresence(run, cursor?.changes ?? '');
        if (presence !== 'done') return retryTime(presence);
        await state.clean(room);
        // An append that marked the room while we were reading is not lost: look once more.
        const head = (await store.read(room, since, 0)).headSeq;
        if (head > since && page.epoch !== '') await state.markDirty(room);
        return undefined;
      }
      // The cursor moves after every delivered event (one Redis write beside an HTTP request), so a relay
      // killed mid-delivery makes the next one resend at most the event that was in flight (same id). The
      // lease is renewed every few seconds, so it never runs out while this relay is sending.
      let renewedAt = Date.now();
      for (const message of page.messages) {
        const id = `msg_${Buffer.from(`${room}\n${page.epoch}\n${message.seq}`).toString('base64url')}`;
        const attempted = await this.attempt(run, id, logEntryEvent(room, page.epoch, message));
        if (attempted !== 'done') return retryTime(attempted);
        await state.advance(room, { epoch: page.epoch, seq: message.seq });
        if (Date.now() - renewedAt > LEASE_MS / 4) {
          renewedAt = Date.now();
          if (!(await state.lease(room, this.holder, LEASE_MS))) return undefined;
        }
      }
      if (!(await state.lease(room, this.holder, LEASE_MS))) return undefined;
    }
  }

  /**
   * Sends the room's recorded presence changes after `after`: `presence.*` for each, plus
   * `room.occupied` / `room.vacated` when the count went to 1 / 0.
   */
  private async deliverPresence(run: RoomRun, after: string): Promise<Attempted> {
    const { state, presence } = this.options;
    const { room } = run;
    for (let cursor = after; ; ) {
      const changes = await presence.recorded(room, cursor, 100);
      if (changes.length === 0) return 'done';
      for (const change of changes) {
        const key = (kind: string) => `${kind}_${Buffer.from(`${room}\n${change.cursor}`).toString('base64url')}`;
        const events: [string, WebhookEvent][] = [[key('pres'), { type: `presence.${change.kind}`, data: { room, member: apiPresenceMember(change.member), members: change.members } }]];
        if (change.kind === 'joined' && change.members === 1) events.push([key('occ'), { type: 'room.occupied', data: { room, members: 1 } }]);
        if (change.kind === 'left' && change.members === 0) events.push([key('vac'), { type: 'room.vacated', data: { room, members: 0 } }]);
        for (const [id, event] of events) {
          const attempted = await this.attempt(run, id, event);
          if (attempted !== 'done') return attempted;
        }
        cursor = change.cursor;
        await state.advance(room, { changes: cursor });
      }
      if (!(await state.lease(room, this.holder, LEASE_MS))) return 'stopped';
    }
  }

  /** One attempt at a room's head event; a failure is recorded for the next attempt, or dead-letters the event. */
  private async attempt(run: RoomRun, id: string, event: WebhookEvent): Promise<Attempted> {
    const { state, logger, retry } = this.options;
    if (this.stopped) return 'stopped';
    const refusal = await this.post(id, event);
    if (this.stopped) return 'stopped'; // cut off by stop(), not refused
    if (!refusal) {
      if (run.failing?.id === id) {
        run.failing = undefined;
        await state.setFailing(run.room, undefined);
      }
      return 'done';
    }
    const verdict = judgeFailure(run.failing, id, refusal, Date.now(), retry);
    if ('retryAt' in verdict) {
      logger.warn({ room: run.room, event: id, ...failureFields(verdict.record), retryInMs: verdict.retryAt - Date.now() }, 'webhook not delivered; retrying');
      run.failing = verdict.record;
      await state.setFailing(run.room, verdict.record);
      return { retryAt: verdict.retryAt };
    }
    await this.deadLetter({ ...verdict.record, type: event.type, room: run.room, data: event.data }, verdict.dead);
    if (run.failing) {
      run.failing = undefined;
      await state.setFailing(run.room, undefined);
    }
    return 'done';
  }

  /** Sends a dead letter again (same id, same body); delivered, it leaves the list; failed for good, it is listed again. */
  private async replay({ letter, round }: ClaimedReplay): Promise<void> {
    const { state, logger, retry } = this.options;
    const refusal = await this.post(letter.id, letter);
    if (this.stopped) return; // its claim runs out and a relay takes it again
    if (!refusal) {
      logger.info({ room: letter.room, event: letter.id }, 'dead-lettered webhook replayed');
      return state.deadLetters.replayed(letter.id);
    }
    const verdict = judgeFailure(round, letter.id, refusal, Date.now(), retry);
    if ('retryAt' in verdict) return state.deadLetters.retryReplay(letter.id, verdict.record, verdict.retryAt);
    await this.deadLetter({ ...letter, ...verdict.record }, verdict.dead);
  }

  private async deadLetter(letter: DeadLetter, reason: DeadReason): Promise<void> {
    await this.options.state.deadLetters.add(letter);
    this.options.metrics.webhookDeadLetters.inc({ reason });
    this.options.logger.warn({ room: letter.room, event: letter.id, type: letter.type, reason, ...failureFields(letter) }, 'webhook dead-lettered; the room moves on (replay: POST /v1/webhooks/dead-letters/replay)');
  }

  /** POSTs one signed event once; undefined when the receiver took it (2xx), else how it failed. */
  private async post(id: string, event: WebhookEvent): Promise<Refusal | undefined> {
    const { endpoint, metrics } = this.options;
    const body = JSON.stringify({ type: event.type, timestamp: new Date().toISOString(), data: event.data });
    const timestamp = Math.floor(Date.now() / 1000);
    let refusal: Refusal;
    try {
      const response = await fetch(endpoint.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signWebhook(endpoint.secret, id, timestamp, body) },
        body,
        // A redirect would carry a signed event to a URL nobody configured.
        redirect: 'manual',
        signal: AbortSignal.any([AbortSignal.timeout(REQUEST_TIMEOUT_MS), this.aborter.signal]),
      });
      await response.arrayBuffer().catch(() => {});
      if (response.ok) {
        metrics.webhookDeliveries.inc({ outcome: 'delivered' });
        return undefined;
      }
      const { status } = response;
      const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), Date.now());
      refusal = {
        final: isFinalStatus(status),
        status,
        error: status >= 300 && status < 400 ? `redirect to ${response.headers.get('location') ?? '(no Location)'} not followed` : `HTTP ${status}`,
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      };
    } catch (error) {
      const cause = (error as Error & { cause?: Error }).cause;
      refusal = { final: false, error: cause?.message ?? (error as Error).message };
    }
    metrics.webhookDeliveries.inc({ outcome: 'failed' });
    return refusal;
  }
}

function retryTime(attempted: Exclude<Attempted, 'done'>): number | undefined {
  return attempted === 'stopped' ? undefined : attempted.retryAt;
}

function failureFields(record: AttemptRecord): Record<string, unknown> {
  return { attempts: record.attempts, status: record.lastStatus, err: record.lastError, firstAttemptAt: new Date(record.firstAttemptAt).toISOString() };
}

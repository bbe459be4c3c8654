import { signAccessToken } from '@partyline/relay';
import { createClient, type PartylineClient, type Room } from '@partyline/sdk';
import { startFaultProxy, type FaultProxy } from '@partyline/test-support';
// idb checks results against the global IndexedDB classes; each client still gets its own factory (profile).
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import type { ClientHistory } from './checker.js';
import type { ChaosMember } from './faults.js';
import type { Random } from './random.js';
import { CHAOS_SECRET } from './system-under-test.js';

/**
 * One simulated member: an SDK client in Node with its own IndexedDB (one browser profile), behind
 * its own fault proxy, publishing numbered messages into its room and recording what it is handed.
 */
export class ChaosClient implements ChaosMember {
  readonly history: ClientHistory;
  readonly #indexedDB = new IDBFactory();
  #proxy: FaultProxy | undefined;
  #client: PartylineClient | undefined;
  #room: Room | undefined;
  #publishing: ReturnType<typeof setTimeout> | undefined;
  #counter = 0;
  /** Tokens minted; all but the first of each session replaced an expired one. */
  tokensMinted = 0;
  sessions = 0;

  constructor(
    readonly name: string,
    readonly roomName: string,
    private readonly relayPorts: number[],
    private readonly random: Random,
    private readonly publishEveryMs: [number, number],
  ) {
    this.history = { client: name, room: roomName, queued: [], failed: [], deliveries: [[]], resets: 0 };
  }

  get lastSeq(): number {
    return this.history.deliveries.at(-1)?.at(-1)?.seq ?? 0;
  }

  async start(): Promise<void> {
    this.#proxy ??= await startFaultProxy(this.relayPorts);
    this.sessions++;
    const client = createClient({
      relays: this.#proxy.urls,
      token: () => this.#mintToken(),
      indexedDB: this.#indexedDB,
      dbName: `partyline-${this.name}`,
    });
    const room = client.room(this.roomName);
    room.on('message', (message) => this.history.deliveries.at(-1)!.push({ seq: message.seq, id: message.id }));
    room.on('reset', () => {
      this.history.resets++;
      this.history.deliveries.push([]);
    });
    room.on('status', ({ id, status }) => {
      if (status === 'failed' || status === 'expired') this.history.failed.push(id);
    });
    this.#client = client;
    this.#room = room;
    this.#schedulePublish();
  }

  /** Close the SDK as a reload or a closed tab would, keeping its IndexedDB; start again later. */
  async stop(): Promise<void> {
    clearTimeout(this.#publishing);
    this.#publishing = undefined;
    const client = this.#client;
    this.#client = undefined;
    this.#room = undefined;
    await client?.close();
  }

  async restart(): Promise<void> {
    await this.stop();
    await new Promise((resolve) => setTimeout(resolve, this.random.between(300, 1500)));
    await this.start();
  }

  cutNetwork(): void {
    this.#proxy?.cut();
  }

  healNetwork(): void {
    this.#proxy?.heal();
  }

  stopPublishing(): void {
    clearTimeout(this.#publishing);
    this.#publishing = undefined;
  }

  async pendingCount(): Promise<number> {
    return (await this.#room?.pending())?.length ?? 0;
  }

  async close(): Promise<void> {
    await this.stop();
    await this.#proxy?.close();
  }

  #schedulePublish(): void {
    const [min, max] = this.publishEveryMs;
    this.#publishing = setTimeout(() => {
      const room = this.#room;
      if (!room) return;
      const n = this.#counter++;
      room.publish('chat', { client: this.name, n }).then(
        (handle) => this.history.queued.push(handle.id),
        () => {},
      );
      this.#schedulePublish();
    }, this.random.between(min, max));
  }

  /** Short-lived tokens: they expire on live connections all through the run, and the SDK must refresh them. */
  async #mintToken(): Promise<string> {
    this.tokensMinted++;
    const ttlSeconds = Math.round(this.random.between(5, 15));
    return signAccessToken({ sub: this.name, rooms: [this.roomName], ttlSeconds }, CHAOS_SECRET);
  }
}

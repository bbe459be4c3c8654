import { createClient, type PartylineClient, type Room } from '@partyline/sdk';
import { startFaultProxy, type FaultProxy } from '@partyline/test-support';
// idb checks results against the global IndexedDB classes; each client still gets its own factory (profile).
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import type { FoldedLook } from './annotation-checker.js';
import { memberTraffic } from './annotation-traffic.js';
import type { MemberHistory } from './checker.js';
import type { ChaosMember } from './faults.js';
import {
  endPresenceSession,
  followPresence,
  foldedLook,
  newHistory,
  newPresenceHistory,
  presenceShown,
  recordCut,
  resetEvent,
  startSession,
  statusEvent,
  type MemberOptions,
} from './member-events.js';
import type { PresenceHistory, PresenceLook } from './presence-checker.js';
import type { Random } from './random.js';
import { mintChaosToken } from './system-under-test.js';

/**
 * One simulated member in this process: an SDK client with its own in-memory IndexedDB (one browser
 * profile that lives as long as the run), behind its own fault proxy, publishing numbered messages
 * into its room (and editing, deleting, reacting, marking read: annotation-traffic.ts) and recording
 * what its app is handed: `history()` at each start, then every event.
 * It restarts as a closed tab or a reload does; it cannot crash for real (see ProcessMember).
 */
export class ChaosClient implements ChaosMember {
  readonly history: MemberHistory;
  readonly presence: PresenceHistory | undefined;
  readonly crashes = 0;
  readonly #indexedDB = new IDBFactory();
  #proxy: FaultProxy | undefined;
  #client: PartylineClient | undefined;
  #room: Room | undefined;
  #publishing: ReturnType<typeof setTimeout> | undefined;
  #publish = true;
  readonly #user: string;
  readonly #annotations: number;
  /** Tokens minted; all but the first of each session replaced an expired one. */
  tokensMinted = 0;
  sessions = 0;

  constructor(
    readonly name: string,
    readonly roomName: string,
    private readonly relayPorts: number[],
    private readonly random: Random,
    private readonly publishEveryMs: [number, number],
    options: MemberOptions = {},
  ) {
    this.#user = options.user ?? name;
    this.#annotations = options.annotations ?? 0;
    this.history = newHistory(name, roomName, this.#user);
    this.presence = options.presence ? newPresenceHistory(name, roomName) : undefined;
  }

  async start(): Promise<void> {
    this.#proxy ??= await startFaultProxy(this.relayPorts);
    const record = startSession(this.history, this.sessions++ === 0 ? 'first' : 'restart', this.presence);
    const client = createClient({
      relays: this.#proxy.urls,
      token: () => this.#mintToken(),
      indexedDB: this.#indexedDB,
      dbName: `partyline-${this.name}`,
      user: this.#user,
    });
    client.on('status', (context) => record(statusEvent(context)));
    const room = client.room(this.roomName);
    // The app view: history() right after opening, listeners in the same turn.
    void room.history().then(
      (messages) => record({ t: 'history', messages: messages.map((m) => [m.seq, m.id]) }),
      () => {},
    );
    room.on('message', (message) => record({ t: 'message', seq: message.seq, id: message.id }));
    room.on('reset', (context) => record(resetEvent(context)));
    if (this.presence) followPresence(client, room, { name: this.name, life: this.sessions }, record);
    this.#client = client;
    this.#room = room;
    this.#scheduleTraffic(memberTraffic({ room, name: this.name, user: this.#user, annotations: this.#annotations, random: () => this.random.next(), report: record }));
  }

  /** Close the SDK as a reload or a closed tab would, keeping its IndexedDB; start again later. */
  async stop(): Promise<void> {
    clearTimeout(this.#publishing);
    this.#publishing = undefined;
    const client = this.#client;
    this.#client = undefined;
    this.#room = undefined;
    if (client) endPresenceSession(this.presence, 'closed');
    await client?.close();
  }

  async restart(): Promise<void> {
    await this.stop();
    await new Promise((resolve) => setTimeout(resolve, this.random.between(300, 1500)));
    await this.start();
  }

  cutNetwork(): void {
    this.#proxy?.cut();
    recordCut(this.presence, true);
  }

  healNetwork(): void {
    this.#proxy?.heal();
    recordCut(this.presence, false);
  }

  async stopPublishing(): Promise<void> {
    this.#publish = false;
    clearTimeout(this.#publishing);
    this.#publishing = undefined;
  }

  async pendingCount(): Promise<number> {
    return (await this.#room?.pending())?.length ?? 0;
  }

  async foldedLook(): Promise<FoldedLook | undefined> {
    return this.#room ? foldedLook(this.#room) : undefined;
  }

  async presenceLook(): Promise<PresenceLook> {
    const client = this.#client;
    const room = this.#room;
    const proxy = this.#proxy;
    if (!client || !room || !proxy) return { member: this.name, room: this.roomName, alive: false, connected: false, data: undefined, members: [] };
    const { online, members } = presenceShown(client, room);
    return { member: this.name, room: this.roomName, alive: true, connected: online && !proxy.isCut && proxy.openConnections > 0, data: { name: this.name, life: this.sessions }, members };
  }

  async close(): Promise<void> {
    await this.stop();
    await this.#proxy?.close();
  }

  #scheduleTraffic(traffic: { act(): void }): void {
    if (!this.#publish) return;
    const [min, max] = this.publishEveryMs;
    this.#publishing = setTimeout(() => {
      if (!this.#room) return;
      traffic.act();
      this.#scheduleTraffic(traffic);
    }, this.random.between(min, max));
  }

  async #mintToken(): Promise<string> {
    this.tokensMinted++;
    return mintChaosToken(this.#user, this.roomName, () => this.random.between(0, 1));
  }
}

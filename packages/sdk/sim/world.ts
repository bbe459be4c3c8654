import { IDBFactory } from 'fake-indexeddb';
import { createClient, createManualOnlineManager, exponentialBackoff, toPartylineError, type PartylineClient, type Room } from '../src/index.js';
import { AppView } from './app-view.js';
import { covered } from './coverage.js';
import { ModelLog } from './model-log.js';
import { ProfileTabs } from './profile-tabs.js';
import { mintToken, ModelRelays } from './model-relay.js';
import type { Random } from './random.js';
import { ROOMS, type Action, type TokenMode } from './schedule.js';
import { simTransport, TabNetwork, type SimEnv } from './sim-transport.js';
import { TabClock } from './tab-clock.js';

const RELAYS = ['sim://relay-0', 'sim://relay-1'];
const PROFILES = 2;

/**
 * A body under the 64 KiB body limit whose JSON doubles again when escaped inside the frame: a burst
 * of them overflows a frame sized by body bytes (item 3 of the issue).
 */
const QUOTE_DENSE = '"'.repeat(30_000);

interface Handle {
  tab: string;
  room: string;
  id: string;
  settled: 'sent' | 'failed' | 'expired' | 'closed' | undefined;
  seq?: number;
}

interface OpenRoom {
  room: Room;
  view: AppView;
  /** The room's last `error` event, until a message shows it working again. */
  error: string | undefined;
  /** Any `error` event of the room: presence may end in one (a refusal for good) instead of converging. */
  errors: number;
  stop: (() => void)[];
}

/** One browser tab: a client of a profile, with its own clock, network and token function. */
export class SimTab {
  readonly name: string;
  readonly clock = new TabClock();
  readonly online = createManualOnlineManager(true);
  client: PartylineClient;
  readonly rooms = new Map<string, OpenRoom>();
  /** Rooms whose presence this tab entered (and has not left). */
  readonly entered = new Set<string>();
  /** enter() calls not settled yet. */
  pendingEnters = 0;
  /** The latest enter() call per room. */
  readonly #enters = new Map<string, number>();
  tokenMode: TokenMode = 'ok';
  alive = true;
  /** Rooms the app opens (again after a reload). */
  readonly appRooms = new Map<string, 'beginning' | 'now' | 'last'>();
  readonly transport: ReturnType<typeof simTransport>;
  readonly #shared: ReturnType<ProfileTabs['forTab']>;

  constructor(
    readonly world: World,
    readonly profile: Profile,
    index: number,
    readonly network: TabNetwork,
  ) {
    this.name = `p${profile.index}t${index}`;
    this.transport = simTransport(world.env, network, this.clock);
    this.#shared = profile.shared.forTab();
    this.client = createClient({
      tabs: this.#shared.environment,
      relays: RELAYS,
      token: () => this.#token(),
      indexedDB: profile.idb,
      dbName: 'sim',
      clock: this.clock,
      transport: this.transport,
      onlineManager: this.online,
      retryDelay: exponentialBackoff({ random: () => world.random.next() }),
      // Short enough that a lost ack is retried within the run.
      ackTimeoutMs: 5_000,
      requestTimeoutMs: 5_000,
      connectTimeoutMs: 5_000,
      pageSize: 50,
      // Small enough that bursts of big bodies make the cache let its oldest messages go under every fault.
      inboxMaxBytes: 256 * 1024,
      onTransition: ({ machine, from, event, to }) => {
        covered.add(`${machine}|${from}|${event}`);
        // SIM_TRACE=p1t2 prints one tab's transitions (debugging a shrunk seed).
        if (process.env.SIM_TRACE === this.name) console.log(`    ${Date.now() - Date.UTC(2026, 11, 7)} ${this.name} ${machine}: ${from} --${event}--> ${to}`);
      },
    });
  }

  #token(): Promise<string> {
    const mode = this.tokenMode;
    const sub = this.profile.sub;
    switch (mode) {
      case 'ok':
        return Promise.resolve(mintToken(sub, this.world.relays.key));
      case 'stale':
        return Promise.resolve(mintToken(sub, this.world.relays.key - 1));
      case 'junk':
        return Promise.resolve('<html><body>502 Bad Gateway</body></html>');
      case 'throw':
        return Promise.reject(new Error('token endpoint unreachable'));
      case 'hang':
        return new Promise(() => {});
    }
  }

  open(name: string, from: 'beginning' | 'now' | 'last'): void {
    if (this.rooms.has(name)) return;
    let room: Room;
    try {
      room = this.client.room(name, { from: from === 'last' ? { last: 5 } : from });
    } catch (error) {
      this.world.note(`${this.name} room(${name}) threw ${toPartylineError(error).kind}`);
      return;
    }
    this.appRooms.set(name, from);
    const view = new AppView(this.name, name, this.world.log);
    const open: OpenRoom = { room, view, error: undefined, errors: 0, stop: [] };
    open.stop.push(
      room.on('message', (message) => {
        if (!this.alive) return;
        open.error = undefined;
        view.message(message);
      }),
      room.on('reset', (reset) => this.alive && view.reset(reset)),
      room.on('error', ({ error }) => {
        if (!this.alive) return;
        open.error = error.kind;
        open.errors++;
      }),
    );
    // Presence is followed by every tab (the checker compares each tab's list with the relays').
    room.presence.members();
    this.rooms.set(name, open);
    room.history().then(
      (messages) => this.alive && view.history(messages),
      (error: unknown) => this.alive && view.violations.push(`${this.name} ${name}: history() failed: ${toPartylineError(error).message}`),
    );
  }

  leave(name: string): void {
    const open = this.rooms.get(name);
    if (!open) return;
    open.room.leave();
    this.rooms.delete(name);
    this.appRooms.delete(name);
    this.entered.delete(name);
  }

  publish(name: string, big: boolean): void {
    const open = this.rooms.get(name);
    if (!open) return;
    const body = big ? { text: QUOTE_DENSE } : { n: this.world.published++, from: this.name };
    open.room.publish('chat', body).then(
      (handle) => {
        const record: Handle = { tab: this.name, room: name, id: handle.id, settled: undefined };
        this.world.handles.push(record);
        handle.sent.then(
          ({ seq }) => {
            record.settled = 'sent';
            record.seq = seq;
          },
          (error: unknown) => {
            const kind = toPartylineError(error).kind;
            record.settled = kind === 'expired' ? 'expired' : kind === 'closed' ? 'closed' : 'failed';
          },
        );
      },
      () => {}, // not queued (closed client, storage): the app was told by the rejection
    );
  }

  enter(name: string): void {
    const open = this.rooms.get(name);
    if (!open) return;
    this.entered.add(name);
    this.pendingEnters++;
    const call = (this.#enters.get(name) ?? 0) + 1;
    this.#enters.set(name, call);
    open.room.presence.enter({ tab: this.name }).then(
      () => this.pendingEnters--,
      (error: unknown) => {
        this.pendingEnters--;
        // Refused for good: out, unless a later enter() took its place.
        if (!toPartylineError(error).retryable && this.#enters.get(name) === call) this.entered.delete(name);
      },
    );
  }

  exit(name: string): void {
    const open = this.rooms.get(name);
    if (!open || !this.entered.has(name)) return;
    this.entered.delete(name);
    void open.room.presence.leave();
  }

  /** Closes the client gracefully; answers whether a timer survived it. */
  async close(): Promise<string | undefined> {
    this.alive = false;
    await this.world.drive(this.client.close());
    // Let what close() started finish (IndexedDB closing), then nothing may be left.
    await this.world.settle(50);
    if (this.pendingEnters > 0) return `${this.name}: ${this.pendingEnters} presence.enter() never settled after close()`;
    return this.clock.pending > 0 ? `${this.name}: ${this.clock.pending} timer(s) survived close()` : undefined;
  }

  crash(): void {
    this.alive = false;
    this.clock.kill();
    this.transport.kill();
    this.#shared.release();
    this.network.links.clear();
  }
}

/** One browser profile: an IndexedDB shared by its tabs, one identity. */
export class Profile {
  readonly idb = new IDBFactory();
  /** Web Locks and BroadcastChannel of the profile. */
  readonly shared = new ProfileTabs();
  readonly sub: string;
  readonly tabs: SimTab[] = [];
  created = 0;

  constructor(readonly index: number) {
    this.sub = `user-${index}`;
  }
}

/** The whole simulated system: model relays and log, profiles and their tabs, and the checks. */
export class World {
  readonly log = new ModelLog();
  readonly relays: ModelRelays;
  readonly env: SimEnv;
  readonly profiles: Profile[] = [];
  readonly handles: Handle[] = [];
  readonly notes: string[] = [];
  readonly violations: string[] = [];
  published = 0;
  /** Set by the runner: advances the faked global clock, running what comes due. */
  advance: (ms: number) => Promise<void> = async () => {};

  constructor(readonly random: Random) {
    this.env = {
      relays: undefined as unknown as ModelRelays,
      latency: () => (random.chance(0.9) ? random.int(1, 20) : random.int(20, 400)),
      later: (run, delayMs) => void setTimeout(run, delayMs),
      repeatedFrame: () => this.relays.repeatedLive > 0 && random.chance(0.05),
    };
    this.relays = new ModelRelays(this.log, RELAYS.length, { now: () => Date.now(), random: () => random.next(), later: this.env.later });
    this.env.relays = this.relays;
    for (let i = 0; i < PROFILES; i++) this.profiles.push(new Profile(i));
    for (const profile of this.profiles) {
      const tab = this.newTab(profile);
      tab.open(ROOMS[profile.index]!, 'beginning');
      tab.open(ROOMS[2], 'beginning');
    }
  }

  note(what: string): void {
    this.notes.push(`${Date.now()} ${what}`);
  }

  newTab(profile: Profile): SimTab {
    const tab = new SimTab(this, profile, profile.created++, new TabNetwork());
    profile.tabs.push(tab);
    return tab;
  }

  alive(): SimTab[] {
    return this.profiles.flatMap((profile) => profile.tabs.filter((tab) => tab.alive));
  }

  #tab(index: number): SimTab | undefined {
    const tabs = this.alive();
    return tabs.length === 0 ? undefined : tabs[index % tabs.length];
  }

  /** Lets queued work run without moving time much (IndexedDB, promise chains). */
  async settle(ms = 0): Promise<void> {
    await this.advance(ms);
  }

  /** Awaits `promise` while the virtual clock moves (IndexedDB and every timer run on it), at most `limitMs`. */
  async drive<T>(promise: Promise<T>, limitMs = 120_000): Promise<T> {
    let done = false;
    const watched = promise.finally(() => {
      done = true;
    });
    for (let waited = 0; !done && waited < limitMs; waited++) await this.advance(1);
    if (!done) throw new Error(`still waiting after ${limitMs} virtual ms`);
    return watched;
  }

  async apply(action: Action): Promise<void> {
    const tab = 'tab' in action ? this.#tab(action.tab) : undefined;
    const room = 'room' in action ? ROOMS[action.room]! : '';
    switch (action.t) {
      case 'advance':
        return this.advance(action.ms);
      case 'publish':
        return tab?.publish(room, action.big);
      case 'burst':
        for (let i = 0; i < action.count; i++) tab?.publish(room, true);
        return;
      case 'open':
        return tab?.open(room, action.from);
      case 'leave':
        return tab?.leave(room);
      case 'older': {
        const open = tab?.rooms.get(room);
        // The app's older messages are a separate list; the checker holds loadOlder to the log.
        open?.room.loadOlder(10).then(
          ({ messages }) => {
            for (const message of messages) {
              const held = this.log.epochs.get(room)?.some((epoch) => this.log.ever.get(`${epoch}:${message.seq}`)?.has(message.id));
              if (!held) this.violations.push(`${tab!.name} ${room}: loadOlder handed seq ${message.seq} id ${message.id}, which the log never held`);
            }
          },
          () => {},
        );
        return;
      }
      case 'enter':
        return tab?.enter(room);
      case 'exit':
        return tab?.exit(room);
      case 'reload': {
        if (!tab) return;
        const left = await tab.close();
        if (left) this.violations.push(left);
        const next = this.newTab(tab.profile);
        for (const [name, from] of tab.appRooms) next.open(name, from);
        return;
      }
      case 'crash': {
        if (!tab) return;
        tab.crash();
        const next = this.newTab(tab.profile);
        for (const [name, from] of tab.appRooms) next.open(name, from);
        return;
      }
      case 'close-tab': {
        if (!tab || tab.profile.tabs.filter((other) => other.alive).length < 2) return;
        const left = await tab.close();
        if (left) this.violations.push(left);
        return;
      }
      case 'new-tab': {
        const profile = this.profiles[action.profile]!;
        if (profile.tabs.filter((other) => other.alive).length >= 3) return;
        const next = this.newTab(profile);
        next.open(ROOMS[2], 'beginning');
        return;
      }
      case 'net':
        if (!tab) return;
        tab.network.set(action.state);
        // The browser knows it is offline when the network is cut, not when it goes silent.
        tab.online.setOnline(action.state !== 'cut');
        return;
      case 'sleep':
        if (!tab) return;
        tab.clock.sleep();
        tab.network.set('silent');
        await this.advance(action.ms);
        tab.network.set('up');
        tab.online.setOnline(true);
        tab.clock.wake();
        return;
      case 'relay':
        if (action.what === 'crash') this.relays.crash(action.relay);
        else if (action.what === 'drain') this.relays.drain(action.relay);
        else this.relays.up[action.relay] = true;
        return;
      case 'store':
        this.relays.storePaused = action.paused;
        return;
      case 'inject':
        this.relays.injected.push({ ...(action.event ? { event: action.event } : {}), kind: action.kind, ...(action.retryAfterMs !== undefined ? { retryAfterMs: action.retryAfterMs } : {}) });
        return;
      case 'lossy':
        this.relays.lostAnswer = action.answers;
        this.relays.lostLive = action.live;
        this.relays.repeatedLive = action.repeat;
        return;
      case 'log':
        if (action.what === 'lose') this.log.loseLog(room);
        else if (action.what === 'tail') this.log.loseTail(room, action.count);
        else this.log.trim(room, action.count);
        return;
      case 'token':
        if (tab) tab.tokenMode = action.mode;
        return;
      case 'rotate-key':
        this.relays.key++;
        return;
      case 'clock-jump':
        // Only Date moves (an NTP step): timers keep their own course.
        clockJump(action.ms);
        return;
    }
  }

  /** Every fault ends: networks up and online, relays up, the store back, no injected errors, good tokens. */
  heal(): void {
    this.relays.restartAll();
    this.relays.storePaused = false;
    this.relays.injected.length = 0;
    this.relays.lostAnswer = this.relays.lostLive = this.relays.repeatedLive = 0;
    for (const tab of this.alive()) {
      tab.tokenMode = 'ok';
      tab.clock.wake();
      tab.network.set('up');
      tab.online.setOnline(true);
    }
  }

  /**
   * A profile whose tabs all crashed or closed gets a tab again (the user comes back) that opens the
   * rooms its outbox still holds messages for: nothing else could ever send them.
   */
  async reopenProfiles(): Promise<void> {
    for (const profile of this.profiles) {
      if (profile.tabs.some((tab) => tab.alive)) continue;
      const tab = this.newTab(profile);
      tab.open(ROOMS[2], 'beginning');
    }
    await this.settle(10);
    for (const profile of this.profiles) {
      const tab = profile.tabs.find((candidate) => candidate.alive)!;
      const { outbox } = await this.drive(tab.client.inspect());
      for (const entry of outbox) {
        const opened = profile.tabs.some((other) => other.alive && other.rooms.has(entry.room));
        if (!opened) tab.open(entry.room, 'beginning');
      }
    }
  }

  /**
   * After the heal, one new message in every room that a live tab has open (again every 5 s while
   * something is not settled): every view must then
   * reach it — a `from: 'now'` view as much as one that lost its log (a new epoch) — so liveness is
   * judged against the log's real head, not against what a quiet room never revealed.
   */
  markRooms(): void {
    for (const name of ROOMS) {
      if (this.relays.forbidden(name)) continue;
      const tab = this.alive().find((candidate) => candidate.rooms.has(name));
      tab?.publish(name, false);
    }
  }

  /** Safety, after every step: each app view so far, the log's uniqueness, what `sent` claimed. */
  checkSafety(): void {
    for (const profile of this.profiles) for (const tab of profile.tabs) for (const { view } of tab.rooms.values()) this.#take(view.violations);
    for (const [name, room] of this.log.rooms) {
      const ids = new Set<string>();
      for (const message of room.log) {
        const key = `${message.id}|${message.sender}`;
        if (ids.has(key)) this.violations.push(`${name}: id ${message.id} appended twice in epoch ${room.epoch}`);
        ids.add(key);
      }
    }
    for (const handle of this.handles) {
      if (handle.settled !== 'sent' || handle.seq === undefined) continue;
      const held = this.log.epochs.get(handle.room)?.some((epoch) => this.log.ever.get(`${epoch}:${handle.seq}`)?.has(handle.id));
      if (!held) this.violations.push(`${handle.tab} ${handle.room}: sent resolved with seq ${handle.seq} for ${handle.id}, which the log never held there`);
    }
  }

  #take(violations: string[]): void {
    if (violations.length > 0) this.violations.push(...violations.splice(0));
  }

  /** Liveness, after the heal: what is still not where it must end up (empty: everything settled). */
  async stuck(): Promise<string[]> {
    const stuck: string[] = [];
    for (const tab of this.alive()) {
      if (tab.client.state !== 'online') {
        const { reason, retryAt } = await this.drive(tab.client.inspect());
        stuck.push(`${tab.name}: connection ${tab.client.state} (${reason?.kind ?? 'no reason'}: ${reason?.message ?? ''}; next attempt ${retryAt === undefined ? 'none' : `in ${retryAt - Date.now()} ms`}; ${tab.clock.pending} timers)`);
      }
      for (const [name, open] of tab.rooms) {
        if (this.relays.forbidden(name)) {
          if (open.error === undefined) stuck.push(`${tab.name} ${name}: a forbidden room without an error event`);
          continue;
        }
        // A view may also end in an explicit error the app was shown (a refusal for good).
        const behind = open.view.caughtUp();
        if (behind && (open.error === undefined || open.errors === 0)) {
          const inside = (await this.drive(tab.client.inspect())).rooms.find((room) => room.name === name);
          // Stopped with an error the app was shown (a refusal for good), until the next connection.
          if (inside?.sync.state === 'failed' && open.errors > 0) continue;
          stuck.push(`${tab.name} ${name}: ${behind} (the SDK's view: ${JSON.stringify(inside)}; ${open.errors} error events)`);
        }
        const members = open.room.presence.members().map((member) => member.sub).sort();
        const relayMembers = this.relays.members(name);
        if (members.join() !== relayMembers.join() && open.errors === 0) stuck.push(`${tab.name} ${name}: presence shows [${members.join()}], the relays hold [${relayMembers.join()}]`);
      }
      if (tab.pendingEnters > 0) stuck.push(`${tab.name}: ${tab.pendingEnters} presence.enter() unsettled`);
    }
    // Presence at the relays: exactly the identities with a live tab that entered.
    for (const name of ROOMS) {
      const expected = new Set<string>();
      let explained = false;
      for (const tab of this.alive()) {
        const open = tab.rooms.get(name);
        if (!open) continue;
        if (open.errors > 0) explained = true;
        if (tab.entered.has(name) && !this.relays.forbidden(name)) expected.add(tab.profile.sub);
      }
      const held = this.relays.members(name);
      if ([...expected].sort().join() !== held.join() && !explained) stuck.push(`presence ${name}: relays hold [${held.join()}], live tabs entered [${[...expected].sort().join()}]`);
    }
    for (const handle of this.handles) {
      const tab = this.alive().find((candidate) => candidate.name === handle.tab);
      if (!tab || handle.settled !== undefined) continue;
      const where = this.log.rooms.get(handle.room)?.log.find((message) => message.id === handle.id);
      stuck.push(`${handle.tab} ${handle.room}: publish ${handle.id} never settled (${where ? `in the log at ${where.seq}` : 'not in the log'}; room ${tab.rooms.has(handle.room) ? 'open' : 'not open'} in that tab)`);
    }
    for (const profile of this.profiles) {
      const tab = profile.tabs.find((candidate) => candidate.alive);
      if (!tab) continue;
      const { outbox } = await this.drive(tab.client.inspect());
      for (const entry of outbox) stuck.push(`profile ${profile.index}: outbox entry ${entry.id} (${entry.room}) still queued`);
    }
    return stuck;
  }
}

/** Moves Date (not the timers) by `ms`; set by the runner. */
export let clockJump: (ms: number) => void = () => {};
export function setClockJump(jump: (ms: number) => void): void {
  clockJump = jump;
}

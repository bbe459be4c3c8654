import { writeFileSync } from 'node:fs';
import { PROTOCOL_VERSION, type PresenceSnapshot, type RoomPage } from '@partyline/protocol';
import { signAccessToken } from '@partyline/relay';
import { waitFor } from '@partyline/test-support';
import { io } from 'socket.io-client';
import { checkAnnotations, type AnnotationResult, type MemberLook } from './annotation-checker.js';
import { DEFAULT_ANNOTATION_RATIO } from './annotation-traffic.js';
import { startBrowserMembers, type BrowserMembers } from './browser-members.js';
import { ChaosClient } from './chaos-client.js';
import { checkHistories, viewPosition, type CheckResult, type LogEntry, type RoomLog } from './checker.js';
import { ALL_FAULT_KINDS, CLUSTER_FAULT_KINDS, FAULT_KINDS, injectFault, type ChaosMember, type FaultKind } from './faults.js';
import { checkPresence, presenceSettled, type PresenceLook, type PresenceResult } from './presence-checker.js';
import { watchPresenceStore, type PresenceStoreWatch } from './presence-store-watch.js';
import { prepareProcessMembers, ProcessMember, type ProcessMembers } from './process-member.js';
import { createRandom } from './random.js';
import { readRelayLooks } from './relay-looks.js';
import { CHAOS_SECRET, startSystem } from './system-under-test.js';

export interface ChaosOptions {
  /** Node SDK clients (members), in this process and — with `crash` — some in child processes. */
  clients: number;
  relays: number;
  durationSeconds: number;
  seed: number;
  /** Members per room. @default 10 */
  membersPerRoom?: number;
  /** Members in real Chromium (own persistent profile each), besides the Node clients. @default 0 */
  browsers?: number;
  /** Only these fault kinds, in this order, each once (default: every kind of the mode, then random ones). */
  faults?: FaultKind[];
  /** Each client acts (publishes, or annotates: see `annotations`) once every this many ms (uniform). @default [500, 2500] */
  publishEveryMs?: [number, number];
  /**
   * Share of members' actions that edit or delete their user's messages, react, unreact or mark the
   * room read instead of publishing (annotation-traffic.ts); 0: publish only. Unless `presence`, every
   * other Node client of a room is a second device of another one's user (same token sub), so edits
   * meet deletes made meanwhile on the other device. @default DEFAULT_ANNOTATION_RATIO (0.4)
   */
  annotations?: number;
  /**
   * Hard crashes: `crashClients` of the Node clients run in child processes over a durable IndexedDB
   * and the `client-crash` fault kills them -9 (and crashes Chromium tabs' renderers). @default false
   */
  crash?: boolean;
  /** With `crash`: how many of `clients` run as child processes. @default clients / 10, at least 2, at most 20 */
  crashClients?: number;
  /** Redis AOF fsync: `everysec` makes a Redis kill drop the unsynced AOF tail. @default 'always' */
  redisFsync?: 'always' | 'everysec';
  /**
   * The relays on a Redis Cluster (3 masters, one replica each) with `--ack-replicas 1`, and the
   * cluster's faults (`master-kill`, `node-restart`) instead of one redis-server's. Not with
   * `presence` (its store watch reads one server) nor `redisFsync: 'everysec'`. @default false
   */
  redisCluster?: boolean;
  /** Relays keep at most this many messages per room log; adds the `member-away` fault. @default unlimited */
  retentionMessages?: number;
  /**
   * Every member also enters its room's presence (data `{ name, life }`) and records every `presence`
   * event; after quiescence every live member's `members()` is checked against who is really there,
   * and the record for flaps (see presence-checker.ts). @default false
   */
  presence?: boolean;
  /** With `presence`: write every member's presence record (events, connection changes, lives, cuts) and final look here, as JSON. */
  presenceRecordFile?: string;
  onProgress?: (line: string) => void;
}

/** The relays' grace after a dropped connection (PRESENCE_TIMING.graceMs in packages/relay/src/presence.ts). */
export const PRESENCE_GRACE_MS = 5_000;

export interface PresenceReport extends PresenceResult {
  /** From the heal until every live member's view was right (or the wait gave up). */
  secondsToSettle: number;
  settled: boolean;
  /** The relays' own member lists (`presence:get`) against who is really there: ghosts and missing over all rooms. */
  relayGhosts: number;
  relayMissing: number;
}

export interface ChaosReport extends CheckResult {
  /** Edits, deletes, reactions and read positions: outcomes, and folded views and relay summaries against the fold of the logs. */
  annotations: AnnotationResult;
  /** Faults by kind; `token-expiry` counts tokens that expired and were refreshed. */
  faults: Record<FaultKind | 'token-expiry', number>;
  /** Hard crashes: Node member processes killed -9, Chromium renderers crashed. */
  crashes: { processes: number; tabs: number };
  /**
   * Members that failed by themselves (a process that exited, a page that threw; see ChaosMember.failures).
   * Must be empty: a dead member's view and outbox stop, and the checker then counts what it never saw as lost.
   */
  memberFailures: string[];
  /** With `redisCluster`: replicas promoted to master during the run (by master kills, node restarts or the cluster itself). */
  masterFailovers: number;
  /** With `redisCluster`: master kills that came just after the master's replica link dropped (its replica behind). */
  masterKillsAfterLinkDrop: number;
  /** What Redis crashes (everysec) dropped: AOF bytes, room-log appends, and how many crashes dropped any. */
  unsyncedBytesLost: number;
  appendsLostByStore: number;
  storeCrashesWithLoss: number;
  secondsToQuiescence: number;
  quiesced: boolean;
  /** With `presence`. */
  presence?: PresenceReport;
}

/** Reads a whole room log through a relay, page by page, with its epoch and retained range. */
async function readLogs(url: string, rooms: string[]): Promise<RoomLog[]> {
  const token = await signAccessToken({ sub: 'checker', rooms: ['*'] }, CHAOS_SECRET);
  const socket = io(url, { transports: ['websocket'], auth: { token, protocol: PROTOCOL_VERSION }, reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => socket.once('connect', () => resolve()).once('connect_error', reject));
  try {
    const logs: RoomLog[] = [];
    for (const room of rooms) {
      const messages: LogEntry[] = [];
      let first: RoomPage | undefined;
      let last: RoomPage | undefined;
      for (let since = 0; ; ) {
        const page = (await socket.timeout(10_000).emitWithAck('room:read', { room, since })) as RoomPage & { ok: boolean };
        if (!page.ok) throw new Error(`reading ${room}: ${JSON.stringify(page)}`);
        first ??= page;
        last = page;
        messages.push(...page.messages);
        if (!page.hasMore || page.messages.length === 0) break;
        since = page.messages.at(-1)!.seq;
      }
      logs.push({ room, epoch: first!.epoch, firstSeq: first!.firstSeq, headSeq: last!.headSeq, messages });
    }
    return logs;
  } finally {
    socket.close();
  }
}

/** With presence: resolves once the member's own view shows it (its enter and its first member list are through). */
async function arrived(member: ChaosMember): Promise<void> {
  await waitFor(async () => (await member.presenceLook!()).members.some((shown) => shown.sub === member.name), `${member.name} to see itself in presence`, 30_000, 25);
}

/** Each room's member list as the relays keep it (`presence:get`). */
async function readPresence(url: string, rooms: string[]): Promise<Map<string, string[]>> {
  const token = await signAccessToken({ sub: 'checker', rooms: ['*'] }, CHAOS_SECRET);
  const socket = io(url, { transports: ['websocket'], auth: { token, protocol: PROTOCOL_VERSION }, reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => socket.once('connect', () => resolve()).once('connect_error', reject));
  try {
    const lists = new Map<string, string[]>();
    for (const room of rooms) {
      const snapshot = (await socket.timeout(10_000).emitWithAck('presence:get', { room })) as PresenceSnapshot & { ok: boolean };
      if (!snapshot.ok) throw new Error(`presence of ${room}: ${JSON.stringify(snapshot)}`);
      lists.set(room, snapshot.members.map((member) => member.sub));
    }
    return lists;
  } finally {
    socket.close();
  }
}

/**
 * With presence, after the heal: waits until every member is alive and connected and every view
 * shows exactly them (the relays need up to a lease and a sweep, ~8 s, to drop what a killed relay
 * or a dropped connection left), then judges the views, the relays' lists and the whole record.
 */
async function settleAndCheckPresence(
  members: ChaosMember[],
  rooms: string[],
  relayUrl: string,
  times: { healedAt: number; startedAt: number },
  storeWatch: PresenceStoreWatch,
  recordFile: string | undefined,
  progress: (line: string) => void,
): Promise<PresenceReport> {
  const { healedAt, startedAt } = times;
  const lookAll = () => Promise.all(members.map((member) => member.presenceLook!()));
  let looks: PresenceLook[] = [];
  let settled = true;
  let reportedAt = Date.now();
  try {
    await waitFor(
      async () => {
        looks = await lookAll();
        const done = presenceSettled(looks);
        if (!done && Date.now() - reportedAt >= 5000) {
          reportedAt = Date.now();
          const { ghosts, missing, staleData } = checkPresence([], looks, { graceMs: PRESENCE_GRACE_MS });
          const away = looks.filter((look) => !look.alive || !look.connected).map((look) => look.member);
          progress(`presence not settled yet: ghosts ${ghosts}, missing ${missing}, stale data ${staleData}${away.length ? `; not connected: ${away.slice(0, 6).join(', ')}${away.length > 6 ? ` and ${away.length - 6} more` : ''}` : ''}`);
        }
        return done;
      },
      'presence to settle',
      Math.max(healedAt + 30_000 - Date.now(), 15_000),
      500,
    );
  } catch {
    settled = false;
  }
  const secondsToSettle = (Date.now() - healedAt) / 1000;
  const histories = members.map((member) => member.presence!);
  const store = storeWatch.stop();
  if (recordFile) writeFileSync(recordFile, `${JSON.stringify({ startedAt, healedAt, histories, looks, store })}\n`);
  const result = checkPresence(histories, looks, { graceMs: PRESENCE_GRACE_MS, origin: startedAt, store });
  let relayGhosts = 0;
  let relayMissing = 0;
  const lists = await readPresence(relayUrl, rooms);
  for (const room of rooms) {
    const truth = new Set(looks.filter((look) => look.room === room && look.alive && look.connected).map((look) => look.member));
    const listed = new Set(lists.get(room) ?? []);
    const ghosts = [...listed].filter((sub) => !truth.has(sub));
    const missing = [...truth].filter((sub) => !listed.has(sub));
    relayGhosts += ghosts.length;
    relayMissing += missing.length;
    if (ghosts.length + missing.length > 0) result.examples.push(`relay list: ${room} lists ${ghosts.length ? `ghosts ${ghosts.join(', ')}` : ''}${ghosts.length && missing.length ? '; ' : ''}${missing.length ? `misses ${missing.join(', ')}` : ''}`);
  }
  return { ...result, secondsToSettle, settled, relayGhosts, relayMissing };
}

/**
 * A chaos run: Redis (AOF), relays, a fault proxy per member, seeded faults of every kind while every
 * member publishes; then heal, wait for quiescence, and check every member's app view against the
 * room logs.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const random = createRandom(options.seed);
  const progress = options.onProgress ?? (() => {});
  if (options.redisCluster && options.presence) throw new RangeError('presence checks read one redis-server: not with redisCluster');
  const system = await startSystem(options.relays, {
    redisCluster: options.redisCluster ?? false,
    fsync: options.redisFsync ?? 'always',
    ...(options.retentionMessages !== undefined ? { retentionMessages: options.retentionMessages } : {}),
    onNote: (line) => progress(line),
  });
  const perRoom = options.membersPerRoom ?? 10;
  const publishEveryMs = options.publishEveryMs ?? [500, 2500];
  const rooms = Array.from({ length: Math.ceil(options.clients / perRoom) }, (_, i) => `chaos-${i}`);
  const relayPorts = system.relays.map((relay) => relay.port);
  const crashClients = options.crash ? Math.min(options.clients, options.crashClients ?? Math.min(20, Math.max(2, Math.round(options.clients / 10)))) : 0;
  let processes: ProcessMembers | undefined;
  const clients: ChaosClient[] = [];
  const children: ProcessMember[] = [];
  let browsers: BrowserMembers | undefined;
  const faults = Object.fromEntries([...ALL_FAULT_KINDS, 'token-expiry'].map((kind) => [kind, 0])) as ChaosReport['faults'];
  // With presence: what the relays' store really holds, to tell their leaves from ones a view made up.
  const storeWatch = options.presence && system.kind === 'redis' ? watchPresenceStore(system.redis.port, rooms, 50) : undefined;
  try {
    if (crashClients > 0) processes = await prepareProcessMembers();
    const annotations = options.annotations ?? DEFAULT_ANNOTATION_RATIO;
    // Second devices: client-(i + rooms) is in client-i's room; every other such row is client-i's user again.
    const userOf = (i: number) => (annotations > 0 && !options.presence && Math.floor(i / rooms.length) % 2 === 1 ? `client-${i - rooms.length}` : `client-${i}`);
    for (let i = 0; i < options.clients; i++) {
      const name = `client-${i}`;
      const room = rooms[i % rooms.length]!;
      const memberRandom = createRandom(options.seed * 1000 + i);
      const memberOptions = { presence: options.presence ?? false, user: userOf(i), annotations };
      if (i < crashClients) children.push(new ProcessMember(name, room, relayPorts, processes!, memberRandom, publishEveryMs, memberOptions));
      else clients.push(new ChaosClient(name, room, relayPorts, memberRandom, publishEveryMs, memberOptions));
    }
    if (options.presence) {
      // Members arrive one at a time, each once it sees itself, as people come into a room: the faults
      // are what this run judges, not a stampede of joins racing every member's first member list.
      for (const member of [...clients, ...children]) {
        await member.start();
        await arrived(member);
      }
    } else {
      for (let i = 0; i < clients.length; i += 20) await Promise.all(clients.slice(i, i + 20).map((client) => client.start()));
      for (let i = 0; i < children.length; i += 4) await Promise.all(children.slice(i, i + 4).map((child) => child.start()));
    }
    if (options.browsers) {
      const [min, max] = publishEveryMs;
      browsers = await startBrowserMembers(options.browsers, rooms, relayPorts, (min + max) / 2, createRandom(options.seed + 77), { annotations, presence: options.presence ? { arrived } : undefined });
    }
    const members: ChaosMember[] = [...clients, ...children, ...(browsers?.members ?? [])];
    progress(
      `${clients.length} Node clients in this process, ${children.length} in their own processes, ${browsers?.members.length ?? 0} Chromium members in ${rooms.length} rooms on ${system.relays.length} relays` +
        `; ${system.kind === 'cluster' ? 'Redis Cluster (3 masters, 1 replica each, --ack-replicas 1), ' : ''}Redis appendfsync ${system.fsync}${options.retentionMessages !== undefined ? `; retention ${options.retentionMessages} messages` : ''}${options.presence ? '; every member in presence' : ''}; faults for ${options.durationSeconds} s`,
    );

    // member-away: offline long enough for a room to publish ~1.5× the retention past them.
    const roomRate = (perRoom * 1000) / ((publishEveryMs[0] + publishEveryMs[1]) / 2);
    const awayS = Math.min(options.durationSeconds * 0.6, Math.max(8, ((options.retentionMessages ?? 0) / roomRate) * 1.5));
    const modeKinds: FaultKind[] = [...(options.crash ? (['client-crash'] as const) : []), ...(options.retentionMessages !== undefined ? (['member-away'] as const) : [])];
    const kinds: FaultKind[] = [...(system.kind === 'cluster' ? CLUSTER_FAULT_KINDS : FAULT_KINDS), ...modeKinds];

    // Faults: every kind at least once (shuffled), then random kinds, one system fault at a time.
    const startedAt = Date.now();
    const deadline = startedAt + options.durationSeconds * 1000;
    // The mode's own faults come first (a short run still exercises them), then the others shuffled.
    // A cluster's master kill also comes once more among them: every run fails over at least twice.
    const modeFirst: FaultKind[] = [...(system.fsync === 'everysec' ? (['redis-kill'] as const) : []), ...(system.kind === 'cluster' ? (['master-kill'] as const) : []), ...modeKinds];
    const plan = options.faults
      ? [...options.faults]
      : [...modeFirst, ...random.shuffle(kinds.filter((kind) => !modeFirst.includes(kind) || (system.kind === 'cluster' && kind === 'master-kill')))];
    // The plan is carried out whole even if a slow machine takes longer than the duration for it.
    while (plan.length > 0 || (!options.faults && Date.now() < deadline - 2000)) {
      const kind = plan.shift() ?? random.pick(kinds);
      await injectFault(kind, system, members, random, { awayMs: [awayS * 1000, awayS * 1300] });
      faults[kind]++;
      const published = members.reduce((sum, member) => sum + member.history.queued.length, 0);
      progress(`t+${Math.round((Date.now() - startedAt) / 1000)} s  fault ${kind}  queued ${published}`);
      await new Promise((resolve) => setTimeout(resolve, random.between(200, 1200)));
    }
    const remaining = deadline - Date.now();
    if (remaining > 0) await new Promise((resolve) => setTimeout(resolve, remaining));

    // Heal: everything up, every network whole, no more publishing; then wait until nothing is pending
    // and every member's app view has reached its room's head.
    for (const member of members) {
      await member.stopPublishing();
      member.healNetwork();
    }
    for (const relay of system.relays) if (!relay.running) await relay.start();
    const healedAt = Date.now();
    progress('healed; waiting for quiescence');
    let quiesced = true;
    let reportedAt = Date.now();
    const memberFailures = () => members.flatMap((member) => member.failures ?? []);
    try {
      await waitFor(async () => {
        if (memberFailures().length > 0) {
          // A dead member never gets quiet: no use waiting out the deadline.
          progress(`not waiting for quiescence: ${memberFailures()[0]}`);
          quiesced = false;
          return true;
        }
        const pendings = await Promise.all(members.map((member) => member.pendingCount()));
        const pending = pendings.reduce((a, b) => a + b, 0);
        const logs = pending > 0 ? [] : await readLogs(system.relays[0]!.url, rooms);
        const heads = new Map(logs.map((log) => [log.room, log.headSeq]));
        const behind = pending > 0 ? [] : members.filter((member) => viewPosition(member.history) !== heads.get(member.roomName));
        const done = pending === 0 && behind.length === 0;
        if (!done && Date.now() - reportedAt >= 5000) {
          reportedAt = Date.now();
          const who = pending > 0 ? members.filter((_, i) => pendings[i]! > 0) : behind;
          progress(`not quiet yet: ${pending > 0 ? `${pending} messages pending at` : 'views behind their room head:'} ${who.slice(0, 6).map((member) => `${member.name} (at ${viewPosition(member.history) ?? '-'}${heads.size ? ` of ${heads.get(member.roomName)}` : ''})`).join(', ')}${who.length > 6 ? ` and ${who.length - 6} more` : ''}`);
        }
        return done;
      }, 'quiescence', 120_000, 500);
    } catch {
      quiesced = false;
    }
    const secondsToQuiescence = (Date.now() - healedAt) / 1000;
    if (system.kind === 'cluster') await system.observeFailovers();
    let presence: PresenceReport | undefined;
    if (options.presence) {
      progress('waiting for presence to settle');
      presence = await settleAndCheckPresence(members, rooms, system.relays[0]!.url, { healedAt, startedAt }, storeWatch!, options.presenceRecordFile, progress);
    }
    const logs = await readLogs(system.relays[0]!.url, rooms);
    const histories = members.map((member) => member.history);
    const result = checkHistories(histories, logs, { lostAppends: system.lostAppends, storeLosses: system.storeLosses });
    progress('reading every member\'s folded view and every relay\'s summaries');
    const lookAll = async () => {
      const looks: MemberLook[] = [];
      for (const member of members) {
        const look = await member.foldedLook();
        if (look) looks.push({ ...look, member: member.name, room: member.roomName, user: member.history.user ?? member.name });
      }
      return looks;
    };
    // Read positions reach a member's other devices in a `room:reads` event, a moment after its views are at the head.
    let looks: MemberLook[] = [];
    await waitFor(
      async () => {
        looks = await lookAll();
        const { memberMismatches, readMismatches } = checkAnnotations({ histories, logs, looks, relayLooks: [] });
        return memberMismatches + readMismatches.members === 0;
      },
      'folded views and read states to agree with the logs',
      10_000,
      250,
    ).catch(() => {});
    const usersByRoom = new Map(rooms.map((room) => [room, [...new Set(histories.filter((history) => history.room === room).map((history) => history.user ?? history.member))]]));
    const relayLooks = await readRelayLooks(system.relays, usersByRoom);
    faults['token-expiry'] = clients.reduce((sum, client) => sum + client.tokensMinted - client.sessions, 0);
    return {
      ...result,
      annotations: checkAnnotations({ histories, logs, looks, relayLooks }),
      faults,
      crashes: { processes: children.reduce((sum, child) => sum + child.crashes, 0), tabs: (browsers?.members ?? []).reduce((sum, member) => sum + member.crashes, 0) },
      memberFailures: memberFailures(),
      masterFailovers: system.kind === 'cluster' ? system.masterFailovers : 0,
      masterKillsAfterLinkDrop: system.kind === 'cluster' ? system.mastersKilled.afterLinkDrop : 0,
      unsyncedBytesLost: system.unsyncedBytesLost,
      appendsLostByStore: system.lostAppends.length,
      storeCrashesWithLoss: system.crashesThatLostData,
      secondsToQuiescence,
      quiesced,
      ...(presence ? { presence } : {}),
    };
  } finally {
    storeWatch?.stop();
    await browsers?.close();
    await Promise.all([...clients, ...children].map((member) => member.close()));
    await system.stop();
    processes?.dispose();
  }
}

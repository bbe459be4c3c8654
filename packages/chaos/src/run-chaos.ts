import { PROTOCOL_VERSION, type LogMessage } from '@partyline/protocol';
import { signAccessToken } from '@partyline/relay';
import { waitFor } from '@partyline/test-support';
import { io } from 'socket.io-client';
import { startBrowserMembers, type BrowserMembers } from './browser-members.js';
import { ChaosClient } from './chaos-client.js';
import { checkHistories, type CheckResult, type RoomLog } from './checker.js';
import { FAULT_KINDS, injectFault, type FaultKind } from './faults.js';
import { createRandom } from './random.js';
import { CHAOS_SECRET, startSystem } from './system-under-test.js';

export interface ChaosOptions {
  clients: number;
  relays: number;
  durationSeconds: number;
  seed: number;
  /** Members per room. @default 10 */
  membersPerRoom?: number;
  /** Members in real Chromium tabs (own profile each), besides the Node clients. @default 0 */
  browsers?: number;
  /** Only these fault kinds, in this order, each once (default: every kind, then random ones). */
  faults?: FaultKind[];
  /** Each client publishes once every this many ms (uniform). @default [500, 2500] */
  publishEveryMs?: [number, number];
  onProgress?: (line: string) => void;
}

export interface ChaosReport extends CheckResult {
  /** Faults by kind; `token-expiry` counts tokens that expired and were refreshed. */
  faults: Record<FaultKind | 'token-expiry', number>;
  secondsToQuiescence: number;
  quiesced: boolean;
}

/** Reads a whole room log through a relay, page by page. */
async function readLogs(url: string, rooms: string[]): Promise<RoomLog[]> {
  const token = await signAccessToken({ sub: 'checker', rooms: ['*'] }, CHAOS_SECRET);
  const socket = io(url, { transports: ['websocket'], auth: { token, protocol: PROTOCOL_VERSION }, reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => socket.once('connect', () => resolve()).once('connect_error', reject));
  try {
    const logs: RoomLog[] = [];
    for (const room of rooms) {
      const messages: LogMessage[] = [];
      for (let since = 0; ; ) {
        const page = (await socket.timeout(10_000).emitWithAck('room:read', { room, since })) as { ok: boolean; messages: LogMessage[]; hasMore: boolean };
        if (!page.ok) throw new Error(`reading ${room}: ${JSON.stringify(page)}`);
        messages.push(...page.messages);
        if (!page.hasMore) break;
        since = page.messages.at(-1)!.seq;
      }
      logs.push({ room, messages: messages.map((m) => ({ seq: m.seq, id: m.id })) });
    }
    return logs;
  } finally {
    socket.close();
  }
}

/**
 * A chaos run: Redis (AOF), relays, a fault proxy per client, seeded faults of every kind while every
 * client publishes; then heal, wait for quiescence, and check the histories against the room logs.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const random = createRandom(options.seed);
  const progress = options.onProgress ?? (() => {});
  const system = await startSystem(options.relays);
  const perRoom = options.membersPerRoom ?? 10;
  const rooms = Array.from({ length: Math.ceil(options.clients / perRoom) }, (_, i) => `chaos-${i}`);
  const clients = Array.from(
    { length: options.clients },
    (_, i) => new ChaosClient(`client-${i}`, rooms[i % rooms.length]!, system.relays.map((relay) => relay.port), createRandom(options.seed * 1000 + i), options.publishEveryMs ?? [500, 2500]),
  );
  let browsers: BrowserMembers | undefined;
  const faults = Object.fromEntries([...FAULT_KINDS, 'token-expiry'].map((kind) => [kind, 0])) as ChaosReport['faults'];
  try {
    for (let i = 0; i < clients.length; i += 20) await Promise.all(clients.slice(i, i + 20).map((client) => client.start()));
    if (options.browsers) {
      const [min, max] = options.publishEveryMs ?? [500, 2500];
      browsers = await startBrowserMembers(options.browsers, rooms, system.relays.map((relay) => relay.port), (min + max) / 2);
    }
    const members = [...clients, ...(browsers?.members ?? [])];
    progress(`${clients.length} clients and ${browsers?.members.length ?? 0} Chromium tabs in ${rooms.length} rooms on ${system.relays.length} relays; faults for ${options.durationSeconds} s`);

    // Faults: every kind at least once (shuffled), then random kinds, one system fault at a time.
    const deadline = Date.now() + options.durationSeconds * 1000;
    const plan = options.faults ? [...options.faults] : [...random.shuffle(FAULT_KINDS)];
    while (Date.now() < deadline - 2000 && (plan.length > 0 || !options.faults)) {
      const kind = plan.shift() ?? random.pick(FAULT_KINDS);
      await injectFault(kind, system, members, random);
      faults[kind]++;
      const published = clients.reduce((sum, client) => sum + client.history.queued.length, 0);
      progress(`t+${Math.round((Date.now() - (deadline - options.durationSeconds * 1000)) / 1000)} s  fault ${kind}  queued ${published}`);
      await new Promise((resolve) => setTimeout(resolve, random.between(200, 1200)));
    }
    const remaining = deadline - Date.now();
    if (remaining > 0) await new Promise((resolve) => setTimeout(resolve, remaining));

    // Heal: everything up, every network whole, no more publishing; then wait until nothing is pending
    // and every member has been handed its room's whole log.
    for (const client of clients) {
      client.stopPublishing();
      client.healNetwork();
    }
    for (const member of browsers?.members ?? []) {
      await member.stopPublishing();
      member.healNetwork();
    }
    for (const relay of system.relays) if (!relay.running) await relay.start();
    const healedAt = Date.now();
    progress('healed; waiting for quiescence');
    let quiesced = true;
    try {
      await waitFor(async () => {
        const pending = (await Promise.all(members.map((member) => member.pendingCount()))).reduce((a, b) => a + b, 0);
        if (pending > 0) return false;
        const logs = await readLogs(system.relays[0]!.url, rooms);
        const heads = new Map(logs.map((log) => [log.room, log.messages.at(-1)?.seq ?? 0]));
        const browserSeqs = await Promise.all((browsers?.members ?? []).map(async (member) => (await member.lastSeq()) === heads.get(member.roomName)));
        return clients.every((client) => client.lastSeq === heads.get(client.roomName)) && browserSeqs.every(Boolean);
      }, 'quiescence', 120_000, 500);
    } catch {
      quiesced = false;
    }
    const secondsToQuiescence = (Date.now() - healedAt) / 1000;
    const logs = await readLogs(system.relays[0]!.url, rooms);
    const browserHistories = await Promise.all((browsers?.members ?? []).map((member) => member.history()));
    const result = checkHistories([...clients.map((client) => client.history), ...browserHistories], logs);
    faults['token-expiry'] = clients.reduce((sum, client) => sum + client.tokensMinted - client.sessions, 0);
    return {
      ...result,
      faults,
      secondsToQuiescence,
      quiesced,
    };
  } finally {
    await browsers?.close();
    await Promise.all(clients.map((client) => client.close()));
    await system.stop();
  }
}

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFaultProxy, type FaultProxy } from '@partyline/test-support';
import { build } from 'esbuild';
import type { FoldedLook } from './annotation-checker.js';
import type { MemberHistory, Session } from './checker.js';
import type { ChaosMember } from './faults.js';
import { endPresenceSession, newHistory, newPresenceHistory, recordCut, startSession, type MemberEvent, type MemberOptions } from './member-events.js';
import type { PresenceHistory, PresenceLook } from './presence-checker.js';
import type { ChildCommand, ChildConfig, ChildReport } from './process-member-child.js';
import type { Random } from './random.js';
import { mintChaosToken } from './system-under-test.js';

const CHILD_SOURCE = fileURLToPath(new URL('../src/process-member-child.ts', import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The child program, bundled once per run (SDK from source, fake-indexeddb, the journal): starts in ~0.1 s. */
export interface ProcessMembers {
  bundle: string;
  dir: string;
  dispose(): void;
}

export async function prepareProcessMembers(): Promise<ProcessMembers> {
  const dir = mkdtempSync(join(tmpdir(), 'chaos-members-'));
  const bundle = join(dir, 'member.cjs');
  await build({
    entryPoints: [CHILD_SOURCE],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    conditions: ['source'],
    // ws's optional native helpers
    external: ['bufferutil', 'utf-8-validate'],
    logLevel: 'warning',
  });
  return { bundle, dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A chaos member in its own Node process, so it can be crashed for real: `crash()` is SIGKILL. Its
 * IndexedDB is fake-indexeddb with a write-ahead journal (durable-indexeddb.ts): every transaction the
 * SDK saw complete is in the journal file, so the next process starts from exactly what a browser's
 * IndexedDB would have kept after the tab's process died. Its fault proxy lives here, across restarts.
 */
export class ProcessMember implements ChaosMember {
  readonly history: MemberHistory;
  readonly presence: PresenceHistory | undefined;
  readonly failures: string[] = [];
  crashes = 0;
  #proxy: FaultProxy | undefined;
  #child: ChildProcess | undefined;
  /** The child this member is killing or closing on purpose: its exit is no failure. */
  #ending: ChildProcess | undefined;
  #publish = true;
  #asks = 0;
  readonly #waiting = new Map<number, (count: number) => void>();
  readonly #shownWaiting = new Map<number, (shown: { online: boolean; members: { sub: string; data: unknown }[] } | undefined) => void>();
  readonly #foldedWaiting = new Map<number, (look: FoldedLook | undefined) => void>();
  readonly #journal: string;
  readonly #user: string;
  readonly #annotations: number;

  constructor(
    readonly name: string,
    readonly roomName: string,
    private readonly relayPorts: number[],
    private readonly processes: ProcessMembers,
    private readonly random: Random,
    private readonly publishEveryMs: [number, number],
    options: MemberOptions = {},
  ) {
    this.#user = options.user ?? name;
    this.#annotations = options.annotations ?? 0;
    this.history = newHistory(name, roomName, this.#user);
    this.presence = options.presence ? newPresenceHistory(name, roomName) : undefined;
    this.#journal = join(processes.dir, `${name}.journal`);
  }

  async start(start: Session['start'] = 'first'): Promise<void> {
    this.#proxy ??= await startFaultProxy(this.relayPorts);
    const record = startSession(this.history, start, this.presence);
    const config: ChildConfig = {
      name: this.name,
      user: this.#user,
      room: this.roomName,
      annotations: this.#annotations,
      relays: this.#proxy.urls,
      journal: this.#journal,
      publish: this.#publish,
      publishEveryMs: this.publishEveryMs,
      ...(this.presence ? { presenceLife: this.presence.sessions.length } : {}),
    };
    const child = spawn(process.execPath, [this.processes.bundle], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: { ...process.env, CHAOS_MEMBER: JSON.stringify(config) },
    });
    this.#child = child;
    this.#watchExit(child);
    const ready = new Promise<void>((resolve, reject) => {
      child.once('exit', (code, signal) => reject(new Error(`member ${this.name} exited at start (${code ?? signal})`)));
      child.on('message', (report: ChildReport) => {
        switch (report.t) {
          case 'ready':
            return resolve();
          case 'token-request':
            void this.#mintToken().then((token) => this.#send(child, { c: 'token', token }));
            return;
          case 'pending':
            this.#waiting.get(report.ask)?.(report.count);
            this.#waiting.delete(report.ask);
            return;
          case 'presence-shown':
            this.#shownWaiting.get(report.ask)?.(report);
            this.#shownWaiting.delete(report.ask);
            return;
          case 'folded':
            this.#foldedWaiting.get(report.ask)?.(report.look);
            this.#foldedWaiting.delete(report.ask);
            return;
          case 'closed':
            return;
          default:
            record(report as MemberEvent);
        }
      });
    });
    await ready;
  }

  /** SIGKILL: no close, no flush, no goodbye; then a new process on the same journal. */
  async crash(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    endPresenceSession(this.presence, 'killed');
    this.#ending = child;
    child.kill('SIGKILL');
    await exited;
    this.crashes++;
    await sleep(this.random.between(300, 1500));
    await this.start('crash');
  }

  /** A reload: the SDK closes, the process exits, a new one starts on the same journal. */
  async restart(): Promise<void> {
    await this.#stop();
    await sleep(this.random.between(300, 1500));
    await this.start('restart');
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
    if (this.#child) this.#send(this.#child, { c: 'stop-publishing' });
  }

  async pendingCount(): Promise<number> {
    const child = this.#child;
    if (!child || !child.connected) return 1;
    const ask = ++this.#asks;
    const answer = new Promise<number>((resolve) => {
      this.#waiting.set(ask, resolve);
      setTimeout(() => resolve(1), 5000).unref();
    });
    this.#send(child, { c: 'pending', ask });
    const count = await answer;
    return count < 0 ? 1 : count;
  }

  async presenceLook(): Promise<PresenceLook> {
    const child = this.#child;
    const proxy = this.#proxy;
    const life = this.presence?.sessions.length ?? 0;
    const look: PresenceLook = { member: this.name, room: this.roomName, alive: false, connected: false, data: { name: this.name, life }, members: [] };
    if (!child || !child.connected || !proxy) return look;
    const ask = ++this.#asks;
    const shown = await new Promise<{ online: boolean; members: { sub: string; data: unknown }[] } | undefined>((resolve) => {
      this.#shownWaiting.set(ask, resolve);
      setTimeout(() => resolve(undefined), 5000).unref();
      this.#send(child, { c: 'presence-shown', ask });
    });
    if (!shown) return look;
    return { ...look, alive: true, connected: shown.online && !proxy.isCut && proxy.openConnections > 0, members: shown.members };
  }

  async foldedLook(): Promise<FoldedLook | undefined> {
    const child = this.#child;
    if (!child || !child.connected) return undefined;
    const ask = ++this.#asks;
    return new Promise((resolve) => {
      this.#foldedWaiting.set(ask, resolve);
      setTimeout(() => resolve(undefined), 5000).unref();
      this.#send(child, { c: 'folded', ask });
    });
  }

  async close(): Promise<void> {
    await this.#stop();
    await this.#proxy?.close();
  }

  async #stop(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    endPresenceSession(this.presence, 'closed');
    this.#ending = child;
    this.#send(child, { c: 'close' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  /**
   * A child that exits when this member did not end it (an uncaught error in the SDK, say) leaves the
   * member dead for the rest of the run: recorded with the end of its stderr, so the run reports a
   * dead member instead of only the messages its app then never saw.
   */
  #watchExit(child: ChildProcess): void {
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    // 'close', not 'exit': its last words may still be in the pipe at exit.
    child.once('close', (code, signal) => {
      if (this.#ending === child) return;
      const said = stderr.split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('^'));
      this.failures.push(`${this.name}: its process exited by itself (${code ?? signal})${said.length ? `: ${said.slice(0, 8).join(' | ')}` : ''}`);
    });
  }

  #send(child: ChildProcess, command: ChildCommand): void {
    if (child.connected) child.send(command, () => {});
  }

  async #mintToken(): Promise<string> {
    return mintChaosToken(this.#user, this.roomName, () => this.random.between(0, 1));
  }
}

/**
 * A presence churn load generator (scenario h), speaking the protocol directly. The parent sends a
 * PresencePlan; the worker connects its members (one identity each, spread over the relays), enters
 * every one in its room and answers `ready`; on `start` every member leaves and enters again in
 * turn, pausing after each answer; `measure` starts counting (after a warm-up) and `stop` ends both,
 * answering what it did and what it was told while counting.
 */
import { PROTOCOL_VERSION } from '@partyline/protocol';
import { io, type Socket } from 'socket.io-client';

export interface PresencePlan {
  /** Each member: its token (its own `sub`: one identity is one member, however many connections it has), room and relay. */
  members: { token: string; room: string; url: string }[];
  /** Pause after each enter or leave is answered: uniform in [0, 2 × meanPauseMs). */
  meanPauseMs: number;
}

export interface PresenceWorkerReport {
  connected: number;
  /** Enters and leaves answered `ok` while measuring. */
  enters: number;
  leaves: number;
  errors: number;
  /** Changes members were told of (`room:presence`) while measuring: the fan-out. */
  changesDelivered: number;
  /** The `room:presence` events those came in (a relay sends a busy room's changes together). */
  eventsDelivered: number;
}

type Ack = { ok: boolean };

async function run(plan: PresencePlan): Promise<void> {
  const report: PresenceWorkerReport = { connected: 0, enters: 0, leaves: 0, errors: 0, changesDelivered: 0, eventsDelivered: 0 };
  let measuring = false;
  let running = true;

  const sockets: Socket[] = [];
  for (let i = 0; i < plan.members.length; i += 50) {
    const batch = plan.members.slice(i, i + 50).map(({ token, url }) => {
      const socket = io(url, { transports: ['websocket'], auth: { token, protocol: PROTOCOL_VERSION }, reconnection: false, forceNew: true });
      return new Promise<Socket>((resolve, reject) => {
        socket.once('connect', () => resolve(socket));
        socket.once('connect_error', reject);
      });
    });
    sockets.push(...(await Promise.all(batch)));
  }
  report.connected = sockets.length;
  for (const socket of sockets) {
    socket.on('room:presence', (event: { changes: unknown[] }) => {
      if (!measuring) return;
      report.changesDelivered += event.changes.length;
      report.eventsDelivered++;
    });
  }
  const roomOf = (i: number) => plan.members[i]!.room;
  const data = (i: number) => JSON.stringify({ name: `member ${i}` });
  // Everyone present before the measured window (so the first toggle of each is a leave).
  for (let i = 0; i < sockets.length; i += 100) {
    await Promise.all(sockets.slice(i, i + 100).map((socket, k) => socket.emitWithAck('presence:enter', { room: roomOf(i + k), data: data(i + k) })));
  }

  const pause = () => new Promise((resolve) => setTimeout(resolve, Math.random() * 2 * plan.meanPauseMs));
  const churn = async (socket: Socket, i: number) => {
    let present = true;
    await pause();
    while (running) {
      const counting = measuring;
      try {
        const ack = (present
          ? await socket.timeout(10_000).emitWithAck('presence:leave', { room: roomOf(i) })
          : await socket.timeout(10_000).emitWithAck('presence:enter', { room: roomOf(i), data: data(i) })) as Ack;
        if (!ack.ok) report.errors++;
        else if (counting && measuring) {
          if (present) report.leaves++;
          else report.enters++;
        }
        present = !present;
      } catch {
        report.errors++;
      }
      await pause();
    }
  };

  const next = () => new Promise<void>((resolve) => process.once('message', () => resolve()));
  process.send!({ type: 'ready' });
  await next();
  const churning = Promise.all(sockets.map((socket, i) => churn(socket, i)));
  await next();
  measuring = true;
  await next();
  measuring = false;
  running = false;
  process.send!({ type: 'report', report });
  await Promise.race([churning, new Promise((resolve) => setTimeout(resolve, 2000))]);
  for (const socket of sockets) socket.close();
  setTimeout(() => process.exit(0), 100);
}

process.once('message', (plan: PresencePlan) => void run(plan));

/**
 * The exactly-once checker, a pure function over what happened: which messages each client had
 * queued (publish resolved), what each client's app was handed, and the final room logs.
 * Jepsen-style: collect histories under faults, then judge them against the guarantees.
 */

export interface Delivery {
  seq: number;
  id: string;
}

export interface ClientHistory {
  client: string;
  room: string;
  /** Ids whose publish() resolved (written to the outbox): G1 says each is appended exactly once. */
  queued: string[];
  /** Ids the relay rejected permanently, as reported to the app (allowed to be missing from the log). */
  failed: string[];
  /** What the app was handed, in order, per epoch; a `reset` starts a new list. */
  deliveries: Delivery[][];
  resets: number;
}

export interface RoomLog {
  room: string;
  messages: Delivery[];
}

export interface CheckResult {
  published: number;
  appended: number;
  delivered: number;
  /** Queued messages missing from their room log, plus log messages a member was never handed. */
  lost: number;
  /** Messages appended more than once, plus messages handed to one member more than once. */
  duplicated: number;
  /** Deliveries out of log order, or whose seq names a different message than the log. */
  reordered: number;
  resets: number;
  /** Why each non-zero count is non-zero, a few examples each. */
  examples: string[];
}

export function checkHistories(histories: ClientHistory[], logs: RoomLog[]): CheckResult {
  const result: CheckResult = { published: 0, appended: 0, delivered: 0, lost: 0, duplicated: 0, reordered: 0, resets: 0, examples: [] };
  const note = (text: string) => {
    if (result.examples.length < 20) result.examples.push(text);
  };
  const logByRoom = new Map(logs.map((log) => [log.room, log]));

  for (const log of logs) {
    result.appended += log.messages.length;
    const seen = new Map<string, number>();
    for (const message of log.messages) {
      const first = seen.get(message.id);
      if (first !== undefined) {
        result.duplicated++;
        note(`room ${log.room}: id ${message.id} appended at seq ${first} and ${message.seq}`);
      } else seen.set(message.id, message.seq);
    }
  }

  for (const history of histories) {
    const log = logByRoom.get(history.room);
    const idsInLog = new Set(log?.messages.map((m) => m.id));
    const idBySeq = new Map(log?.messages.map((m) => [m.seq, m.id]));
    const failed = new Set(history.failed);
    result.published += history.queued.length;
    result.resets += history.resets;
    for (const id of history.queued) {
      if (!idsInLog.has(id) && !failed.has(id)) {
        result.lost++;
        note(`client ${history.client}: queued ${id} never reached room ${history.room}`);
      }
    }

    const handed = new Set<number>();
    for (const epoch of history.deliveries) {
      let previous = 0;
      for (const delivery of epoch) {
        result.delivered++;
        if (delivery.seq <= previous) {
          result.reordered++;
          note(`client ${history.client}: seq ${delivery.seq} handed after ${previous}`);
        }
        previous = Math.max(previous, delivery.seq);
        // Only the last epoch is compared with the final log; earlier ones belonged to a lost log.
        if (epoch !== history.deliveries.at(-1)) continue;
        if (handed.has(delivery.seq)) {
          result.duplicated++;
          note(`client ${history.client}: seq ${delivery.seq} handed twice`);
        }
        handed.add(delivery.seq);
        const expected = idBySeq.get(delivery.seq);
        if (expected !== undefined && expected !== delivery.id) {
          result.reordered++;
          note(`client ${history.client}: seq ${delivery.seq} was ${delivery.id}, the log says ${expected}`);
        }
      }
    }
    // G2: from its first delivery on, a member is handed every later message of the log.
    const current = history.deliveries.at(-1) ?? [];
    const from = current[0]?.seq;
    if (from !== undefined && log) {
      for (const message of log.messages) {
        if (message.seq >= from && !handed.has(message.seq)) {
          result.lost++;
          note(`client ${history.client}: never handed seq ${message.seq} of room ${history.room}`);
        }
      }
    }
  }
  return result;
}

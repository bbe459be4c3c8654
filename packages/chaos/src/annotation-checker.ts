/**
 * The annotation checker: what edits, deletes and reactions did, and where members stand reading.
 * The truth is the final room log folded with the SDK's own fold (message-fold.ts): every member's
 * folded view (`room.messages()`) must show each message it holds as that fold does — for its user's
 * `mine` — and every relay's page summaries must be that fold. Whether each annotation reached the
 * log exactly once is checker.ts's part (G1, like messages); here: the outcomes (appended, noop,
 * refused) and whether each noop and refusal is one the final log explains, whether the log obeys the
 * relays' rules (no reaction counted twice, nothing changed after its delete, edits by the sender
 * only), and read positions: each user's is the furthest it marked or posted.
 */
import { isAnnotationType, parseAnnotation, type LogMessage, type MessageSummary } from '@partyline/protocol';
import { foldMessages, type FoldedMessage } from '@partyline/sdk';
import { exampleNoter, noopIds, type LogEntry, type MemberHistory, type QueuedAnnotation, type RoomLog } from './checker.js';

/** What a member's app shows after quiescence: its folded messages and its read state. */
export interface FoldedLook {
  messages: FoldedMessage[];
  readSeq: number;
  unread: number;
  /** Seqs of messages for which `room.message(id)` answers otherwise than `room.messages()`. */
  byIdDiffers?: number[];
}

export interface MemberLook extends FoldedLook {
  member: string;
  room: string;
  user: string;
}

/** What one relay answers one user about one room after quiescence. */
export interface RelayLook {
  relay: string;
  room: string;
  user: string;
  /** Every page's summaries (room:read from seq 0), by seq. */
  summaries: Record<string, MessageSummary>;
  /** The join ack's `read`. */
  read?: { seq: number; unread: number };
  /** `user:unread` for this room (undefined: the room is not listed). */
  unread?: number;
  /** The relay did not answer (the request and its error): nothing else of the look is known. */
  failed?: string;
}

export interface AnnotationResult {
  /** Annotations queued (edit, delete, react, unreact resolved). */
  published: number;
  /** Annotations in the final logs. */
  appended: number;
  /** Acked as changing nothing: never appended. */
  noop: number;
  /** Refused (or expired), by error kind. */
  refused: number;
  refusedByKind: Record<string, number>;
  /** Refusals the final log does not explain (`message_deleted` of a message not deleted, `not_found` of one it holds, any other kind). */
  refusalsUnexplained: number;
  /** Noops the final log does not explain (a reaction never appended before, a delete of a message never deleted, an edit). */
  noopsUnexplained: number;
  /** Appended annotations the relays should have refused or acked as noop (a reaction held twice, a change after a delete, an edit by another sender, no target). */
  ruleViolations: number;
  /** Held messages a member's folded view shows otherwise than the fold of the log (or message(id) otherwise than messages()). */
  memberMismatches: number;
  /** Messages a relay's summary shows otherwise than the fold of the log (also a summary too many or missing). */
  relayMismatches: number;
  /** Read positions and unread counts not equal to the furthest the user marked or posted: as the relays keep them, as members show them. */
  readMismatches: { relays: number; members: number };
  /** Relays that did not answer a user after quiescence (see RelayLook.failed). */
  relayLookFailures: number;
  examples: string[];
}

export interface AnnotationCheckInput {
  histories: MemberHistory[];
  logs: RoomLog[];
  looks: MemberLook[];
  relayLooks: RelayLook[];
}

export function checkAnnotations({ histories, logs, looks, relayLooks }: AnnotationCheckInput): AnnotationResult {
  const result: AnnotationResult = {
    published: 0,
    appended: 0,
    noop: 0,
    refused: 0,
    refusedByKind: {},
    refusalsUnexplained: 0,
    noopsUnexplained: 0,
    ruleViolations: 0,
    memberMismatches: 0,
    relayMismatches: 0,
    readMismatches: { relays: 0, members: 0 },
    relayLookFailures: 0,
    examples: [],
  };
  const note = exampleNoter(result.examples);
  const rooms = new Map(logs.map((log) => [log.room, roomTruth(log)]));
  const truthOf = (room: string) => rooms.get(room) ?? roomTruth({ room, epoch: '', firstSeq: 1, headSeq: 0, messages: [] });

  for (const [room, truth] of rooms) {
    result.appended += truth.annotations.length;
    for (const violation of truth.violations) {
      result.ruleViolations++;
      note('rule violation', `room ${room}: ${violation}`);
    }
  }

  // ---- Outcomes: every queued annotation was appended, a noop, or refused; noops and refusals explained.
  for (const history of histories) {
    const who = `${history.member} (${history.room})`;
    const user = history.user ?? history.member;
    const truth = truthOf(history.room);
    const noops = noopIds(history);
    const refusals = history.refusals ?? {};
    for (const annotation of history.annotations ?? []) {
      result.published++;
      if (truth.entryById.has(annotation.id)) continue;
      const refusal = refusals[annotation.id] ?? (history.failed.includes(annotation.id) ? 'unknown' : undefined);
      if (refusal !== undefined) {
        result.refused++;
        result.refusedByKind[refusal] = (result.refusedByKind[refusal] ?? 0) + 1;
        const why = unexplainedRefusal(annotation, refusal, truth);
        if (why) {
          result.refusalsUnexplained++;
          note('unexplained refusal', `${who}: ${annotation.type} ${annotation.id} of ${annotation.target.id} (seq ${annotation.target.seq}) refused ${refusal}, ${why}`);
        }
      } else if (noops.has(annotation.id)) {
        result.noop++;
        const why = unexplainedNoop(annotation, user, truth);
        if (why) {
          result.noopsUnexplained++;
          note('unexplained noop', `${who}: ${annotation.type} ${annotation.id} of ${annotation.target.id} (seq ${annotation.target.seq})${annotation.key ? ` key ${annotation.key}` : ''} acked noop, ${why}`);
        }
      }
      // Neither appended, refused nor a noop: checker.ts counts it lost.
    }
  }

  // ---- Members' folded views against the fold of the log, for their user.
  const lives = new Map(histories.map((history) => [history.member, history.sessions.map((session) => session.start)]));
  for (const look of looks) {
    const truth = truthOf(look.room);
    const folded = truth.foldFor(look.user);
    const life = (lives.get(look.member) ?? []).join('/');
    for (const shown of look.messages) {
      const expected = folded.get(shown.seq);
      // A message the log no longer holds there: the view itself is judged by checker.ts (G2).
      if (!expected || expected.id !== shown.id) continue;
      const difference = foldedDifference(expected, shown);
      if (difference) {
        result.memberMismatches++;
        note('member view mismatch', `${look.member} (${look.room}, user ${look.user}, sessions ${life}): seq ${shown.seq} (${shown.id}) ${difference}`);
      }
    }
    for (const seq of look.byIdDiffers ?? []) {
      result.memberMismatches++;
      note('member view mismatch', `${look.member} (${look.room}): room.message(id) of seq ${seq} is not what room.messages() holds`);
    }
    const expected = truth.readState(look.user, histories);
    if (look.readSeq !== expected.seq || look.unread !== expected.unread) {
      result.readMismatches.members++;
      note('member read state mismatch', `${look.member} (${look.room}, user ${look.user}): readState() is ${look.readSeq} with ${look.unread} unread; the furthest marked or posted is ${expected.seq} with ${expected.unread} unread`);
    }
  }

  // ---- Relays' summaries and read positions against the fold.
  for (const look of relayLooks) {
    const truth = truthOf(look.room);
    const who = `relay ${look.relay} to ${look.user} (${look.room})`;
    if (look.failed !== undefined) {
      result.relayLookFailures++;
      note('relay look failed', `${who}: ${look.failed}`);
      continue;
    }
    const folded = truth.foldFor(look.user);
    const seqs = new Set([...Object.keys(look.summaries).map(Number), ...[...folded.keys()].filter((seq) => summaryOf(folded.get(seq)!) !== undefined)]);
    for (const seq of [...seqs].sort((a, b) => a - b)) {
      const message = folded.get(seq);
      const expected = message ? summaryOf(message) : undefined;
      const actual = normalizeSummary(look.summaries[String(seq)]);
      if (canonical(expected) === canonical(actual)) continue;
      result.relayMismatches++;
      note('relay summary mismatch', `${who}: seq ${seq}${message ? ` (${message.id})` : ' (no message of the log)'} summarized as ${canonical(actual) ?? 'nothing'}, the fold says ${canonical(expected) ?? 'nothing'}`);
    }
    const expectedRead = truth.readState(look.user, histories);
    const problems: string[] = [];
    if (!look.read || look.read.seq !== expectedRead.seq || look.read.unread !== expectedRead.unread) problems.push(`join ack read ${look.read ? `${look.read.seq} with ${look.read.unread} unread` : 'missing'}`);
    if (expectedRead.seq > 0 && look.unread !== expectedRead.unread) problems.push(`user:unread ${look.unread ?? 'lists no such room'}`);
    if (problems.length > 0) {
      result.readMismatches.relays++;
      note('relay read state mismatch', `${who}: ${problems.join(', ')}; the furthest marked or posted is ${expectedRead.seq} with ${expectedRead.unread} unread`);
    }
  }
  return result;
}

/** A room's final log, parsed: its annotations, the rules they broke, and folds of it. */
interface RoomTruth {
  log: RoomLog;
  entryById: Map<string, LogMessage>;
  annotations: LogMessage[];
  /** What the log says happened to each message (by `sender|id`): deleted, and who holds which reaction. */
  targets: Map<string, TargetRecord>;
  violations: string[];
  /** The fold of the log with `mine` for this user, by seq (memoized). */
  foldFor(user: string): Map<number, FoldedMessage>;
  /** The user's read position as marks and posts put it (capped at the head), and the messages after it. */
  readState(user: string, histories: MemberHistory[]): { seq: number; unread: number };
}

interface TargetRecord {
  message: LogMessage;
  deleted: boolean;
  /** `key|user` of the reactions held now, and of every reaction ever appended. */
  reactions: Set<string>;
  reactedEver: Set<string>;
}

function roomTruth(log: RoomLog): RoomTruth {
  const entries = log.messages.map(toLogMessage);
  const entryById = new Map(entries.map((entry) => [entry.id, entry]));
  const annotations = entries.filter((entry) => isAnnotationType(entry.type));
  const targets = new Map<string, TargetRecord>();
  const bySeq = new Map<number, TargetRecord>();
  const violations: string[] = [];
  for (const entry of entries) {
    if (!isAnnotationType(entry.type)) {
      const record: TargetRecord = { message: entry, deleted: false, reactions: new Set(), reactedEver: new Set() };
      targets.set(`${entry.sender}|${entry.id}`, record);
      bySeq.set(entry.seq, record);
      continue;
    }
    const annotation = parseAnnotation(entry.type, entry.body);
    if (typeof annotation === 'string' || annotation.type === 'pl:read') {
      violations.push(`seq ${entry.seq} (${entry.type}) was appended with a bad body: ${typeof annotation === 'string' ? annotation : 'pl:read'}`);
      continue;
    }
    const { target } = annotation;
    const from = target.from ?? entry.sender;
    const record = target.seq !== undefined ? bySeq.get(target.seq) : targets.get(`${from}|${target.id}`);
    const what = `seq ${entry.seq} (${entry.type} by ${entry.sender} of ${target.id})`;
    if (!record || record.message.id !== target.id || record.message.sender !== from) {
      // Unless retention trimmed its target away, the relay appended an annotation of nothing.
      const mayBeTrimmed = target.seq !== undefined ? target.seq < log.firstSeq : log.firstSeq > 1;
      if (!mayBeTrimmed) violations.push(`${what} has no target in the log`);
      continue;
    }
    if (record.deleted) {
      violations.push(`${what} came after its target was deleted`);
      continue;
    }
    const reaction = annotation.type === 'pl:react' || annotation.type === 'pl:unreact' ? `${annotation.key}|${entry.sender}` : '';
    switch (annotation.type) {
      case 'pl:edit':
      case 'pl:delete':
        if (entry.sender !== record.message.sender) violations.push(`${what}: only its sender (${record.message.sender}) may`);
        if (annotation.type === 'pl:delete') record.deleted = true;
        break;
      case 'pl:react':
        if (record.reactions.has(reaction)) violations.push(`${what}: ${entry.sender} held ${annotation.key} already (a noop, not an append)`);
        record.reactions.add(reaction);
        record.reactedEver.add(reaction);
        break;
      case 'pl:unreact':
        if (!record.reactions.delete(reaction)) violations.push(`${what}: ${entry.sender} held no ${annotation.key} (a noop, not an append)`);
        break;
    }
  }
  const folds = new Map<string, Map<number, FoldedMessage>>();
  return {
    log,
    entryById,
    annotations,
    targets,
    violations,
    foldFor(user) {
      let fold = folds.get(user);
      if (!fold) {
        fold = new Map(foldMessages(entries, { caller: user }).map((message) => [message.seq, message]));
        folds.set(user, fold);
      }
      return fold;
    },
    readState(user, histories) {
      let seq = 0;
      for (const history of histories) if ((history.user ?? history.member) === user && history.room === log.room) for (const mark of history.marks ?? []) seq = Math.max(seq, mark);
      for (const entry of entries) if (entry.sender === user && !isAnnotationType(entry.type)) seq = Math.max(seq, entry.seq);
      seq = Math.min(seq, log.headSeq);
      const unread = entries.filter((entry) => entry.seq > seq && !isAnnotationType(entry.type)).length;
      return { seq, unread };
    },
  };
}

function toLogMessage(entry: LogEntry): LogMessage {
  const { type, body, sender, ts } = entry;
  if (type === undefined || body === undefined || sender === undefined || ts === undefined) throw new TypeError(`log entry ${entry.seq} (${entry.id}) was read without its type, body, sender or ts`);
  return { seq: entry.seq, id: entry.id, type, body, sender, ts };
}

function unexplainedRefusal(annotation: QueuedAnnotation, kind: string, truth: RoomTruth): string | undefined {
  const { target } = annotation;
  if (kind === 'expired') return undefined;
  const record = truth.targets.get(`${target.from}|${target.id}`);
  const trimmed = target.seq < truth.log.firstSeq;
  if (kind === 'message_deleted') return trimmed || record?.deleted ? undefined : record ? 'but the log never deleted it' : undefined;
  if (kind === 'not_found') return record && !trimmed && record.message.seq === target.seq ? `but the log holds it at seq ${target.seq}` : undefined;
  return 'a refusal no member of this run should get';
}

function unexplainedNoop(annotation: QueuedAnnotation, user: string, truth: RoomTruth): string | undefined {
  const { target } = annotation;
  if (target.seq < truth.log.firstSeq) return undefined;
  const record = truth.targets.get(`${target.from}|${target.id}`);
  switch (annotation.type) {
    case 'pl:react':
      return record?.reactedEver.has(`${annotation.key}|${user}`) ? undefined : `but the log has no ${annotation.key} of ${user} on it before`;
    case 'pl:delete':
      return record?.deleted ? undefined : 'but the log never deleted it';
    case 'pl:unreact':
      // Holding none is what a noop unreact means; the log cannot tell when.
      return undefined;
    case 'pl:edit':
      return 'but an edit always changes its message';
  }
}

/** Why two folded states of one message differ (undefined: they do not). */
function foldedDifference(expected: FoldedMessage, shown: FoldedMessage): string | undefined {
  const a = comparable(expected);
  const b = comparable(shown);
  return canonical(a) === canonical(b) ? undefined : `is shown as ${canonical(b)}, the fold of the log says ${canonical(a)}`;
}

function comparable(message: FoldedMessage): unknown {
  if (message.deleted) return { deleted: true };
  return { body: message.body, edited: message.edited, editedAt: message.editedAt, reactions: reactionsOf(message.reactions) };
}

/** A folded message as a relay summary states it (undefined: nothing to summarize), comparable with normalizeSummary. */
function summaryOf(message: FoldedMessage): unknown {
  if (message.deleted) return { deleted: true };
  const reactions = reactionsOf(message.reactions);
  if (!message.edited && reactions === undefined) return undefined;
  return { ...(message.edited ? { body: message.body, editedAt: message.editedAt } : {}), ...(reactions ? { reactions } : {}) };
}

function normalizeSummary(summary: MessageSummary | undefined): unknown {
  if (!summary) return undefined;
  if (summary.deleted) return { deleted: true };
  const reactions = reactionsOf(Object.fromEntries(Object.entries(summary.reactions ?? {}).map(([key, reaction]) => [key, { count: reaction.count, mine: reaction.mine === true }])));
  const edited = summary.body !== undefined || summary.editedAt !== undefined;
  if (!edited && reactions === undefined) return undefined;
  return { ...(edited ? { body: summary.body === undefined ? undefined : parseBody(summary.body), editedAt: summary.editedAt } : {}), ...(reactions ? { reactions } : {}) };
}

/** Reactions with a count, sorted by key; undefined when none. */
function reactionsOf(reactions: Record<string, { count: number; mine: boolean }>): Record<string, { count: number; mine: boolean }> | undefined {
  const held = Object.entries(reactions).filter(([, reaction]) => reaction.count > 0);
  return held.length === 0 ? undefined : Object.fromEntries(held.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, { count, mine }]) => [key, { count, mine }]));
}

function parseBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** JSON with object keys sorted (undefined fields left out): equal values, equal text. */
function canonical(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === 'object' && !Array.isArray(inner) ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : inner,
  );
}

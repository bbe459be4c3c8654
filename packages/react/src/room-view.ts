import {
  checkBody,
  isAnnotationType,
  type FoldedMessage,
  type InvalidMessage,
  type MessageStatus,
  type PartylineError,
  type PendingMessage,
  type ResetContext,
  type Room,
  type RoomMessage,
  type StandardSchemaV1,
  type StatusContext,
} from '@partyline/sdk';
import { followWhileListened } from './use-store.js';

/** One reaction key on a message: how many members hold it, and whether this user is one of them. */
export interface Reaction {
  count: number;
  mine: boolean;
}

/** What edits and reactions left of a message (`room.messages()`' fold). */
interface Annotated {
  /** It was edited: `body` is the latest one. */
  edited: boolean;
  /** Relay time of the latest edit, epoch ms. */
  editedAt?: number;
  /** Per reaction key. */
  reactions: Readonly<Record<string, Reaction>>;
}

/** A message of the view with its latest body and its reactions. */
export interface LiveMessage<Body = unknown> extends RoomMessage<Body>, Annotated {
  deleted: false;
}

/** A message of the view its sender (or a moderator) deleted: it keeps its place, without a body or reactions. */
export interface DeletedMessage extends Omit<RoomMessage, 'body'>, Annotated {
  body: null;
  deleted: true;
}

/** A message of the view as its annotations left it (edited, deleted, reacted to): check `deleted` before reading `body`. */
export type ViewMessage<Body = unknown> = LiveMessage<Body> | DeletedMessage;

/**
 * One of this client's own messages that is not (or not yet) in the view: `pending` in the outbox,
 * `sent` (in the log, on its way to this tab), or refused for good (`failed`, `expired`).
 */
export interface OwnMessage<Body = unknown> extends PendingMessage {
  body: Body;
  status: MessageStatus;
  /** Its place in the log, once `sent`. */
  seq?: number | undefined;
  /** Why, when `failed` or `expired`. */
  error?: PartylineError | undefined;
}

/** A tab's view of a room, as {@link useMessages} hands it over. */
export interface MessagesView<Body = unknown> {
  /**
   * The messages of the room log as this tab sees it (`history()` then every `message` event — once
   * each, in seq order), each as its edits, deletion and reactions left it: an annotated message is
   * replaced by a new object in its place (the `update` events of `room.messages()`).
   */
  messages: readonly ViewMessage<Body>[];
  /** Messages of the view whose (latest) body failed the schema (the room's or `useMessages`'), in seq order, in their place. */
  invalid: readonly InvalidMessage[];
  /**
   * The log entries that annotate messages (types `pl:edit`, `pl:delete`, `pl:react`, `pl:unreact`),
   * in seq order: already folded into `messages`; with `messages` and `invalid` they make the gap-free view.
   */
  annotations: readonly RoomMessage[];
  /** Own messages not in `messages` yet, in the order this tab first saw them (publish order), with their status. */
  pending: readonly OwnMessage<Body>[];
  /** `history()` has answered: `messages` holds the view so far. */
  ready: boolean;
  /** The last `reset`: `epoch_changed` and `diverged` started `messages` over, `trimmed` left a hole. */
  reset: ResetContext | undefined;
}

/** The store behind `useMessages`/`usePending`: snapshots change only when something changed (React compares them by reference). */
export interface RoomView {
  subscribe(listener: () => void): () => void;
  get(): MessagesView;
}

const views = new WeakMap<Room, Map<StandardSchemaV1 | undefined, RoomView>>();

/** The one view store of `room` checked by `schema`. */
export function viewOf(room: Room, schema?: StandardSchemaV1): RoomView {
  const bySchema = views.get(room) ?? new Map<StandardSchemaV1 | undefined, RoomView>();
  views.set(room, bySchema);
  let view = bySchema.get(schema);
  if (!view) bySchema.set(schema, (view = createRoomView(room, schema)));
  return view;
}

/** Follows `room` while anyone subscribes: its view (history, messages, resets) and its own outbox entries. */
function createRoomView(room: Room, schema: StandardSchemaV1 | undefined): RoomView {
  let snapshot: MessagesView = { messages: [], invalid: [], annotations: [], pending: [], ready: false, reset: undefined };
  const followers = followWhileListened(attach);
  let messages: ViewMessage[] = [];
  let invalid: InvalidMessage[] = [];
  let annotations: RoomMessage[] = [];
  let messagesChanged = false;
  /** Messages that came before `history()` answered (since the last restart among them). */
  let early: (RoomMessage | InvalidMessage)[] | undefined;
  let reset: ResetContext | undefined;
  let ready = false;
  /** The room's outbox entries as last read; what settled since; entries seen (for the bodies of settled ones). */
  let outbox: PendingMessage[] = [];
  const settled = new Map<string, StatusContext>();
  const entries = new Map<string, PendingMessage>();
  let reading = false;
  let readAgain = false;
  let scheduled = false;
  let pendingKey = '';

  function attach(): () => void {
    early = [];
    const stops = [
      room.on('message', (message) => (early ? early.push(message) : append(message))),
      room.on('invalid', (message) => (early ? early.push(message) : append(message))),
      // Before history() answers, the messages it lists are read from the fold as it is then.
      room.on('update', ({ message }) => {
        if (!early) update(message);
      }),
      room.on('reset', (context) => {
        if (context.reason !== 'trimmed' && early) early = [];
        restart(context);
      }),
      room.on('status', (status) => {
        if (status.status !== 'pending') settled.set(status.id, status);
        void read();
      }),
    ];
    const stop = () => {
      for (const each of stops) each();
    };
    // history() answers the view so far, and the events continue it. The messages that came before
    // its answer are in it already (it reflects every restart before it) — unless the cache missed
    // them: keep the ones after its end. (An answer for an earlier attachment is a part of a later one's.)
    room.history().then((history) => {
      const view: (RoomMessage | InvalidMessage)[] = [...history, ...room.invalid()].sort((a, b) => a.seq - b.seq);
      const end = view.at(-1)?.seq ?? 0;
      for (const message of early ?? []) if (message.seq > end) view.push(message);
      early = undefined;
      messages = [];
      invalid = [];
      annotations = [];
      view.forEach(append);
      ready = messagesChanged = true;
      schedule();
    }, () => {});
    void read();
    return stop;
  }

  /** Adds the next entry of the view: an annotation, or a message as the fold has it now — or as invalid (the room's schema or this view's said so). */
  function append(entry: RoomMessage | InvalidMessage): void {
    if ('issues' in entry) invalid.push(entry);
    else if (isAnnotationType(entry.type)) annotations.push(entry);
    else {
      const folded = room.message(entry.id);
      const message = check(folded?.seq === entry.seq ? annotated(entry, folded) : asSent(entry));
      if ('issues' in message) invalid.push(message);
      else messages.push(message);
    }
    messagesChanged = true;
    schedule();
  }

  /** A message of the view changed (edited, deleted, reactions): its new state takes its place — in `invalid` if its new body fails the schema. */
  function update(folded: FoldedMessage): void {
    const listed = removeAt(messages, folded.seq, folded.id) ?? removeAt(invalid, folded.seq, folded.id);
    if (!listed) return; // not in the view (yet): it comes with its state
    const message = check(annotated(listed, folded));
    if ('issues' in message) insertAt(invalid, message);
    else insertAt(messages, message);
    messagesChanged = true;
    schedule();
  }

  /** The view's schema on the message's latest body (a deleted one has none to check). */
  function check(message: ViewMessage): ViewMessage | InvalidMessage {
    if (!schema || message.deleted) return message;
    const checked = checkBody(schema, message.body);
    if (!checked.issues) return { ...message, body: checked.value };
    const { edited: _edited, editedAt: _editedAt, deleted: _deleted, reactions: _reactions, ...plain } = message;
    return { ...plain, issues: checked.issues };
  }

  function restart(context: ResetContext): void {
    reset = context;
    if (context.reason !== 'trimmed') {
      messages = [];
      invalid = [];
      annotations = [];
      forgetSent();
    }
    messagesChanged = true;
    schedule();
  }

  /** Own messages sent into a log that was lost are not coming: stop showing them as on their way. */
  function forgetSent(): void {
    for (const [id, status] of settled) if (status.status === 'sent') settled.set(id, { ...status, seq: 0 });
  }

  /** Reads the outbox: one read at a time, and one more if asked meanwhile (a burst of statuses costs two). */
  async function read(): Promise<void> {
    if (reading) return void (readAgain = true);
    reading = true;
    do {
      readAgain = false;
      outbox = await room.pending().catch(() => outbox); // the client closed: nothing new
      for (const entry of outbox) entries.set(entry.id, entry);
      schedule();
    } while (readAgain);
    reading = false;
  }

  /** One snapshot for all the changes of a task. */
  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(publish);
  }

  function publish(): void {
    scheduled = false;
    // (An own annotation is sent when its entry is in the view: `annotations` may end later than `messages`.)
    const last = Math.max(messages.at(-1)?.seq ?? 0, invalid.at(-1)?.seq ?? 0, annotations.at(-1)?.seq ?? 0);
    const listed = new Set(outbox.map((entry) => entry.id));
    const arrived = ({ status, seq = 0 }: StatusContext) => status === 'sent' && seq <= last;
    // A sent one shows until the view has it; its record goes once no read lists it any more.
    for (const [id, done] of settled) if (arrived(done) && !listed.has(id)) settled.delete(id), entries.delete(id);
    const own: OwnMessage[] = [];
    for (const [id, entry] of entries) {
      // What settled wins over a read that started before it.
      const done = settled.get(id);
      if (done ? !arrived(done) : listed.has(id)) own.push({ ...entry, status: done?.status ?? 'pending', seq: done?.seq, error: done?.error });
      else if (!done) entries.delete(id);
    }
    const key = own.map((item) => `${item.id} ${item.status} ${item.attempts}`).join();
    if (key === pendingKey && !messagesChanged) return; // (a reset or the history answer changes messages too)
    snapshot = {
      messages: messagesChanged ? messages.slice() : snapshot.messages,
      invalid: messagesChanged ? invalid.slice() : snapshot.invalid,
      annotations: messagesChanged ? annotations.slice() : snapshot.annotations,
      pending: key === pendingKey ? snapshot.pending : own,
      ready,
      reset,
    };
    pendingKey = key;
    messagesChanged = false;
    followers.notify();
  }

  return {
    subscribe: followers.subscribe,
    get: () => snapshot,
  };
}

const NO_REACTIONS: Readonly<Record<string, Reaction>> = Object.freeze({});

/** A message no annotation reached yet, as its sender sent it. */
function asSent(message: RoomMessage): ViewMessage {
  return { ...message, edited: false, deleted: false, reactions: NO_REACTIONS };
}

/** `message` (its place, sender, type) with the fold's state of it. */
function annotated({ room, seq, id, type, sender, ts }: Omit<RoomMessage, 'body'>, folded: FoldedMessage): ViewMessage {
  const place = { room, seq, id, type, sender, ts, edited: folded.edited, reactions: folded.reactions, ...(folded.editedAt !== undefined ? { editedAt: folded.editedAt } : {}) };
  return folded.deleted ? { ...place, body: null, deleted: true } : { ...place, body: folded.body, deleted: false };
}

/** The index in a seq-ordered list where `seq` is or would go. */
function indexOfSeq(list: readonly { seq: number }[], seq: number): number {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (list[middle]!.seq < seq) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Takes the entry `seq`/`id` out of a seq-ordered list; answers it, if it was there. */
function removeAt<T extends { seq: number; id: string }>(list: T[], seq: number, id: string): T | undefined {
  const index = indexOfSeq(list, seq);
  return list[index]?.seq === seq && list[index].id === id ? list.splice(index, 1)[0] : undefined;
}

function insertAt<T extends { seq: number }>(list: T[], entry: T): void {
  list.splice(indexOfSeq(list, entry.seq), 0, entry);
}

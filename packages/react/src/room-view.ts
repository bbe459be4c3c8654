import { checkBody, type InvalidMessage, type MessageStatus, type PartylineError, type PendingMessage, type ResetContext, type Room, type RoomMessage, type StandardSchemaV1, type StatusContext } from '@partyline/sdk';

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
  /** The room log as this tab sees it: `history()` then every `message` event — once each, in seq order, no gap. */
  messages: readonly RoomMessage<Body>[];
  /** Messages of the view whose body failed the schema (the room's or `useMessages`'), in seq order: with `messages` they make the gap-free view. */
  invalid: readonly InvalidMessage[];
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
  let snapshot: MessagesView = { messages: [], invalid: [], pending: [], ready: false, reset: undefined };
  const listeners = new Set<() => void>();
  let stop: (() => void) | undefined;
  let messages: RoomMessage[] = [];
  let invalid: InvalidMessage[] = [];
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

  function attach(): void {
    early = [];
    const stops = [
      room.on('message', (message) => (early ? early.push(message) : append(message))),
      room.on('invalid', (message) => (early ? early.push(message) : append(message))),
      room.on('reset', (context) => {
        if (context.reason !== 'trimmed' && early) early = [];
        restart(context);
      }),
      room.on('status', (status) => {
        if (status.status !== 'pending') settled.set(status.id, status);
        void read();
      }),
    ];
    stop = () => {
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
      view.forEach(append);
      ready = messagesChanged = true;
      schedule();
    }, () => {});
    void read();
  }

  /** Adds the next message of the view: as a message, or as invalid (the room's schema or this view's said so). */
  function append(message: RoomMessage | InvalidMessage): void {
    const checked = 'issues' in message || !schema ? message : checkBody(schema, message.body);
    if ('issues' in checked && checked.issues) invalid.push({ ...message, issues: checked.issues });
    else messages.push('value' in checked ? { ...message, body: checked.value } : message);
    messagesChanged = true;
    schedule();
  }

  function restart(context: ResetContext): void {
    reset = context;
    if (context.reason !== 'trimmed') {
      messages = [];
      invalid = [];
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
    const last = messages.at(-1)?.seq ?? 0;
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
      pending: key === pendingKey ? snapshot.pending : own,
      ready,
      reset,
    };
    pendingKey = key;
    messagesChanged = false;
    listeners.forEach((listener) => listener());
  }

  return {
    subscribe(listener) {
      listeners.add(listener);
      if (!stop) attach();
      return () => {
        listeners.delete(listener);
        // Not at once: a StrictMode unmount + remount subscribes again in the same task.
        queueMicrotask(() => {
          if (listeners.size > 0 || !stop) return;
          stop();
          stop = undefined;
        });
      };
    },
    get: () => snapshot,
  };
}

import type { PublishHandle, Room, SchemaOutput, StandardSchemaV1 } from '@partyline/sdk';
import { useCallback } from './react.js';
import { useStore } from './use-store.js';
import { viewOf, type MessagesView, type OwnMessage, type ViewMessage } from './room-view.js';

/**
 * This tab's view of `room`, kept up to date: `messages` is the room log as the SDK hands it over
 * (`history()`, then each `message` event — once each, in seq order; started over on an
 * `epoch_changed`/`diverged` reset), each message folded with its edits, deletion and reactions (a
 * changed one is a new object in its place; the annotations themselves are in `annotations`),
 * `pending` the own messages (and edits, reactions…) not in it yet with their status.
 * Bodies are what other members sent: `Body` alone types them without checking. With a Standard
 * Schema (valibot, zod, arktype, …) every body is checked, synchronously: one that fails is listed in
 * `invalid`, in its place, and never in `messages` — one bad message cannot break rendering. The
 * schema is compared by identity: define it once (module level), not in render. A schema that
 * answers with a Promise fails every body (bodies are checked synchronously, to keep the order).
 *
 * @example
 * const Chat = v.object({ text: v.string() });
 * const { messages, invalid, pending, ready } = useMessages(room, { schema: Chat });
 * messages.map((m) => <li key={m.id}>{m.sender}: {m.deleted ? <i>deleted</i> : m.body.text}{m.edited && ' (edited)'}</li>);
 */
export function useMessages<Body = unknown>(room: Room): MessagesView<Body>;
export function useMessages<Schema extends StandardSchemaV1>(room: Room, options: { schema: Schema }): MessagesView<SchemaOutput<Schema>>;
export function useMessages(room: Room, options?: { schema?: StandardSchemaV1 | undefined }): MessagesView {
  const view = viewOf(room, options?.schema);
  return useStore(view, view.subscribe, view.get);
}

/**
 * One message of `room`'s view (see {@link useMessages}, without a schema) as its edits, deletion and
 * reactions left it; undefined while the view does not hold it. Re-renders when that message changes
 * (or the view starts over), so a list can render each line with its own hook.
 *
 * @example
 * const message = useMessage<{ text: string }>(room, id);
 * if (!message || message.deleted) return null;
 * return <p>{message.body.text} {Object.entries(message.reactions).map(([key, { count }]) => `${key} ${count}`)}</p>;
 */
export function useMessage<Body = unknown>(room: Room, id: string): ViewMessage<Body> | undefined {
  const view = viewOf(room);
  return useStore(view, view.subscribe, () => messageIn(view.get(), id) as ViewMessage<Body> | undefined);
}

/** Each snapshot's messages by id (built once per snapshot, on the first look-up), newest of an id wins. */
const indexes = new WeakMap<MessagesView, Map<string, ViewMessage>>();

function messageIn(snapshot: MessagesView, id: string): ViewMessage | undefined {
  let index = indexes.get(snapshot);
  if (!index) indexes.set(snapshot, (index = new Map(snapshot.messages.map((message) => [message.id, message]))));
  return index.get(id);
}

/**
 * Own messages of `room` not in the view yet, in publish order (as this tab first saw them): `pending`
 * in the outbox (this tab, other tabs, earlier sessions), `sent` on their way here, or
 * `failed`/`expired` with the error.
 *
 * @example
 * const queued = usePending(room).filter((m) => m.status === 'pending').length;
 */
export function usePending<Body = unknown>(room: Room): readonly OwnMessage<Body>[] {
  const view = viewOf(room);
  return useStore(view, view.subscribe, () => view.get().pending as readonly OwnMessage<Body>[]);
}

/**
 * A stable function that queues a message in `room` (resolves once it is in the outbox; see `room.publish`).
 *
 * @example
 * const publish = usePublish<{ text: string }>(room);
 * await publish('chat', { text: 'I bring the cake' });
 */
export function usePublish<Body = unknown>(room: Room): (type: string, body: Body) => Promise<PublishHandle> {
  return useCallback((type: string, body: Body) => room.publish(type, body), [room]);
}

import type { PublishHandle, Room, SchemaOutput, StandardSchemaV1 } from '@partyline/sdk';
import { useCallback } from './react.js';
import { useStore } from './use-store.js';
import { viewOf, type MessagesView, type OwnMessage } from './room-view.js';

/**
 * This tab's view of `room`, kept up to date: `messages` is the room log as the SDK hands it over
 * (`history()`, then each `message` event — once each, in seq order; started over on an
 * `epoch_changed`/`diverged` reset), `pending` the own messages not in it yet with their status.
 * Bodies are what other members sent: `Body` alone types them without checking. With a Standard
 * Schema (valibot, zod, arktype, …) every body is checked, synchronously: one that fails is listed in
 * `invalid`, in its place, and never in `messages` — one bad message cannot break rendering. The
 * schema is compared by identity: define it once (module level), not in render. A schema that
 * answers with a Promise fails every body (bodies are checked synchronously, to keep the order).
 *
 * @example
 * const Chat = v.object({ text: v.string() });
 * const { messages, invalid, pending, ready } = useMessages(room, { schema: Chat });
 * messages.map((m) => <li key={m.id}>{m.sender}: {m.body.text}</li>);
 */
export function useMessages<Body = unknown>(room: Room): MessagesView<Body>;
export function useMessages<Schema extends StandardSchemaV1>(room: Room, options: { schema: Schema }): MessagesView<SchemaOutput<Schema>>;
export function useMessages(room: Room, options?: { schema?: StandardSchemaV1 | undefined }): MessagesView {
  const view = viewOf(room, options?.schema);
  return useStore(view, view.subscribe, view.get);
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

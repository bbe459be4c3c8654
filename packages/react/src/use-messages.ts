import type { PublishHandle, Room } from '@partyline/sdk';
import { useCallback } from './react.js';
import { useStore } from './use-store.js';
import { viewOf, type MessagesView, type OwnMessage } from './room-view.js';

/**
 * This tab's view of `room`, kept up to date: `messages` is the room log as the SDK hands it over
 * (`history()`, then each `message` event — once each, in seq order; started over on an
 * `epoch_changed`/`diverged` reset), `pending` the own messages not in it yet with their status.
 * `Body` types the message bodies (not checked at run time: validate untrusted input yourself).
 *
 * @example
 * const { messages, pending, ready } = useMessages<{ text: string }>(room);
 * messages.map((m) => <li key={m.id}>{m.sender}: {m.body.text}</li>);
 */
export function useMessages<Body = unknown>(room: Room): MessagesView<Body> {
  const view = viewOf(room);
  return useStore(view, view.subscribe, view.get) as MessagesView<Body>;
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

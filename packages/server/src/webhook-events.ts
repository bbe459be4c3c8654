import type { ApiBody, ApiMessage, ApiPresenceMember } from './api-values.js';

/** The `message.appended` event, as the receiver gets it: `data.body` is the JSON value published (`bodyText` if it was not JSON). */
export interface MessageAppendedEvent {
  type: 'message.appended';
  /** When it was sent, ISO 8601. */
  timestamp: string;
  data: ApiMessage & { room: string; epoch: string };
}

/** Presence events: a member joined, left or changed its data (a JSON value); a room got its first member or lost its last. */
export interface PresenceEvent {
  type: 'presence.joined' | 'presence.left' | 'presence.updated' | 'room.occupied' | 'room.vacated';
  timestamp: string;
  data: { room: string; member?: ApiPresenceMember; members: number };
}

/** The message an annotation changed: its id and sender, and its seq when the annotation named it. */
export interface AnnotationTarget {
  id: string;
  from: string;
  seq?: number;
}

/** What every annotation event carries: the annotation's own `id`, `seq`, `sender` and `ts`, and its target. */
export interface AnnotationEventData {
  room: string;
  epoch: string;
  id: string;
  seq: number;
  sender: string;
  ts: number;
  target: AnnotationTarget;
}

/** A message was edited: `data.body` is its new body as a JSON value (`bodyText` if it was not JSON). */
export interface MessageUpdatedEvent {
  type: 'message.updated';
  timestamp: string;
  data: AnnotationEventData & ApiBody;
}

/** A message was deleted (by its sender, or by a caller with `moderate`). */
export interface MessageDeletedEvent {
  type: 'message.deleted';
  timestamp: string;
  data: AnnotationEventData;
}

/** A member added or removed a reaction (`data.key`, e.g. an emoji) on a message. */
export interface ReactionEvent {
  type: 'reaction.added' | 'reaction.removed';
  timestamp: string;
  data: AnnotationEventData & { key: string };
}

/** Every webhook event the relay sends; switch on `type`. */
export type PartylineWebhookEvent = MessageAppendedEvent | MessageUpdatedEvent | MessageDeletedEvent | ReactionEvent | PresenceEvent;

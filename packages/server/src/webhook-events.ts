import type { ApiMessage, ApiPresenceMember } from './api-values.js';

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

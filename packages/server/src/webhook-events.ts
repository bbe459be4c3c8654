import type { LogMessage, PresenceChange } from '@partyline/protocol';

/** The `message.appended` event, as the receiver gets it (JSON body). */
export interface MessageAppendedEvent {
  type: 'message.appended';
  /** When it was sent, ISO 8601. */
  timestamp: string;
  data: LogMessage & { room: string; epoch: string };
}

/** Presence events: a member joined, left or changed its data; a room got its first member or lost its last. */
export interface PresenceEvent {
  type: 'presence.joined' | 'presence.left' | 'presence.updated' | 'room.occupied' | 'room.vacated';
  timestamp: string;
  data: { room: string; member?: PresenceChange['member']; members: number };
}

// Plain constants, no schemas: what the browser SDK imports of the event names stays free of valibot.

/** Event names a client may emit. Anything else is answered with `unknown_event`. */
export const ClientEvent = {
  Join: 'room:join',
  Leave: 'room:leave',
  Read: 'room:read',
  Publish: 'room:publish',
  Signal: 'room:signal',
  PresenceEnter: 'presence:enter',
  PresenceLeave: 'presence:leave',
  PresenceGet: 'presence:get',
  /** The caller's unread counts, per room it read or wrote in. */
  Unread: 'user:unread',
} as const;
export type ClientEvent = (typeof ClientEvent)[keyof typeof ClientEvent];

/** Event names a relay emits. */
export const ServerEvent = {
  /** New messages of a joined room, in sequence order within one event. */
  Messages: 'room:messages',
  /** Members' read positions moved (receipts; to members whose token grants `receipts`, and to the reader's own connections). */
  Reads: 'room:reads',
  /** An ephemeral signal from another member. */
  Signal: 'room:signal',
  /** Changes to a room's presence (members joined, left, updated). */
  Presence: 'room:presence',
  /** An error that could not be delivered as an ack (no ack callback, unknown event). */
  Error: 'relay:error',
  /** The relay is shutting down: reconnect to another relay after `reconnectAfterMs`. */
  Drain: 'relay:drain',
} as const;
export type ServerEvent = (typeof ServerEvent)[keyof typeof ServerEvent];

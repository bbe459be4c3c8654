import type { LogMessage, PresenceMember, PresenceSnapshot, RoomPage } from '@partyline/protocol';

/**
 * A message body as the HTTP API and webhooks hand it back: `body`, the JSON value that was published
 * (the shape `publish` takes). The socket protocol carries bodies as text and a raw socket client may
 * publish text that is not JSON (or JSON nesting deeper than 64 levels): such a body comes back as
 * `bodyText`, with `body` absent.
 */
export type ApiBody = { body: unknown; bodyText?: never } | { bodyText: string; body?: never };

/** A log message from `history()` and `message.appended` webhooks. */
export type ApiMessage = Omit<LogMessage, 'body'> & ApiBody;

/** A page of a room log from `history()` (`GET /v1/rooms/{room}/messages`). */
export type ApiPage = Omit<RoomPage, 'messages'> & { messages: ApiMessage[] };

/**
 * A present member from `presence()` and presence webhooks: `data`, the JSON value it entered with
 * (absent when it entered without any), or `dataText` when that was text but not JSON.
 */
export type ApiPresenceMember = Omit<PresenceMember, 'data'> & ({ data?: unknown; dataText?: never } | { dataText: string; data?: never });

/** Who is in a room now (`GET /v1/rooms/{room}/presence`). */
export type ApiPresence = Omit<PresenceSnapshot, 'members'> & { room: string; members: ApiPresenceMember[] };

import { AnnotationType, parseAnnotation, type LogMessage } from '@partyline/protocol';
import { apiMessage, parseJsonText } from './api-json.js';

/** An event as queued and dead-lettered: its body without the send-time `timestamp`. */
export interface WebhookEvent {
  type: string;
  data: unknown;
}

const ANNOTATION_EVENTS = {
  [AnnotationType.Edit]: 'message.updated',
  [AnnotationType.Delete]: 'message.deleted',
  [AnnotationType.React]: 'reaction.added',
  [AnnotationType.Unreact]: 'reaction.removed',
} as const;

/**
 * The webhook event of one log entry: `message.appended` for a message; for an annotation what it
 * did to its target (`message.updated` with the new body as a JSON value, `message.deleted`,
 * `reaction.added` / `reaction.removed` with the key), `seq` and `id` being the annotation's own.
 * The relay stored only annotations that passed its rules, so each one did what it says.
 */
export function logEntryEvent(room: string, epoch: string, entry: LogMessage): WebhookEvent {
  const annotation = entry.type in ANNOTATION_EVENTS ? parseAnnotation(entry.type, entry.body) : undefined;
  if (annotation === undefined || typeof annotation === 'string' || annotation.type === AnnotationType.Read) {
    return { type: 'message.appended', data: { room, epoch, ...apiMessage(entry) } };
  }
  const { id, seq, sender, ts } = entry;
  const target = { id: annotation.target.id, from: annotation.target.from ?? sender, ...(annotation.target.seq !== undefined ? { seq: annotation.target.seq } : {}) };
  const data = { room, epoch, id, seq, sender, ts, target };
  switch (annotation.type) {
    case AnnotationType.Edit: {
      const body = parseJsonText(annotation.body);
      return { type: ANNOTATION_EVENTS[annotation.type], data: { ...data, ...(body.ok ? { body: body.value } : { bodyText: annotation.body }) } };
    }
    case AnnotationType.Delete:
      return { type: ANNOTATION_EVENTS[annotation.type], data };
    default:
      return { type: ANNOTATION_EVENTS[annotation.type], data: { ...data, key: annotation.key } };
  }
}

export { secretKey, signAccessToken } from './tokens.js';
export type { SignTokenInput } from './tokens.js';
export { createServerClient, PartylineApiError } from './server-client.js';
export type { Annotated, Appended, ServerClient, ServerClientOptions } from './server-client.js';
export { secretBytes, signWebhook, verifyWebhook } from './webhook-signature.js';
export type { WebhookCheck } from './webhook-signature.js';
export type {
  AnnotationEventData,
  AnnotationTarget,
  MessageAppendedEvent,
  MessageDeletedEvent,
  MessageUpdatedEvent,
  PartylineWebhookEvent,
  PresenceEvent,
  ReactionEvent,
} from './webhook-events.js';
export type { ApiBody, ApiMessage, ApiPage, ApiPresence, ApiPresenceMember } from './api-values.js';

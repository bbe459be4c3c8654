export { PartylineProvider, useClient, useConnectionReason, useConnectionState } from './provider.js';
export type { PartylineProviderProps } from './provider.js';
export { useRoom } from './use-room.js';
export { useMessages, usePending, usePublish } from './use-messages.js';
export type { MessagesView, OwnMessage } from './room-view.js';
export { usePresence } from './use-presence.js';
export { useErrors } from './use-errors.js';
export type { PartylineErrors } from './use-errors.js';
export { isValidRoomName } from '@partyline/sdk';

import type { WireError } from './errors.js';

/** The answer to every request that takes an ack: its result, or one typed error for the whole request. */
export type Ack<T extends object> = ({ ok: true } & T) | { ok: false; error: WireError };

/** Callback Socket.IO hands an event handler when the sender asked for an ack. */
export type AckCallback<T extends object> = (ack: Ack<T>) => void;

import {
  ErrorKind,
  HandshakeAuthSchema,
  SUPPORTED_PROTOCOL_VERSIONS,
  validate,
  wireError,
  type RoomGrant,
  type WireError,
} from '@partyline/protocol';
import type { TokenCheck } from './tokens.js';

/** What the relay knows about a connection once its handshake passed. */
export interface ConnectionIdentity {
  sub: string;
  /** What the token allows, per room pattern. */
  grants: RoomGrant[];
  /** Token expiry, epoch milliseconds. */
  expiresAt: number;
  /** The protocol version the client speaks (1 when it did not say). */
  protocol: number;
}

/** Checks a Socket.IO handshake's `auth` field: protocol version, then the token (with `verify`). */
export async function authenticateHandshake(
  auth: unknown,
  verify: (token: string) => Promise<TokenCheck>,
): Promise<{ ok: true; identity: ConnectionIdentity } | { ok: false; error: WireError }> {
  const handshake = validate(HandshakeAuthSchema, auth);
  if (!handshake.ok) {
    return { ok: false, error: wireError(ErrorKind.Unauthorized, 'missing token: connect with auth: { token }') };
  }
  const { token, protocol } = handshake.value;
  if (protocol !== undefined && !SUPPORTED_PROTOCOL_VERSIONS.includes(protocol)) {
    const supported = SUPPORTED_PROTOCOL_VERSIONS.join(', ');
    return { ok: false, error: wireError(ErrorKind.UnsupportedProtocol, `protocol ${protocol} not supported (supported: ${supported})`) };
  }
  const check = await verify(token);
  if (!check.ok) return check;
  return { ok: true, identity: { sub: check.claims.sub, grants: check.grants, expiresAt: check.claims.exp * 1000, protocol: protocol ?? 1 } };
}

/** A Socket.IO middleware error: clients see `message` and the typed error in `err.data`. */
export function connectError(error: WireError): Error & { data: WireError } {
  return Object.assign(new Error(`${error.kind}: ${error.message}`), { data: error });
}

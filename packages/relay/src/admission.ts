import type { IncomingMessage } from 'node:http';

/**
 * What an unauthenticated peer may cost: before a connection's token is accepted, the WebSocket
 * reads frames of at most a few KiB — a bigger one is refused from its header, before its payload
 * is read or parsed (ws closes with 1009). Once accepted, the post-auth limit applies.
 *
 * ws takes one `maxPayload` per server; the per-connection limit lives on its frame receiver. Where
 * that is not reachable (a transport other than WebSocket, a future ws), the server-wide limit
 * (the post-auth one) still applies.
 */
export function setFrameLimit(engineSocket: unknown, maxBytes: number): boolean {
  const receiver = (engineSocket as { transport?: { socket?: { _receiver?: { _maxPayload?: number } } } }).transport?.socket?._receiver;
  if (!receiver || typeof receiver._maxPayload !== 'number') return false;
  receiver._maxPayload = maxBytes;
  return true;
}

/** The peer's address, for per-address limits (the TCP peer: a proxy in front should limit by client itself). */
export function peerAddress(request: IncomingMessage | undefined, fallback = 'unknown'): string {
  return request?.socket?.remoteAddress ?? fallback;
}

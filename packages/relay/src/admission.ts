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

/**
 * Stops or restarts reading a connection: while stopped, what the peer keeps sending waits in TCP
 * buffers (its own send buffer once ours is full) and costs the relay nothing. ws finishes the
 * frames it already holds. Returns false where the transport cannot pause (long-polling).
 */
export function setReading(engineSocket: unknown, reading: boolean): boolean {
  const ws = (engineSocket as { transport?: { socket?: { pause?: () => void; resume?: () => void } } }).transport?.socket;
  if (typeof ws?.pause !== 'function' || typeof ws.resume !== 'function') return false;
  if (reading) ws.resume();
  else ws.pause();
  return true;
}

/** The peer's address, for per-address limits (the TCP peer: a proxy in front should limit by client itself). */
export function peerAddress(request: IncomingMessage | undefined, fallback = 'unknown'): string {
  return request?.socket?.remoteAddress ?? fallback;
}

/**
 * TCP connections per address that do not (yet) carry an accepted token: handshakes in progress,
 * sessions waiting for CONNECT, plain HTTP requests. Each holds memory until it authenticates or
 * closes (the connect timeout, HTTP keep-alive timeout); capping them per address bounds what one
 * peer can make the relay hold before it has shown a token, however fast it opens them.
 */
export class PendingHandshakes {
  private readonly byAddress = new Map<string, number>();
  private readonly held = new WeakMap<object, string>();

  constructor(readonly maxPerAddress: number) {}

  isFull(address: string): boolean {
    return (this.byAddress.get(address) ?? 0) >= this.maxPerAddress;
  }

  hold(connection: object, address: string): void {
    this.held.set(connection, address);
    this.byAddress.set(address, (this.byAddress.get(address) ?? 0) + 1);
  }

  /** Idempotent: called when the connection's token is accepted and again when it closes. */
  release(connection: object): void {
    const address = this.held.get(connection);
    if (address === undefined) return;
    this.held.delete(connection);
    const left = (this.byAddress.get(address) ?? 1) - 1;
    if (left > 0) this.byAddress.set(address, left);
    else this.byAddress.delete(address);
  }
}

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
 *
 * No listener is added to a connection (a `once('close')` kept on every open socket cost ~400 bytes
 * each, wrapper, closure and a grown listener array, for the socket's whole life): one that closed
 * without being released is forgotten when its address is next checked at the cap, and by `sweep()`.
 */
export class PendingHandshakes<T extends object = object> {
  private readonly byAddress = new Map<string, Set<T>>();
  private readonly held = new WeakMap<T, string>();

  constructor(
    readonly maxPerAddress: number,
    private readonly isClosed: (connection: T) => boolean,
  ) {}

  isFull(address: string): boolean {
    const open = this.byAddress.get(address);
    if (!open || open.size < this.maxPerAddress) return false;
    this.prune(address, open);
    return open.size >= this.maxPerAddress;
  }

  hold(connection: T, address: string): void {
    let open = this.byAddress.get(address);
    if (!open) this.byAddress.set(address, (open = new Set()));
    open.add(connection);
    this.held.set(connection, address);
  }

  /** Idempotent: called when the connection's token is accepted (a closed one is also pruned). */
  release(connection: T): void {
    const address = this.held.get(connection);
    if (address === undefined) return;
    this.held.delete(connection);
    const open = this.byAddress.get(address);
    if (!open) return;
    open.delete(connection);
    if (open.size === 0) this.byAddress.delete(address);
  }

  /** Forgets every closed connection (the relay's periodic sweep): none is kept more than a sweep. */
  sweep(): void {
    for (const [address, open] of this.byAddress) this.prune(address, open);
  }

  private prune(address: string, open: Set<T>): void {
    for (const connection of open) {
      if (!this.isClosed(connection)) continue;
      open.delete(connection);
      this.held.delete(connection);
    }
    if (open.size === 0) this.byAddress.delete(address);
  }
}

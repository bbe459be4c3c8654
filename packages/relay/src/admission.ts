import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

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

/** The TCP peer's address: the client itself, or the proxy in front of it. */
export function peerAddress(request: IncomingMessage | undefined, fallback = 'unknown'): string {
  return request?.socket?.remoteAddress ?? fallback;
}

/**
 * Which TCP peers are proxies whose `X-Forwarded-For` the relay believes: the nearest `hops` of them
 * (every peer counts as a proxy: the relay must be reachable through them only), or the peers at
 * `proxies` (addresses and CIDRs, IPv4 and IPv6).
 */
export type ProxyTrust = { hops: number } | { proxies: BlockList };

/**
 * Reads `--trust-proxy`: a hop count, or addresses/CIDRs (`127.0.0.1/32`, `10.0.0.0/8`, `fd00::/8`,
 * a bare address is one host). 0 or an empty list: off. Throws RangeError on anything else.
 */
export function proxyTrust(setting: number | readonly string[]): ProxyTrust | undefined {
  if (typeof setting === 'number') {
    if (!Number.isSafeInteger(setting) || setting < 0) throw new RangeError(`trustProxy hop count must be a non-negative integer, got ${setting}`);
    return setting === 0 ? undefined : { hops: setting };
  }
  if (setting.length === 0) return undefined;
  const proxies = new BlockList();
  for (const entry of setting) {
    const [network = '', prefix, extra] = entry.trim().split('/');
    const family = isIP(network);
    const bits = family === 4 ? 32 : 128;
    const length = prefix === undefined ? bits : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
    if (family === 0 || extra !== undefined || !(length <= bits)) throw new RangeError(`trustProxy: ${JSON.stringify(entry)} is not an IPv4/IPv6 address or CIDR`);
    proxies.addSubnet(network, length, family === 4 ? 'ipv4' : 'ipv6');
  }
  return { proxies };
}

/** Whether the relay believes this TCP peer's `X-Forwarded-For` (IPv4-mapped IPv6 peers match IPv4 entries). */
export function isTrustedProxy(peer: string, trust: ProxyTrust | undefined): boolean {
  if (!trust) return false;
  if ('hops' in trust) return true;
  const family = isIP(peer);
  return family !== 0 && trust.proxies.check(peer, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * The client's address, for per-address limits, logs and metrics: the TCP peer, unless that peer is a
 * trusted proxy — then `X-Forwarded-For` is read from the right (each proxy appends the peer it saw)
 * past trusted hops to the first untrusted one. Entries left of it are whatever the client sent and
 * never count. A malformed entry ends the walk at the last real hop, so junk cannot mint new addresses.
 */
export function clientAddress(request: IncomingMessage | undefined, trust: ProxyTrust | undefined): string {
  let address = peerAddress(request);
  const forwarded = request?.headers['x-forwarded-for'];
  if (!trust || typeof forwarded !== 'string' || !isTrustedProxy(address, trust)) return address;
  const hops = forwarded.split(',');
  for (let trusted = 1; hops.length > 0; trusted++) {
    const hop = withoutPort(hops.pop()!.trim());
    if (hop === undefined) return address;
    address = hop;
    const believed = 'hops' in trust ? trusted < trust.hops : isTrustedProxy(hop, trust);
    if (!believed) return address;
  }
  return address;
}

/** An X-Forwarded-For entry as a bare address (some proxies add `:port` or `[v6]:port`); undefined when it is none. */
function withoutPort(hop: string): string | undefined {
  const bare = /^\[([^\]]+)\](?::\d+)?$/.exec(hop)?.[1] ?? /^([\d.]+):\d+$/.exec(hop)?.[1] ?? hop;
  return isIP(bare) === 0 ? undefined : bare;
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

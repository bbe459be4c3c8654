import type { Logger } from 'pino';

/** One line per window at most, however many handshakes a flood makes the relay refuse. */
export const REFUSAL_LOG_WINDOW_MS = 10_000;
/** The forwarded-headers notice repeats at most this often. */
export const FORWARDED_NOTICE_EVERY_MS = 3_600_000;
/** Addresses counted one by one per window; past this a flood from many addresses counts as `other`. */
const MAX_ADDRESSES = 1_000;
const TOP_ADDRESSES = 5;

/**
 * What operators need to see about admission in a default (info) log: refused handshakes, summed per
 * window by kind and by client address ("stuck connecting" leaves a trace, a flood one line per 10 s),
 * and a notice when clients arrive through a proxy the relay does not trust.
 */
export class HandshakeLog {
  private refusals = new Map<string, number>();
  private addresses = new Map<string, number>();
  private otherAddresses = 0;
  private window: ReturnType<typeof setTimeout> | undefined;
  private forwardedNoticeAt = -Infinity;

  constructor(
    private readonly logger: Logger,
    private readonly windowMs = REFUSAL_LOG_WINDOW_MS,
  ) {}

  /** Counts a refused handshake (`kind`: the error kind the client was given, as in the metric). */
  refused(kind: string, address: string): void {
    this.refusals.set(kind, (this.refusals.get(kind) ?? 0) + 1);
    const seen = this.addresses.get(address);
    if (seen !== undefined || this.addresses.size < MAX_ADDRESSES) this.addresses.set(address, (seen ?? 0) + 1);
    else this.otherAddresses++;
    this.window ??= setTimeout(() => this.flush(), this.windowMs).unref();
  }

  /** Requests carry X-Forwarded-For but the relay trusts no proxy: every client behind it is one address. */
  forwardedIgnored(proxy: string): void {
    const now = Date.now();
    if (now - this.forwardedNoticeAt < FORWARDED_NOTICE_EVERY_MS) return;
    this.forwardedNoticeAt = now;
    this.logger.warn(
      { proxy, flag: '--trust-proxy', env: 'TRUST_PROXY' },
      'requests carry X-Forwarded-For but no proxy is trusted: every client behind this proxy counts as its address (one shared per-address limit); start the relay with --trust-proxy naming the proxy hop',
    );
  }

  /** Logs the window's refusals now (if any) and starts a new window. */
  flush(): void {
    clearTimeout(this.window);
    this.window = undefined;
    if (this.refusals.size === 0) return;
    let total = 0;
    for (const count of this.refusals.values()) total += count;
    const top = [...this.addresses].sort((a, b) => b[1] - a[1]).slice(0, TOP_ADDRESSES);
    this.logger.info(
      {
        refused: total,
        byKind: Object.fromEntries(this.refusals),
        topAddresses: top.map(([address, count]) => ({ address, count })),
        addresses: this.addresses.size,
        // Refusals from addresses past the first MAX_ADDRESSES of the window.
        ...(this.otherAddresses > 0 ? { otherAddressRefusals: this.otherAddresses } : {}),
        windowMs: this.windowMs,
      },
      'handshakes refused',
    );
    this.refusals = new Map();
    this.addresses = new Map();
    this.otherAddresses = 0;
  }
}

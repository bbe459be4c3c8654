/**
 * Refused handshakes show in a default (info) log, summed: a client "stuck connecting" leaves a trace,
 * and a flood of refusals is one line per window, not one per refusal.
 */
import { PROTOCOL_VERSION } from '@partyline/protocol';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FORWARDED_NOTICE_EVERY_MS, HandshakeLog, REFUSAL_LOG_WINDOW_MS } from '../src/handshake-log.js';
import { connectRefusal, startRelay } from './support/harness.js';

/** A pino logger at info whose JSON lines land in `lines`. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines, named: (msg: string) => lines.filter((line) => line.msg === msg) };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('HandshakeLog', () => {
  it('sums refusals per window by kind and address: one info line per window', () => {
    vi.useFakeTimers();
    const { logger, named } = capturingLogger();
    const log = new HandshakeLog(logger);
    for (let i = 0; i < 5_000; i++) log.refused('rate_limited', '198.51.100.1');
    for (let i = 0; i < 300; i++) log.refused('unauthorized', `203.0.113.${i % 3}`);
    log.refused('token_expired', '2001:db8::7');
    expect(named('handshakes refused')).toEqual([]);
    vi.advanceTimersByTime(REFUSAL_LOG_WINDOW_MS);
    const [line, ...more] = named('handshakes refused');
    expect(more).toEqual([]);
    expect(line).toMatchObject({
      level: 30,
      refused: 5_301,
      byKind: { rate_limited: 5_000, unauthorized: 300, token_expired: 1 },
      addresses: 5,
      windowMs: REFUSAL_LOG_WINDOW_MS,
    });
    expect((line!.topAddresses as { address: string; count: number }[])[0]).toEqual({ address: '198.51.100.1', count: 5_000 });
    expect((line!.topAddresses as unknown[]).length).toBe(5);

    // Quiet windows log nothing; the next refusal opens a new window.
    vi.advanceTimersByTime(5 * REFUSAL_LOG_WINDOW_MS);
    expect(named('handshakes refused').length).toBe(1);
    log.refused('draining', '198.51.100.9');
    vi.advanceTimersByTime(REFUSAL_LOG_WINDOW_MS);
    expect(named('handshakes refused')[1]).toMatchObject({ refused: 1, byKind: { draining: 1 }, topAddresses: [{ address: '198.51.100.9', count: 1 }] });
  });

  it('counts a flood from very many addresses without keeping them all', () => {
    vi.useFakeTimers();
    const { logger, named } = capturingLogger();
    const log = new HandshakeLog(logger);
    for (let i = 0; i < 50_000; i++) log.refused('rate_limited', `2001:db8::${i.toString(16)}`);
    log.flush();
    expect(named('handshakes refused')[0]).toMatchObject({ refused: 50_000, addresses: 1_000, otherAddressRefusals: 49_000 });
  });

  it('says once (an hour) that forwarded headers are ignored', () => {
    vi.useFakeTimers();
    const { logger, lines } = capturingLogger();
    const log = new HandshakeLog(logger);
    for (let i = 0; i < 1_000; i++) log.forwardedIgnored('10.0.0.5');
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatchObject({ level: 40, proxy: '10.0.0.5', flag: '--trust-proxy', env: 'TRUST_PROXY' });
    vi.advanceTimersByTime(FORWARDED_NOTICE_EVERY_MS);
    log.forwardedIgnored('10.0.0.5');
    expect(lines.length).toBe(2);
  });
});

describe('a relay refusing handshakes', () => {
  it('logs them at info, summed, with the kinds and addresses (not one line each)', async () => {
    const { logger, named } = capturingLogger();
    const { relay, url } = await startRelay({ logger });
    const kinds = [];
    for (let i = 0; i < 30; i++) kinds.push((await connectRefusal(url, { token: 'not-a-token', protocol: PROTOCOL_VERSION })).kind);
    // The window has not ended yet; closing the relay writes what it holds.
    await relay.close();
    const lines = named('handshakes refused');
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatchObject({ level: 30, refused: 30, byKind: { [kinds[0]!]: 30 }, topAddresses: [{ address: '127.0.0.1', count: 30 }] });
  });
});

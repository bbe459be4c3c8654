import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures in the Standard Webhooks scheme: HMAC-SHA256 over `<id>.<timestamp>.<raw body>`
 * with the endpoint's secret (`whsec_<base64>`), sent as `webhook-signature: v1,<base64>` next to
 * `webhook-id` (stable per event: receivers dedup by it) and `webhook-timestamp` (seconds).
 */
export function secretBytes(secret: string): Buffer {
  const bytes = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
  if (bytes.length < 24) throw new RangeError('webhook secret must be whsec_ followed by at least 24 bytes of base64');
  return bytes;
}

export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', secretBytes(secret)).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

export interface WebhookCheck {
  ok: boolean;
  /** Why it was refused. */
  reason?: 'missing headers' | 'timestamp too old or in the future' | 'signature mismatch';
}

/**
 * Checks a webhook request as a receiver: headers present, timestamp within `toleranceSeconds` of
 * now (replays), and one of the `v1` signatures matching the raw body (read the body as text before
 * parsing it).
 *
 * @example
 * const check = verifyWebhook(process.env.WEBHOOK_SECRET!, req.headers, rawBody);
 * if (!check.ok) return res.status(400).end(check.reason);
 */
export function verifyWebhook(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  body: string,
  { toleranceSeconds = 300, now = Date.now() }: { toleranceSeconds?: number; now?: number } = {},
): WebhookCheck {
  const header = (name: string) => {
    const value = headers[name] ?? headers[name.toLowerCase()];
    return Array.isArray(value) ? value[0] : value;
  };
  const id = header('webhook-id');
  const timestamp = Number(header('webhook-timestamp'));
  const signatures = header('webhook-signature');
  if (!id || !Number.isFinite(timestamp) || !signatures) return { ok: false, reason: 'missing headers' };
  if (Math.abs(now / 1000 - timestamp) > toleranceSeconds) return { ok: false, reason: 'timestamp too old or in the future' };
  const expected = Buffer.from(signWebhook(secret, id, timestamp, body));
  const matches = signatures.split(' ').some((candidate) => {
    const given = Buffer.from(candidate);
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  return matches ? { ok: true } : { ok: false, reason: 'signature mismatch' };
}

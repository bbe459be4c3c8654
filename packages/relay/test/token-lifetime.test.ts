/**
 * `maxTokenAgeSeconds` against tokens that claim to be issued in the future: the lifetime is counted
 * from the earlier of `iat` and now, and an `iat` further ahead than the clock-skew leeway is refused.
 * A real relay over real sockets; tokens signed with the relay's HS256 secret.
 */
import { ErrorKind } from '@partyline/protocol';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secretKey } from '@partyline/server';
import { TOKEN_CLOCK_SKEW_SECONDS } from '../src/tokens.js';
import { connectClient, connectRefusal, startRelay, TEST_SECRET, type RunningRelay } from './support/harness.js';

const MAX_AGE = 3_600;
let relay: RunningRelay;

/** A token with the given `iat` and `exp`, as seconds from now. */
function tokenIssued(iatFromNow: number, expFromNow: number): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ rooms: ['party:*'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('ana')
    .setIssuedAt(now + iatFromNow)
    .setExpirationTime(now + expFromNow)
    .sign(secretKey(TEST_SECRET));
}

beforeAll(async () => {
  relay = await startRelay({ maxTokenAgeSeconds: MAX_AGE });
});
afterAll(async () => {
  await relay?.relay.close();
});

describe('token lifetime with an iat in the future', () => {
  it('refuses a token issued far in the future, however short its stated lifetime (exp − iat)', async () => {
    // Issued in 10 days, good for an hour after that: exp − iat is 1 h, yet it works for 10 days.
    const tenDays = 10 * 86_400;
    const refusal = await connectRefusal(relay.url, { token: await tokenIssued(tenDays, tenDays + 3_600) });
    expect(refusal).toMatchObject({ kind: ErrorKind.Unauthorized, retryable: false, message: expect.stringContaining('issued in the future') });
  });

  it('counts the lifetime from now when iat is ahead within the clock skew', async () => {
    const ahead = TOKEN_CLOCK_SKEW_SECONDS / 2;
    // exp − iat is exactly the maximum, but the token is usable from now: longer than allowed.
    const refusal = await connectRefusal(relay.url, { token: await tokenIssued(ahead, ahead + MAX_AGE) });
    expect(refusal).toMatchObject({ kind: ErrorKind.Unauthorized, message: expect.stringContaining(`exceeds the relay's maximum of ${MAX_AGE} s`) });
  });

  it('accepts an iat a little ahead (an app server whose clock runs fast) with an ordinary lifetime', async () => {
    const socket = await connectClient(relay.url, await tokenIssued(TOKEN_CLOCK_SKEW_SECONDS / 2, MAX_AGE / 2));
    expect(socket.connected).toBe(true);
    socket.close();
  });
});

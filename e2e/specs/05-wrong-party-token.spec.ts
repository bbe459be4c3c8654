import { signAccessToken } from '@partyline/relay';
import { io } from 'socket.io-client';
import { expect, test } from '../support/fixtures.js';
import { createParty, expectAllSent, sendChat, shot } from '../support/party.js';
import { readRoomLog } from '../support/room-log.js';
import { expectExactViews, rawView, settleWithSentinel } from '../support/views.js';

test('someone with a token for another party can neither read nor post in this one', async ({ friend, stack }) => {
  const [relayA, relayB] = stack.relays;
  if (!relayA || !relayB) throw new Error('the stack has two relays');
  const ana = await friend({ name: 'Ana', relayPorts: [relayA.port, relayB.port] });
  const party = await createParty(ana.page, { title: 'Top secret', name: 'Ana' });
  await sendChat(ana.page, 'the secret plan');
  await expectAllSent(ana.page);

  // Mallory holds a valid token, but for a party of her own; her app is handed that token for Ana's party.
  const mallorysToken = await signAccessToken({ sub: 'u-mallory', rooms: ['party:mallorysparty'], ttlSeconds: 600 }, stack.tokenSecret);
  const mallory = await friend({ name: 'Mallory', relayPorts: [relayB.port, relayA.port], contextOptions: { serviceWorkers: 'block' } });
  await mallory.context.route('**/api/token', (route) =>
    route.fulfill({ json: { token: mallorysToken, room: 'party:mallorysparty', expiresAt: Date.now() + 600_000 } }),
  );
  await mallory.page.goto(`/p/${party}`);
  await expect(mallory.page.getByRole('alert')).toContainText('You do not have access to this party');

  const dialog = mallory.page.getByRole('dialog');
  await dialog.getByLabel('Your name').fill('Mallory');
  await dialog.getByRole('button', { name: 'Join the party' }).click();
  await mallory.page.getByLabel('Message').fill('let me in');
  await mallory.page.getByLabel('Message').press('Enter');
  const attempt = mallory.page.getByTestId('chat').locator('li.line', { hasText: 'let me in' });
  await expect(attempt.locator('[data-status="failed"]')).toHaveCount(1);
  await shot(mallory.page, '05-mallory-refused');

  // Nothing of the party reached her screen.
  await expect(mallory.page.getByTestId('party-title')).not.toHaveText('Top secret');
  await expect(mallory.page.getByTestId('chat')).not.toContainText('the secret plan');

  // Ana keeps going; nothing from Mallory ever shows up, on screen or in the log.
  await sendChat(ana.page, 'still secret');
  await expectAllSent(ana.page);
  const room = `party:${party}`;
  const log = await settleWithSentinel(ana.page, [{ label: 'Ana', page: ana.page }], room, relayA.url, stack.tokenSecret);
  await expectExactViews([{ label: 'Ana', page: ana.page }], room, log);
  await expect(ana.page.getByTestId('chat')).not.toContainText('let me in');
  expect(log.length).toBeGreaterThanOrEqual(3);
  expect(log.filter((message) => message.sender === 'u-mallory')).toEqual([]);
  // Mallory's app was handed nothing of the party: no history, no events.
  expect(await rawView(mallory.page, room)).toMatchObject({ history: [], events: [], resets: [] });

  // The same token, straight at a relay: every request for Ana's party is refused as forbidden.
  const socket = io(relayB.url, { transports: ['websocket'], auth: { token: mallorysToken, protocol: 1 }, reconnection: false, forceNew: true });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    const room = `party:${party}`;
    const join = await socket.timeout(10_000).emitWithAck('room:join', { room, since: 0 });
    const read = await socket.timeout(10_000).emitWithAck('room:read', { room, since: 0 });
    const publish = await socket.timeout(10_000).emitWithAck('room:publish', { room, messages: [{ id: 'mallory-1', type: 'chat', body: '{"text":"hi"}' }] });
    for (const answer of [join, read, publish]) {
      expect(answer).toMatchObject({ ok: false, error: { kind: 'forbidden' } });
      expect(JSON.stringify(answer)).not.toContain('secret');
    }
  } finally {
    socket.close();
  }
  expect((await readRoomLog(relayA.url, `party:${party}`, stack.tokenSecret)).filter((message) => message.sender === 'u-mallory')).toEqual([]);
});

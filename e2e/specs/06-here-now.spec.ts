import { expect, test } from '../support/fixtures.js';
import { createParty, friendsHere, joinParty, shot } from '../support/party.js';

// Presence is kept by the relays: a friend who leaves without a goodbye (a closed tab, a dropped network)
// is removed after a 5 s grace. The bound checked here is generous; the measured time is printed.
const GONE_WITHIN_MS = 12_000;

test('two friends on different relays see each other in "Here now"; a closed tab drops out within seconds', async ({ friend, stack }) => {
  const [relayA, relayB] = stack.relays;
  if (!relayA || !relayB) throw new Error('the stack has two relays');
  const ana = await friend({ name: 'Ana', relayPorts: [relayA.port, relayB.port] });
  const bo = await friend({ name: 'Bo', relayPorts: [relayB.port, relayA.port] });

  const party = await createParty(ana.page, { title: "Mo's 40th", name: 'Ana' });
  // Alone at first: only "You".
  await expect(ana.page.getByTestId('presence')).toContainText('Here now: You (Ana)');
  await expect(friendsHere(ana.page)).toHaveCount(0);

  await joinParty(bo.page, party, 'Bo', "Mo's 40th");
  // Each sees the other by name, and not themself.
  await expect(friendsHere(ana.page)).toHaveText(['Bo']);
  await expect(friendsHere(bo.page)).toHaveText(['Ana']);
  await expect(bo.page.getByTestId('presence')).toContainText('Here now: You (Bo), Ana');
  await shot(ana.page, '06-ana-here-now');

  const closedAt = Date.now();
  await bo.page.close();
  await expect(friendsHere(ana.page)).toHaveCount(0, { timeout: GONE_WITHIN_MS });
  console.log(`here-now: Bo's closed tab left Ana's "Here now" after ${Date.now() - closedAt} ms`);
  await expect(ana.page.getByTestId('presence')).toContainText('Here now: You (Ana)');
});

test('a friend whose network is cut drops out of "Here now" within seconds, and is back when it returns', async ({ friend, stack }) => {
  const [relayA, relayB] = stack.relays;
  if (!relayA || !relayB) throw new Error('the stack has two relays');
  const ana = await friend({ name: 'Ana', relayPorts: [relayA.port, relayB.port] });
  const bo = await friend({ name: 'Bo', relayPorts: [relayB.port, relayA.port] });

  const party = await createParty(ana.page, { title: 'Farewell for Jo', name: 'Ana' });
  await joinParty(bo.page, party, 'Bo', 'Farewell for Jo');
  await expect(friendsHere(ana.page)).toHaveText(['Bo']);
  await expect(friendsHere(bo.page)).toHaveText(['Ana']);

  // No goodbye reaches the relay: it sees the connection drop and removes Bo after the grace.
  const cutAt = Date.now();
  await bo.offline();
  await expect(bo.page.getByTestId('offline-banner')).toBeVisible();
  await expect(friendsHere(ana.page)).toHaveCount(0, { timeout: GONE_WITHIN_MS });
  console.log(`here-now: Bo's cut network left Ana's "Here now" after ${Date.now() - cutAt} ms`);

  // Back online, the SDK enters again by itself (no app code): Ana sees Bo again, Bo sees Ana.
  const backAt = Date.now();
  await bo.online();
  await expect(friendsHere(ana.page)).toHaveText(['Bo']);
  await expect(friendsHere(bo.page)).toHaveText(['Ana']);
  console.log(`here-now: Bo was back in Ana's "Here now" ${Date.now() - backAt} ms after the network returned`);
});

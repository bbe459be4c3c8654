import { expect, test } from '../support/fixtures.js';
import {
  ARTIFACTS,
  addItem,
  chatTextsOnPage,
  claimItem,
  createParty,
  expectAllSent,
  item,
  joinParty,
  pollOption,
  proposeVenue,
  sendChat,
  shot,
  tickItem,
  vote,
} from '../support/party.js';
import { chatTexts, relayConnections } from '../support/room-log.js';
import { expectExactViews, settleWithSentinel } from '../support/views.js';

test('two friends on different relays chat, build the checklist and vote; both see the same order', async ({ friend, stack }) => {
  const [relayA, relayB] = stack.relays;
  if (!relayA || !relayB) throw new Error('the stack has two relays');
  const connectionsBefore = [await relayConnections(relayA.url), await relayConnections(relayB.url)];

  const ana = await friend({ name: 'Ana', relayPorts: [relayA.port, relayB.port] });
  const bo = await friend({ name: 'Bo', relayPorts: [relayB.port, relayA.port] });

  const party = await createParty(ana.page, { title: "Sam's 30th", name: 'Ana', date: '2031-06-14T19:30', venue: 'The rooftop' });
  await joinParty(bo.page, party, 'Bo', "Sam's 30th");

  // Each friend is on their own relay: the rooms meet only through Redis.
  await expect.poll(async () => (await relayConnections(relayA.url)) - (connectionsBefore[0] ?? 0)).toBeGreaterThanOrEqual(1);
  await expect.poll(async () => (await relayConnections(relayB.url)) - (connectionsBefore[1] ?? 0)).toBeGreaterThanOrEqual(1);

  // Presence: each sees the other.
  await expect(ana.page.getByTestId('presence')).toContainText('Bo');
  await expect(bo.page.getByTestId('presence')).toContainText('Ana');

  // Typing shows on the other side.
  await bo.page.getByLabel('Message').fill('typing…');
  await expect(ana.page.getByText('Bo is typing…')).toBeVisible();
  await bo.page.getByLabel('Message').fill('');

  // Interleaved chat from both sides.
  await sendChat(ana.page, 'Surprise party for Sam! 🤫');
  await sendChat(bo.page, "I'm in. Don't tell Sam.");
  await sendChat(ana.page, 'Who brings what? List below.');
  await sendChat(bo.page, 'On it');

  // Checklist: Ana adds, Bo claims one and ticks it, Ana claims the other.
  await addItem(ana.page, 'Cake');
  await addItem(ana.page, 'Balloons');
  await expect(item(bo.page, 'Balloons')).toBeVisible();
  await claimItem(bo.page, 'Cake');
  await expect(item(ana.page, 'Cake')).toContainText('Bo brings it');
  await tickItem(bo.page, 'Cake');
  await claimItem(ana.page, 'Balloons');
  await expect(item(bo.page, 'Balloons')).toContainText('Ana brings it');
  await expect(ana.page.getByRole('checkbox', { name: 'Cake done' })).toBeChecked();

  // Votes: Bo proposes a place, both vote for it; it leads on both screens.
  await proposeVenue(bo.page, 'Beach bar');
  await expect(pollOption(ana.page, 'venue', 'Beach bar')).toBeVisible();
  await vote(ana.page, 'venue', 'Beach bar');
  await expect(pollOption(bo.page, 'venue', 'Beach bar')).toHaveAttribute('data-votes', '2');
  await expect(pollOption(ana.page, 'venue', 'The rooftop')).toHaveAttribute('data-votes', '0');
  await expect(bo.page.getByText('📍 Beach bar')).toBeVisible();
  await expect(ana.page.getByText('📍 Beach bar')).toBeVisible();
  await expect(pollOption(bo.page, 'date', '2031-06-14T19:30')).toHaveAttribute('data-votes', '1');
  await expect(bo.page.getByRole('timer')).toBeVisible();

  await expectAllSent(ana.page);
  await expectAllSent(bo.page);

  // Same order everywhere: both screens, both apps' raw event streams and the relay's log, compared once
  // Bo's sentinel, posted last, shows on both screens (nothing doubled can still be on its way).
  const room = `party:${party}`;
  const screens = [{ label: 'Ana', page: ana.page }, { label: 'Bo', page: bo.page }];
  const log = await settleWithSentinel(bo.page, screens, room, relayA.url, stack.tokenSecret);
  await expectExactViews(screens, room, log);
  const texts = chatTexts(log);
  expect(texts.slice(0, -1)).toEqual(['Surprise party for Sam! 🤫', "I'm in. Don't tell Sam.", 'Who brings what? List below.', 'On it']);
  expect(await chatTextsOnPage(ana.page)).toEqual(texts);
  expect(await chatTextsOnPage(bo.page)).toEqual(texts);

  // Derived state is the same on both screens.
  const checklistOf = (page: typeof ana.page) => page.getByTestId('checklist').locator('li.item').evaluateAll((items) => items.map((li) => [li.getAttribute('data-item'), li.classList.contains('done')]));
  expect(await checklistOf(bo.page)).toEqual(await checklistOf(ana.page));
  expect(await checklistOf(ana.page)).toEqual([
    ['Cake', true],
    ['Balloons', false],
  ]);

  await shot(ana.page, '01-ana-party');
  await bo.page.getByLabel('Message').fill('Balloons: gold or pink?');
  await ana.page.setViewportSize({ width: 1200, height: 900 });
  await expect(ana.page.getByText('Bo is typing…')).toBeVisible();
  await ana.page.evaluate(() => window.scrollTo(0, 0));
  await ana.page.screenshot({ path: `${ARTIFACTS}/01-ana-desktop.png`, fullPage: true });
  await shot(bo.page, '01-bo-party');
});

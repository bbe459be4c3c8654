import { expect, test } from '../support/fixtures.js';
import {
  addItem,
  chatLines,
  chatTextsOnPage,
  claimItem,
  createParty,
  expectAllSent,
  item,
  joinParty,
  sendChat,
  shot,
  tickItem,
  waitOfflineReady,
} from '../support/party.js';
import { chatTexts, duplicates, readRoomLog } from '../support/room-log.js';
import { expectExactPrefix, expectExactViews, rawView, settleWithSentinel, waitViewAt } from '../support/views.js';

test('a friend offline posts, claims and ticks, reloads while offline, comes back: everything arrives exactly once, in one order', async ({ friend, stack }) => {
  const [relayA, relayB] = stack.relays;
  if (!relayA || !relayB) throw new Error('the stack has two relays');
  const ana = await friend({ name: 'Ana', relayPorts: [relayA.port, relayB.port] });
  const bo = await friend({ name: 'Bo', relayPorts: [relayB.port, relayA.port] });

  const party = await createParty(ana.page, { title: 'Mia turns 40', name: 'Ana', date: '2032-03-20T18:00' });
  const room = `party:${party}`;
  await joinParty(bo.page, party, 'Bo');
  await addItem(ana.page, 'Cake');
  await addItem(ana.page, 'Music');
  await sendChat(ana.page, 'Hi Bo!');
  await expect(item(bo.page, 'Music')).toBeVisible();
  await expect(bo.page.getByTestId('chat')).toContainText('Hi Bo!');
  await waitOfflineReady(bo.page);
  // Bo's own join is in the log too, so nothing of his is still on its way in.
  await expect.poll(async () => (await readRoomLog(relayA.url, room, stack.tokenSecret)).filter((message) => message.type === 'member:join').length).toBe(1);
  const seenBeforeOffline = (await readRoomLog(relayA.url, room, stack.tokenSecret)).length;
  await waitViewAt(bo.page, room, seenBeforeOffline);

  // Bo loses the network: the WebSocket is cut, the browser is offline.
  await bo.offline();
  await expect(bo.page.getByTestId('offline-banner')).toContainText("You're offline");

  const offlineTexts = ['offline 1', 'offline 2', 'offline 3', 'offline 4', 'offline 5'];
  for (const text of offlineTexts) await sendChat(bo.page, text);
  await claimItem(bo.page, 'Cake');
  await tickItem(bo.page, 'Cake');
  await claimItem(bo.page, 'Music');

  // Meanwhile Ana keeps talking.
  await sendChat(ana.page, 'Anyone there?');

  await expect(bo.page.getByTestId('offline-banner')).toContainText('8 changes queued');
  await expect(bo.page.getByTestId('chat').locator('[data-status="pending"]')).toHaveCount(5);
  await shot(bo.page, '02-bo-offline-queued');

  // Reload while offline: the app shell comes from the service worker, history and the queued
  // changes from the SDK's IndexedDB cache and outbox.
  await bo.reloadOffline();
  await expect(bo.page.getByTestId('party-title')).toHaveText('Mia turns 40');
  await expect(bo.page.getByTestId('offline-banner')).toContainText('8 changes queued');
  await expect(bo.page.getByTestId('chat')).toContainText('Hi Bo!');
  await expect(bo.page.getByTestId('chat').locator('[data-status="pending"]')).toHaveCount(5);
  await expect(item(bo.page, 'Cake')).toContainText('You bring it');
  await expect(bo.page.getByRole('checkbox', { name: 'Cake done' })).toBeChecked();
  await expect(item(bo.page, 'Music')).toContainText('You bring it');
  await expect(item(bo.page, 'Cake').locator('[data-status="pending"]')).toHaveCount(1);
  // Ana's message sent while Bo was offline is not there yet.
  await expect(bo.page.getByTestId('chat')).not.toContainText('Anyone there?');
  // The reloaded app's view so far is what history() answered from the cache: exactly 1..what Bo had.
  const offlineView = await expectExactPrefix('Bo reloaded offline', bo.page, room, seenBeforeOffline);
  expect(offlineView.history).toHaveLength(seenBeforeOffline);
  expect(offlineView.events).toEqual([]);
  await shot(bo.page, '02-bo-reloaded-offline');

  // Back online: the outbox drains, Bo catches up.
  await bo.online();
  await expectAllSent(bo.page);
  await expect(bo.page.getByTestId('chat')).toContainText('Anyone there?');

  // Ana posts a sentinel last; once both screens show it from the log, compare (no sleeping, no polling).
  const screens = [{ label: 'Ana', page: ana.page }, { label: 'Bo (reloaded offline, then online)', page: bo.page }];
  const log = await settleWithSentinel(ana.page, screens, room, relayA.url, stack.tokenSecret);
  await expectExactViews(screens, room, log);
  expect((await rawView(bo.page, room))?.history).toEqual(offlineView.history);
  const ordered = chatTexts(log);
  const logTexts = ordered.slice(0, -1);
  expect(duplicates(logTexts)).toEqual([]);
  expect(logTexts.filter((text) => offlineTexts.includes(text))).toEqual(offlineTexts);
  expect([...logTexts].sort()).toEqual([...offlineTexts, 'Hi Bo!', 'Anyone there?'].sort());

  expect(await chatTextsOnPage(ana.page)).toEqual(ordered);
  expect(await chatTextsOnPage(bo.page)).toEqual(ordered);
  expect((await chatLines(bo.page)).filter((line) => line.who === 'You').every((line) => line.status === 'sent')).toBe(true);

  await expect(item(ana.page, 'Cake')).toContainText('Bo brings it');
  await expect(ana.page.getByRole('checkbox', { name: 'Cake done' })).toBeChecked();
  await expect(item(ana.page, 'Music')).toContainText('Bo brings it');
  await shot(ana.page, '02-ana-after-bo-returned');
});

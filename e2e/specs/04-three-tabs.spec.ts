import { expect, test } from '../support/fixtures.js';
import { addItem, chatLines, chatTextsOnPage, createParty, expectAllSent, item, joinParty, sendChat, shot, showWholeChat } from '../support/party.js';
import { publishBurst } from '../support/publisher.js';
import { chatTexts, duplicates, readRoomLog } from '../support/room-log.js';
import { expectExactPrefix, expectExactView, expectExactViews, rawView, settleWithSentinel, waitViewAt, type Screen } from '../support/views.js';

test('tabs of one friend (one profile, one outbox): offline writes, a tab opened while another delivers, a reload per tab past 500 messages — every tab gets the log exactly once', async ({ friend, stack }) => {
  const [relayA, relayB] = stack.relays;
  if (!relayA || !relayB) throw new Error('the stack has two relays');
  const ana = await friend({ name: 'Ana', relayPorts: [relayA.port, relayB.port] });
  const bo = await friend({ name: 'Bo', relayPorts: [relayB.port, relayA.port] });

  const party = await createParty(ana.page, { title: 'Kai graduates', name: 'Ana' });
  const room = `party:${party}`;
  await addItem(ana.page, 'Cake'); // an early item: it must survive reloads after hundreds of messages
  await joinParty(bo.page, party, 'Bo');

  // A chatty party: past 500 messages before Bo opens more tabs (the cache used to keep only the newest 500,
  // and a reload then lost the title and the first items).
  const chatter = await publishBurst(relayA.url, room, stack.tokenSecret, { count: 520, batch: 40, intervalMs: 10, prefix: 'chatter' });
  await waitViewAt(bo.page, room, 520);

  const tabs = [bo.page, await bo.newTab(), await bo.newTab()];
  for (const tab of tabs.slice(1)) {
    await tab.goto(`/p/${party}`);
    await expect(tab.getByTestId('party-title')).toHaveText('Kai graduates');
  }
  await sendChat(tabs[2]!, 'all tabs open');
  for (const tab of tabs) await expect(tab.getByTestId('chat')).toContainText('all tabs open');

  // The whole profile goes offline; every tab writes.
  await bo.offline();
  const written: string[] = [];
  for (const [index, tab] of tabs.entries()) {
    await expect(tab.getByTestId('offline-banner')).toContainText("You're offline");
    for (const n of [1, 2]) {
      const text = `tab ${index + 1} message ${n}`;
      await sendChat(tab, text);
      written.push(text);
    }
  }
  await addItem(tabs[1]!, 'Snacks');
  await shot(tabs[0]!, '04-tab1-offline');

  await bo.online();
  for (const tab of tabs) {
    await expectAllSent(tab);
    await expect(tab.getByTestId('chat')).toContainText('tab 3 message 2');
  }
  await expect(ana.page.getByTestId('chat')).toContainText('tab 3 message 2');
  await expect(item(ana.page, 'Snacks')).toBeVisible();

  // Another guest talks fast (about 70 messages/s) while a fourth tab of Bo's opens: its history() comes
  // from the cache the other tabs are filling right then, and its events must continue exactly after it.
  const before = (await readRoomLog(relayA.url, room, stack.tokenSecret)).length;
  const burst = publishBurst(relayB.url, room, stack.tokenSecret, { count: 250, batch: 5, intervalMs: 60, prefix: 'burst' });
  await waitViewAt(tabs[0]!, room, before + 20);
  const late = await bo.newTab();
  await late.goto(`/p/${party}`);
  await expect(late.getByTestId('party-title')).toHaveText('Kai graduates');
  const burstTexts = await burst;
  const afterBurst = before + burstTexts.length;
  expect((await rawView(late, room))?.history.length ?? 0, 'the late tab opened mid-burst').toBeLessThan(afterBurst);
  // Judged right away: history + events == 1..head.
  for (const [label, page] of [["Bo's late tab", late], ["Bo's tab 1", tabs[0]!]] as const) {
    await waitViewAt(page, room, afterBurst);
    await expectExactView(label, page, room, afterBurst);
  }

  // Each tab reloads while messages keep coming; after the reload the title and the first checklist
  // item are still there (the whole room is cached and folded), and the new view is exact again.
  const more = publishBurst(relayA.url, room, stack.tokenSecret, { count: 90, batch: 3, intervalMs: 100, prefix: 'more' });
  for (const [index, tab] of tabs.entries()) {
    await expectExactPrefix(`Bo's tab ${index + 1} before its reload`, tab, room, afterBurst + 90);
    await tab.reload();
    await expect(tab.getByTestId('party-title')).toHaveText('Kai graduates');
    await expect(item(tab, 'Cake')).toBeVisible();
    await expect(item(tab, 'Snacks')).toBeVisible();
  }
  const moreTexts = await more;

  const screens: Screen[] = [
    { label: 'Ana', page: ana.page },
    ...tabs.map((page, index) => ({ label: `Bo's tab ${index + 1} (reloaded)`, page })),
    { label: "Bo's late tab", page: late },
  ];
  const log = await settleWithSentinel(ana.page, screens, room, relayA.url, stack.tokenSecret);
  expect(log.length).toBeGreaterThan(850);
  await expectExactViews(screens, room, log);

  const texts = chatTexts(log);
  expect(duplicates(texts)).toEqual([]);
  for (const [prefix, sent] of [['chatter ', chatter], ['burst ', burstTexts], ['more ', moreTexts]] as const) {
    expect(texts.filter((text) => text.startsWith(prefix))).toEqual(sent);
  }
  expect(texts.filter((text) => text === 'all tabs open' || written.includes(text)).sort()).toEqual(['all tabs open', ...written].sort());
  expect(log.filter((message) => message.type === 'item:add')).toHaveLength(2);

  // Every screen opens its chat on the newest 50 lines, and shows each message once, in log order, once
  // scrolled back to the start (read once: the sentinel already came last).
  for (const { label, page } of screens) {
    expect(await chatTextsOnPage(page), `${label}'s chat window`).toEqual(texts.slice(-50));
    await showWholeChat(page);
    expect(await chatTextsOnPage(page), `${label}'s chat`).toEqual(texts);
    await expect(item(page, 'Cake')).toHaveCount(1);
    await expect(item(page, 'Snacks')).toHaveCount(1);
  }
  for (const page of [...tabs, late]) {
    expect((await chatLines(page)).filter((line) => line.who === 'You').map((line) => line.status)).toEqual(['all tabs open', ...written].map(() => 'sent'));
  }
  await shot(ana.page, '04-ana-after-tabs-returned');
});

import { expect, test } from '../support/fixtures.js';
import { addItem, chatLines, chatTextsOnPage, createParty, expectAllSent, item, joinParty, sendChat, shot } from '../support/party.js';
import { chatTexts, duplicates, readRoomLog } from '../support/room-log.js';

test('three tabs of one friend (one profile, one outbox) offline then online: no duplicates', async ({ friend, stack }) => {
  const [relayA, relayB] = stack.relays;
  if (!relayA || !relayB) throw new Error('the stack has two relays');
  const ana = await friend({ name: 'Ana', relayPorts: [relayA.port, relayB.port] });
  const bo = await friend({ name: 'Bo', relayPorts: [relayB.port, relayA.port] });

  const party = await createParty(ana.page, { title: 'Kai graduates', name: 'Ana' });
  await joinParty(bo.page, party, 'Bo');
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

  const log = await readRoomLog(relayA.url, `party:${party}`, stack.tokenSecret);
  const texts = chatTexts(log);
  expect(duplicates(texts)).toEqual([]);
  expect([...texts].sort()).toEqual(['all tabs open', ...written].sort());
  expect(log.filter((message) => message.type === 'item:add')).toHaveLength(1);

  // Every tab and the other friend show each message once, in log order.
  for (const page of [...tabs, ana.page]) {
    await expect.poll(() => chatTextsOnPage(page)).toEqual(texts);
  }
  for (const tab of tabs) {
    expect((await chatLines(tab)).filter((line) => line.who === 'You').map((line) => line.status)).toEqual(texts.map(() => 'sent'));
  }
  await expect(item(ana.page, 'Snacks')).toHaveCount(1);
  await shot(ana.page, '04-ana-after-tabs-returned');
});

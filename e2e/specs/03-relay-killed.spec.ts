import { expect, test } from '../support/fixtures.js';
import { chatTextsOnPage, createParty, expectAllSent, joinParty, sendChat, shot } from '../support/party.js';
import { startRelayProcess, type ServerProcess } from '../support/processes.js';
import { chatTexts, duplicates, relayConnections } from '../support/room-log.js';
import { expectExactViews, settleWithSentinel } from '../support/views.js';

test('a relay is SIGKILLed mid-conversation: clients move to the other relay; nothing lost or doubled', async ({ friend, stack }) => {
  // Two relays of this test's own (on the shared Redis), so killing one leaves the others' stack intact.
  const relays: ServerProcess[] = [];
  try {
    const doomed = await startRelayProcess('relay-doomed', stack.redisUrl, stack.tokenSecret);
    relays.push(doomed);
    const survivor = await startRelayProcess('relay-survivor', stack.redisUrl, stack.tokenSecret);
    relays.push(survivor);

    // Both prefer the relay that is about to die.
    const ana = await friend({ name: 'Ana', relayPorts: [doomed.port, survivor.port] });
    const bo = await friend({ name: 'Bo', relayPorts: [doomed.port, survivor.port] });
    const party = await createParty(ana.page, { title: 'Leo retires', name: 'Ana' });
    await joinParty(bo.page, party, 'Bo');

    await expect.poll(() => relayConnections(doomed.url)).toBe(2);
    expect(await relayConnections(survivor.url)).toBe(0);

    const before = ['before 1', 'before 2', 'before 3'];
    await sendChat(ana.page, before[0]!);
    await sendChat(bo.page, before[1]!);
    await sendChat(ana.page, before[2]!);
    await expect(bo.page.getByTestId('chat')).toContainText('before 3');

    // Ana is typing fast: the relay dies between her messages, some of which may be in flight.
    const during = ['during 1', 'during 2', 'during 3', 'during 4'];
    await sendChat(ana.page, during[0]!);
    await sendChat(ana.page, during[1]!);
    await doomed.kill();
    await sendChat(ana.page, during[2]!);
    await sendChat(bo.page, during[3]!);

    // Both land on the survivor and everything gets through.
    await expect.poll(() => relayConnections(survivor.url)).toBe(2);
    const after = ['after 1', 'after 2'];
    await sendChat(bo.page, after[0]!);
    await sendChat(ana.page, after[1]!);
    await expectAllSent(ana.page);
    await expectAllSent(bo.page);

    // Bo's sentinel, posted last, shows on both screens: then each app's raw event stream across the
    // failover must be the log exactly, and each screen must show it once.
    const room = `party:${party}`;
    const screens = [{ label: 'Ana', page: ana.page }, { label: 'Bo', page: bo.page }];
    const log = await settleWithSentinel(bo.page, screens, room, survivor.url, stack.tokenSecret);
    await expectExactViews(screens, room, log);
    const texts = chatTexts(log);
    expect(duplicates(texts)).toEqual([]);
    expect(texts.slice(0, -1).sort()).toEqual([...before, ...during, ...after].sort());
    // Per sender, the order they typed in is kept.
    expect(texts.filter((text) => ['during 1', 'during 2', 'during 3', 'after 2'].includes(text))).toEqual(['during 1', 'during 2', 'during 3', 'after 2']);

    expect(await chatTextsOnPage(ana.page)).toEqual(texts);
    expect(await chatTextsOnPage(bo.page)).toEqual(texts);
    await shot(bo.page, '03-bo-after-relay-kill');
  } finally {
    await Promise.all(relays.map((relay) => relay.kill()));
  }
});

import { expect, test } from '../support/fixtures.js';
import { chatTextsOnPage, createParty, expectAllSent, joinParty, sendChat, shot } from '../support/party.js';
import { startRelayProcess, type ServerProcess } from '../support/processes.js';
import { chatTexts, duplicates, readRoomLog, relayConnections } from '../support/room-log.js';

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

    const log = await readRoomLog(survivor.url, `party:${party}`, stack.tokenSecret);
    const texts = chatTexts(log);
    expect(duplicates(texts)).toEqual([]);
    expect([...texts].sort()).toEqual([...before, ...during, ...after].sort());
    // Per sender, the order they typed in is kept.
    expect(texts.filter((text) => ['during 1', 'during 2', 'during 3', 'after 2'].includes(text))).toEqual(['during 1', 'during 2', 'during 3', 'after 2']);
    expect(log.map((message) => message.seq)).toEqual(log.map((_, index) => index + 1));

    await expect.poll(() => chatTextsOnPage(ana.page)).toEqual(texts);
    await expect.poll(() => chatTextsOnPage(bo.page)).toEqual(texts);
    await shot(bo.page, '03-bo-after-relay-kill');
  } finally {
    await Promise.all(relays.map((relay) => relay.kill()));
  }
});

import type { Page } from '@playwright/test';
import { foldMessages } from '@partyline/sdk';
import {
  annotationsOf,
  chatStates,
  deleteLine,
  editLine,
  foldLog,
  line,
  lineId,
  readToEnd,
  recordedStatuses,
  recordStatuses,
  screenMessages,
  sdkMessage,
  sdkMessages,
  toggleReaction,
  userIdOf,
  type MessageState,
} from '../support/annotations.js';
import { expect, test } from '../support/fixtures.js';
import { createParty, expectAllSent, joinParty, sendChat, shot } from '../support/party.js';
import { startRelayProcess, type ServerProcess } from '../support/processes.js';
import { readRoomWindow, relayConnections } from '../support/room-log.js';
import { expectExactViews, settleWithSentinel } from '../support/views.js';

interface Screen {
  label: string;
  page: Page;
  /** Whose reactions are `mine` on this screen. */
  sub: string;
}

test('two friends edit, delete and react across an offline period and a relay kill: every screen and SDK view is the fold of the log, each change once', async ({ friend, stack }) => {
  // Two relays of this test's own (on the shared Redis), so killing one leaves the others' stack intact.
  const relays: ServerProcess[] = [];
  try {
    const doomed = await startRelayProcess('relay-doomed', stack.redisUrl, stack.tokenSecret);
    relays.push(doomed);
    const survivor = await startRelayProcess('relay-survivor', stack.redisUrl, stack.tokenSecret);
    relays.push(survivor);

    const ana = await friend({ name: 'Ana', relayPorts: [doomed.port, survivor.port] });
    const bo = await friend({ name: 'Bo', relayPorts: [doomed.port, survivor.port] });
    const party = await createParty(ana.page, { title: 'Noa turns 30', name: 'Ana' });
    const room = `party:${party}`;
    await joinParty(bo.page, party, 'Bo');
    // Bo's phone: the same Bo (his identity cookie and local storage), another browser profile, online throughout.
    const phone = await friend({ name: 'Bo (phone)', relayPorts: [survivor.port, doomed.port], contextOptions: { storageState: await bo.context.storageState() } });
    await phone.page.goto(`/p/${party}`);
    await expect(phone.page.getByTestId('party-title')).toHaveText('Noa turns 30');
    const anaId = await userIdOf(ana.page);
    const boId = await userIdOf(bo.page);
    expect(await userIdOf(phone.page)).toBe(boId);

    await sendChat(ana.page, 'Pizza or tacos?');
    await sendChat(ana.page, 'I bring the cake');
    await sendChat(ana.page, 'Who has a speaker?');
    await sendChat(bo.page, 'Tacos, obviously');
    await sendChat(bo.page, 'See you at 8pm');
    await sendChat(bo.page, 'Wrong chat, sorry');
    await sendChat(bo.page, 'I can bring the speakr');
    const id = {
      pizza: await lineId(ana.page, 'Pizza or tacos?'),
      cake: await lineId(ana.page, 'I bring the cake'),
      speaker: await lineId(ana.page, 'Who has a speaker?'),
      tacos: await lineId(bo.page, 'Tacos, obviously'),
      at8: await lineId(bo.page, 'See you at 8pm'),
      wrong: await lineId(bo.page, 'Wrong chat, sorry'),
      speakr: await lineId(bo.page, 'I can bring the speakr'),
    };
    // Everyone has every line before Bo goes away.
    for (const page of [ana.page, bo.page, phone.page]) await expect(line(page, id.speakr)).toHaveAttribute('data-seq', /\d+/);
    for (const page of [bo.page, phone.page]) await expect(line(page, id.speaker)).toBeVisible();

    // Reactions while everyone is online.
    await toggleReaction(bo.page, id.cake, '🎉');
    await toggleReaction(ana.page, id.tacos, '❤️');
    await expectAllSent(ana.page);
    await expectAllSent(bo.page);
    await expect(line(bo.page, id.tacos).getByTestId('reaction-❤️')).toHaveAttribute('data-count', '1');
    await expect(line(ana.page, id.cake).getByTestId('reaction-🎉')).toHaveAttribute('data-count', '1');
    // Ana has read Bo's newest line (her chat is on screen): his screen says so under it.
    await readToEnd(ana.page);
    await expect(bo.page.getByTestId('seen-by')).toHaveText('Seen by Ana');

    // Ana and Bo are on the relay that is about to die, the phone on the other one.
    await expect.poll(() => relayConnections(doomed.url)).toBe(2);
    await expect.poll(() => relayConnections(survivor.url)).toBe(1);

    // Bo loses the network. Offline, he edits, deletes, reacts and unreacts: all queued.
    await bo.offline();
    await expect(bo.page.getByTestId('offline-banner')).toContainText("You're offline");
    await recordStatuses(bo.page, room);
    await editLine(bo.page, id.at8, 'See you at 9pm');
    await deleteLine(bo.page, id.wrong);
    await toggleReaction(bo.page, id.pizza, '😂');
    await toggleReaction(bo.page, id.cake, '🎉'); // unreact
    await toggleReaction(bo.page, id.speaker, '👍'); // Ana deletes that question meanwhile
    await editLine(bo.page, id.speakr, 'I can bring the speaker'); // his phone deletes that line meanwhile
    await expect(bo.page.getByTestId('offline-banner')).toContainText('6 changes queued');
    await shot(bo.page, '10-bo-offline-queued');

    // Meanwhile: Bo's phone deletes the line his laptop is editing; Ana deletes the question Bo is
    // reacting to, and reacts herself.
    await deleteLine(phone.page, id.speakr);
    await deleteLine(ana.page, id.speaker);
    await toggleReaction(ana.page, id.at8, '👍');
    await toggleReaction(ana.page, id.cake, '🎉');
    await expectAllSent(ana.page);
    await expectAllSent(phone.page);
    // The relay Ana is on dies right after her next reaction, maybe with it in flight: it is resent to
    // the survivor and must count once.
    await toggleReaction(ana.page, id.tacos, '😂');
    await doomed.kill();
    await expectAllSent(ana.page);
    await expect.poll(() => relayConnections(survivor.url)).toBe(2);

    // Bo comes back, to the surviving relay: his queue drains. The edit of the deleted line and the
    // reaction to the deleted question end failed (`message_deleted`), not silently dropped.
    await bo.online();
    await expect(bo.page.locator('[data-status="pending"]')).toHaveCount(0);
    await expect(bo.page.getByTestId('offline-banner')).toHaveCount(0);
    await expect.poll(() => relayConnections(survivor.url)).toBe(3);
    await expect
      .poll(async () => (await recordedStatuses(bo.page)).filter((status) => status.status === 'failed').map((status) => status.error), { message: "Bo's refused changes" })
      .toEqual(['message_deleted', 'message_deleted']);
    await expect(line(bo.page, id.speakr).locator('[data-status="failed"]')).toHaveCount(1);
    await expect(line(bo.page, id.speaker).locator('[data-status="failed"]')).toHaveCount(1);
    await shot(bo.page, '10-bo-back-online');

    const screens: Screen[] = [
      { label: 'Ana', page: ana.page, sub: anaId },
      { label: 'Bo (offline, back after the relay kill)', page: bo.page, sub: boId },
      { label: "Bo's phone", page: phone.page, sub: boId },
    ];
    // Ana posts a sentinel last; once every screen shows it from the log, nothing else is on its way.
    const log = await settleWithSentinel(ana.page, screens, room, survivor.url, stack.tokenSecret);
    // Each page was handed every entry of the log once, in order (annotations included).
    await expectExactViews(screens, room, log);

    // The log holds each change exactly once, and none of the refused ones.
    expect(annotationsOf(log).sort()).toEqual(
      [
        `${boId} pl:react ${id.cake} 🎉`,
        `${anaId} pl:react ${id.tacos} ❤️`,
        `${boId} pl:delete ${id.speakr}`,
        `${anaId} pl:delete ${id.speaker}`,
        `${anaId} pl:react ${id.at8} 👍`,
        `${anaId} pl:react ${id.cake} 🎉`,
        `${anaId} pl:react ${id.tacos} 😂`,
        `${boId} pl:edit ${id.at8} See you at 9pm`,
        `${boId} pl:delete ${id.wrong}`,
        `${boId} pl:react ${id.pizza} 😂`,
        `${boId} pl:unreact ${id.cake} 🎉`,
      ].sort(),
    );
    // Its fold, as Ana sees it.
    const sentinel = log.at(-1)!;
    const state = (messageId: string, text: string | null, reactions: MessageState['reactions'] = {}, edited = false): MessageState => ({ id: messageId, text, edited, deleted: text === null, reactions });
    expect(chatStates(foldLog(log, anaId))).toEqual([
      state(id.pizza, 'Pizza or tacos?', { '😂': { count: 1, mine: false } }),
      state(id.cake, 'I bring the cake', { '🎉': { count: 1, mine: true } }),
      state(id.speaker, null),
      state(id.tacos, 'Tacos, obviously', { '❤️': { count: 1, mine: true }, '😂': { count: 1, mine: true } }),
      state(id.at8, 'See you at 9pm', { '👍': { count: 1, mine: true } }, true),
      state(id.wrong, null),
      state(id.speakr, null),
      state(sentinel.id, (JSON.parse(sentinel.body) as { text: string }).text),
    ]);

    for (const { label, page, sub } of screens) {
      const folded = foldLog(log, sub);
      // The page's SDK view: every message folded exactly as the log folds.
      expect(await sdkMessages(page, room), `${label}: room.messages()`).toEqual(folded);
      for (const message of folded) expect(await sdkMessage(page, room, message.id), `${label}: room.message(${message.id})`).toEqual(message);
      // The screen shows that fold.
      await expect.poll(() => screenMessages(page), { message: `${label}'s chat on screen` }).toEqual(chatStates(folded));
      // What the relay keeps: a member opening the room gets summaries that fold to the same.
      const window = await readRoomWindow(survivor.url, room, stack.tokenSecret, sub, 100);
      expect(window.headSeq).toBe(sentinel.seq);
      expect(foldMessages(window.messages, { page: { summaries: window.summaries, at: window.headSeq }, caller: sub }), `the relay's summaries for ${label}`).toEqual(folded);
    }
    await shot(ana.page, '10-ana-settled');

    // Read state: Bo's chat is on screen, so he has read Ana's sentinel: she sees it under it.
    await readToEnd(bo.page);
    await readToEnd(ana.page);
    await expect(ana.page.getByTestId('seen-by')).toHaveText('Seen by Bo');
    // Ana leaves for her list of parties. What Bo posts meanwhile is unread for her; his reaction is not.
    await ana.page.goto('/');
    const badge = ana.page.getByTestId('unread-badge');
    await expect(ana.page.getByRole('heading', { name: 'Your parties' })).toBeVisible();
    await expect(badge).toHaveCount(0);
    await sendChat(bo.page, 'Who else is coming?');
    await sendChat(bo.page, 'Tell me by Friday');
    await toggleReaction(bo.page, id.tacos, '❤️');
    await expect(bo.page.locator('[data-status="pending"]')).toHaveCount(0);
    // Bo's newest line is not seen by Ana yet.
    await expect(bo.page.getByTestId('seen-by')).toHaveCount(0);
    // The list asks the relays for its counts when it opens (and every minute): she looks again.
    await ana.page.reload();
    await expect(badge).toHaveText('2');
    await shot(ana.page, '10-ana-unread-badge');
    // She opens the party and reads to the end: Bo sees her under his newest line; back on the list, no badge.
    await ana.page.goto(`/p/${party}`);
    await expect(line(ana.page, await lineId(ana.page, 'Tell me by Friday'))).toHaveAttribute('data-seq', /\d+/);
    await readToEnd(ana.page);
    await expect(bo.page.getByTestId('seen-by')).toHaveText('Seen by Ana');
    await shot(bo.page, '10-bo-seen-by-ana');
    await ana.page.goto('/');
    await expect(ana.page.getByRole('heading', { name: 'Your parties' })).toBeVisible();
    await expect(ana.page.getByRole('link', { name: /Noa turns 30/ })).toBeVisible();
    await expect(badge).toHaveCount(0);
  } finally {
    await Promise.all(relays.map((relay) => relay.kill()));
  }
});

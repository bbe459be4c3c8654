import type { Locator, Page } from '@playwright/test';
import { expect, test } from '../support/fixtures.js';
import { chatLines, chatTextsOnPage, createParty, joinParty, sendChat, shot } from '../support/party.js';
import { publishBurst } from '../support/publisher.js';
import { chatTexts, duplicates, readRoomLog } from '../support/room-log.js';
import { expectExactViews, settleWithSentinel, waitViewAt } from '../support/views.js';

// The chat shows a window of the party's lines: the newest 50 at first, 50 more per scroll to the top.
const PAGE = 50;

/** Where the list is scrolled, and where a line sits in it (px from the list's top edge). */
function scrollState(list: Locator, id?: string) {
  return list.evaluate((element, lineId) => {
    const line = lineId ? element.querySelector(`[data-id="${CSS.escape(lineId)}"]`) : null;
    return {
      scrollTop: element.scrollTop,
      fromEnd: element.scrollHeight - element.scrollTop - element.clientHeight,
      lineOffset: line ? line.getBoundingClientRect().top - element.getBoundingClientRect().top : null,
    };
  }, id);
}

const firstLineId = async (list: Locator) => list.locator('li.line').first().getAttribute('data-id');

/** No sideways scrolling: the page is no wider than the viewport. */
async function expectNoSidewaysScroll(page: Page): Promise<void> {
  expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);
}

test('a party with 130 chat messages opens on the newest 50; scrolling up (or "Load older messages") shows older ones, each once, keeping the place', async ({ friend, stack }) => {
  const [relayA, relayB] = stack.relays;
  if (!relayA || !relayB) throw new Error('the stack has two relays');
  const ana = await friend({ name: 'Ana', relayPorts: [relayA.port, relayB.port] });
  const party = await createParty(ana.page, { title: 'Ines turns 30', name: 'Ana' });
  const room = `party:${party}`;
  await publishBurst(relayA.url, room, stack.tokenSecret, { count: 130, batch: 10, intervalMs: 0, prefix: 'earlier' });

  // Bo opens the invite on a phone (320 px wide): a fresh profile, the whole log comes from the relay.
  const bo = await friend({ name: 'Bo', relayPorts: [relayB.port, relayA.port], contextOptions: { viewport: { width: 320, height: 640 } } });
  await joinParty(bo.page, party, 'Bo', 'Ines turns 30');
  const opened = await readRoomLog(relayA.url, room, stack.tokenSecret);
  await waitViewAt(bo.page, room, opened.at(-1)!.seq);
  const texts = chatTexts(opened);
  expect(texts).toHaveLength(130);

  // The newest 50, scrolled to the end; the rest behind "Load older messages". Checklist and votes still
  // come from the whole log: the title of the first message is there.
  const list = bo.page.getByTestId('chat');
  await expect.poll(() => chatTextsOnPage(bo.page)).toEqual(texts.slice(-PAGE));
  await expect(bo.page.getByTestId('party-title')).toHaveText('Ines turns 30');
  await expect(bo.page.getByTestId('chat-hidden')).toHaveText('80 earlier');
  await expect.poll(async () => (await scrollState(list)).fromEnd).toBeLessThanOrEqual(1);
  await expectNoSidewaysScroll(bo.page);
  await shot(bo.page, '07-bo-phone-newest');

  // Scrolling to the top of the chat (the mouse wheel, as a reader would) puts the previous 50 above;
  // the line that was first stays where it was on screen.
  const wasFirst = (await firstLineId(list))!;
  await list.hover();
  await bo.page.mouse.wheel(0, -20_000);
  await expect.poll(() => chatTextsOnPage(bo.page)).toEqual(texts.slice(-2 * PAGE));
  await expect(bo.page.getByTestId('chat-hidden')).toHaveText('30 earlier');
  const after = await scrollState(list, wasFirst);
  expect(after.scrollTop, 'older lines are above the place being read').toBeGreaterThan(0);
  expect(after.lineOffset, 'the line that was first is still at the top of the list').toBeGreaterThanOrEqual(-30);
  expect(after.lineOffset).toBeLessThanOrEqual(5);

  // A friend writes while Bo reads older lines: it is added at the end, Bo's place does not move.
  await sendChat(ana.page, 'while Bo reads back');
  await expect(list.locator('li.line', { hasText: 'while Bo reads back' })).toHaveCount(1);
  const stayed = await scrollState(list, wasFirst);
  expect(stayed.lineOffset).toBeCloseTo(after.lineOffset!, 0);

  // The keyboard way: the button, until the start of the chat; focus then lands on the list.
  const older = bo.page.getByRole('button', { name: 'Load older messages' });
  await older.focus();
  await bo.page.keyboard.press('Enter');
  await expect(bo.page.getByText('Start of the chat', { exact: true })).toBeVisible();
  await expect(bo.page.getByRole('status').filter({ hasText: 'older messages shown' })).toHaveText('30 older messages shown, back to the start of the chat.');
  await expect(older).toHaveCount(0);
  await expect(list).toBeFocused();
  await expectNoSidewaysScroll(bo.page);

  // Every chat line of the log once, in log order.
  const all = [...texts, 'while Bo reads back'];
  const shown = await chatTextsOnPage(bo.page);
  expect(duplicates(shown)).toEqual([]);
  expect(shown).toEqual(all);
  expect(new Set((await chatLines(bo.page)).map((line) => line.seq)).size).toBe(all.length);

  // Back at the end, the chat follows the newest 50 again; Bo's own line shows there.
  await bo.page.mouse.wheel(0, 100_000);
  await expect.poll(() => chatTextsOnPage(bo.page)).toEqual(all.slice(-PAGE));
  await sendChat(bo.page, 'back at the end');
  await expect.poll(async () => (await scrollState(list)).fromEnd).toBeLessThanOrEqual(1);

  // Both apps' raw event streams are the log exactly (the window is only what the chat draws).
  const screens = [{ label: 'Ana', page: ana.page }, { label: 'Bo', page: bo.page }];
  const log = await settleWithSentinel(ana.page, screens, room, relayA.url, stack.tokenSecret);
  await expectExactViews(screens, room, log);
  expect(await chatTextsOnPage(bo.page)).toEqual(chatTexts(log).slice(-PAGE));
});

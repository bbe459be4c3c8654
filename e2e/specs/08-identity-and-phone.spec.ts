import type { Page } from '@playwright/test';
import { signAccessToken } from '@partyline/relay';
import { expect, test } from '../support/fixtures.js';
import {
  addItem,
  chatLines,
  claimItem,
  createParty,
  expectAllSent,
  friendsHere,
  item,
  joinParty,
  pollOption,
  proposeVenue,
  sendChat,
  shot,
} from '../support/party.js';
import { publishWithToken } from '../support/publisher.js';
import { readRoomLog } from '../support/room-log.js';
import { expectExactViews, settleWithSentinel } from '../support/views.js';

/** The `sub` of a JWT (read, not checked: the relay checks it). */
function subOf(token: string): string {
  return (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { sub: string }).sub;
}

/** What a script in a page can ask the token endpoint (the invite link is all it needs). */
function askToken(page: Page, body: Record<string, unknown>) {
  return page.evaluate(async (request) => {
    const response = await fetch('/api/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) });
    return { status: response.status, answer: (await response.json()) as { token: string; user: string } };
  }, body);
}

test('nobody can act as another friend: asking /api/token for a friend\'s user id gets your own identity, and what you post is yours', async ({ friend, stack }) => {
  const [relayA, relayB] = stack.relays;
  if (!relayA || !relayB) throw new Error('the stack has two relays');
  const ana = await friend({ name: 'Ana', relayPorts: [relayA.port, relayB.port] });
  const party = await createParty(ana.page, { title: 'Zoe turns 25', name: 'Ana', venue: 'The rooftop' });
  const room = `party:${party}`;
  await addItem(ana.page, 'Cake');
  await claimItem(ana.page, 'Cake');
  await proposeVenue(ana.page, 'Beach bar'); // proposing votes for it: Ana's vote moves from the rooftop
  await expect(pollOption(ana.page, 'venue', 'Beach bar').getByRole('button')).toHaveAttribute('aria-pressed', 'true');
  await sendChat(ana.page, 'I bring the cake');
  await expectAllSent(ana.page);

  // Ana's user id is no secret: it is the sender of every message of hers in the room's log.
  const before = await readRoomLog(relayA.url, room, stack.tokenSecret);
  const create = before.find((message) => message.type === 'party:create')!;
  const anaId = create.sender;
  const cakeId = (JSON.parse(before.find((message) => message.type === 'item:add')!.body) as { itemId: string }).itemId;
  expect(anaId).toMatch(/^u-[A-Za-z0-9_-]{22}$/);
  // Her browser learned it from the server (it made up none of its own).
  expect(await ana.page.evaluate(() => [localStorage.getItem('partyline:me'), localStorage.getItem('partyline:user')])).toEqual([anaId, null]);

  // Mallory has the invite link, her own browser, and Ana's id (also on her screen, in "Here now").
  const mallory = await friend({ name: 'Mallory', relayPorts: [relayB.port, relayA.port] });
  await joinParty(mallory.page, party, 'Mallory', 'Zoe turns 25');
  await expectAllSent(mallory.page);
  await expect(friendsHere(mallory.page)).toHaveText(['Ana']);
  await expect(friendsHere(mallory.page)).toHaveAttribute('data-sub', anaId);
  const malloryId = await mallory.page.evaluate(() => localStorage.getItem('partyline:me'));
  expect(malloryId).toMatch(/^u-[A-Za-z0-9_-]{22}$/);
  expect(malloryId).not.toBe(anaId);

  // The probe: a token "for Ana". The server answers with Mallory's own identity, whatever the body says.
  const probe = await askToken(mallory.page, { party, user: anaId });
  expect(probe.status).toBe(200);
  expect(probe.answer.user).toBe(malloryId);
  expect(subOf(probe.answer.token)).toBe(malloryId);
  // The identity cookie is HttpOnly: a script in the page cannot read it (or hand it to anyone).
  expect(await mallory.page.evaluate(() => document.cookie)).not.toContain('partyline_id');
  // Another tab of her browser is the same Mallory; the server's answer is the same for any body.
  const tab = await mallory.newTab();
  await tab.goto(`/p/${party}`);
  await expect(tab.getByTestId('party-title')).toHaveText('Zoe turns 25');
  expect((await askToken(tab, { party, user: 'u-someone-else' })).answer.user).toBe(malloryId);

  // With that token, straight at a relay, she tries everything Ana's id would have allowed: rename
  // Ana, drop Ana's claim, move Ana's vote back, chat in Ana's name. And from her app, a line of her own.
  const rooftop = `${create.id}:venue`;
  const attempt = await publishWithToken(relayB.url, room, probe.answer.token, [
    { id: 'mallory-rename', type: 'member:join', body: { name: 'Renamed Ana' } },
    { id: 'mallory-unclaim', type: 'item:unclaim', body: { itemId: cakeId } },
    { id: 'mallory-vote', type: 'poll:vote', body: { poll: 'venue', optionId: rooftop } },
    { id: 'mallory-chat', type: 'chat', body: { text: 'Ana here: cancel the cake' } },
  ]);
  expect(attempt.ok).toBe(true);
  await sendChat(mallory.page, 'Mallory from her app');
  await expectAllSent(mallory.page);

  // Everything is in the log, as Mallory's: not one message more carries Ana's id.
  const screens = [{ label: 'Ana', page: ana.page }, { label: 'Mallory', page: mallory.page }];
  const log = await settleWithSentinel(ana.page, screens, room, relayA.url, stack.tokenSecret);
  await expectExactViews(screens, room, log);
  const after = log.slice(before.length);
  const byMallory = after.filter((message) => message.sender !== anaId).map((message) => [message.type, message.sender]);
  expect(byMallory).toEqual([
    ['member:join', malloryId],
    ['member:join', malloryId],
    ['item:unclaim', malloryId],
    ['poll:vote', malloryId],
    ['chat', malloryId],
    ['chat', malloryId],
  ]);
  expect(after.filter((message) => message.sender === anaId).map((message) => message.type)).toEqual(['chat']); // the sentinel

  // Ana's screen: still her name, her claim, her vote; the "renamed" one is Mallory.
  await expect(ana.page.getByTestId('presence')).toContainText('Here now: You (Ana)');
  await expect(item(ana.page, 'Cake')).toContainText('You bring it');
  await expect(pollOption(ana.page, 'venue', 'Beach bar').getByRole('button')).toHaveAttribute('aria-pressed', 'true');
  await expect(pollOption(ana.page, 'venue', 'Beach bar')).toHaveAttribute('data-votes', '1');
  await expect(pollOption(ana.page, 'venue', 'Beach bar').locator('.voters')).toHaveText('you');
  await expect(pollOption(ana.page, 'venue', 'The rooftop').locator('.voters')).toHaveText('Renamed Ana');
  const anaSees = await chatLines(ana.page);
  expect(anaSees.find((line) => line.text === 'I bring the cake')?.who).toBe('You');
  expect(anaSees.find((line) => line.text === 'Ana here: cancel the cake')?.who).toBe('Renamed Ana');
  // Mallory's screen: Ana is still Ana; the lines Mallory sent, however sent, are hers.
  const mallorySees = await chatLines(mallory.page);
  expect(mallorySees.find((line) => line.text === 'I bring the cake')?.who).toBe('Ana');
  expect(mallorySees.find((line) => line.text === 'Ana here: cancel the cake')?.who).toBe('You');
  await expect(item(mallory.page, 'Cake')).toContainText('Ana brings it');
  await shot(ana.page, '08-ana-after-impersonation-probe');
});

const WIDTHS = [320, 360, 390, 430];
/** Long unbroken words, as long as each field takes. */
const word = (prefix: string, length: number) => (prefix + 'x'.repeat(length)).slice(0, length);

/**
 * Nothing wider than the screen: the page does not scroll sideways, no element sticks out past
 * either edge, and no scroller inside it (the chat) scrolls sideways either.
 */
async function sidewaysOverflow(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    const root = document.documentElement;
    if (root.scrollWidth > root.clientWidth) problems.push(`page: scrollWidth ${root.scrollWidth} > clientWidth ${root.clientWidth}`);
    const width = root.clientWidth;
    for (const element of document.querySelectorAll<HTMLElement>('#root *')) {
      if (element.closest('.visually-hidden, .skip')) continue;
      const box = element.getBoundingClientRect();
      if (box.width === 0 && box.height === 0) continue;
      const name = `${element.tagName.toLowerCase()}${element.className ? `.${String(element.className).split(' ').join('.')}` : ''}`;
      if (box.right > width + 0.5 || box.left < -0.5) problems.push(`${name}: ${Math.round(box.left)}–${Math.round(box.right)} of ${width}`);
      const style = getComputedStyle(element);
      if (['auto', 'scroll'].includes(style.overflowX) && element.scrollWidth > element.clientWidth + 1) problems.push(`${name} scrolls sideways: ${element.scrollWidth} > ${element.clientWidth}`);
    }
    return problems.slice(0, 20);
  });
}

test('phones from 320 px up: no sideways scrolling on the home page or a party full of long words, all of it still labelled', async ({ friend, stack }) => {
  const [relayA, relayB] = stack.relays;
  if (!relayA || !relayB) throw new Error('the stack has two relays');
  const ana = await friend({ name: 'Ana', relayPorts: [relayA.port, relayB.port], contextOptions: { viewport: { width: 320, height: 720 } } });
  const title = word('Surprise', 120);
  const party = await createParty(ana.page, { title, name: word('Anastasia', 60), date: '2031-06-14T19:30', venue: word('Rooftop', 120) });
  const room = `party:${party}`;
  await addItem(ana.page, word('Cake', 120));
  await claimItem(ana.page, word('Cake', 120));
  await addItem(ana.page, word('Balloons', 120));
  await proposeVenue(ana.page, word('Beachbar', 120));
  await sendChat(ana.page, `see https://example.com/${'a'.repeat(400)}`);
  await sendChat(ana.page, 'short line');

  // A friend with a long name joins on another phone (and is "here now"); another, a script, talks with a longer one.
  const bo = await friend({ name: 'Bo', relayPorts: [relayB.port, relayA.port], contextOptions: { viewport: { width: 320, height: 720 } } });
  await bo.page.goto(`/p/${party}`);
  await expect(bo.page.getByRole('dialog')).toContainText("You're invited");
  expect(await sidewaysOverflow(bo.page), 'the join dialog at 320 px').toEqual([]);
  await joinParty(bo.page, party, word('Bartholomew', 60));
  await claimItem(bo.page, word('Balloons', 120));
  const scriptToken = await signAccessToken({ sub: `e2e-${'long'.repeat(14)}`, rooms: [room], ttlSeconds: 600 }, stack.tokenSecret);
  await publishWithToken(relayA.url, room, scriptToken, [
    { id: 'long-join', type: 'member:join', body: { name: word('Maximiliana', 120) } },
    { id: 'long-chat', type: 'chat', body: { text: word('Wow', 2000) } },
    { id: 'long-option', type: 'poll:option', body: { poll: 'venue', optionId: 'long-option', label: word('Castle', 120) } },
    { id: 'long-vote', type: 'poll:vote', body: { poll: 'venue', optionId: 'long-option' } },
  ]);
  const screens = [{ label: 'Ana', page: ana.page }, { label: 'Bo', page: bo.page }];
  const log = await settleWithSentinel(bo.page, screens, room, relayA.url, stack.tokenSecret);
  await expectExactViews(screens, room, log);
  await expect(friendsHere(ana.page)).toHaveCount(1);
  await expect(ana.page.getByTestId('party-title')).toHaveText(title);

  for (const width of WIDTHS) {
    for (const page of [ana.page, bo.page]) {
      await page.setViewportSize({ width, height: 720 });
      await page.goto(`/p/${party}`);
      await expect(page.getByTestId('party-title')).toHaveText(title);
      await expect(page.getByTestId('chat')).toContainText('Wow');
      await expect(page.getByTestId('poll-venue').locator('li.option')).toHaveCount(3);
      expect(await sidewaysOverflow(page), `the party at ${width} px`).toEqual([]);
    }
    await ana.page.goto('/');
    await expect(ana.page.getByRole('link', { name: title })).toBeVisible(); // "Your parties", with the long title
    expect(await sidewaysOverflow(ana.page), `the home page at ${width} px`).toEqual([]);
    if (width === 320 || width === 390) {
      await shot(ana.page, `08-home-${width}`);
      await ana.page.goto(`/p/${party}`);
      await expect(ana.page.getByTestId('chat')).toContainText('Wow');
      await shot(ana.page, `08-party-${width}`);
    }
  }

  // Still usable without a mouse or eyes: every control has a name, and the keyboard reaches the chat from the top.
  const page = ana.page;
  await page.setViewportSize({ width: 320, height: 720 });
  await page.goto(`/p/${party}`);
  await expect(page.getByTestId('chat')).toContainText('Wow');
  for (const label of ['Invite link', 'Message', 'Item to bring', 'Propose a date', 'Propose a place']) await expect(page.getByLabel(label)).toBeVisible();
  await expect(page.getByRole('checkbox', { name: `${word('Cake', 120)} done` })).toBeVisible();
  await expect(page.getByRole('button', { name: new RegExp(`^Vote for ${word('Castle', 120)}`) })).toBeVisible();
  await page.keyboard.press('Tab');
  await expect(page.getByRole('link', { name: 'Skip to chat' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByLabel('Message')).toBeFocused();
  await page.keyboard.type('typed at 320 px');
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('chat').locator('li.line', { hasText: 'typed at 320 px' })).toHaveCount(1);
  // Then on, in reading order: the checklist after the chat.
  await page.keyboard.press('Tab');
  await expect(page.getByRole('checkbox', { name: `${word('Cake', 120)} done` })).toBeFocused();
});

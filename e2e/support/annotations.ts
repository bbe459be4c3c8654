import { expect, type Page } from '@playwright/test';
import { isAnnotationType, parseAnnotation, type LogMessage } from '@partyline/protocol';
import { foldMessages, type FoldedMessage } from '@partyline/sdk';

/**
 * Edits, deletes and reactions in the planner's chat: doing them on screen, reading what a screen
 * shows, what the page's SDK room folded (`window.__partyline.rooms`, see the planner's party-view.ts),
 * and the fold of the relay's log the specs compare both with.
 */

export const REACTIONS = ['👍', '🎉', '❤️', '😂'] as const;
export type Reaction = (typeof REACTIONS)[number];

/** This browser's user id (the `sub` of its tokens), as the server gave it. */
export async function userIdOf(page: Page): Promise<string> {
  const id = await page.evaluate(() => localStorage.getItem('partyline:me'));
  if (!id) throw new Error('the page has no user id yet (partyline:me)');
  return id;
}

/** The chat line of a message, by id (its text changes with edits). */
export function line(page: Page, id: string) {
  return page.getByTestId('chat').locator(`li.line[data-id="${id}"]`);
}

/** The id of the one chat line showing `text`. */
export async function lineId(page: Page, text: string): Promise<string> {
  const found = page.getByTestId('chat').locator('li.line', { hasText: text });
  await expect(found).toHaveCount(1);
  const id = await found.getAttribute('data-id');
  if (!id) throw new Error(`the line "${text}" has no data-id`);
  return id;
}

export async function editLine(page: Page, id: string, text: string): Promise<void> {
  await line(page, id).getByTestId('message-edit').click();
  const input = line(page, id).getByRole('textbox');
  await input.fill(text);
  await input.press('Enter');
  await expect(line(page, id).locator('.text')).toHaveText(text);
}

export async function deleteLine(page: Page, id: string): Promise<void> {
  await line(page, id).getByTestId('message-delete').click();
  await expect(line(page, id)).toHaveAttribute('data-deleted', 'true');
}

/** Scrolls the chat to its end and onto the screen: the planner marks the party read while its newest line is in view. */
export async function readToEnd(page: Page): Promise<void> {
  await page.getByTestId('chat').evaluate((list) => {
    list.scrollTop = list.scrollHeight;
    list.scrollIntoView({ block: 'end' });
  });
}

/** Clicks a reaction of a line (react, or unreact when held) and waits until the screen shows it. */
export async function toggleReaction(page: Page, id: string, key: Reaction): Promise<void> {
  const button = line(page, id).getByTestId(`reaction-${key}`);
  const held = (await button.getAttribute('aria-pressed')) === 'true';
  await button.click();
  await expect(button).toHaveAttribute('aria-pressed', held ? 'false' : 'true');
}

/** A chat message as compared across screens, SDK views and the log. */
export interface MessageState {
  id: string;
  text: string | null;
  edited: boolean;
  deleted: boolean;
  /** Per reaction key held by anyone: count, and whether this viewer holds it. */
  reactions: Record<string, { count: number; mine: boolean }>;
}

/** What a screen shows of each chat line, in order. */
export async function screenMessages(page: Page): Promise<MessageState[]> {
  return page.getByTestId('chat').locator('li.line').evaluateAll((items) =>
    items.map((item) => {
      const reactions: Record<string, { count: number; mine: boolean }> = {};
      for (const button of item.querySelectorAll('[data-testid^="reaction-"]')) {
        const count = Number(button.getAttribute('data-count') ?? '0');
        if (count > 0) reactions[(button.getAttribute('data-testid') ?? '').slice('reaction-'.length)] = { count, mine: button.getAttribute('aria-pressed') === 'true' };
      }
      const deleted = item.getAttribute('data-deleted') === 'true';
      return {
        id: item.getAttribute('data-id') ?? '',
        text: deleted ? null : (item.querySelector('.text')?.textContent ?? ''),
        edited: item.getAttribute('data-edited') === 'true',
        deleted,
        reactions,
      };
    }),
  );
}

/** The folded messages of the page's SDK room (`room.messages()`). */
export async function sdkMessages(page: Page, room: string): Promise<FoldedMessage[]> {
  return page.evaluate((name) => {
    const handle = window.__partyline?.rooms[name];
    if (!handle) throw new Error(`the page exposes no SDK room ${name}`);
    return handle.messages();
  }, room);
}

/** One folded message of the page's SDK room (`room.message(id)`). */
export async function sdkMessage(page: Page, room: string, id: string): Promise<FoldedMessage | undefined> {
  return page.evaluate(({ name, id }) => window.__partyline?.rooms[name]?.message(id), { name: room, id });
}

/** The chat messages of a fold as a screen shows them. */
export function chatStates(folded: readonly FoldedMessage[]): MessageState[] {
  return folded
    .filter((message) => message.type === 'chat')
    .map(({ id, body, edited, deleted, reactions }) => ({ id, text: deleted ? null : (body as { text: string }).text, edited, deleted, reactions }));
}

/** The fold of a room's whole log, as `caller` sees it (`mine`). */
export function foldLog(log: readonly LogMessage[], caller: string): FoldedMessage[] {
  return foldMessages(log, { caller });
}

/** The annotations of a log, one line each (`sender pl:react <target id> 👍`), to count each exactly once. */
export function annotationsOf(log: readonly LogMessage[]): string[] {
  return log
    .filter((entry) => isAnnotationType(entry.type))
    .map((entry) => {
      const annotation = parseAnnotation(entry.type, entry.body);
      if (typeof annotation === 'string' || annotation.type === 'pl:read') return `${entry.sender} ${entry.type} unreadable`;
      const detail = annotation.type === 'pl:edit' ? (JSON.parse(annotation.body) as { text: string }).text : annotation.type === 'pl:delete' ? '' : annotation.key;
      return `${entry.sender} ${annotation.type} ${annotation.target.id} ${detail}`.trimEnd();
    });
}

/** Starts recording the outbox outcomes of a page's room (`status` events) in the page. */
export async function recordStatuses(page: Page, room: string): Promise<void> {
  await page.evaluate((name) => {
    const handle = window.__partyline?.rooms[name];
    if (!handle) throw new Error(`the page exposes no SDK room ${name}`);
    const record: { id: string; status: string; error?: string }[] = [];
    (window as unknown as { __statuses: typeof record }).__statuses = record;
    handle.on('status', ({ id, status, error }) => record.push({ id, status, ...(error ? { error: error.kind } : {}) }));
  }, room);
}

/** The outcomes recorded since `recordStatuses`. */
export async function recordedStatuses(page: Page): Promise<{ id: string; status: string; error?: string }[]> {
  return page.evaluate(() => (window as unknown as { __statuses?: { id: string; status: string; error?: string }[] }).__statuses ?? []);
}
